"""--subprotocol: negotiation with real clients (python3-websockets, node ws, headless Chromium).

The server's list is in its order of preference: the first of its names that the client
offers is echoed in the 101 and is the program's SEC_WEBSOCKET_PROTOCOL. None in common: the
101 goes without the header (default), or 400 with --subprotocol-required.
"""
import asyncio
import json
import shutil
import subprocess

import websockets

from wsbtest import *

LIMIT = 60 if SANITIZED else 20
PROG = shell_script(scratch("proto.sh"), 'echo "proto=${SEC_WEBSOCKET_PROTOCOL-unset}"\n')
STATIC = scratch("static")
os.makedirs(STATIC, exist_ok=True)
with open(os.path.join(STATIC, "page.html"), "w") as f:
    f.write("""<!doctype html><html><head><title>waiting</title></head><body><script>
var ws = new WebSocket("ws://" + location.host + "/ws", ["json", "v1.chat", "mqtt"]);
// the result comes back as a request the server logs
ws.onmessage = function (e) { location.replace("/done/chosen=" + ws.protocol + "/" + e.data); };
ws.onerror = function () { location.replace("/done/error"); };
</script></body></html>
""")


def py_connect(port, offer):
    """(chosen subprotocol, first message) with python3-websockets offering offer."""
    async def run():
        async with websockets.connect("ws://127.0.0.1:%d/ws" % port, subprotocols=offer,
                                      open_timeout=10) as ws:
            return ws.subprotocol, await ws.recv()
    return asyncio.run(asyncio.wait_for(run(), LIMIT))


def py_refused(port, offer):
    """The HTTP status python3-websockets was refused with, or None."""
    async def run():
        try:
            async with websockets.connect("ws://127.0.0.1:%d/ws" % port, subprotocols=offer,
                                          open_timeout=10):
                return None
        except websockets.InvalidStatusCode as e:
            return e.status_code
    return asyncio.run(asyncio.wait_for(run(), LIMIT))


NODE = r"""
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[1], JSON.parse(process.argv[2]));
const out = {};
ws.on('message', (d) => { out.protocol = ws.protocol; out.msg = d.toString(); ws.close(); });
ws.on('unexpected-response', (req, res) => { out.status = res.statusCode; console.log(JSON.stringify(out)); process.exit(0); });
ws.on('error', (e) => { out.error = e.message; });
ws.on('close', () => { console.log(JSON.stringify(out)); process.exit(0); });
"""


def node_connect(port, offer):
    p = subprocess.run(["node", "-e", NODE, "ws://127.0.0.1:%d/ws" % port, json.dumps(offer)],
                       capture_output=True, timeout=LIMIT, stdin=subprocess.DEVNULL)
    try:
        return json.loads(p.stdout.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"stdout": p.stdout.decode(), "stderr": p.stderr.decode()[-400:]}


with Server(PROG, flags=["--subprotocol=v2.chat, v1.chat,json", "--staticdir=" + STATIC]) as srv:
    got = py_connect(srv.port, ["v1.chat", "v2.chat"])
    ok(got == ("v2.chat", "proto=v2.chat"), "python3-websockets: the server's first choice wins over the "
       "client's order, and the program sees it", got)
    got = py_connect(srv.port, ["json"])
    ok(got == ("json", "proto=json"), "python3-websockets: the last of the server's names", got)
    got = py_connect(srv.port, ["mqtt", "stomp"])
    ok(got == (None, "proto=unset"), "none in common: 101 without the header, SEC_WEBSOCKET_PROTOCOL unset", got)
    got = py_connect(srv.port, None)
    ok(got == (None, "proto=unset"), "nothing offered: 101, variable unset", got)

    # the raw 101 itself: one header, the exact name
    req, _ = upgrade_request("/ws", extra=["Sec-WebSocket-Protocol: JSON, json", "Sec-WebSocket-Protocol: v1.chat"])
    status, headers, body, s = http_request(srv.port, req)
    s.close()
    ok(status == 101 and headers.get("sec-websocket-protocol") == "v1.chat",
       "offers in two headers: v1.chat answered (names are case-sensitive: JSON is not json's)",
       (status, headers))

    got = node_connect(srv.port, ["json", "v1.chat"])
    ok(got.get("protocol") == "v1.chat" and got.get("msg") == "proto=v1.chat",
       "node ws: protocols ['json','v1.chat'] -> v1.chat, the program sees it", got)
    got = node_connect(srv.port, ["mqtt"])
    ok(got.get("error") == "Server sent no subprotocol" and "protocol" not in got,
       "node ws: none in common -> the 101 has no header, which node ws (strictly) refuses itself", got)

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        ok(True, "headless Chromium # SKIP chromium is not installed (scripts/setup installs it)")
    else:
        profile = scratch("profile")
        shutil.rmtree(profile, ignore_errors=True)
        browser = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                                    "--user-data-dir=" + profile, "http://127.0.0.1:%d/page.html" % srv.port],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        m = wait_for(lambda: re.search(r'"GET (/done/[^"]*)"', srv.log_text()), timeout=90 if SANITIZED else 45)
        os.killpg(browser.pid, signal.SIGKILL)
        browser.wait()
        got = m.group(1) if m else None
        ok(got == "/done/chosen=v1.chat/proto=v1.chat",
           "Chromium: new WebSocket(url, ['json','v1.chat','mqtt']) -> v1.chat (the server's order), "
           "the program sees it", got)

with Server(PROG, flags=["--subprotocol=v2.chat", "--subprotocol-required"]) as srv:
    ok(py_connect(srv.port, ["v1.chat", "v2.chat"]) == ("v2.chat", "proto=v2.chat"),
       "--subprotocol-required: a client offering it gets it")
    ok(py_refused(srv.port, ["v1.chat"]) == 400, "--subprotocol-required: none in common -> 400")
    ok(py_refused(srv.port, None) == 400, "--subprotocol-required: nothing offered -> 400")
    got = node_connect(srv.port, ["v1.chat"])
    ok(got.get("status") == 400, "node ws sees the 400", got)
    ok(re.search(r"upgrade refused: 400 \(no subprotocol in common; .*Sec-WebSocket-Protocol 'v1.chat'\)",
                 srv.log_text()), "the refusal is logged with the offer")

for flags, why in ((["--subprotocol=a b"], "not a token"), (["--subprotocol=,"], "at least one name"),
                   (["--subprotocol-required"], "needs --subprotocol")):
    p = subprocess.run([WSBRIDGE, "--port=0"] + flags + ["cat"], capture_output=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    ok(p.returncode == 1 and why in p.stderr.decode(), "%s: exit 1, says '%s'" % (" ".join(flags), why),
       (p.returncode, p.stderr.decode()))
done()
