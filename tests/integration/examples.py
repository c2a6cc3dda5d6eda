"""The examples/ programs served for real: greeter, chat (sh and python), count."""
from wsbtest import *


def ex(name):
    return os.path.join(EXAMPLES, name)


with Server(ex("greeter.sh")) as srv:
    c = RawClient(srv.port)
    for name in ("Ada", "Grace Hopper", "Zoë"):
        c.send_text(name)
        got = c.recv()
        ok(got == (OP_TEXT, ("Hello, %s!" % name).encode()), "greeter.sh answers %s" % name, got)
    ok(c.close() == (1000, ""), "greeter.sh: clean close")

for prog in ("chat.sh", "chat.py"):
    with Server(ex(prog)) as srv:
        c = RawClient(srv.port)
        for i, msg in enumerate(("hi", "two words", ""), 1):
            c.send_text(msg)
            got = c.recv()
            want = (OP_TEXT, ("[%d] you said: %s" % (i, msg)).encode())
            ok(got == want, "%s numbers message %d" % (prog, i), got, want)
        # closing the client closes the child's stdin: its last words are not
        # guaranteed to reach a client that already sent its close frame, so
        # only the close code is checked
        ok(c.close() == (1000, ""), "%s: clean close" % prog)
        ok(wait_for(lambda: children(srv.pid) == []), "%s: the child is gone" % prog, children(srv.pid))

with Server(ex("count.sh")) as srv:
    c = RawClient(srv.port)
    got = [c.recv() for _ in range(2)]
    ok(got == [(OP_TEXT, b"1"), (OP_TEXT, b"2")], "count.sh counts 1, 2, ...", got)
    c.sock.close()  # leave early: the kill ladder stops sleep and the shell
    ok(wait_for(lambda: children(srv.pid) == [], timeout=10), "count.sh is stopped when the client leaves",
       children(srv.pid))
done()
