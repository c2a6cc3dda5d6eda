"""The buffered-output hint: a client message reached the program, and a second later nothing was
sent while it runs: "program output may be buffered; see --unbuffered" at info, with the
connection id, once per session.

A python3 program that prints without flushing (its stdout is a pipe: block-buffered) gets the
hint once however many messages follow; under --unbuffered the same program answers each
message and there is no hint; neither for a program that answers (cat), nor under --pty (a
terminal line-buffers). Each run waits past the hint's second with real python3-websockets
clients; "no hint" is checked after the replies came and a further 1.5 s (the hint cannot come
once a reply was sent).
"""
import asyncio
import re

import websockets

from wsbtest import *

time_limit(180)
SLACK = 3 if SANITIZED else 1
HINT = re.compile(r"INFO +\| \[conn (\d+)\] program output may be buffered; see --unbuffered")

noflush = scratch("noflush.py")
with open(noflush, "w") as f:
    f.write("#!/usr/bin/python3\nimport sys\nfor line in sys.stdin:\n    print('py:' + line.strip())\n")
os.chmod(noflush, 0o755)


async def talk(port, n, gap, want_replies):
    """Sends n messages gap seconds apart; returns the replies that came (at most one per
    message, each waited for up to 10 s when want_replies)."""
    got = []
    async with websockets.connect("ws://127.0.0.1:%d/" % port) as ws:
        for i in range(n):
            await ws.send("m%d" % i)
            if want_replies:
                got.append(await asyncio.wait_for(ws.recv(), 10 * SLACK))
            await asyncio.sleep(gap)
    return got


with Server(noflush) as srv:
    asyncio.run(talk(srv.port, 1, 0.1, False))  # a session that leaves before a second: no hint
    ok(wait_for(lambda: "end=client-close" in srv.log_text()), "a short session ended")
    first = srv.log_text()
    asyncio.run(talk(srv.port, 3, 1.2, False))  # 3.6 s with messages unanswered
    ok(wait_for(lambda: HINT.search(srv.log_text())), "a program that never flushes: the hint at info")
    hints = HINT.findall(srv.log_text())
    ok(len(hints) == 1, "... once in the session, whatever follows", hints)
    ok(not HINT.search(first), "... not for a session that left within the second")
    conn = wait_for(lambda: re.search(r"\[conn (\d+)\] 127\.0\.0\.1:\d+ \"/\" 101 .*msgs_in=3 msgs_out=0",
                                      srv.log_text()))
    ok(conn and hints and conn.group(1) == hints[0], "... with the connection id of that session",
       (hints, conn and conn.group(0)))

with Server(noflush, flags=["--unbuffered"]) as srv:
    got = asyncio.run(talk(srv.port, 2, 0.75, True))
    ok(got == ["py:m0", "py:m1"], "--unbuffered: the same program answers", got)
    ok(wait_for(lambda: "end=client-close" in srv.log_text()), "--unbuffered: the session ended")
    ok(not HINT.search(srv.log_text()), "--unbuffered: no hint")

with Server("cat") as srv:
    got = asyncio.run(talk(srv.port, 2, 1.5, True))
    ok(got == ["m0", "m1"] and not HINT.search(srv.log_text()), "a program that answers: no hint", got)

with Server("/usr/bin/python3", "-c", "import sys\nfor l in sys.stdin: pass", flags=["--pty"]) as srv:
    asyncio.run(talk(srv.port, 1, 1.5 * SLACK, False))
    ok(wait_for(lambda: "end=client-close" in srv.log_text()), "--pty: a program that never answers ran")
    ok(not HINT.search(srv.log_text()), "--pty: no hint (a terminal line-buffers)")
done()
