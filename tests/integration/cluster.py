"""--shared --redis: one program for the clients of three wsbridge instances behind nginx
(doc/nginx.conf, round-robin over the three), through a redis-server started here (persistence
on: --appendonly yes in a scratch directory). A numbered sequence printed by the program reaches
every client, on every instance, exactly once and in order; clients' messages reach the program
once, from every instance; redis-server stopped (by its PID) and started again mid-stream loses
and duplicates nothing; the instance running the program killed: another instance takes the
program over, every client of the lost run is closed with 1012 as a local restart would, and
clients reconnecting through nginx get the new run. AUTH (requirepass), a Unix socket, and a
Redis unreachable at start (logged; the client's message waits and is served once Redis is up).
Exactly-once input: an instance reaches Redis through a relay that runs its commands but throws
their answers away, then cuts the connections: the messages whose answers were lost are sent
again, and each still reaches the program once."""
import asyncio

from wsbredis import *
from wsbtest import *

time_limit(240)
skip_without((NGINX, "nginx"), (REDIS, "redis-server"))

# The shared program: "count N" prints n1..nN, "slow N" the same 20 ms apart, "wide N" the
# same with 200 more bytes on each line, "exit N" exits with status N, anything else
# comes back as "got ..."; one instance runs it at a time.
PROGRAM = shell_script(scratch("prog.py"), "")
with open(PROGRAM, "w") as f:
    f.write("""#!/usr/bin/python3
import sys, time
for line in sys.stdin:
    w = line.split()
    if len(w) == 2 and w[0] == "exit":
        sys.exit(int(w[1]))
    if len(w) == 2 and w[0] == "wide":
        for i in range(1, int(w[1]) + 1):
            print("n%d %s" % (i, "x" * 200))
        sys.stdout.flush()
    if len(w) == 2 and w[0] in ("count", "slow"):
        for i in range(1, int(w[1]) + 1):
            print("n%d" % i, flush=True)
            if w[0] == "slow":
                time.sleep(0.02)
    else:
        print("got " + line.rstrip("\\n"), flush=True)
""")


# refused on the command line, with a clear error
for flags, why in ((["--redis=redis://127.0.0.1"], "--redis needs --shared"),
                   (["--shared", "--redis=rediss://h"], "rediss:// is not supported"),
                   (["--shared", "--redis=redis://h:70000"], "the port is not a number"),
                   (["--shared", "--redis=unix://r.sock"], "absolute path")):
    p = subprocess.run([WSBRIDGE] + flags + ["cat"], capture_output=True, timeout=10)
    ok(p.returncode != 0 and why in p.stderr.decode(), "refused: %s (%s)" % (" ".join(flags), why),
       p.stderr.decode())


def instance(name, url, extra=()):
    srv = Server(PROGRAM, flags=["--shared", "--redis=" + url] + list(extra))
    srv.log_path = os.path.join(LOG_DIR, "%s.%s.server.log" % (TEST_NAME, name))
    return srv


async def synced(clients, sender):
    """Until every client got one of the sender's "sync" lines: every instance reads the stream."""
    k = 0
    while k < 200:
        k += 1
        await sender.ws.send("sync %d" % k)
        if await until(lambda: all(any(m.startswith("got sync") for m in c.got) for c in clients), 0.5):
            return True
    return False


def sequence_ok(clients, n, name):
    bad = [(c.via, c.numbers()[:5], len(c.numbers())) for c in clients if c.numbers() != list(range(1, n + 1))]
    ok(not bad, "%s: n1..n%d reached all %d clients exactly once, in order" % (name, n, len(clients)), bad[:3])


