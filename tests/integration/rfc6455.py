"""RFC 6455 conformance against the running server (cat), over a raw socket.

Framing, fragmentation, control frames, UTF-8 and the close handshake:
each case sends frames and checks the echo or the close code.
"""
from wsbtest import *


def expect_close(srv, frames, code, name):
    c = RawClient(srv.port)
    c.send(b"".join(frames))
    try:
        got = c.recv_close()[0]
    except Closed:
        got = None
    ok(got == code, "%s -> close %s" % (name, code), got, code)
    ok(c.eof(), "%s: then the TCP connection is closed" % name)


with Server("cat", flags=["--maxframesize=100000"]) as srv:
    c = RawClient(srv.port)
    for n in (0, 1, 125, 126, 127, 65535, 65536, 99999):
        c.send_frame(OP_BINARY, b"a" * n + b"\n")
        op, p = c.recv()
        ok(p == b"a" * n, "payload of %d bytes (7/16/64-bit lengths) echoed" % (n + 1), len(p), n)
    # fragmentation with interleaved control frames
    c.send(encode_frame(OP_TEXT, "frag", fin=False) + encode_frame(OP_PING, "p1") +
           encode_frame(OP_CONT, "men", fin=False) + encode_frame(OP_CONT, "ted", fin=True))
    op, p = c.recv()
    ok((op, p) == (OP_PONG, b"p1"), "a ping between fragments is answered with its payload", (op, p))
    op, p = c.recv()
    ok(p == b"fragmented", "fragments are reassembled into one line", p)
    # UTF-8 valid when split across fragments
    c.send(encode_frame(OP_TEXT, b"\xe2\x82", fin=False) + encode_frame(OP_CONT, b"\xac"))
    ok(c.recv()[1] == "€".encode(), "a character split across fragments is valid")
    c.send_frame(OP_PING, b"x" * 125)
    ok(c.recv() == (OP_PONG, b"x" * 125), "a 125-byte ping is answered")
    c.send_frame(OP_PONG, b"unsolicited")
    c.send_text("still open")
    ok(c.recv() == (OP_TEXT, b"still open"), "an unsolicited pong is ignored")
    ok(c.close(4000) == (4000, ""), "close 4000 is echoed")

    expect_close(srv, [encode_frame(OP_TEXT, "hi", mask=False)], 1002, "an unmasked client frame")
    expect_close(srv, [encode_frame(OP_TEXT, "x", rsv=4)], 1002, "RSV1 without an extension")
    expect_close(srv, [encode_frame(3, "x")], 1002, "reserved opcode 3")
    expect_close(srv, [encode_frame(0xB, "x")], 1002, "reserved opcode 0xB")
    expect_close(srv, [encode_frame(OP_PING, b"x" * 126)], 1002, "a 126-byte ping")
    expect_close(srv, [encode_frame(OP_PING, "x", fin=False)], 1002, "a fragmented ping")
    expect_close(srv, [encode_frame(OP_CONT, "x")], 1002, "a continuation without a message")
    expect_close(srv, [encode_frame(OP_TEXT, "a", fin=False), encode_frame(OP_TEXT, "b")], 1002,
                 "a new message inside a fragmented one")
    expect_close(srv, [encode_frame(OP_TEXT, b"bad \xc0\xaf")], 1007, "invalid UTF-8")
    expect_close(srv, [encode_frame(OP_TEXT, b"\xed\xa0\x80", fin=False)], 1007,
                 "invalid UTF-8 fails fast, before the message ends")
    expect_close(srv, [encode_frame(OP_CLOSE, b"\x03")], 1002, "a 1-byte close payload")
    expect_close(srv, [encode_frame(OP_CLOSE, struct.pack("!H", 1005))], 1002, "close code 1005 on the wire")
    expect_close(srv, [encode_frame(OP_CLOSE, struct.pack("!H", 999))], 1002, "close code 999")
    expect_close(srv, [encode_frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xff")], 1007, "a close reason not UTF-8")
    expect_close(srv, [encode_frame(OP_BINARY, b"y" * 100001)], 1009, "a message over --maxframesize")
    expect_close(srv, [encode_frame(OP_BINARY, b"y" * 60000, fin=False), encode_frame(OP_CONT, b"y" * 60000)],
                 1009, "fragments adding up over --maxframesize")
    c = RawClient(srv.port)
    c.send_frame(OP_CLOSE)
    ok(c.recv_close()[0] == 1000, "a close without a code is answered with 1000")
    ok(wait_for(lambda: children(srv.pid) == [], timeout=10), "every child is gone after the failures")
done()
