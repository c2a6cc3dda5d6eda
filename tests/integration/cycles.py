"""1,000 connect/disconnect cycles: no descriptor, child or zombie left behind."""
from wsbtest import *

time_limit(300)
N = 200 if SANITIZED else 1000
with Server("cat") as srv:
    warm = RawClient(srv.port)
    warm.close()
    wait_for(lambda: children(srv.pid) == [])
    fds0 = fd_count(srv.pid)
    for i in range(N):
        c = RawClient(srv.port)
        if i % 3 == 0:
            c.send_text("x")
            c.recv()
            c.close()
        elif i % 3 == 1:
            c.sock.close()  # drop without a close frame
        else:
            c.close(wait=False)
    ok(wait_for(lambda: children(srv.pid) == [], timeout=20), "every child reaped after %d cycles" % N, children(srv.pid))
    ok(wait_for(lambda: fd_count(srv.pid) == fds0, timeout=10), "descriptors back to %d" % fds0, fd_count(srv.pid), fds0)
    ok(zombies(srv.pid) == [], "no zombie")
done()
