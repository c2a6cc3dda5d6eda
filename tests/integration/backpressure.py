"""Flow control both ways with flat memory: the 400 KB deadlock case, slow readers, a child that never reads."""
import time

from wsbtest import *

with Server("cat") as srv:
    # websocketd 0.4.1 deadlocks here: one message holding 400 KB of short lines
    lines = ["line %06d" % i for i in range(40000)]
    c = RawClient(srv.port)
    c.send_text("\n".join(lines))
    got = [c.recv()[1].decode() for _ in range(len(lines))]
    ok(got == lines, "one message of %d short lines (%d bytes) comes back line by line" % (len(lines), sum(map(len, lines))))
    c.close()

# A child that floods (yes) and a client that does not read: the server must stop reading stdout.
with Server("yes", "0123456789abcdef") as srv:
    c = RawClient(srv.port)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    time.sleep(2)
    r1 = rss_kib(srv.pid)
    time.sleep(2)
    r2 = rss_kib(srv.pid)
    ok(r2 < 32 * 1024 and r2 - r1 < 4096, "a client that never reads: server RSS flat (%d -> %d KiB)" % (r1, r2))
    op, p = c.recv()
    ok(p == b"0123456789abcdef", "the data is intact when the client reads again", p)
    c.sock.close()

# A child that never reads stdin and a client that keeps sending: the server stops reading the socket.
with Server("sleep", "1000") as srv:
    c = RawClient(srv.port)
    c.sock.settimeout(0.2)
    chunk = encode_frame(OP_BINARY, b"z" * 65536)
    sent = 0
    t_end = time.monotonic() + 3
    c.sock.setblocking(False)
    while time.monotonic() < t_end and sent < (256 << 20):
        try:
            sent += c.sock.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
    r = rss_kib(srv.pid)
    ok(sent < (64 << 20), "the client is blocked after %d KiB (the server stopped reading)" % (sent // 1024))
    ok(r < 32 * 1024, "a child that never reads: server RSS bounded (%d KiB)" % r)
    c.sock.close()
done()