async def main_scenario(rd, insts, ngx):
    # 6 clients through nginx (round-robin: two on each instance) and one straight to each
    clients = [await connect(ngx.port, "nginx") for _ in range(6)]
    clients += [await connect(s.port, "direct %d" % i) for i, s in enumerate(insts)]
    ok(await synced(clients, clients[0]), "every instance delivers the program's output")
    started = [s.log_text().count("runs the shared program") for s in insts]
    ok(sum(started) == 1, "one instance runs the program", started)
    ok(sum(s.log_text().count("shared program %s started" % PROGRAM) for s in insts) == 1,
       "the program was started once for the %d clients" % len(clients))

    await clients[0].ws.send("count 200")
    await until(lambda: all(len(c.numbers()) >= 200 for c in clients), 20)
    sequence_ok(clients, 200, "count 200")

    # every client's message reaches the program once, whatever instance it is on
    for i, c in enumerate(clients):
        await c.ws.send("hello from %d" % i)
    want = ["got hello from %d" % i for i in range(len(clients))]
    await until(lambda: all(all(c.count(w) >= 1 for w in want) for c in clients), 20)
    await asyncio.sleep(0.3)
    counts = [[c.count(w) for w in want] for c in clients]
    ok(all(x == 1 for row in counts for x in row),
       "each client's message reached the program exactly once (every client saw each once)", counts)

    # Redis stopped and started again while the program prints
    for c in clients:
        c.got = []
    await clients[0].ws.send("slow 300")
    await until(lambda: all(len(c.numbers()) >= 40 for c in clients), 20)
    rd.fill(300000)  # enough in the append-only file that Redis answers LOADING for a while
    rd.stop()
    await asyncio.sleep(0.5)
    rd.start()
    await until(lambda: all(len(c.numbers()) >= 300 for c in clients), 40)
    await asyncio.sleep(0.3)
    sequence_ok(clients, 300, "redis-server restarted mid-stream")
    ok(all(c.closed is None for c in clients), "no client was closed by the Redis restart",
       [c.closed for c in clients])
    ok(any("redis commands (127.0.0.1): " in s.log_text() for s in insts)
       and any("redis commands: connected again" in s.log_text() for s in insts),
       "the lost connection and its return are logged")

    # the instance running the program is killed: its clients reconnect through nginx
    owner = [i for i, s in enumerate(insts) if s.log_text().count("runs the shared program")][0]
    insts[owner].proc.kill()
    insts[owner].proc.wait()
    await until(lambda: all(c.closed is not None for c in clients if c.via == "direct %d" % owner), 10)
    await asyncio.sleep(0.5)
    lost = [c for c in clients if c.closed is not None]
    ok(len(lost) == 3, "the killed instance's 3 clients lost their connection", len(lost))
    stay = [c for c in clients if c.closed is None]
    # another instance with clients takes the lock once it expires (5 s) and restarts the
    # program: the clients of the run that went away are told as a local restart tells them
    await until(lambda: all(c.closed is not None for c in stay), 20)
    closes = [(c.closed, c.ws.close_reason) for c in stay]
    ok(all(code == 1012 and "restarted" in reason for code, reason in closes),
       "the other instances' clients are closed with 1012 (the program restarts elsewhere)", closes)
    taken = [s.log_text().count("taking over from a run that did not end") for i, s in enumerate(insts)
             if i != owner]
    ok(sum(taken) == 1, "one surviving instance took the lock over (logged)", taken)
    back = [await connect(ngx.port, "nginx again") for _ in clients]
    everyone = back
    ok(await synced(everyone, back[0]), "clients that connect again through nginx get a new run")
    ok(sum(s.log_text().count("shared program %s started" % PROGRAM) for i, s in enumerate(insts) if i != owner) == 1,
       "the new run was started once, on a surviving instance")
    await back[0].ws.send("count 50")
    await until(lambda: all(len(c.numbers()) >= 50 for c in everyone), 20)
    sequence_ok(everyone, 50, "after the takeover, through nginx")
    for c in everyone:
        await c.ws.close()
    return owner


with Redis("main") as rd:
    url = "redis://127.0.0.1:%d" % rd.port
    insts = [instance("i%d" % i, url) for i in range(3)]
    for s in insts:
        s.__enter__()
    try:
        with Nginx(["127.0.0.1:%d" % s.port for s in insts], "cluster") as ngx:
            killed = asyncio.run(main_scenario(rd, insts, ngx))
    finally:
        stop_all(insts)
    survivors = [s for i, s in enumerate(insts) if i != killed]
    ok(wait_for(lambda: all(children(s.pid) == [] for s in survivors)), "no program left behind")


# ---------------------------------------------------------------- exactly-once input

