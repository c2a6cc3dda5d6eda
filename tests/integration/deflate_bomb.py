"""permessage-deflate against hostile input: decompression bombs, corrupt and truncated streams.

A bomb is about 1 KiB of compressed frames per MiB inflated (zeros), streamed as one fragmented
message: against --maxframesize it closes with 1009 almost at once; without a limit, a child that
never reads makes the server pause the message (socket reads stop) with flat memory, and a child
that reads gets every inflated byte (1 GiB) while the server's memory stays flat. Corrupt and
truncated deflate data close with 1007; RSV1 on a continuation frame with 1002.
"""
import time
import zlib

from wsbtest import *

MiB = 1 << 20
ZEROS = b"\0" * MiB


def bomb_frames(mib):
    """Frames of one binary message inflating to mib MiB of zeros (generator, ~1 KiB each)."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = True
    for _ in range(mib):
        piece = co.compress(ZEROS)
        if piece:
            yield encode_frame(OP_BINARY if first else OP_CONT, piece, fin=False, rsv=4 if first else 0)
            first = False
    last = co.flush(zlib.Z_SYNC_FLUSH)[:-4]
    yield encode_frame(OP_BINARY if first else OP_CONT, last, fin=True, rsv=4 if first else 0)


def compressed(data):
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (co.compress(data) + co.flush(zlib.Z_SYNC_FLUSH))[:-4]


def send_for(c, frames, seconds):
    """Sends frames without blocking for at most seconds; returns the bytes sent."""
    c.sock.setblocking(False)
    sent, t_end, pending = 0, time.monotonic() + seconds, b""
    while time.monotonic() < t_end:
        if not pending:
            pending = next(frames, b"")
            if not pending:
                break
        try:
            n = c.sock.send(pending)
            sent += n
            pending = pending[n:]
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
    c.sock.setblocking(True)
    return sent


with Server("cat", flags=["--maxframesize=1048576"]) as srv:
    c = RawClient(srv.port, extra=["Sec-WebSocket-Extensions: permessage-deflate"])
    r0 = rss_kib(srv.pid)
    sent = send_for(c, bomb_frames(4096), 10)  # 4 GiB inflated
    code, reason = c.recv_close()
    r1 = rss_kib(srv.pid)
    ok(code == 1009, "a bomb against --maxframesize=1 MiB: 1009 (%s) after %d KiB sent" % (reason, sent // 1024),
       code, 1009)
    ok(r1 - r0 < 8 * 1024, "server memory flat (%d -> %d KiB)" % (r0, r1))
    c.sock.close()

    for name, frame, want in [
        ("a corrupt stream (reserved block type 3)", encode_frame(OP_TEXT, b"\xff\xff\xff\xff", rsv=4), 1007),
        ("a truncated stream", encode_frame(OP_TEXT, compressed(b"a" * 5000 + bytes(range(256)) * 20)[:40], rsv=4),
         1007),
        ("compressed text that inflates to invalid UTF-8", encode_frame(OP_TEXT, compressed(b"ok \xc3\x28"), rsv=4),
         1007),
        ("RSV1 on a continuation frame",
         encode_frame(OP_TEXT, compressed(b"abc"), fin=False, rsv=4) + encode_frame(OP_CONT, b"x", rsv=4), 1002),
        ("RSV1 on a ping", encode_frame(OP_PING, b"", rsv=4), 1002),
    ]:
        c = RawClient(srv.port, extra=["Sec-WebSocket-Extensions: permessage-deflate"])
        c.send(frame)
        code, reason = c.recv_close()
        ok(code == want, "%s: %d (%s)" % (name, want, reason), code, want)
        ok(c.eof(), "%s: then the connection is closed" % name)

# No limit and a child that never reads: the message pauses, socket reads stop, memory stays flat.
with Server("sleep", "1000") as srv:
    c = RawClient(srv.port, extra=["Sec-WebSocket-Extensions: permessage-deflate"])
    r0 = rss_kib(srv.pid)
    sent = send_for(c, bomb_frames(8192), 4)  # up to 8 GiB inflated
    time.sleep(0.5)
    r1 = rss_kib(srv.pid)
    ok(r1 - r0 < 16 * 1024, "a bomb into a child that never reads: server memory flat (%d -> %d KiB, %d KiB sent)"
       % (r0, r1, sent // 1024))
    c.sock.close()

# No limit and a child that reads: every inflated byte arrives, memory stays flat.
GIB = 64 if SANITIZED else 1024
with Server("sh", "-c", "head -c %d | wc -c" % (GIB * MiB), flags=["--binary"]) as srv:
    c = RawClient(srv.port, extra=["Sec-WebSocket-Extensions: permessage-deflate"])
    r0 = rss_kib(srv.pid)
    peak = [r0]
    frames = bomb_frames(GIB)
    total = 0
    c.sock.settimeout(120)
    for f in frames:
        c.send(f)
        total += len(f)
        if total % (64 * 1024) < len(f):
            peak.append(rss_kib(srv.pid))
    op, p = c.recv()
    while op >= 8:  # the session's keepalive pings while the message was paused
        op, p = c.recv()
    ok(p.strip() == str(GIB * MiB).encode(),
       "%d MiB inflated from %d KiB reach the program whole" % (GIB, total // 1024), p)
    ok(max(peak) - r0 < 16 * 1024, "server memory flat meanwhile (%d -> max %d KiB)" % (r0, max(peak)))
    c.sock.close()
done()
