"""--pty: programs on a pseudo-terminal, in line mode and as a browser-style terminal (--binary).

Line mode (python3-websockets and the raw client): a program sees a terminal on 0, 1 and 2 with
TERM=dumb; messages reach it byte for byte (no echo, no CR/NL translation either way); stderr
comes on the same terminal; a python3 script that never flushes replies per line; `python3 -i`
answers each expression; a long line does not stall the terminal. --binary (node's ws as the
client): `bash --norc -i` types "echo hi\\r" into "hi", the initial size comes from ?cols=&rows=,
{"resize":[C,R]} changes it (stty size), a resize message out of range is dropped, not typed.
Lifetimes: the client leaving ends the program by ^D (no signal); a program ignoring SIGINT and
SIGTERM gets the same stop sequence as with pipes; a job in its own process group (bash job
control) is killed with the session; a program that closes the terminal ends the session.
After each: no child left, the server's descriptors back to where they were.
"""
import asyncio
import json

import websockets

from wsbtest import *

time_limit(240)
T = 10 * (3 if SANITIZED else 1)


def settle(srv, base):
    """Nothing left under the server, and its descriptors back to base."""
    ok(wait_for(lambda: children(srv.pid) == []), "no child left", children(srv.pid))
    ok(wait_for(lambda: fd_count(srv.pid) == base), "server descriptors back to %d" % base, fd_count(srv.pid))


# ---------------------------------------------------------------- line mode

tty = scratch("tty.py")
with open(tty, "w") as f:
    f.write("#!/usr/bin/python3\nimport os, sys\n"
            "print('isatty', os.isatty(0), os.isatty(1), os.isatty(2), os.environ.get('TERM'))\n"
            "for line in sys.stdin:\n"
            "    print('got', repr(line))\n"
            "    print('err', len(line), file=sys.stderr)\n")
os.chmod(tty, 0o755)

with Server(tty, flags=["--pty"]) as srv:
    base = fd_count(srv.pid)
    c = RawClient(srv.port)
    ok(c.recv() == (OP_TEXT, b"isatty True True True dumb"), "stdin, stdout, stderr are a terminal; TERM=dumb")
    c.send_text("tab\there, a CR\r inside")
    ok(c.recv() == (OP_TEXT, b"got 'tab\\there, a CR\\r inside\\n'"),
       "a message arrives as sent: not echoed, no CR -> NL, the line ends in NL")
    ok(c.recv() == (OP_TEXT, b"err 23"), "stderr is the same terminal: its line is a message too")
    c.send_text("x" * 10000)
    op, p = c.recv()
    ok(op == OP_TEXT and p.startswith(b"got 'xxx") and 4000 < len(p) < 4200,
       "a 10000-byte line is cut to the terminal's 4095 (canonical mode), not stalled", len(p))
    c.recv()
    c.send_text("after")
    ok(c.recv() == (OP_TEXT, b"got 'after\\n'"), "the next line comes through")
    c.recv()
    ok(c.close() == (1000, ""), "the client's close: the program ends at ^D, exit status 0")
    settle(srv, base)
    ok(re.search(r'ACCESS .* 101 .* exit status 0 close=1000', srv.log_text()), "access line: exit status 0")

noflush = scratch("noflush.py")
with open(noflush, "w") as f:
    f.write("#!/usr/bin/python3\nimport sys\nfor line in sys.stdin:\n    print('py:' + line.strip())\n")
os.chmod(noflush, 0o755)


async def per_message(port):
    async with websockets.connect("ws://127.0.0.1:%d/" % port) as ws:
        got = []
        for i in range(5):
            await ws.send("m%d" % i)
            got.append(await asyncio.wait_for(ws.recv(), T))
        await ws.close()
    return got


with Server(noflush, flags=["--pty"]) as srv:
    got = asyncio.run(per_message(srv.port))
    ok(got == ["py:m%d" % i for i in range(5)], "a python3 script that never flushes replies per line", got)


