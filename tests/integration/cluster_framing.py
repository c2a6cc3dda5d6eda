"""--shared --framing=json|length --redis: two wsbridge instances and one redis-server started
here. Framed messages cross instances whole and of their type: a client's message on the
instance that does not run the program reaches it once, encoded for the mode; what the program
prints (text with newlines, binary, empty, 300 KiB in many pieces) reaches the clients of both
instances whole, in one order. json: bad output closes the clients of both instances with 1011
and the reason."""
import asyncio
import sys

import websockets

from wsbtest import *

time_limit(300 if SANITIZED else 120)
if not os.access(REDIS, os.X_OK):
    print("1..0 # SKIP redis-server is not installed (scripts/setup installs it)")
    sys.exit(0)
SCALE = 3 if SANITIZED else 1

# json: an echo of each line, but the string "bad" makes it print a line that is not JSON
JSON_ECHO = scratch("json_echo.py")
with open(JSON_ECHO, "w") as f:
    f.write("import json, sys\nfor line in sys.stdin:\n"
            "    print('oops' if json.loads(line) == 'bad' else line.rstrip('\\n'), flush=True)\n")


async def recv_n(ws, n):
    return [await asyncio.wait_for(ws.recv(), 20 * SCALE) for _ in range(n)]


async def seen(ws, want, timeout):
    """Reads ws until the message want (what came before is dropped)."""
    while await asyncio.wait_for(ws.recv(), timeout) != want:
        pass


async def synced(a, b):
    """Until a "sync" from b's client comes back to both: each instance reads the stream."""
    for k in range(100):
        await b.send("sync %d" % k)
        try:
            await asyncio.gather(seen(a, "sync %d" % k, 0.5 * SCALE), seen(b, "sync %d" % k, 0.5 * SCALE))
            return True
        except asyncio.TimeoutError:
            continue
    return False


async def cross(pa, pb, mode):
    a = await websockets.connect("ws://127.0.0.1:%d/" % pa, max_size=None, max_queue=None)
    await asyncio.sleep(0.2)  # a's instance runs the program
    b = await websockets.connect("ws://127.0.0.1:%d/" % pb, max_size=None, max_queue=None)
    ok(await synced(a, b), "%s: both instances serve the program" % mode)
    msgs = ["line 1\nline 2 é😀 \"q\" \\ \x00", b"\x00\n\xff", "", b"", bytes(range(256)) * 1200,
            "t" * 300000]
    for m in msgs[:3]:
        await a.send(m)
    for m in msgs[3:]:
        await b.send(m)  # from the instance without the program: through Redis to it
    got = await asyncio.gather(recv_n(a, len(msgs)), recv_n(b, len(msgs)))
    key = lambda m: (isinstance(m, bytes), m)  # noqa: E731
    ok(sorted(got[0], key=key) == sorted(msgs, key=key),
       "%s: every message reaches the program once and comes back whole, of its type" % mode,
       [(type(m).__name__, len(m)) for m in got[0]])
    ok(got[0] == got[1], "%s: the clients of both instances get them in one order" % mode)
    if mode == "json":
        await b.send("bad")
        for ws in (a, b):
            try:
                await asyncio.wait_for(ws.recv(), 20 * SCALE)
            except websockets.ConnectionClosed:
                pass
        want = "bad output from program: not a JSON string or {\"binary\":BASE64} at line %d byte 0"
        reasons = [(ws.close_code, ws.close_reason) for ws in (a, b)]
        ok(all(code == 1011 and r.startswith(want.split(" at ")[0]) for code, r in reasons),
           "json: bad output closes the clients of both instances with 1011 and the reason", reasons)
    await a.close()
    await b.close()


for mode, prog in (("json", [sys.executable, JSON_ECHO]), ("length", ["cat"])):
    with Redis("framing-" + mode) as rd:
        url = "redis://127.0.0.1:%d" % rd.port
        flags = ["--shared", "--framing=" + mode, "--redis=" + url, "--slow-client-queue=67108864"]
        a = Server(*prog, flags=flags)
        a.log_path = os.path.join(LOG_DIR, "%s.%s-a.server.log" % (TEST_NAME, mode))
        b = Server(*prog, flags=flags)
        b.log_path = os.path.join(LOG_DIR, "%s.%s-b.server.log" % (TEST_NAME, mode))
        with a, b:
            asyncio.run(cross(a.port, b.port, mode))
            ok(re.search(r"shared program \S+ started", a.log_text()) and
               not re.search(r"shared program \S+ started", b.log_text()),
               "%s: one instance ran the program" % mode)
done()
