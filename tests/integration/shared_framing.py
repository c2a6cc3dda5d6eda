"""--shared with --framing=json and --framing=length: 20 python3-websockets clients on one
shared program; messages with newlines, binary, empty and 1 MiB ones reach the program whole
(never cut by another client's) and every client whole, in one order; a client joining while a
message is half printed gets only whole messages; a client that never reads loses whole
messages only (--slow-client=drop); bad output closes every client with 1011 and the reason,
stops the program and the next client starts it again; an exit is told as in lines mode."""
import asyncio
import struct
import sys

import websockets

from wsbtest import *

time_limit(900 if SANITIZED else 300)
SCALE = 3 if SANITIZED else 1
PY = sys.executable
N = 20
MODES = ("json", "length")


async def connect(port, n=1):
    return [await websockets.connect("ws://127.0.0.1:%d/" % port, max_size=None, max_queue=None,
                                     ping_interval=None) for _ in range(n)]


async def recv_n(ws, n, timeout):
    return [await asyncio.wait_for(ws.recv(), timeout) for _ in range(n)]


async def until_close(ws, timeout=20):
    """The messages a client gets until its close (the close code and reason are on ws)."""
    got = []
    try:
        while True:
            got.append(await asyncio.wait_for(ws.recv(), timeout * SCALE))
    except websockets.ConnectionClosed:
        return got


# ---------------------------------------------------------------- every client, every message