async def python_i(port):
    async with websockets.connect("ws://127.0.0.1:%d/" % port) as ws:
        out = []

        async def until(pred):
            while not pred():
                out.append(await asyncio.wait_for(ws.recv(), T))

        await ws.send("6*7")
        await until(lambda: any("42" in m for m in out))
        await ws.send("print('a\\nb')")
        await until(lambda: any(m.endswith("b") for m in out))
        await ws.send("import sys; sys.stdout.isatty()")
        await until(lambda: any("True" in m for m in out))
        await ws.close()
    return out


with Server("python3", "-i", flags=["--pty"]) as srv:
    base = fd_count(srv.pid)
    out = asyncio.run(python_i(srv.port))
    ok(any(m.startswith("Python 3") for m in out), "python3 -i: its banner", out[:2])
    ok(">>> 42" in out, "python3 -i: an expression's value, after the prompt (no echo of the input)", out)
    ok(">>> a" in out and "b" in out, "python3 -i: a printed newline splits messages", out)
    ok(not any("6*7" in m for m in out), "python3 -i: the input is not echoed", out)
    settle(srv, base)

# ---------------------------------------------------------------- --binary: a terminal

NODE_CLIENT = r"""
const WebSocket = require('ws');
const [port, script] = [process.argv[2], JSON.parse(process.argv[3])];
const ws = new WebSocket(`ws://127.0.0.1:${port}/?cols=100&rows=30`);
let out = '', i = 0;
const results = [];
setTimeout(() => { console.log(JSON.stringify({results, out, timeout: true})); process.exit(1); }, %d);
function next() {
  if (i === script.length) { ws.close(1000); return; }
  const [send, expect, binary] = script[i];
  const mark = out.length;
  if (binary) ws.send(Buffer.from(send)); else ws.send(send);
  if (!expect) { i++; setTimeout(next, 200); return; }
  const check = () => {
    const m = out.slice(mark).match(new RegExp(expect));
    if (m) { results.push(m[0]); i++; next(); } else setTimeout(check, 20);
  };
  check();
}
ws.on('open', () => setTimeout(next, 300));
ws.on('message', (d, isBinary) => { if (!isBinary) results.push('TEXT MESSAGE'); out += d.toString(); });
ws.on('close', (code) => { console.log(JSON.stringify({results, out, code})); process.exit(0); });
""" % (20000 * (3 if SANITIZED else 1))
node_client = scratch("term_client.js")
with open(node_client, "w") as f:
    f.write(NODE_CLIENT)


def node_session(port, script):
    p = subprocess.run(["node", node_client, str(port), json.dumps(script)], capture_output=True,
                       timeout=90, env=dict(os.environ, NODE_PATH="/usr/share/nodejs:/usr/lib/nodejs"))
    try:
        return json.loads(p.stdout.decode())
    except ValueError:
        diag("node: %r %r" % (p.stdout, p.stderr))
        return {"results": [], "out": "", "code": None}


