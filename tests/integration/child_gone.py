"""A child that stops reading or exits while the client is still sending: the server
survives (no SIGPIPE death), closes that session, and serves the next one; many
concurrent sessions each get their own child and their own bytes."""
import threading
import time

from wsbtest import *

# head reads 5 bytes and exits while 8 MiB are on their way to its stdin
with Server("/bin/sh", "-c", "head -c 5; echo; exit 0") as srv:
    c = RawClient(srv.port)
    c.sock.setblocking(False)
    data = encode_frame(OP_BINARY, b"y" * (8 << 20), key=b"\0\0\0\0")
    sent, end = 0, time.monotonic() + 20
    while sent < len(data) and time.monotonic() < end:
        try:
            sent += c.sock.send(data[sent:sent + (1 << 20)])
        except BlockingIOError:
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            break
    c.sock.setblocking(True)
    c.sock.settimeout(10)
    got = []
    try:
        while True:
            op, p = c.recv()
            if op == OP_CLOSE:
                got.append(("close", struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None))
                break
            got.append(p)
    except (Closed, ConnectionResetError, socket.timeout) as e:
        got.append(("end", type(e).__name__))
    ok(got[:1] == [b"yyyyy"], "the child's output arrives (%d of %d bytes were sent)" % (sent, len(data)), got[:1])
    ok(got[-1:] == [("close", 1000)], "then close 1000 for its exit 0", got[-1:])
    ok(srv.proc.poll() is None, "the server is still running")
    d = RawClient(srv.port)
    d.send_text("zzzz")  # with its newline: the 5 bytes head waits for
    ok(d.recv() == (OP_TEXT, b"zzzz"), "and serves the next session")

with Server("cat") as srv:
    N = 20
    results = [None] * N

    def session(i):
        try:
            c = RawClient(srv.port)
            msgs = ["s%d-m%d" % (i, k) for k in range(50)]
            for m in msgs:
                c.send_text(m)
            back = [c.recv()[1].decode() for _ in msgs]
            results[i] = back == msgs and c.close() == (1000, "")
        except Exception as e:  # noqa: BLE001 (reported below)
            results[i] = repr(e)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ok(results == [True] * N, "%d concurrent sessions each get their own echo, in order" % N, results)
    ok(wait_for(lambda: children(srv.pid) == []), "every child reaped", children(srv.pid))
done()
