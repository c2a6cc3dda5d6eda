"""--framing=length streams: a 1 GiB binary message goes to the program (records, one per
piece) and comes back from it (records read and sent as they come, a fragmented message)
while the server's peak RSS stays under 32 MiB. Under the sanitizers (or with
WSB_FRAMING_BIG_MIB=N) the message is smaller: ASan's quarantine keeps freed memory."""
import threading
import time

from wsbtest import *

time_limit(900)
total = int(os.environ.get("WSB_FRAMING_BIG_MIB", 64 if SANITIZED else 1024)) << 20
chunk = 1 << 20
payload = bytes(range(256)) * (chunk // 256)
result = {}


def receive(c):
    """Counts the echoed message's bytes (checking them against the pattern) until its FIN."""
    got, first, same, frames = 0, None, True, 0
    try:
        while True:
            fin, op, p = c.recv_frame()
            if op >= 8:
                continue
            if first is None:
                first = op
            elif op != OP_CONT:
                same = False
            # the echo is the same byte pattern, cut anywhere: compare against it at offset got
            start = got % 256
            same = same and len(p) <= chunk - 256 and p == payload[start:start + len(p)]
            got += len(p)
            frames += 1
            if fin:
                break
    except Exception as e:  # reported below
        result["error"] = repr(e)
    result.update(got=got, first=first, same=same, frames=frames)


with Server(os.path.join(EXAMPLES, "length_echo.py"), flags=["--framing=length"]) as srv:
    c = RawClient(srv.port, timeout=600)
    reader = threading.Thread(target=receive, args=(c,))
    reader.start()
    t0 = time.monotonic()
    sent = 0
    while sent < total:
        c.send_frame(OP_BINARY if sent == 0 else OP_CONT, payload, fin=sent + chunk >= total, key=b"\0\0\0\0")
        sent += chunk
    reader.join(600)
    secs = time.monotonic() - t0
    ok(not reader.is_alive() and "error" not in result, "the echo came back whole", result)
    ok(result.get("got") == total and result.get("first") == OP_BINARY,
       "%d MiB out and %d MiB back, one binary message" % (total >> 20, result.get("got", 0) >> 20))
    ok(result.get("same"), "byte for byte (%d frames)" % result.get("frames", 0))
    hwm = rss_kib(srv.pid, "VmHWM")
    ok(hwm < 32 * 1024, "server peak RSS %d KiB < 32 MiB for %d MiB each way" % (hwm, total >> 20))
    diag("%d MiB each way in %.1f s; server VmHWM %d KiB" % (total >> 20, secs, hwm))
    ok(c.close() == (1000, ""), "then a clean close")
done()
