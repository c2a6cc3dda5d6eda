"""Issue 10 B2: a client that leaves while its socket reads are stopped is noticed.

The program never reads its stdin (exec sleep 600), so a 400 KB message fills
the stdin queue and wsbridge stops reading the socket. The client then closes
(FIN), resets (RST), or closes with its FIN stuck behind a full window (16 MB
sent: only something the server sends, a --pingms ping or the probe ping it
sends every 5 s while reads are stopped, draws the reset that tells), with and
without --pingms, over TCP and TLS, through a --dir program and a COMMAND. Each
time the session must end by itself: its child reaped, its descriptors closed,
its --maxforks slot free again. Before the fix all of these stayed until the
program exited (10 minutes here).
"""
from wsbtest import *

BIG = 400 * 1024
LIMIT = 20 * (3 if SANITIZED else 1)  # without --pingms a probe ping every 5 s

d = scratch("apps")
os.makedirs(d, exist_ok=True)
sleeper = shell_script(os.path.join(d, "sleeper.sh"), "exec sleep 600\n")


def leave(srv, how, path="/", ctx=None, size=BIG):
    base_fds = fd_count(srv.pid)
    frame = encode_frame(OP_TEXT, b"x" * size, key=b"\0\0\0\0")  # ready before we connect
    c = RawClient(srv.port, path=path, ssl_context=ctx)
    ok(wait_for(lambda: len(children(srv.pid)) == 1, timeout=LIMIT), "%s: the program runs" % how)
    try:
        c.sock.settimeout(2)
        c.send(frame)
    except (socket.timeout, OSError):
        pass  # the server stopped reading: the rest waits in our send buffer
    if how.startswith("reset"):
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.sock.close()
    gone = wait_for(lambda: not children(srv.pid), timeout=LIMIT)
    ok(gone, "%s: the program is stopped and reaped after the client left" % how, children(srv.pid), [])
    if not gone:
        diag(subprocess.run(["ss", "-tnoi", "sport = :%d or dport = :%d" % (srv.port, srv.port)],
                            capture_output=True, text=True).stdout)
    ok(wait_for(lambda: fd_count(srv.pid) <= base_fds, timeout=LIMIT),
       "%s: the session's descriptors are closed" % how, fd_count(srv.pid), base_fds)


for flags in ([], ["--pingms=500"]):
    tag = " ".join(flags) or "no pings"
    with Server(flags=["--dir=" + d, "--maxforks=1"] + flags) as srv:
        leave(srv, "FIN, --dir, " + tag, path="/sleeper.sh")
        leave(srv, "reset, --dir, " + tag, path="/sleeper.sh")
        # 16 MB: both sides' buffers fill, so our FIN waits behind a zero window and never
        # reaches the server; only something the server sends (a ping) draws the reset
        leave(srv, "FIN stuck behind a full window, --dir, " + tag, path="/sleeper.sh", size=16 << 20)
        # the one --maxforks slot is free again
        c = RawClient(srv.port, path="/sleeper.sh")
        ok(c.status == 101, "--maxforks slot released (%s)" % tag)
        c.sock.close()
        ok(wait_for(lambda: not children(srv.pid), timeout=LIMIT), "closed at once when not paused")

with Server(sleeper) as srv:
    leave(srv, "FIN, COMMAND")

pki = make_pki()
with Server(sleeper, flags=["--ssl", "--sslcert=" + pki["cert"], "--sslkey=" + pki["key"]]) as srv:
    leave(srv, "FIN, TLS", ctx=client_context(pki))
done()
