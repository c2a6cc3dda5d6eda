"""Client leaves: stdin closed, then SIGINT, SIGTERM, SIGKILL to the process group, in order."""
import os
import time

from wsbtest import *

trace = scratch("trace")
if os.path.exists(trace):
    os.unlink(trace)
# A child that ignores EOF, SIGINT and SIGTERM (logging them) and has a grandchild.
body = ("trap 'echo INT $(date +%%s%%N) >> %s' INT; trap 'echo TERM $(date +%%s%%N) >> %s' TERM; "
        "sleep 1000 & echo $! > %s.grandchild; echo ready; "
        "while :; do read line || sleep 0.05; done") % (trace, trace, trace)
with Server("/bin/sh", "-c", body, flags=["--closems=100"]) as srv:
    c = RawClient(srv.port)
    op, p = c.recv()
    ok(p == b"ready", "child started", p)
    child = children(srv.pid)[0]
    grandchild = int(open(trace + ".grandchild").read())
    ok(alive(grandchild), "the grandchild runs")
    t0 = time.monotonic()
    c.sock.close()  # disconnect without a close frame
    gone = wait_for(lambda: not alive(child) and not alive(grandchild), timeout=10)
    elapsed = time.monotonic() - t0
    ok(gone, "child and grandchild are gone")
    events = [l.split()[0] for l in open(trace).read().split("\n") if l]
    ok(events == ["INT", "TERM"], "SIGINT then SIGTERM arrived, then SIGKILL ended it", events)
    # 100+100, 250+100, 500+100 ms: at least 1.15 s in all (lower bound only)
    ok(elapsed >= 1.1, "the ladder waited its steps (%.2f s >= 1.1 s)" % elapsed)
    ok(wait_for(lambda: children(srv.pid) == []), "nothing left under the server", children(srv.pid))

# A child that exits on EOF is not signalled at all.
with Server("cat") as srv:
    c = RawClient(srv.port)
    c.send_text("x")
    c.recv()
    child = children(srv.pid)[0]
    c.close()
    ok(wait_for(lambda: not alive(child), timeout=5), "cat exits on stdin EOF")
done()
