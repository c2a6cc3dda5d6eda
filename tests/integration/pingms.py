"""--pingms: pings arrive; a client that answers stays; a silent one is dropped after 2N ms."""
import time

from wsbtest import *

with Server("cat", flags=["--pingms=200"]) as srv:
    c = RawClient(srv.port)
    t0 = time.monotonic()
    op, p = c.recv()
    ok(op == OP_PING, "a ping arrives", op)
    c.send_frame(OP_PONG, p)
    # a client that answers and talks stays connected
    end = time.monotonic() + 1.0
    alive_ok = True
    while time.monotonic() < end:
        c.send_text("tick")
        while True:
            op, p = c.recv()
            if op == OP_PING:
                c.send_frame(OP_PONG, p)
                continue
            break
        alive_ok &= p == b"tick"
        time.sleep(0.1)
    ok(alive_ok, "a client that answers stays connected past 2N ms")
    c.close()
    # a client that stays silent is dropped
    s = RawClient(srv.port)
    t0 = time.monotonic()
    dropped = s.eof(timeout=5)
    ok(dropped, "a silent client is dropped")
    ok(time.monotonic() - t0 >= 0.35, "not before 2N ms (%.2f s)" % (time.monotonic() - t0))
    ok(wait_for(lambda: children(srv.pid) == []), "its child is stopped")
done()
