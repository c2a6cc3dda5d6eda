"""--shared: one program for 50 python3-websockets clients; a client that never reads (close and
drop policies) with bounded memory; clients joining and leaving; the program exiting; linger."""
import asyncio
import subprocess
import time

import websockets

from wsbtest import *

N = 50
SCALE = 3 if SANITIZED else 1


async def connect(port, n):
    return [await websockets.connect("ws://127.0.0.1:%d/" % port, max_size=None, max_queue=None)
            for _ in range(n)]


async def recv_n(ws, n, timeout):
    return [await asyncio.wait_for(ws.recv(), timeout) for _ in range(n)]


async def fan_out(port):
    clients = await connect(port, N)
    # every client sends 4 lines; cat prints them once, in the order its stdin got them
    await asyncio.gather(*(c.send("c%02d m%d" % (i, k)) for k in range(4) for i, c in enumerate(clients)))
    got = await asyncio.gather(*(recv_n(c, 4 * N, 20 * SCALE) for c in clients))
    everything = sorted("c%02d m%d" % (i, k) for i in range(N) for k in range(4))
    ok(sorted(got[0]) == everything, "%d clients: every line reaches the program once and comes back" % N)
    ok(all(g == got[0] for g in got), "every one of the %d clients sees every line, in the same order" % N)
    per_sender = [[m for m in got[0] if m.startswith("c%02d " % i)] for i in range(N)]
    ok(all(p == ["c%02d m%d" % (i, k) for k in range(4)] for i, p in enumerate(per_sender)),
       "each client's lines stay in the order it sent them")
    # a message in several frames is one line, never cut by another client's
    await clients[1].send(["par", "tial", " line"])
    await clients[2].send("between")
    got = await asyncio.gather(*(recv_n(c, 2, 10 * SCALE) for c in clients))
    ok(all(sorted(g) == ["between", "partial line"] for g in got), "a fragmented message is one whole line", got[0])
    await asyncio.gather(*(c.close() for c in clients))


with Server("cat", flags=["--shared"]) as srv:
    asyncio.run(fan_out(srv.port))
    ok(wait_for(lambda: children(srv.pid) == []), "the program is stopped once the last client left",
       children(srv.pid))
    ok("shared program /usr/bin/cat started" in srv.log_text(), "one program was started (logged)")
    ok(srv.log_text().count("shared program /usr/bin/cat started") == 1, "... only one for all the clients")
    outs = re.findall(r"msgs_out=(\d+)", srv.log_text())
    ok(len(outs) == N and all(int(o) == 4 * N + 2 for o in outs),
       "each client's access line counts the %d messages it was sent" % (4 * N + 2), outs[:3])


# ---------------------------------------------------------------- a client that never reads

LINE = 1000
LINES = 3000  # 3 MB of output: well over the queue limit (1 MiB) and the stuck client's buffers


async def slow_client(port, policy):
    stuck = StuckClient(port)
    readers = await connect(port, N - 1)
    r0 = rss_kib(srv.pid)
    # messages of many lines (under the 1 MiB a shared endpoint takes): cat prints LINES lines.
    # Each batch is read by every reader before the next goes: readers never fall a whole
    # queue behind each other (slower ones would rightly lose lines), the stuck one does.
    t0 = time.monotonic()
    got = [[] for _ in readers]
    for k in range(0, LINES, 500):
        await readers[0].send("\n".join("%06d " % i + "x" * (LINE - 7) for i in range(k, k + 500)))
        batch = await asyncio.gather(*(recv_n(c, 500, 60 * SCALE) for c in readers))
        for g, b in zip(got, batch):
            g += b
    secs = time.monotonic() - t0
    r1 = rss_kib(srv.pid)
    want = ["%06d " % i + "x" * (LINE - 7) for i in range(LINES)]
    ok(all(g == want for g in got), "%s: the %d reading clients get all %d lines in order (%.1f s)"
       % (policy, N - 1, LINES, secs))
    diag("server RSS %d KiB -> %d KiB with %.1f MB sent to each of %d clients" % (r0, r1, LINE * LINES / 1e6, N - 1))
    ok(r1 - r0 < 48 * 1024, "%s: server RSS stays bounded (%d -> %d KiB)" % (policy, r0, r1))
    await asyncio.gather(*(c.close() for c in readers))
    return stuck


with Server("cat", flags=["--shared", "--slow-client=close"]) as srv:
    stuck = asyncio.run(slow_client(srv.port, "close"))
    stuck.sock.settimeout(10 * SCALE)
    msgs, close = [], None
    try:  # its close frame waits behind what it did not read: gone if it reads too late
        msgs, close = stuck.messages_until_close()
    except Closed:
        pass
    ok(close is None or (close[:2] == b"\x03\xf0" and b"too slow" in close),
       "close: the client that never read gets 1008 'too slow' (or, reading too late, the end)", close)
    ok(len(msgs) < LINES, "close: ... after %d of %d lines" % (len(msgs), LINES))
    ok(re.search(r"\[conn 1\] --slow-client=close: closing with 1008 \(too slow: \d+ bytes behind\)",
                 srv.log_text()), "close: the server closed it (logged)")