with Server("bash", "--norc", "-i", flags=["--pty", "--binary"]) as srv:
    base = fd_count(srv.pid)
    r = node_session(srv.port, [
        ["stty size\r", r"30 100\r\n"],
        ["echo hi\r", r"[\r\n]hi\r\n"],
        ['{"resize":[120,40]}', None],
        ["stty size\r", r"40 120\r\n"],
        ['{"resize":[0,40]}', None],
        ["stty size; echo typed:$?\r", r"40 120\r\ntyped:0\r\n"],
        ["echo '", None],
        ['{"resize":[81,25]}', None, True],
        ["'; stty size\r", r'[\r\n]\{"resize":\[81,25\]\}\r\n40 120\r\n'],
        ["tty; echo $TERM\r", r"/dev/pts/\d+\r\nxterm-256color\r\n"],
        ["sleep 1000 & echo bg:$!\r", r"bg:\d+\r\n"],
    ])
    res = r["results"]
    diag("terminal output: %r" % r["out"][-400:])
    ok(len(res) > 0 and "30 100" in res[0], "the initial size from ?cols=100&rows=30", res[:1])
    ok(len(res) > 1 and "hi" in res[1], "\"echo hi\\r\" typed: hi (CR NL, as a terminal shows it)", res[1:2])
    ok(len(res) > 2 and "40 120" in res[2], '{"resize":[120,40]}: stty size says 40 120', res[2:3])
    ok(len(res) > 3 and "typed:0" in res[3] and "[0,40]" not in r["out"],
       "a resize out of range is dropped, not typed", res[3:4])
    ok(len(res) > 4, "the same JSON as a binary message is keystrokes: echoed, no resize", res[4:5])
    ok("TEXT MESSAGE" not in res, "every output message is binary")
    ok(len(res) > 5 and res[5].startswith("/dev/pts/") and "xterm-256color" in res[5],
       "the controlling terminal is a pty, TERM=xterm-256color", res[5:6])
    bg = int(re.search(r"bg:(\d+)", r["out"]).group(1)) if re.search(r"bg:(\d+)", r["out"]) else 0
    ok(r.get("code") == 1000, "the session closed with 1000 (bash exits at ^D)", r.get("code"))
    ok(bg and wait_for(lambda: not alive(bg)), "a background job (its own process group) ends with the session", bg)
    ok(re.search(r"pty: resize message ignored: a size is not 1 to 1000", srv.log_text()),
       "the bad resize is logged")
    settle(srv, base)

# ---------------------------------------------------------------- stopping

trace = scratch("trace")
if os.path.exists(trace):
    os.unlink(trace)
body = ("trap 'echo INT >> %s' INT; trap 'echo TERM >> %s' TERM; echo ready; "
        "while :; do sleep 0.05; done") % (trace, trace)
with Server("/bin/sh", "-c", body, flags=["--pty", "--closems=100"]) as srv:
    base = fd_count(srv.pid)
    c = RawClient(srv.port)
    ok(c.recv() == (OP_TEXT, b"ready"), "a program that ignores ^D, SIGINT and SIGTERM runs")
    child = children(srv.pid)[0]
    t0 = time.monotonic()
    c.sock.close()
    ok(wait_for(lambda: not alive(child), timeout=10), "it is stopped after the client left")
    elapsed = time.monotonic() - t0
    events = [l for l in open(trace).read().split("\n") if l]
    ok(events == ["INT", "TERM"], "SIGINT, then SIGTERM, then SIGKILL, as with pipes", events)
    ok(elapsed >= 1.1, "the ladder waited its steps (%.2f s >= 1.1 s)" % elapsed)
    settle(srv, base)

with Server("/bin/sh", "-c", "echo bye; exec 0<&- 1>&- 2>&-; sleep 1000", flags=["--pty"]) as srv:
    base = fd_count(srv.pid)
    c = RawClient(srv.port)
    msgs, close = c.messages_until_close()
    ok(msgs == [(OP_TEXT, b"bye")], "a program that closes its terminal: what it said comes first", msgs)
    ok(len(close) >= 2, "then the session closes (the program is stopped)", close)
    settle(srv, base)

# ---------------------------------------------------------------- configuration

p = subprocess.run([WSBRIDGE, "--port=0", "--pty", "--passstderr", "cat"], stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=20)
ok(p.returncode == 1 and b"--passstderr" in p.stderr and b"one stream" in p.stderr,
   "--pty with --passstderr: refused, saying why", (p.returncode, p.stderr))
p = subprocess.run([WSBRIDGE, "--port=0", "--pty", "--shared", "cat"], stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=20)
ok(p.returncode == 1 and b"--pty cannot be used with --shared" in p.stderr,
   "--pty with --shared: refused, saying why", (p.returncode, p.stderr))
done()
