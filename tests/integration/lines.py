"""Child output -> messages: CRLF, empty lines, the last line at EOF, invalid UTF-8, long lines."""
import os
import tempfile

from wsbtest import *


def script(body):
    fd, path = tempfile.mkstemp(prefix="lines-", suffix=".sh", dir=SCRATCH)
    os.write(fd, ("#!/bin/sh\n" + body + "\n").encode())
    os.close(fd)
    os.chmod(path, 0o755)
    return os.path.abspath(path)


def messages_of(cmd):
    with Server(cmd) as srv:
        c = RawClient(srv.port)
        return c.messages_until_close()


s = script(r"printf 'one\ntwo\r\n\r\n\nthree\rx\r\nlast without newline'")
msgs, close = messages_of(s)
ok([p for _, p in msgs] == [b"one", b"two", b"", b"", b"three\rx", b"last without newline"],
   "\\n and \\r\\n end lines; one \\r before \\n is dropped; an inner \\r stays; the last line comes at EOF",
   [p for _, p in msgs])
ok(all(op == OP_TEXT for op, _ in msgs), "every line is a text message")
ok(close[:2] == b"\x03\xe8", "exit 0 -> close 1000", close)

s = script(r"printf 'ok \377\376 bad\n\355\240\200\n\303\n'")
msgs, _ = messages_of(s)
got = [p.decode("utf-8") for _, p in msgs]
ok(got == ["ok \ufffd\ufffd bad", "\ufffd\ufffd\ufffd", "\ufffd"],
   "invalid UTF-8 from the child becomes U+FFFD; never sent raw", got)

s = script(r"printf 'split \342\202'; sleep 0.2; printf '\254 euro\n'")
msgs, _ = messages_of(s)
ok([p for _, p in msgs] == ["split € euro".encode()], "a character split across writes is kept whole",
   [p for _, p in msgs])

size = 16 << 20
s = script("head -c %d /dev/zero | tr '\\0' 'a'; echo; echo after" % size)
with Server(s) as srv:
    c = RawClient(srv.port)
    fragments = 0
    total = 0
    fin = False
    first = True
    while not fin:
        fin, op, p = c.recv_frame()
        ok(op == (OP_TEXT if first else OP_CONT), "fragment %d opcode" % fragments, op) if fragments < 2 else None
        first = False
        total += len(p)
        fragments += 1
    ok(total == size, "a 16 MiB line arrives whole", total, size)
    ok(fragments > 1, "as a fragmented message (%d frames): the server never holds the line" % fragments)
    op, p = c.recv()
    ok((op, p) == (OP_TEXT, b"after"), "the next line follows", (op, p[:20]))
    ok(rss_kib(srv.pid, "VmHWM") < 32 * 1024, "server peak RSS under 32 MiB (%d KiB)" % rss_kib(srv.pid, "VmHWM"))
done()
