"""How a program is started (posix_spawn): its own session and process group, every signal at
its default and none blocked (the server ignores SIGPIPE, which would survive exec), nothing
open but 0, 1 and 2; a server started with 0 and 1 closed still gives its children the right
pipes; a file the kernel cannot execute is a 500 before the upgrade; many short sessions leave
no zombie and no descriptor behind."""
import os
import tempfile

from wsbtest import *

# sh -c (no script file open): $$ is the program wsbridge started
PROBE = ("read -r line; echo \"got $line\"; "
         "set -- $(cut -d' ' -f1,5,6 /proc/$$/stat); echo \"ids $1 $2 $3\"; "
         "grep -E '^Sig(Blk|Ign):' /proc/$$/status | tr -d ' \\t'; "
         "echo \"fds $(ls /proc/$$/fd | sort -n | tr '\\n' ' ')\"; cat")


def probe(srv):
    c = RawClient(srv.port)
    c.send_text("hello")
    got = {}
    for _ in range(5):
        op, p = c.recv()
        k, _, v = p.decode().partition(" " if not p.startswith(b"Sig") else ":")
        got[k] = v.strip()
    c.send_text("echo")
    got["echo"] = c.recv()
    return c, got


for closed in (False, True):
    what = "started with 0 and 1 closed: " if closed else ""
    with Server("/bin/sh", "-c", PROBE, close_stdio=closed) as srv:
        c, got = probe(srv)
        ok(got.get("got") == "hello", what + "the message reaches the child's stdin", got)
        ids = got.get("ids", "").split()
        ok(len(ids) == 3 and ids[0] == ids[1] == ids[2],
           what + "the child leads its own session and process group (pid == pgid == sid)", ids)
        ok(got.get("SigBlk") == "0000000000000000", what + "no signal blocked in the child", got.get("SigBlk"))
        # signals 1-31 only: glibc's posix_spawn leaves its two internal signals (32, 33) at
        # SIG_IGN; glibc programs install their own handlers for them when they need them
        ign = int(got.get("SigIgn", "f" * 16), 16) & 0x7fffffff
        ok(ign == 0, what + "no signal ignored in the child (SIGPIPE back at its default)", got.get("SigIgn"))
        # ls itself shows one more: the directory it reads
        fds = got.get("fds", "").split()
        ok(fds[:3] == ["0", "1", "2"] and len(fds) <= 4, what + "only 0, 1 and 2 are inherited", fds)
        ok(got["echo"] == (OP_TEXT, b"echo"), what + "stdout is the pipe back to the client", got["echo"])
        c.close()

# a file with the execute bit the kernel cannot run (no #! line): 500, not a 101 and a drop
d = tempfile.mkdtemp(prefix="wsb-spawn-")
bad = os.path.join(d, "noshebang")
with open(bad, "wb") as f:
    f.write(b"\x7fELF-not-really\n")
os.chmod(bad, 0o755)
with Server(bad) as srv:
    status, _, _, s = http_request(srv.port, upgrade_request()[0])
    s.close()
    ok(status == 500, "a file that cannot be executed is answered 500", status)
    ok(wait_for(lambda: "Exec format error" in srv.log_text() or "exec format error" in srv.log_text().lower()),
       "the log says why (exec format error)")
os.unlink(bad)
os.rmdir(d)

# many short sessions: every leader reaped, every pipe closed
with Server("cat") as srv:
    fd0 = fd_count(srv.pid)
    n = 100 if SANITIZED else 300
    for i in range(n):
        c = RawClient(srv.port)
        c.send_text("x%d" % i)
        assert c.recv() == (OP_TEXT, b"x%d" % i)
        c.close()
    ok(wait_for(lambda: not children(srv.pid), timeout=20), "%d sessions: no child left" % n, children(srv.pid))
    ok(wait_for(lambda: fd_count(srv.pid) == fd0, timeout=10), "and the server's descriptors are back to %d" % fd0,
       fd_count(srv.pid))
done()