def sent_by(i):
    """What client i sends: a text with newlines, a binary with a newline byte, empty text and
    empty binary; clients 0 and 1 also 1 MiB (text, binary)."""
    msgs = ["c%02d line 1\nline 2\r\n\"quoted\" \\ \x00 é😀" % i, b"\x00\n\xffc%02d" % i, "", b""]
    if i == 0:
        msgs.append("c00 " + "é\n" * ((1 << 20) // 3 - 2))
    if i == 1:
        msgs.append(bytes(range(256)) * 4096)
    return msgs


async def fan_out(port, mode):
    clients = await connect(port, N)
    # every client sends all of its messages at once: their frames interleave on the way in
    await asyncio.gather(*(c.send(m) for i, c in enumerate(clients) for m in sent_by(i)))
    total = sum(len(sent_by(i)) for i in range(N))
    got = await asyncio.gather(*(recv_n(c, total, 60 * SCALE) for c in clients))
    everything = [m for i in range(N) for m in sent_by(i)]
    key = lambda m: (isinstance(m, bytes), m)  # noqa: E731
    ok(sorted(got[0], key=key) == sorted(everything, key=key),
       "%s: %d clients: every message reaches the program whole, once, and comes back" % (mode, N))
    ok(all(g == got[0] for g in got), "%s: every client gets every message, in the same order" % mode)
    own = lambda i: [m for m in sent_by(i) if m]  # noqa: E731 (the empty ones are everybody's)
    ok(all([m for m in got[0] if m in own(i)] == own(i) for i in range(N)),
       "%s: each client's messages stay in the order it sent them" % mode)
    # a message in fragments is one message for the program, never cut by another client's
    await clients[1].send(["par", "tial\n", " message"])
    await clients[2].send(b"between")
    got = await asyncio.gather(*(recv_n(c, 2, 10 * SCALE) for c in clients))
    ok(all(sorted(g, key=key) == ["partial\n message", b"between"] for g in got),
       "%s: a fragmented message is one whole message" % mode, got[0])
    await asyncio.gather(*(c.close() for c in clients))


for mode in MODES:
    flags = ["--shared", "--framing=" + mode, "--slow-client-queue=67108864"]
    with Server("cat", flags=flags) as srv:
        asyncio.run(fan_out(srv.port, mode))
        ok(srv.log_text().count("shared program /usr/bin/cat started") == 1,
           "%s: one program for all the clients" % mode)
        ok(wait_for(lambda: children(srv.pid) == []), "%s: stopped once the last client left" % mode)


# ---------------------------------------------------------------- joining in the middle of a message

def message(k):
    return "m%05d|" % k + "|".join(("p%d" % i) * 300 for i in range(3))


def is_whole(m):
    return isinstance(m, str) and m[1:6].isdigit() and m == message(int(m[1:6]))


# the program prints each message in three pieces, 20 ms apart: length as three records (MORE on
# the first two), json as three writes of one line
SLOW_PRINT = scratch("slow_print.py")
with open(SLOW_PRINT, "w") as f:
    f.write(r'''import struct, sys, time
mode, out = sys.argv[1], sys.stdout.buffer
for k in range(100000):
    text = "m%05d|" % k + "|".join(("p%d" % i) * 300 for i in range(3))
    cut = [text[:len(text) // 3], text[len(text) // 3:2 * len(text) // 3], text[2 * len(text) // 3:]]
    for i, piece in enumerate(cut):
        b = piece.encode()
        if mode == "length":
            out.write(bytes([1 | (0x80 if i < 2 else 0)]) + struct.pack(">I", len(b)) + b)
        else:
            out.write((b'"' if i == 0 else b"") + b + (b'"\n' if i == 2 else b""))
        out.flush()
        time.sleep(0.02)
''')


async def joiners(port, mode):
    stay = (await connect(port))[0]
    seen = []
    for rnd in range(4):
        batch = []
        for _ in range(5):  # joining at different moments of a message
            batch += await connect(port)
            await asyncio.sleep(0.013)
        seen += await asyncio.gather(*(recv_n(c, 3, 10 * SCALE) for c in batch))
        await asyncio.gather(*(c.close() for c in batch))
    first = await recv_n(stay, 10, 10 * SCALE)
    await stay.close()
    ok(all(is_whole(m) for s in seen + [first] for m in s),
       "%s: 20 clients joining while a message is half printed: only whole messages" % mode,
       [len(m) for s in seen for m in s if not is_whole(m)][:5])
    ok(all([int(m[1:6]) for m in s] == list(range(int(s[0][1:6]), int(s[0][1:6]) + 3)) for s in seen),
       "%s: ... each from the next message on, none skipped" % mode)


async def rejoin(port, mode):
    """The last client leaves in the middle of a message (the program lingers on), the next one
    joins before that message ends: it never gets its tail as a message."""
    seen = []
    for rnd in range(6):
        c = (await connect(port))[0]
        await recv_n(c, 1, 10 * SCALE)
        await asyncio.sleep(0.03 * (rnd % 3))
        await c.close()
        c = (await connect(port))[0]
        seen += await recv_n(c, 2, 10 * SCALE)
        await c.close()
    bad = [len(m) for m in seen if not is_whole(m)]
    ok(not bad, "%s: a client joining after the last one left mid-message: whole messages only" % mode, bad)


for mode in MODES:
    with Server(PY, SLOW_PRINT, mode, flags=["--shared", "--framing=" + mode]) as srv:
        asyncio.run(joiners(srv.port, mode))
    with Server(PY, SLOW_PRINT, mode, flags=["--shared", "--framing=" + mode, "--shared-linger=5000"]) as srv:
        asyncio.run(rejoin(srv.port, mode))
        ok(srv.log_text().count("started, pid") == 1, "%s: ... one run through it all (linger)" % mode)


# ---------------------------------------------------------------- a client that never reads

COUNT, SIZE = 3000, 1000
FLOOD = scratch("flood.py")
with open(FLOOD, "w") as f:
    f.write(r'''import struct, sys
mode, out, inp = sys.argv[1], sys.stdout.buffer, sys.stdin.buffer
if mode == "length":
    inp.read(struct.unpack(">I", inp.read(5)[1:])[0])  # "go"
else:
    inp.readline()
for k in range(%d):
    b = (b"%%06d " %% k) + b"x" * (%d - 7)
    out.write(struct.pack(">BI", 1, len(b)) + b if mode == "length" else b'"' + b + b'"\n')
out.flush()
while True:  # then an echo (cat)
    b = inp.read1(65536)
    if not b:
        break
    out.write(b)
    out.flush()
''' % (COUNT, SIZE))


def stuck_drain(stuck, mode):
    """What the stuck client gets once it reads: its messages up to its own "last"."""
    stuck.sock.settimeout(20 * SCALE)
    stuck.send_text("last")
    got = []
    while True:
        op, p = stuck.recv()
        if op == OP_TEXT and p == b"last":
            return got
        if op in (OP_TEXT, OP_BINARY):
            got.append(p)


async def never_reads(port, mode):
    stuck = StuckClient(port)
    reader = (await connect(port))[0]
    await reader.send("go")
    got = await recv_n(reader, COUNT, 60 * SCALE)
    want = ["%06d " % k + "x" * (SIZE - 7) for k in range(COUNT)]
    ok(got == want, "%s: the reading client gets all %d messages in order" % (mode, COUNT))
    kept = stuck_drain(stuck, mode)
    ok(0 < len(kept) < COUNT, "%s: the client that never read lost messages (%d of %d kept)"
       % (mode, len(kept), COUNT))
    ok(all(p.decode() == want[int(p[:6])] for p in kept), "%s: ... whole messages only" % mode,
       [p[:20] for p in kept if p.decode() != want[int(p[:6])]][:3])
    nums = [int(p[:6]) for p in kept]
    ok(nums == sorted(set(nums)) and nums[-1] == COUNT - 1,
       "%s: ... the oldest dropped, the rest in order" % mode, nums[-3:])
    stuck.close()
    await reader.close()


for mode in MODES:
    with Server(PY, FLOOD, mode, flags=["--shared", "--framing=" + mode, "--slow-client=drop",
                                        "--slow-client-queue=131072"]) as srv:
        asyncio.run(never_reads(srv.port, mode))
        ok(wait_for(lambda: "messages dropped for this client" in srv.log_text()),
           "%s: the drops are logged at its close" % mode)


# ---------------------------------------------------------------- bad output; restart

async def bad(port, mode, want_first, want_reason, label):
    a, b = await connect(port, 2)
    await a.send("now")  # the program's cue
    got = await asyncio.gather(until_close(a), until_close(b))
    got = [g[1:] if g[:1] == ["ok"] else g for g in got]  # printed before b joined, perhaps
    ok(got[0] == want_first and got[1] == want_first,
       "%s: every client gets what came before the bad output, whole" % label, got, want_first)
    ok(a.close_code == 1011 and b.close_code == 1011, "%s: then 1011" % label, (a.close_code, b.close_code))
    ok(a.close_reason == want_reason and b.close_reason == want_reason, "%s: the reason says what and where"
       % label, a.close_reason, want_reason)
    # the next client starts it again, after the backoff
    c = (await connect(port))[0]
    first = await asyncio.wait_for(c.recv(), 10 * SCALE)
    ok(first == "ok", "%s: the next client starts the program again" % label, first)
    await c.close()


REC = lambda kind, payload: "%s%s" % (  # noqa: E731
    "".join("\\%03o" % x for x in bytes([kind]) + struct.pack(">I", len(payload))), payload)
# the client's "now": a line "\"now\"" (json) or an 8-byte record (length)
CUE = {"json": "head -n 1 >/dev/null", "length": "head -c 8 >/dev/null"}
JSON_BAD = "echo '\"ok\"'; %s; echo '\"then\"'; echo 'hello world'; sleep 30" % CUE["json"]
# a message of two records: the first sent, then a record of type 7 instead of the second
LENGTH_BAD = "printf '%s'; %s; printf '%s%s\\007'; sleep 30" % (REC(1, "ok"), CUE["length"], REC(2, "then"),
                                                                REC(0x81, "half"))
for mode, script, reason, want in (
        ("json", JSON_BAD, "bad output from program: not a JSON string or {\"binary\":BASE64} at line 3 byte 0",
         ["then"]),
        ("length", LENGTH_BAD, "bad output from program: an unknown record type at byte 25", [b"then"])):
    with Server("/bin/sh", "-c", script, flags=["--shared", "--framing=" + mode]) as srv:
        asyncio.run(bad(srv.port, mode, want, reason, "%s: bad output" % mode))
        log = srv.log_text()
        ok(re.search(r"ERROR +\| shared program \S+: " + re.escape(reason), log),
           "%s: bad output: an error line names the program" % mode)
        ok(re.search(r"\(bad output\): closing its 2 clients with 1011", log),
           "%s: bad output: logged with the code" % mode)
        pids = re.findall(r"shared program \S+ started, pid (\d+)", log)
        ok(len(pids) == 2 and wait_for(lambda: not alive(int(pids[0]))),
           "%s: bad output: the program was stopped, then started again" % mode, pids)

# the program exits: every client is told as in lines mode (1000, or 1012 with the status)
EXITS = "%s; printf '%s'; exit 3" % (CUE["length"], REC(2, "bye"))


async def exits(port):
    a, b = await connect(port, 2)
    await a.send("now")
    got = await asyncio.gather(until_close(a), until_close(b))
    ok(got == [[b"bye"], [b"bye"]], "length: exit: what it printed reaches every client", got)
    ok(a.close_code == b.close_code == 1012 and "exit status 3" in a.close_reason,
       "length: exit: then 1012 with the status", (a.close_code, a.close_reason))


with Server("/bin/sh", "-c", EXITS, flags=["--shared", "--framing=length"]) as srv:
    asyncio.run(exits(srv.port))

# per endpoint under --dir: one shared program per script, each with its own clients
DIR = scratch("endpoints")
os.makedirs(DIR, exist_ok=True)
for name in ("a.sh", "b.sh"):
    shell_script(os.path.join(DIR, name), "exec cat\n")


async def endpoints(port):
    url = "ws://127.0.0.1:%d/%s"
    a1, a2, b1 = [await websockets.connect(url % (port, n), max_size=None) for n in ("a.sh", "a.sh", "b.sh")]
    await a1.send(b"\x00for a\n")
    await b1.send("for b\n")
    got = await asyncio.gather(*(recv_n(c, 1, 10 * SCALE) for c in (a1, a2, b1)))
    ok(got == [[b"\x00for a\n"], [b"\x00for a\n"], ["for b\n"]],
       "--dir: each script is one shared program for its own clients", got)
    await asyncio.gather(*(c.close() for c in (a1, a2, b1)))


with Server(flags=["--dir=" + DIR, "--shared", "--framing=length"]) as srv:
    asyncio.run(endpoints(srv.port))
    ok(srv.log_text().count("started, pid") == 2, "--dir: two programs, one per script")

# --shared=addressed has its own JSON lines: no --framing with it
p = subprocess.run([WSBRIDGE, "--port=0", "--shared=addressed", "--framing=json", "cat"], capture_output=True,
                   text=True, timeout=30)
ok(p.returncode != 0 and "--framing=json cannot be used with --shared=addressed" in p.stderr,
   "refused: --shared=addressed --framing=json", p.stderr)
done()
