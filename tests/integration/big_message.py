"""One huge message streamed through cat: the server's memory stays flat."""
import time

from wsbtest import *

time_limit(600)
total = (64 << 20) if SANITIZED else (1 << 30)
chunk = 1 << 20
# The child counts the bytes of each line as they stream by (it holds none of them).
counter = scratch("count.py")
with open(counter, "w") as f:
    f.write("import sys\nn = 0\nwhile True:\n    b = sys.stdin.buffer.read1(1 << 16)\n"
            "    if not b:\n        break\n    i = b.find(b'\\n')\n"
            "    while i >= 0:\n        n += i\n        print(n, flush=True)\n        n = 0\n"
            "        b = b[i + 1:]\n        i = b.find(b'\\n')\n    n += len(b)\n")
with Server("/usr/bin/python3", counter) as srv:
    c = RawClient(srv.port, timeout=300)
    t0 = time.monotonic()
    sent = 0
    payload = b"x" * chunk
    first = True
    while sent < total:
        fin = sent + chunk >= total
        c.send_frame(OP_TEXT if first else OP_CONT, payload, fin=fin, key=b"\0\0\0\0")
        first = False
        sent += chunk
    op, p = c.recv()
    ok(p.strip() == str(total).encode(), "the child got all %d bytes, then the newline" % total, p)
    hwm = rss_kib(srv.pid, "VmHWM")
    ok(hwm < 32 * 1024, "server peak RSS %d KiB < 32 MiB for a %d MiB message" % (hwm, total >> 20))
    secs = time.monotonic() - t0
    diag("%d MiB in %.1f s (%.0f MB/s); server VmHWM %d KiB" % (total >> 20, secs, total / secs / 1e6, hwm))
    c.close()
done()
