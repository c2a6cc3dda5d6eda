"""--shared=addressed: examples/chatroom.py with python3-websockets and node ws clients; the
events a program gets (join with the client's environment, message, binary, leave); addressing
to one, all, all but one; output lines that are not instructions are logged and skipped."""
import asyncio
import json
import subprocess

import websockets

from wsbtest import *

SCALE = 3 if SANITIZED else 1

NODE_CLIENT = r"""
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[1]);
ws.on('message', (m) => { console.log(m.toString()); if (m.toString() === 'Ada: bye') ws.close(); });
process.stdin.on('data', (d) => ws.send(d.toString().trim()));
ws.on('close', () => process.exit(0));
"""


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), 10 * SCALE)


async def chat(port):
    url = "ws://127.0.0.1:%d/?name=" % port
    ada = await websockets.connect(url + "Ada")
    ok(await recv(ada) == "welcome, Ada; here: Ada", "chatroom: Ada is welcomed")
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs:/usr/lib/nodejs")
    bob = subprocess.Popen(["node", "-e", NODE_CLIENT, url + "Bob"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, env=env, text=True)
    ok(bob.stdout.readline().strip() == "welcome, Bob; here: Ada, Bob", "chatroom: Bob (node ws) is welcomed, "
       "told who is here")
    ok(await recv(ada) == "Bob joined", "chatroom: Ada hears that Bob joined; Bob does not")
    bob.stdin.write("hi all\n")
    bob.stdin.flush()
    ok(await recv(ada) == "Bob: hi all", "chatroom: Bob's message reaches Ada")
    ok(bob.stdout.readline().strip() == "Bob: hi all", "chatroom: ... and Bob")
    await ada.send("bye")
    ok(await recv(ada) == "Ada: bye", "chatroom: Ada's message to all")
    ok(bob.stdout.readline().strip() == "Ada: bye", "chatroom: ... reaches node")
    ok(bob.wait(10 * SCALE) == 0, "chatroom: Bob leaves")
    ok(await recv(ada) == "Bob left", "chatroom: Ada hears that Bob left")
    await ada.close()


with Server("/usr/bin/python3", os.path.join(EXAMPLES, "chatroom.py"), flags=["--shared=addressed"]) as srv:
    asyncio.run(chat(srv.port))

# A program that shows each event to its client and obeys instructions given as messages.
MIRROR = shell_script(scratch("mirror.py"), "")
with open(MIRROR, "w") as f:
    f.write("""#!/usr/bin/env python3
import json, sys
for line in sys.stdin:
    ev = json.loads(line)
    if ev["event"] == "join":
        print(json.dumps({"to": ev["id"], "data": line.strip()}), flush=True)
    elif ev["event"] == "message" and "data" in ev and ev["data"].startswith("raw:"):
        print(ev["data"][4:], flush=True)   # the client says what to print
    elif ev["event"] == "message":
        print(json.dumps({"to": ev["id"], "data": line.strip()}), flush=True)
""")


async def events(port):
    a = await websockets.connect("ws://127.0.0.1:%d/x?q=1&r=2" % port, extra_headers={"X-Thing": "yes"})
    join = json.loads(await recv(a))
    me = join["id"]
    ok(join["event"] == "join" and isinstance(me, int) and me > 0, "join: an event with the client's id", join)
    e = join["env"]
    ok(e.get("REMOTE_ADDR") == "127.0.0.1" and e.get("QUERY_STRING") == "q=1&r=2" and e.get("HTTP_X_THING") == "yes",
       "join: the client's CGI environment (REMOTE_ADDR, QUERY_STRING, HTTP_*)", e)
    b = await websockets.connect("ws://127.0.0.1:%d/" % port)
    other = json.loads(await recv(b))["id"]
    ok(other != me, "join: each client its own id")
    await a.send("héllo \"q\"")
    ok(json.loads(await recv(a)) == {"event": "message", "id": me, "data": "héllo \"q\""},
       "message: the sender's id and its text, JSON-escaped")
    await a.send(b"\x00\xff")
    ok(json.loads(await recv(a)) == {"event": "message", "id": me, "base64": "AP8="},
       "message: a binary message as base64")
    await a.send('raw:{"except":%d,"data":"not for a"}' % me)
    ok(await recv(b) == "not for a", "except: all but one")
    await a.send('raw:{"to":%d,"data":"only b"}' % other)
    ok(await recv(b) == "only b", "to: one client")
    await a.send("raw:this is not JSON")
    await a.send('raw:{"to":%d}' % me)
    await a.send('raw:{"data":"to all"}')
    ok((await recv(a), await recv(b)) == ("to all", "to all"),
       "a line without a target goes to all; the bad lines before it were skipped")
    await b.close()
    await a.close()


with Server("/usr/bin/python3", MIRROR, flags=["--shared=addressed"]) as srv:
    asyncio.run(events(srv.port))
    log = srv.log_text()
    ok("output line skipped (not a JSON object): this is not JSON" in log, "a line that is not JSON is logged")
    ok("output line skipped (no \"data\")" in log, "a line without data is logged")
done()
