"""--idle-timeout and --max-lifetime: sessions that end on their own, with python3-websockets.

--idle-timeout=MS: no data message either way for MS closes the session with 1001 "idle for MS
ms", then the stop sequence (the program's stdin closes: cat exits and is reaped); messages either
way keep it open (a client sending every MS/3 for 3*MS stays), pings do not (the client's own,
and --pingms's answered ones). --max-lifetime=MS closes with 1001 "session lifetime of MS ms
reached" whatever the traffic. The access line says end=idle-timeout / end=max-lifetime (text)
and "end_reason" (--logformat=json); both options work from --config, and SIGHUP changes them for
the sessions that start afterwards. With --shared they end that client only: the program and the
other clients go on. Bounds are generous (a close within 10 s of a 300 ms timeout); the only
lower bounds are "not before the timeout" ones, which no slow machine can break.
"""
import asyncio
import json
import signal
import time

import websockets

from wsbtest import *

time_limit(240)
SLACK = 3 if SANITIZED else 1
URL = "ws://127.0.0.1:%d/"


async def idle_then_close(port, n_echo=1):
    """Sends n_echo messages (each echoed), then waits. (code, reason, seconds after the last
    echo, the program's pid seen while open)."""
    async with websockets.connect(URL % port) as ws:
        for i in range(n_echo):
            await ws.send("m%d" % i)
            await asyncio.wait_for(ws.recv(), 10 * SLACK)
        t0 = time.monotonic()
        pid = children(srv.pid)
        try:
            got = await asyncio.wait_for(ws.recv(), 10 * SLACK)
            diag("a message instead of the close: %r" % got)
        except websockets.ConnectionClosed:
            pass
        return ws.close_code, ws.close_reason, time.monotonic() - t0, pid


async def chatty(port, every, seconds):
    """Sends a message every `every` s for `seconds` s, each echoed. (all echoed and still open,
    then the code and reason of the close that follows once it stops)."""
    async with websockets.connect(URL % port) as ws:
        end = time.monotonic() + seconds
        good = True
        try:
            while time.monotonic() < end:
                await ws.send("tick")
                good &= await asyncio.wait_for(ws.recv(), 10 * SLACK) == "tick"
                await asyncio.sleep(every)
        except websockets.ConnectionClosed as e:
            diag("closed while talking: %r" % e)
            good = False
        open_then = ws.open
        try:
            await asyncio.wait_for(ws.recv(), 10 * SLACK)
        except websockets.ConnectionClosed:
            pass
        return good and open_then, ws.close_code, ws.close_reason


async def pings_only(port, seconds=10):
    """Sends only pings (answered with pongs; the server's own pings are answered by the library)
    until the server closes. (code, reason)."""
    async with websockets.connect(URL % port, ping_interval=None) as ws:
        end = time.monotonic() + seconds * SLACK
        try:
            while time.monotonic() < end:
                pong = await ws.ping()
                await asyncio.wait_for(pong, 5 * SLACK)
                await asyncio.sleep(0.05)
        except websockets.ConnectionClosed:
            pass
        return ws.close_code, ws.close_reason


async def talk_through(port, seconds=10):
    """Sends a message every 100 ms (echoed) until the server closes. (code, reason, seconds,
    how many echoes came)."""
    async with websockets.connect(URL % port) as ws:
        t0 = time.monotonic()
        n = 0
        try:
            while time.monotonic() - t0 < seconds * SLACK:
                await ws.send("x")
                await asyncio.wait_for(ws.recv(), 10 * SLACK)
                n += 1
                await asyncio.sleep(0.1)
        except websockets.ConnectionClosed:
            pass
        return ws.close_code, ws.close_reason, time.monotonic() - t0, n


def access_lines(srv):
    return [l for l in srv.log_text().splitlines() if "| ACCESS |" in l and '"/" 101' in l]


# ---------------------------------------------------------------- --idle-timeout

with Server("cat", flags=["--idle-timeout=300"]) as srv:
    code, reason, secs, pids = asyncio.run(idle_then_close(srv.port))
    ok(code == 1001 and reason == "idle for 300 ms", "idle: closed with 1001 'idle for 300 ms'",
       (code, reason))
    ok(secs >= 0.25, "idle: not before the timeout (%.2f s after the last message)" % secs)
    ok(len(pids) == 1, "idle: the program ran while the session was open", pids)
    ok(wait_for(lambda: pids and not alive(pids[0]) and children(srv.pid) == []),
       "idle: the program was stopped and reaped (pid %s gone)" % pids)
    ok(wait_for(lambda: any("end=idle-timeout" in l for l in access_lines(srv))),
       "idle: the access line says end=idle-timeout")
    line = next((l for l in access_lines(srv) if "end=idle-timeout" in l), "")
    ok("close=1001" in line and "closed_by=server" in line and "msgs_in=1 msgs_out=1" in line,
       "idle: ... with close=1001, closed_by=server and the messages", line)
    ok(re.search(r"INFO +\| \[conn \d+\] idle for 300 ms: closing with 1001", srv.log_text()),
       "idle: logged at info with the connection id")

    good, code, reason = asyncio.run(chatty(srv.port, 0.1, 0.9))
    ok(good, "traffic keeps it open: a message every 100 ms for 900 ms (3x the timeout), all echoed")
    ok(code == 1001 and reason == "idle for 300 ms", "... and once it stops, the idle close comes",
       (code, reason))

    code, reason = asyncio.run(pings_only(srv.port))
    ok(code == 1001 and reason == "idle for 300 ms", "the client's pings do not keep it open",
       (code, reason))