with Server("cat", flags=["--shared", "--slow-client=drop"]) as srv:
    stuck = asyncio.run(slow_client(srv.port, "drop"))
    stuck.sock.settimeout(10 * SCALE)
    nums = []
    stuck.send_text("last")
    while True:
        op, p = stuck.recv()
        if op == OP_TEXT and p == b"last":
            break
        if op == OP_TEXT:
            nums.append(int(p[:6]))
    ok(0 < len(nums) < LINES, "drop: the client that never read lost lines (%d of %d kept)" % (len(nums), LINES))
    ok(nums == sorted(set(nums)), "drop: what it kept is in order, without duplicates")
    ok(nums[-1] == LINES - 1, "drop: the newest lines were kept (the oldest dropped)", nums[-3:])
    stuck.close()
    ok(wait_for(lambda: "messages dropped for this client" in srv.log_text()), "drop: the drops are logged at its close")


# ---------------------------------------------------------------- joining and leaving

TICK = shell_script(scratch("tick.sh"), 'i=0\nwhile [ $i -lt 100000 ]; do i=$((i+1)); echo $i; sleep 0.005; done\n')


async def churn(port):
    stay = (await connect(port, 1))[0]
    seen = []
    for rnd in range(6):
        batch = await connect(port, 5)
        got = await asyncio.gather(*(recv_n(c, 10, 10 * SCALE) for c in batch))
        seen += [[int(x) for x in g] for g in got]
        await asyncio.gather(*(c.close() for c in batch))
    first = [int(x) for x in await recv_n(stay, 50, 10 * SCALE)]
    await stay.close()
    ok(all(s == list(range(s[0], s[0] + 10)) for s in seen),
       "30 clients joining and leaving: each sees consecutive lines from where it joined")
    ok(first == list(range(first[0], first[0] + 50)), "a client that stays sees every line, none twice")


with Server(TICK, flags=["--shared"]) as srv:
    asyncio.run(churn(srv.port))
    ok(srv.log_text().count("shared program %s started" % TICK) == 1, "one program through all of it")


# ---------------------------------------------------------------- the program exits; linger

EXITS = shell_script(scratch("exits.sh"), 'read x\necho "bye $x"\nexit 3\n')


async def exits(port):
    a, b = await connect(port, 2)
    await a.send("now")
    got = [await asyncio.wait_for(c.recv(), 10 * SCALE) for c in (a, b)]
    ok(got == ["bye now", "bye now"], "exit: what the program printed reaches every client", got)
    for c in (a, b):
        try:
            await asyncio.wait_for(c.recv(), 10 * SCALE)
        except websockets.ConnectionClosed:
            pass
    ok(a.close_code == 1012 and b.close_code == 1012, "exit: then every client is closed with 1012",
       (a.close_code, b.close_code))
    ok("exit status 3" in a.close_reason, "exit: the reason says why", a.close_reason)
    # the next client starts it again (after the backoff)
    c = (await connect(port, 1))[0]
    await c.send("again")
    ok(await asyncio.wait_for(c.recv(), 10 * SCALE) == "bye again", "exit: the next client starts it again")
    try:
        await asyncio.wait_for(c.recv(), 10 * SCALE)
    except websockets.ConnectionClosed:
        pass


with Server(EXITS, flags=["--shared"]) as srv:
    asyncio.run(exits(srv.port))
    ok(srv.log_text().count("shared program %s started" % EXITS) == 2, "exit: started twice in all")


async def linger(port, pid):
    c = (await connect(port, 1))[0]
    ok(wait_for(lambda: len(children(pid)) == 1), "linger: the program runs")
    await c.close()
    time.sleep(0.3)
    ok(len(children(pid)) == 1, "linger: still running 300 ms after the last client left")
    ok(wait_for(lambda: children(pid) == [], timeout=5), "linger: stopped after --shared-linger")


with Server("cat", flags=["--shared", "--shared-linger=1000"]) as srv:
    asyncio.run(linger(srv.port, srv.pid))


# ---------------------------------------------------------------- refused combinations

for args, want in ((["--shared", "--workers=2"], "--workers must be 1"),
                   (["--slow-client=close"], "need --shared"),
                   (["--shared=foo"], "--shared takes no value, broadcast or addressed"),
                   (["--shared", "--passstderr"], "--passstderr cannot be used with --shared"),
                   (["--shared", "--slow-client=later"], "--slow-client takes drop or close"),
                   (["--shared", "--slow-client-queue=100"], "--slow-client-queue must be 131072")):
    r = subprocess.run([WSBRIDGE] + args + ["cat"], capture_output=True, text=True, timeout=10)
    ok(r.returncode == 1 and want in r.stderr, "%s: refused (%s)" % (" ".join(args), want), r.stderr)
done()