async def lost_answers(a, b, relay):
    ca = await connect(a.port, "a")
    ok(await synced([ca], ca), "exactly-once: the instance on the direct connection runs the program")
    cb = await connect(b.port, "b (relayed)")
    ok(await synced([ca, cb], cb), "exactly-once: the relayed instance reaches it")
    N = 60
    for k in range(1, N + 1):
        if k == 16:
            relay.eat = True  # from here, the commands run but their answers are lost
        if k == 41:
            await asyncio.sleep(0.3)  # the adds of m16..m40 ran in Redis
            relay.cut()
            relay.eat = False
        await cb.ws.send("m%d" % k)
        await asyncio.sleep(0.01)
    want = ["got m%d" % k for k in range(1, N + 1)]
    await until(lambda: all(c.count(w) >= 1 for c in (ca, cb) for w in want), 30)
    await asyncio.sleep(0.5)
    counts = {w: ca.count(w) for w in want if ca.count(w) != 1}
    ok(not counts, "each of the %d messages reached the program exactly once, the %d whose answers "
       "were lost too" % (N, 25), counts)
    ok(all(cb.count(w) == 1 for w in want), "... and came back once to their sender",
       {w: cb.count(w) for w in want if cb.count(w) != 1})
    resent = b.log_text().count("was added before its answer was lost: not again")
    ok(resent > 0, "the relayed instance sent adds again after the lost answers, and Redis "
       "refused them as already added (logged)", resent)
    await ca.ws.close()
    await cb.ws.close()


with Redis("once") as rd:
    relay = Relay(rd.port)
    try:
        with instance("once-a", "redis://127.0.0.1:%d" % rd.port) as a, \
                instance("once-b", "redis://127.0.0.1:%d" % relay.port) as b:
            asyncio.run(lost_answers(a, b, relay))
    finally:
        relay.close()


# ---------------------------------------------------------------- AUTH and a Unix socket

async def two_instances(a, b, name):
    c1, c2 = await connect(a.port, "a"), await connect(b.port, "b")
    ok(await synced([c1, c2], c2), "%s: both instances serve the program's output" % name)
    await c2.ws.send("count 20")
    await until(lambda: len(c1.numbers()) >= 20 and len(c2.numbers()) >= 20, 20)
    sequence_ok([c1, c2], 20, name)
    # the program exits: the clients of both instances are closed as without Redis
    await c1.ws.send("exit 3")
    await until(lambda: c1.closed is not None and c2.closed is not None, 20)
    closes = [(c.closed, c.ws.close_reason) for c in (c1, c2)]
    ok(all(code == 1012 and "exit status 3" in reason for code, reason in closes),
       "%s: the program's exit closes the clients of both instances with 1012" % name, closes)
    # the next client, on either instance, starts it again (after the backoff)
    c1, c2 = await connect(b.port, "b"), await connect(a.port, "a")
    ok(await synced([c1, c2], c1), "%s: started again for the next clients" % name)
    await c2.ws.send("count 5")
    await until(lambda: len(c1.numbers()) >= 5 and len(c2.numbers()) >= 5, 20)
    sequence_ok([c1, c2], 5, name + ", second run")
    await c1.ws.close()
    await c2.ws.close()


with Redis("auth", extra=["--requirepass", "s3cret"]) as rd:
    url = "redis://:s3cret@127.0.0.1:%d/1" % rd.port
    with instance("auth-a", url) as a, instance("auth-b", url) as b:
        asyncio.run(two_instances(a, b, "AUTH and SELECT 1"))
    # every instance stopped (cleanly) while the program ran, new ones started at once: a
    # fresh start, not a restart (no client anywhere was left to tell)
    with instance("auth-c", url) as c:
        async def fresh():
            cl = await connect(c.port, "c")
            ok(await synced([cl], cl), "after every instance stopped, the next client starts a new run")
            await asyncio.sleep(0.5)
            ok(cl.closed is None and "did not end" not in c.log_text(),
               "... as a fresh start: not closed as a restart", (cl.closed, cl.ws.close_reason))
            await cl.ws.close()
        asyncio.run(fresh())
    with instance("auth-bad", "redis://:wrong@127.0.0.1:%d" % rd.port) as bad:
        async def refused():
            c = await connect(bad.port, "bad")
            await until(lambda: "AUTH refused" in bad.log_text(), 10)
            await c.ws.close()
        asyncio.run(refused())
        ok(re.search(r"redis commands: AUTH refused: WRONGPASS", bad.log_text()),
           "a wrong password is logged: AUTH refused")
        ok(bad.log_text().count("AUTH refused") == 3, "... once per connection, not at every retry",
           bad.log_text().count("AUTH refused"))

