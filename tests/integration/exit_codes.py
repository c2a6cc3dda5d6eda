"""How the child ends -> the close frame: 1000 for exit 0, 1011 naming the status or signal."""
from wsbtest import *

cases = [
    (["/bin/sh", "-c", "echo bye"], 1000, None, [b"bye"]),
    (["/bin/sh", "-c", "echo partial; exit 3"], 1011, "exit status 3", [b"partial"]),
    (["/bin/sh", "-c", "echo x; kill -9 $$"], 1011, "SIGKILL", [b"x"]),
    (["/bin/sh", "-c", "kill -SEGV $$"], 1011, "SIGSEGV", []),
]
for cmd, code, reason, lines in cases:
    with Server(*cmd) as srv:
        c = RawClient(srv.port)
        msgs, p = c.messages_until_close()
        got = [m for _, m in msgs]
        rc = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
        why = p[2:].decode()
        ok(got == lines, "%s: its output arrives before the close" % cmd[-1], got, lines)
        ok(rc == code, "%s: close code %d" % (cmd[-1], code), rc, code)
        if reason:
            ok(reason in why, "%s: reason names %r" % (cmd[-1], reason), why)
        c.send_frame(OP_CLOSE, p[:2])
        ok(c.eof(), "%s: the server closes TCP after the close handshake" % cmd[-1])
done()
