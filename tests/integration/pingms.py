"""--pingms: pings arrive; a client that answers stays; a silent one is dropped after 2N ms."""
import time

from wsbtest import *


def recv_answering(c):
    """The next frame that is not a ping; pings on the way are answered."""
    while True:
        op, p = c.recv()
        if op != OP_PING:
            return op, p
        c.send_frame(OP_PONG, p)


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
        op, p = recv_answering(c)
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

# The silence counts from the 101: an upgrade decided slowly (an authorizer taking 3x --pingms)
# is not held against the client, which could send nothing before its 101.
slow = shell_script(scratch("slow-authz.sh"), "sleep 0.6\necho 'Set-Env: AUTHZ_USER=slow'\n")
with Server("cat", flags=["--pingms=200", "--authorizer=" + slow]) as srv:
    c = RawClient(srv.port)
    op, p = c.recv()
    ok(op == OP_PING, "after a slow upgrade: a ping comes first, not a drop", op)
    c.send_frame(OP_PONG, p)
    c.send_text("late")
    op, p = recv_answering(c)
    ok(op == OP_TEXT and p == b"late", "... and the session goes on", (op, p))
    ok("end=ping-timeout" not in srv.log_text(), "... no ping-timeout")
    c.close()
done()
