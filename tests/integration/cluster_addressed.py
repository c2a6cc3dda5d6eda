"""--shared=addressed --redis: examples/chatroom.py, unchanged, for the clients of three wsbridge
instances through a redis-server started here. Client ids are unique across the instances; a
client's join (with its CGI environment), messages and leave reach the program (on whichever
instance runs it) once and in order; "to" reaches exactly the one client, on whatever instance
it is, "except" all but one, a plain line all; python3-websockets and node ws clients. An
instance killed: the program hears its clients leave once that instance's mark in Redis expires;
the instance running the program killed: its clients elsewhere are closed with 1012, and the next
client gets a new run.
Then a program that shows each join to its client: the environment that travelled (REMOTE_ADDR,
QUERY_STRING, HTTP_*) and ids that are JSON integers, different on every instance. Last, an
instance cut off from Redis (through a relay) for longer than its mark lasts: the program hears
its client left once, and that client is closed with 1012 when its instance is back."""
import asyncio
import json

from wsbredis import *
from wsbtest import *

time_limit(180)
skip_without((REDIS, "redis-server"))

CHAT = os.path.join(EXAMPLES, "chatroom.py")

NODE_CLIENT = r"""
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[1]);
ws.on('message', (m) => console.log(m.toString()));
let rest = '';
process.stdin.on('data', (d) => {
  const lines = (rest + d.toString()).split('\n');
  rest = lines.pop();
  for (const l of lines) ws.send(l);
});
ws.on('close', (code) => { console.log('closed ' + code); process.exit(0); });
"""


def instance(name, url, *command):
    srv = Server(*command, flags=["--shared=addressed", "--redis=" + url])
    srv.log_path = os.path.join(LOG_DIR, "%s.%s.server.log" % (TEST_NAME, name))
    return srv


