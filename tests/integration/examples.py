"""The examples/ programs served for real: greeter, chat (sh and python), count, json_chat
(--framing=json), length_echo (--framing=length)."""
import base64
import json

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

with Server(ex("json_chat.py"), flags=["--framing=json"]) as srv:
    c = RawClient(srv.port)
    c.send_text("two\nlines")
    op, p = c.recv()
    reply = json.loads(p.decode())
    ok(op == OP_TEXT and reply == {"from": "you", "text": "two\nlines", "lines": 2},
       "json_chat.py: a message with a newline is one message, answered by one pretty-printed one", p)
    ok(p.count(b"\n") >= 4, "json_chat.py: the answer keeps its own newlines")
    c.send_text("/nick Ada")
    ok(c.recv() == (OP_TEXT, b"you are now Ada"), "json_chat.py: /nick")
    c.send_frame(OP_BINARY, b"\x00\x01\xff")
    ok(c.recv() == (OP_BINARY, b"\xff\x01\x00"), "json_chat.py: binary comes back reversed")
    ok(c.close() == (1000, ""), "json_chat.py: clean close")

with Server(ex("length_echo.py"), flags=["--framing=length"]) as srv:
    c = RawClient(srv.port)
    for op, payload in ((OP_TEXT, "é\n\x00".encode()), (OP_BINARY, bytes(range(256)) * 300), (OP_TEXT, b"")):
        c.send_frame(op, payload)
        got = c.recv()
        ok(got == (op, payload), "length_echo.py echoes %d bytes (opcode %d)" % (len(payload), op),
           (got[0], len(got[1])))
    ok(c.close() == (1000, ""), "length_echo.py: clean close")

with Server(ex("count.sh")) as srv:
    c = RawClient(srv.port)
    got = [c.recv() for _ in range(2)]
    ok(got == [(OP_TEXT, b"1"), (OP_TEXT, b"2")], "count.sh counts 1, 2, ...", got)
    c.sock.close()  # leave early: the kill ladder stops sleep and the shell
    ok(wait_for(lambda: children(srv.pid) == [], timeout=10), "count.sh is stopped when the client leaves",
       children(srv.pid))
done()