with Server("cat", flags=["--idle-timeout=600", "--pingms=100"]) as srv:
    code, reason = asyncio.run(pings_only(srv.port))
    ok(code == 1001 and reason == "idle for 600 ms",
       "--pingms's pings, answered, do not keep it open either", (code, reason))
    good, code, reason = asyncio.run(chatty(srv.port, 0.2, 1.8))
    ok(good, "--pingms with traffic: a message every 200 ms for 1.8 s (3x), all echoed")

# ---------------------------------------------------------------- --max-lifetime

with Server("cat", flags=["--max-lifetime=800", "--logformat=json"]) as srv:
    code, reason, secs, n = asyncio.run(talk_through(srv.port))
    ok(code == 1001 and reason == "session lifetime of 800 ms reached",
       "lifetime: closed with 1001 despite traffic", (code, reason))
    ok(secs >= 0.6 and n >= 2, "lifetime: after its time, with echoes until then (%.2f s, %d)" % (secs, n))
    ok(wait_for(lambda: children(srv.pid) == []), "lifetime: the program was stopped and reaped")

    def json_access():
        out = []
        for l in srv.log_text().splitlines():
            try:
                r = json.loads(l)
            except ValueError:
                continue
            if r.get("msg") == "access" and r.get("status") == 101:
                out.append(r)
        return out
    ok(wait_for(lambda: json_access()), "lifetime: a JSON access line")
    a = (json_access() or [{}])[0]
    ok(a.get("end_reason") == "max-lifetime" and a.get("close_code") == 1001
       and a.get("closed_by") == "server", "lifetime: end_reason max-lifetime, close_code 1001 (json)", a)

with Server("cat", flags=["--idle-timeout=5000", "--max-lifetime=400"]) as srv:
    code, reason, _, _ = asyncio.run(idle_then_close(srv.port))
    ok(code == 1001 and reason == "session lifetime of 400 ms reached",
       "both: the earlier deadline ends it (the lifetime)", (code, reason))
    ok(wait_for(lambda: any("end=max-lifetime" in l for l in access_lines(srv))),
       "both: the access line says end=max-lifetime")

# ---------------------------------------------------------------- --config and SIGHUP

conf = scratch("lifetimes.conf")
with open(conf, "w") as f:
    f.write("idle-timeout=0\nmax-lifetime=0\n")


async def reload_scenario(srv):
    async with websockets.connect(URL % srv.port) as old:
        await old.send("a")
        await old.recv()
        with open(conf, "w") as f:
            f.write("idle-timeout=300\n")
        srv.proc.send_signal(signal.SIGHUP)
        ok(wait_for(lambda: "SIGHUP: idle-timeout=300 (was 0)" in srv.log_text()),
           "SIGHUP: idle-timeout=300 applied (logged)")
        code, reason, _, _ = await idle_then_close(srv.port)
        ok(code == 1001 and reason == "idle for 300 ms", "SIGHUP: a session started afterwards has it",
           (code, reason))
        # the old one has been idle for longer than 300 ms by now, and goes on
        await old.send("b")
        ok(await asyncio.wait_for(old.recv(), 10 * SLACK) == "b" and old.open,
           "SIGHUP: the session open before it keeps its own (none)")

with Server("cat", flags=["--config=" + conf]) as srv:
    asyncio.run(reload_scenario(srv))

with open(conf, "w") as f:
    f.write("max-lifetime=300\n")
with Server("cat", flags=["--config=" + conf]) as srv:
    code, reason, _, _ = asyncio.run(idle_then_close(srv.port))
    ok(code == 1001 and reason == "session lifetime of 300 ms reached", "max-lifetime= from a --config file",
       (code, reason))

# ---------------------------------------------------------------- --shared: per client

shared_prog = scratch("shared.py")
with open(shared_prog, "w") as f:
    f.write("#!/usr/bin/python3\nimport sys\nfor line in sys.stdin:\n"
            "    if line.startswith('all:'):\n        print(line[4:], end='', flush=True)\n")
os.chmod(shared_prog, 0o755)


async def shared_scenario(port):
    async with websockets.connect(URL % port) as talker, websockets.connect(URL % port) as silent:
        await talker.send("all:hello")
        ok(await asyncio.wait_for(talker.recv(), 10 * SLACK) == "hello"
           and await asyncio.wait_for(silent.recv(), 10 * SLACK) == "hello", "shared: both clients hear it")
        prog = children(srv.pid)
        t0 = time.monotonic()
        while silent.open and time.monotonic() - t0 < 10 * SLACK:
            await talker.send("quiet")  # inbound for the talker only: nothing is broadcast
            await asyncio.sleep(0.1)
        ok(silent.close_code == 1001 and silent.close_reason == "idle for 500 ms",
           "shared: the silent client is closed with 1001", (silent.close_code, silent.close_reason))
        ok(talker.open, "shared: the talking client stays")
        await talker.send("all:still")
        ok(await asyncio.wait_for(talker.recv(), 10 * SLACK) == "still", "shared: ... and is still served")
        ok(children(srv.pid) == prog and len(prog) == 1, "shared: by the same program", (prog, children(srv.pid)))

with Server(shared_prog, flags=["--shared", "--idle-timeout=500"]) as srv:
    asyncio.run(shared_scenario(srv.port))

# ---------------------------------------------------------------- --help

h = subprocess.run([WSBRIDGE, "--help"], capture_output=True, timeout=20).stdout
ok(b"--idle-timeout=MS" in h and b"--max-lifetime=MS" in h and b"pings do not count" in h,
   "--help lists both, and says pings do not count")
done()
