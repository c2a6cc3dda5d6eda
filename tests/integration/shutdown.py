"""SIGTERM: every client gets 1001, every child (and grandchild) is stopped, exit 0, no orphan."""
import signal

from wsbtest import *

with Server("/bin/sh", "-c", "sleep 1000 & cat") as srv:
    clients = [RawClient(srv.port) for _ in range(3)]
    for c in clients:
        c.send_text("hi")
        ok(c.recv() == (OP_TEXT, b"hi"), "session answers before the shutdown")
    kids = children(srv.pid)
    groups = [g for k in kids for g in group_members(k)]
    ok(len(kids) == 3 and len(groups) >= 6, "3 children with a grandchild each", (kids, groups))
    srv.proc.send_signal(signal.SIGTERM)
    codes = [c.recv_close()[0] for c in clients]
    ok(codes == [1001] * 3, "every client gets close 1001", codes)
    for c in clients:
        c.send_frame(OP_CLOSE, struct.pack("!H", 1001))
    code = srv.proc.wait(30)
    ok(code == 0, "the server exits 0", code)
    ok(wait_for(lambda: not any(alive(p) for p in groups), timeout=5), "no child or grandchild survives",
       [p for p in groups if alive(p)])
done()