sock = socket_path("redis.sock")
with Redis("unix", unixsocket=sock) as rd:
    with instance("unix-a", "unix://" + sock) as a, instance("unix-b", "unix://" + sock) as b:
        asyncio.run(two_instances(a, b, "unix socket"))


# ---------------------------------------------------------------- Redis away: the bounded queue

async def overflow(a, b, rd):
    ca, cb = await connect(a.port, "a"), await connect(b.port, "b")
    ok(await synced([ca, cb], ca), "queue: both instances serve the program's output")
    owner = ca if "runs the shared program" in a.log_text() else cb
    other = cb if owner is ca else ca
    osrv = a if owner is ca else b
    for c in (ca, cb):
        c.got = []
    rd.stop()
    N = 25000  # 5.2 MB of 208-byte lines: over the 4 MiB limit
    await owner.ws.send("wide %d" % N)
    # Redis comes back as soon as the queue overflowed: away for less than the lock's 5 s, so
    # that no other instance takes the program over
    await until(lambda: "the queue toward Redis is full" in osrv.log_text(), 30)
    ok("the queue toward Redis is full" in osrv.log_text(), "the full queue is logged")
    ok(other.numbers() == [], "... the other instance's client gets nothing meanwhile", len(other.numbers()))
    rd.start()
    await until(lambda: len(owner.numbers()) >= N, 60)
    ok(owner.numbers() == list(range(1, N + 1)),
       "Redis away: the owner's own client gets all %d lines, in order" % N, len(owner.numbers()))
    await until(lambda: other.numbers()[-1:] == [N], 30)
    got = other.numbers()
    ok(got[-1:] == [N] and all(x < y for x, y in zip(got, got[1:])) and len(got) < N,
       "once Redis is back the other client gets the newest lines, in order, the oldest dropped",
       (len(got), got[:2], got[-2:]))
    ok(owner.closed is None and other.closed is None, "no client was closed", (owner.closed, other.closed))
    m = wait_for(lambda: re.search(r"(\d+) output messages were dropped while Redis was away", osrv.log_text()))
    # (the other client may miss more: the stream keeps its last ~10000 entries, and its
    # instance may read them after newer ones trimmed some)
    ok(m and 0 < int(m.group(1)) <= N - len(got),
       "the drops are counted in the log", (m and m.group(1), N - len(got)))
    await ca.ws.close()
    await cb.ws.close()


with Redis("overflow") as rd:
    url = "redis://127.0.0.1:%d" % rd.port
    with instance("queue-a", url) as a, instance("queue-b", url) as b:
        asyncio.run(overflow(a, b, rd))


# ---------------------------------------------------------------- Redis unreachable at start

async def late_redis(srv, rd):
    c = await connect(srv.port, "early")
    await c.ws.send("count 3")
    await until(lambda: re.search(r"redis \w[\w ]* \(127\.0\.0\.1\): .*retrying with backoff",
                                  srv.log_text()), 10)
    ok(re.search(r"redis commands \(127\.0\.0\.1\): .*retrying with backoff", srv.log_text()),
       "Redis unreachable: logged, with the address", srv.log_text()[-500:])
    ok(c.closed is None and c.got == [], "Redis unreachable: the client is connected and waits")
    rd.start()
    await until(lambda: len(c.numbers()) >= 3, 20)
    ok(c.numbers() == [1, 2, 3], "once Redis is up, the waiting message reaches the program",
       c.got)
    await c.ws.close()


rd = Redis("late")
with instance("late", "redis://127.0.0.1:%d" % rd.port) as srv:
    try:
        asyncio.run(late_redis(srv, rd))
    finally:
        rd.stop()

done()