class NodeClient:
    """A node ws client in a child process: lines in, messages out (read by a thread)."""

    def __init__(self, url):
        env = dict(os.environ, NODE_PATH="/usr/share/nodejs:/usr/lib/nodejs")
        self.proc = subprocess.Popen(["node", "-e", NODE_CLIENT, url], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, text=True)
        self.got = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.got.append(line.rstrip("\n"))

    def send(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def count(self, line):
        return self.got.count(line)


def once_each(clients, lines, name):
    bad = {c.via: [(l, c.count(l)) for l in lines if c.count(l) != 1] for c in clients}
    bad = {k: v for k, v in bad.items() if v}
    ok(not bad, name, bad)


def none_of(clients, lines, name):
    bad = {c.via: [l for l in lines if c.count(l)] for c in clients}
    bad = {k: v for k, v in bad.items() if v}
    ok(not bad, name, bad)


async def chat(insts):
    url = lambda i, name: "ws://127.0.0.1:%d/?name=%s" % (insts[i].port, name)
    ada = await connect(insts[0].port, "Ada (python, instance 0)", "/?name=Ada")
    await until(lambda: ada.got, 20)
    ok(ada.got[:1] == ["welcome, Ada; here: Ada"], "Ada is welcomed", ada.got)
    bob = NodeClient(url(1, "Bob"))
    bob.via = "Bob (node ws, instance 1)"
    await until(lambda: bob.got and ada.got[1:], 20)
    ok(bob.got[:1] == ["welcome, Bob; here: Ada, Bob"],
       "Bob (node ws, on another instance) is welcomed: his name came in his join's QUERY_STRING, "
       "the welcome went to him alone across instances", bob.got)
    cy = await connect(insts[2].port, "Cy (python, instance 2)", "/?name=Cy")
    await until(lambda: cy.got and len(ada.got) >= 3 and len(bob.got) >= 2, 20)
    ok(cy.got[:1] == ["welcome, Cy; here: Ada, Bob, Cy"], "Cy, on the third instance, is welcomed",
       cy.got)
    await until(lambda: ada.count("Cy joined") and bob.count("Cy joined"), 10)
    once_each([ada, bob], ["Cy joined"], "\"except\": Cy's join reached Ada and Bob once each")
    once_each([ada], ["Bob joined"], "\"except\": Bob's join reached Ada once")
    none_of([bob], ["Bob joined"], "... and not Bob")
    none_of([cy], ["Cy joined"], "... nor Cy his own")

    said = []
    for k in range(10):  # from every instance, interleaved
        await ada.ws.send("a%d" % k)
        bob.send("b%d" % k)
        await cy.ws.send("c%d" % k)
        said += ["Ada: a%d" % k, "Bob: b%d" % k, "Cy: c%d" % k]
    await until(lambda: all(c.count(l) for c in (ada, bob, cy) for l in said), 20)
    await asyncio.sleep(0.3)
    once_each([ada, bob, cy], said, "30 messages from three instances reached every client once")
    for who, prefix in (("Ada", "a"), ("Bob", "b"), ("Cy", "c")):
        seen = [[m for m in c.got if m.startswith(who + ": ")] for c in (ada, bob, cy)]
        ok(all(s == ["%s: %s%d" % (who, prefix, k) for k in range(10)] for s in seen),
           "%s's messages in the order sent, for every client" % who, seen)
    welcomes = [[m for m in c.got if m.startswith("welcome")] for c in (ada, bob, cy)]
    ok(all(len(w) == 1 for w in welcomes), "each client got one welcome, its own (\"to\")", welcomes)

    await cy.ws.close()
    await until(lambda: ada.count("Cy left") and bob.count("Cy left"), 10)
    once_each([ada, bob], ["Cy left"], "Cy closes: Ada and Bob hear that he left")

    # the instance Bob is on dies: the owner tells the program once its mark expires (5 s)
    owner = [i for i, s in enumerate(insts) if "runs the shared program" in s.log_text()]
    ok(owner == [0], "the instance of the first client runs the program", owner)
    insts[1].proc.kill()
    insts[1].proc.wait()
    ok(bob.proc.wait(10 * SCALE) == 0, "Bob's connection is gone with his instance")
    await until(lambda: ada.count("Bob left"), 20)
    once_each([ada], ["Bob left"], "the program hears that Bob left: his instance was killed")
    ok("went away: telling the program its clients left" in insts[0].log_text(),
       "... logged by the owner")

    dee = await connect(insts[2].port, "Dee (python, instance 2)", "/?name=Dee")
    await until(lambda: dee.got and ada.count("Dee joined"), 20)
    ok(dee.got[:1] == ["welcome, Dee; here: Ada, Dee"], "afterwards a new client on a surviving "
       "instance joins a room without Bob", dee.got)
    await dee.ws.send("hello")
    await until(lambda: ada.count("Dee: hello") and dee.count("Dee: hello"), 10)
    once_each([ada, dee], ["Dee: hello"], "... and talks with Ada across instances")
    ok(ada.closed is None and dee.closed is None, "nobody else was closed", (ada.closed, dee.closed))

    # the instance running the program dies: as in broadcast mode, another one with clients
    # restarts it, and the clients of the lost run are closed with 1012
    insts[0].proc.kill()
    insts[0].proc.wait()
    await until(lambda: dee.closed is not None, 20)
    ok((dee.closed, dee.ws.close_reason) == (1012, "program restarted: the instance running it went away"),
       "the owner killed: Dee, on another instance, is closed with 1012", (dee.closed, dee.ws.close_reason))
    eve = await connect(insts[2].port, "Eve (python, instance 2)", "/?name=Eve")
    await until(lambda: eve.got, 20)
    ok(eve.got[:1] == ["welcome, Eve; here: Eve"], "the next client gets a new run (a new room)", eve.got)
    await eve.ws.close()


with Redis("chat") as rd:
    url = "redis://127.0.0.1:%d" % rd.port
    insts = [instance("chat%d" % i, url, "/usr/bin/python3", CHAT) for i in range(3)]
    for s in insts:
        s.__enter__()
    try:
        asyncio.run(chat(insts))
    finally:
        stop_all(insts)


# ---------------------------------------------------------------- the join record, the ids

MIRROR = shell_script(scratch("mirror.py"), "")
with open(MIRROR, "w") as f:
    f.write("""#!/usr/bin/python3
import json, sys
for line in sys.stdin:
    ev = json.loads(line)
    if ev["event"] == "join":
        print(json.dumps({"to": ev["id"], "data": line.strip()}), flush=True)
""")


async def joins(a, b):
    got = []
    for i, srv in enumerate((a, b, a, b)):
        ws = await websockets.connect("ws://127.0.0.1:%d/room?n=%d" % (srv.port, i),
                                      extra_headers={"X-Thing": "t%d" % i})
        got.append((ws, json.loads(await asyncio.wait_for(ws.recv(), 20 * SCALE))))
    envs = [j["env"] for _, j in got]
    ok(all(e.get("REMOTE_ADDR") == "127.0.0.1" and e.get("QUERY_STRING") == "n=%d" % i
           and e.get("HTTP_X_THING") == "t%d" % i for i, e in enumerate(envs)),
       "each join carries its client's environment (REMOTE_ADDR, QUERY_STRING, HTTP_*), "
       "from either instance", envs)
    ids = [j["id"] for _, j in got]
    ok(all(isinstance(x, int) and 0 < x <= 2 ** 53 for x in ids) and len(set(ids)) == 4,
       "client ids are JSON integers, each its own across the instances", ids)
    ok(len(set(x // 1024 for x in ids[0::2])) == 1 and len(set(x // 1024 for x in ids[1::2])) == 1
       and ids[0] // 1024 != ids[1] // 1024,
       "each instance gives ids from a block of its own", ids)
    for ws, _ in got:
        await ws.close()


import websockets  # noqa: E402 (after the skip)

with Redis("ids") as rd:
    url = "redis://127.0.0.1:%d" % rd.port
    with instance("ids-a", url, MIRROR) as a, instance("ids-b", url, MIRROR) as b:
        asyncio.run(joins(a, b))

# ---------------------------------------------------------------- an instance away from Redis

async def away(a, b, relay):
    ada = await connect(a.port, "Ada (instance a)", "/?name=Ada")
    await until(lambda: ada.got, 20)
    bob = await connect(b.port, "Bob (instance b, relayed)", "/?name=Bob")
    await until(lambda: bob.got and ada.count("Bob joined"), 20)
    ok(bob.got[:1] == ["welcome, Bob; here: Ada, Bob"], "away: Bob joined through the relayed instance",
       bob.got)
    relay.refuse = True
    relay.cut()
    await until(lambda: ada.count("Bob left"), 20)
    ok(ada.count("Bob left") == 1, "away: instance b cut off from Redis: once its mark expired, the "
       "program heard that Bob left", ada.got)
    relay.refuse = False
    await until(lambda: bob.closed is not None, 20)
    ok((bob.closed, bob.ws.close_reason) == (1012, "lost touch with the program (Redis away): connect again"),
       "away: b back: Bob, whom the program was told left, is closed with 1012", (bob.closed, bob.ws.close_reason))
    bob2 = await connect(b.port, "Bob again", "/?name=Bob")
    await until(lambda: bob2.got and ada.count("Bob joined") == 2, 20)
    ok(bob2.got[:1] == ["welcome, Bob; here: Ada, Bob"], "away: Bob connects again and joins", bob2.got)
    await asyncio.sleep(0.5)
    ok(ada.count("Bob left") == 1 and ada.count("Bob joined") == 2,
       "away: the program heard one leave for the closed Bob (his own was dropped: not known any more)",
       ada.got)
    await bob2.ws.close()
    await until(lambda: ada.count("Bob left") == 2, 20)
    ok(ada.count("Bob left") == 2, "away: and Bob's second leave")
    await ada.ws.close()


with Redis("away") as rd:
    relay = Relay(rd.port)
    try:
        with instance("away-a", "redis://127.0.0.1:%d" % rd.port, "/usr/bin/python3", CHAT) as a, \
                instance("away-b", "redis://127.0.0.1:%d" % relay.port, "/usr/bin/python3", CHAT) as b:
            asyncio.run(away(a, b, relay))
    finally:
        relay.close()

done()
