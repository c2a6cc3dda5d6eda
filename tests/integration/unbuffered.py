"""--unbuffered: programs that buffer their stdout on a pipe reply per message.

Three real programs that never flush: a python3 script (print() to a pipe is block-buffered), a
C program using printf (compiled here with cc, dynamically linked), and sed (coreutils-style C
stdio, no -u). Without --unbuffered none of them answers before EOF (the control that makes
the test able to fail); with it, each client message gets its reply at once, through
python3-websockets. The environment: LD_PRELOAD is libstdbuf (after a passed LD_PRELOAD),
_STDBUF_O=L, PYTHONUNBUFFERED=1. A libstdbuf that cannot be found is a startup error.
"""
import asyncio
import shutil

import websockets

from wsbtest import *

time_limit(180)
QUIET = 1.0  # how long "no reply" is watched for, in the control runs

py = scratch("noflush.py")
with open(py, "w") as f:
    f.write("#!/usr/bin/python3\nimport sys\nfor line in sys.stdin:\n    print('py:' + line.strip())\n")
os.chmod(py, 0o755)

cprog = None
if shutil.which("cc"):
    src = scratch("noflush.c")
    with open(src, "w") as f:
        f.write('#include <stdio.h>\nint main(void)\n{\n    char l[256];\n'
                '    while (fgets(l, sizeof l, stdin))\n        printf("c:%s", l);\n    return 0;\n}\n')
    cprog = scratch("noflush")
    r = subprocess.run(["cc", "-O0", "-o", cprog, src], capture_output=True, timeout=60)
    if r.returncode != 0:
        diag("cc failed: %s" % r.stderr.decode("utf-8", "replace"))
        cprog = None

programs = [("python3 print()", [py], "py:"), ("sed", ["sed", "s/^/sed:/"], "sed:")]
if cprog:
    programs.append(("C printf", [cprog], "c:"))
else:
    ok(True, "# SKIP no C compiler: the printf program is not tried")


async def per_message(port, prefix, n=3):
    """Sends n messages one at a time; True if each reply comes back before the next is sent."""
    async with websockets.connect("ws://127.0.0.1:%d/" % port) as ws:
        for i in range(n):
            await ws.send("m%d" % i)
            got = await asyncio.wait_for(ws.recv(), 10 * (3 if SANITIZED else 1))
            if got != "%sm%d" % (prefix, i):
                diag("reply %d: %r" % (i, got))
                return False
        await ws.close()
    return True


async def silent(port):
    """Sends three messages; True if nothing came back within QUIET seconds (buffered)."""
    async with websockets.connect("ws://127.0.0.1:%d/" % port) as ws:
        for i in range(3):
            await ws.send("m%d" % i)
        try:
            got = await asyncio.wait_for(ws.recv(), QUIET)
            diag("a reply came without --unbuffered: %r" % got)
            return False
        except asyncio.TimeoutError:
            return True


for name, cmd, prefix in programs:
    with Server(*cmd) as srv:
        ok(asyncio.run(silent(srv.port)), "%s without --unbuffered: no reply before EOF (buffered)" % name)
    with Server(*cmd, flags=["--unbuffered"]) as srv:
        ok(asyncio.run(per_message(srv.port, prefix)), "%s with --unbuffered: a reply per message" % name)
        ok(wait_for(lambda: children(srv.pid) == []), "%s: the program is gone after the close" % name,
           children(srv.pid))

# ---------------------------------------------------------------- the environment

envdump = scratch("envdump.sh")
shell_script(envdump, 'for v in LD_PRELOAD _STDBUF_O _STDBUF_E PYTHONUNBUFFERED; do\n'
                      '    eval "echo $v=\\${$v-unset}"\ndone\n')


def env_of(flags, env=None):
    with Server(envdump, flags=flags, env=env) as srv:
        c = RawClient(srv.port)
        msgs, _ = c.messages_until_close()
    return dict(p.decode().split("=", 1) for op, p in msgs)


e = env_of(["--unbuffered"])
ok(e["LD_PRELOAD"].endswith("/libstdbuf.so") and os.path.exists(e["LD_PRELOAD"]),
   "LD_PRELOAD names an existing libstdbuf.so", e["LD_PRELOAD"])
ok(e["_STDBUF_O"] == "L" and e["PYTHONUNBUFFERED"] == "1", "_STDBUF_O=L, PYTHONUNBUFFERED=1", e)
ok(e["_STDBUF_E"] == "unset", "stderr is left as it is (unbuffered)", e["_STDBUF_E"])
e = env_of([])
ok(e["LD_PRELOAD"] == "unset" and e["PYTHONUNBUFFERED"] == "unset", "nothing of it without --unbuffered", e)
penv = dict(os.environ, LD_PRELOAD="/nonexistent/x.so")  # the loader ignores it, with a warning
e = env_of(["--unbuffered", "--passenv=PATH,LD_PRELOAD"], env=penv)
ok(e["LD_PRELOAD"].startswith("/nonexistent/x.so:") and e["LD_PRELOAD"].endswith("/libstdbuf.so"),
   "a passed LD_PRELOAD keeps its entry, libstdbuf is appended", e["LD_PRELOAD"])

# ---------------------------------------------------------------- startup errors

for bad, why in (("/nonexistent/libstdbuf.so", "No such file"), ("relative.so", "absolute path")):
    p = subprocess.run([WSBRIDGE, "--port=0", "--unbuffered", "cat"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=20, env=dict(os.environ, WSBRIDGE_LIBSTDBUF=bad))
    ok(p.returncode == 1 and why.encode() in p.stderr and bad.encode() in p.stderr,
       "WSBRIDGE_LIBSTDBUF=%s: exit 1 and why" % bad, (p.returncode, p.stderr))
h = subprocess.run([WSBRIDGE, "--help"], capture_output=True, timeout=20).stdout
ok(b"--unbuffered" in h and b"PYTHONUNBUFFERED" in h and b"static" in h and b"--pty" in h,
   "--help says what --unbuffered covers, what not, and points to --pty")
done()
