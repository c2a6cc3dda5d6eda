"""--dir: the URL walks a real tree; executable files are endpoints, every escape is refused.

python3-websockets connects to scripts and checks the CGI variables as the
child sees them; each refusal is an upgrade request over a raw socket with
its exact status, and every refused file would, if it ran, touch a marker
file: no marker may appear (a control request proves the markers work).
"""
import asyncio
import os
import shutil

import websockets

from wsbtest import *

TREE = scratch("tree")
OUT = scratch("outside")
MARKS = scratch("marks")
for d in (TREE, OUT, MARKS):
    shutil.rmtree(d, ignore_errors=True)
os.makedirs(MARKS)

ENV_SCRIPT = """#!/bin/sh
for v in SCRIPT_NAME PATH_INFO PATH_TRANSLATED SCRIPT_FILENAME QUERY_STRING REQUEST_METHOD REQUEST_URI; do
    eval "echo $v=\\${$v-UNSET}"
done
"""


def write(path, text, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def marker_script(name):
    """A script that, if it ever ran, leaves MARKS/name behind."""
    return "#!/bin/sh\ntouch '%s'\necho ran\n" % os.path.join(MARKS, name)


write(os.path.join(TREE, "env.sh"), ENV_SCRIPT, 0o755)
write(os.path.join(TREE, "dir", "sub.sh"), ENV_SCRIPT, 0o755)
write(os.path.join(TREE, "sp ace.sh"), ENV_SCRIPT, 0o755)
write(os.path.join(TREE, "control.sh"), marker_script("control"), 0o755)
write(os.path.join(TREE, "plainget.sh"), marker_script("plainget"), 0o755)
# the refused ones
write(os.path.join(TREE, "noexec.sh"), marker_script("noexec"), 0o644)
write(os.path.join(TREE, ".hidden.sh"), marker_script("hidden"), 0o755)
write(os.path.join(TREE, ".hdir", "x.sh"), marker_script("hdir"), 0o755)
write(os.path.join(TREE, "dir", "enc.sh"), marker_script("enc"), 0o755)
write(os.path.join(TREE, "adir", "index.html"), "<p>not a script</p>\n", 0o644)
write(os.path.join(OUT, "secret.sh"), marker_script("outside"), 0o755)
write(os.path.join(TREE + "evil", "x.sh"), marker_script("prefix"), 0o755)
os.symlink("../outside/secret.sh", os.path.join(TREE, "link-out"))
os.symlink("../outside", os.path.join(TREE, "link-dir-out"))
os.symlink("../treeevil/x.sh", os.path.join(TREE, "link-prefix"))
os.symlink("env.sh", os.path.join(TREE, "link-in"))
os.symlink("nowhere", os.path.join(TREE, "dangling"))
os.mkfifo(os.path.join(TREE, "fifo"), 0o755)
REAL_TREE = os.path.realpath(TREE)


def ws_lines(port, path):
    """The messages a script sends until it exits (python3-websockets)."""
    async def run():
        got = []
        async with websockets.connect("ws://127.0.0.1:%d%s" % (port, path), open_timeout=10) as ws:
            try:
                async for m in ws:
                    got.append(m if isinstance(m, str) else m.decode())
            except websockets.ConnectionClosed:
                pass
        return got
    return asyncio.run(asyncio.wait_for(run(), 30 if SANITIZED else 10))


def env_of(port, path):
    return dict(l.split("=", 1) for l in ws_lines(port, path) if "=" in l)


def upgrade_status(port, path):
    req, _ = upgrade_request(path)
    status, headers, body, s = http_request(port, req)
    s.close()
    return status


with Server(flags=["--dir=" + TREE]) as srv:
    e = env_of(srv.port, "/dir/sub.sh/extra/p%20q?x=1&y=%41")
    want = {
        "SCRIPT_NAME": "/dir/sub.sh",
        "PATH_INFO": "/extra/p q",
        "PATH_TRANSLATED": "/dir/sub.sh/extra/p q",
        "SCRIPT_FILENAME": os.path.join(REAL_TREE, "dir", "sub.sh"),
        "QUERY_STRING": "x=1&y=%41",
        "REQUEST_METHOD": "GET",
        "REQUEST_URI": "/dir/sub.sh/extra/p%20q?x=1&y=%41",
    }
    for k, v in want.items():
        ok(e.get(k) == v, "script in a subdirectory: %s=%s" % (k, v), e.get(k), v)

    e = env_of(srv.port, "/env.sh")
    ok(e.get("SCRIPT_NAME") == "/env.sh" and e.get("PATH_INFO") == "",
       "a script with no PATH_INFO: SCRIPT_NAME=/env.sh, PATH_INFO empty", (e.get("SCRIPT_NAME"), e.get("PATH_INFO")))
    e = env_of(srv.port, "/env.sh/")
    ok(e.get("PATH_INFO") == "/", "a trailing slash is PATH_INFO=/", e.get("PATH_INFO"))
    e = env_of(srv.port, "/sp%20ace.sh/a")
    ok(e.get("SCRIPT_NAME") == "/sp ace.sh" and e.get("SCRIPT_FILENAME") == os.path.join(REAL_TREE, "sp ace.sh"),
       "a percent-encoded script name is decoded", (e.get("SCRIPT_NAME"), e.get("SCRIPT_FILENAME")))
    e = env_of(srv.port, "/link-in/p")
    ok(e.get("SCRIPT_NAME") == "/link-in" and e.get("SCRIPT_FILENAME") == os.path.join(REAL_TREE, "env.sh")
       and e.get("PATH_INFO") == "/p",
       "a symlink inside the tree: SCRIPT_NAME is the URL, SCRIPT_FILENAME the real file",
       (e.get("SCRIPT_NAME"), e.get("SCRIPT_FILENAME"), e.get("PATH_INFO")))

    refusals = [
        ("/missing", 404, "a missing component"),
        ("/dir/missing.sh", 404, "a missing file in a directory"),
        ("/", 404, "the root directory"),
        ("/adir", 404, "a directory"),
        ("/adir/", 404, "a directory with a slash"),
        ("/adir/index.html", 403, "a non-executable file"),
        ("/noexec.sh", 403, "a non-executable script"),
        ("/noexec.sh/x", 403, "a non-executable script with PATH_INFO"),
        ("/.hidden.sh", 403, "a hidden file"),
        ("/.hdir/x.sh", 403, "a file in a hidden directory"),
        ("/%2ehidden.sh", 403, "a hidden file, percent-encoded dot"),
        ("/dir/../noexec.sh", 403, "a .. segment"),
        ("/dir/../dir/enc.sh", 403, "a .. segment back into the tree"),
        ("/dir/%2e%2e/dir/enc.sh", 403, "a percent-encoded .. segment"),
        ("/dir/%2E%2E/dir/enc.sh", 403, "an upper-case percent-encoded .. segment"),
        ("/../outside/secret.sh", 403, ".. out of the tree"),
        ("/%2e%2e/outside/secret.sh", 403, "encoded .. out of the tree"),
        ("/dir%2fenc.sh", 403, "an encoded /"),
        ("/dir%5cenc.sh", 403, "an encoded backslash"),
        ("/dir/enc.sh%00", 403, "an encoded NUL"),
        ("/dir/enc%zz.sh", 403, "a bad percent escape"),
        ("/link-out", 403, "a symlink to a file outside"),
        ("/link-dir-out/secret.sh", 403, "a symlinked directory outside"),
        ("/link-prefix", 403, "a symlink into a sibling named like the tree"),
        ("/dangling", 404, "a dangling symlink"),
        ("/fifo", 403, "a fifo"),
    ]
    for path, code, what in refusals:
        got = upgrade_status(srv.port, path)
        ok(got == code, "%s (%s): %d" % (what, path, code), got, code)
    # a refused path never gets a child: none forked, so none left
    ok(wait_for(lambda: not children(srv.pid), timeout=5), "no child left after the refusals", children(srv.pid))
    log = srv.log_text()
    ok("no script for /.hidden.sh: 403" in log, "the refusal is logged with its status")

    # --dir serves upgrades only: a plain GET of a script does not run it
    status, _, _, sock = http_request(srv.port, b"GET /plainget.sh HTTP/1.1\r\nHost: t\r\n\r\n")
    sock.close()
    ok(status == 404, "a plain GET of a --dir script: 404", status)
    marks = sorted(os.listdir(MARKS))
    ok(marks == [], "no refused file ran (no marker)", marks)
    # the connection stays open until the script has spoken: closing at once may stop it first
    c = RawClient(srv.port, "/control.sh")
    ok(c.status == 101 and c.recv() == (OP_TEXT, b"ran"), "control: an executable script is upgraded and runs")
    c.sock.close()
    ok(os.path.exists(os.path.join(MARKS, "control")), "control: its marker appears")
done()
