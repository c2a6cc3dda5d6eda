"""One huge message streamed through cat: the server's memory stays flat."""
import threading

from wsbtest import *

time_limit(600)
total = (64 << 20) if SANITIZED else (1 << 30)
chunk = 1 << 20
with Server("/bin/sh", "-c", "cat | wc -c") as srv:
    c = RawClient(srv.port, timeout=120)
    sent = 0
    payload = b"x" * chunk
    first = True
    while sent < total:
        fin = sent + chunk >= total
        c.send_frame(OP_TEXT if first else OP_CONT, payload, fin=fin)
        first = False
        sent += chunk
    op, p = c.recv()
    ok(p.strip() == str(total + 1).encode(), "the child got all %d bytes plus the newline" % total, p)
    hwm = rss_kib(srv.pid, "VmHWM")
    ok(hwm < 32 * 1024, "server peak RSS %d KiB < 32 MiB for a %d MiB message" % (hwm, total >> 20))
    diag("server VmHWM after %d MiB: %d KiB" % (total >> 20, hwm))
    c.close()
done()
