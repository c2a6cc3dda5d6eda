"""--logformat=json: a busy run (WebSocket sessions from python3-websockets that close, programs
that fail or are killed, 404s, a bad request, a CGI script, a program writing control bytes and
invalid UTF-8 to stderr) logs only lines that json.loads() accepts, each with typed fields; the
access line carries the connection, the request, the duration, bytes and messages each way, the
close code and who closed, the program's exit status or signal and the end reason. The text
format keeps its line and has the new fields at its end.
"""
import asyncio
import json
import os
import re
import shutil
import threading

import websockets

from wsbtest import *

D = scratch("ws")
CGI = scratch("cgi")
for d in (D, CGI):
    shutil.rmtree(d, ignore_errors=True)
shell_script(os.path.join(D, "echo.sh"), "exec cat\n")
shell_script(os.path.join(D, "fail.sh"), "echo bye; exit 3\n")
shell_script(os.path.join(D, "killed.sh"), "echo going; sleep 0.2; kill -9 $$\n")
# ESC, BEL, NUL, DEL, a C1 control (U+009B), invalid bytes, a quote and a backslash
shell_script(os.path.join(D, "noisy.sh"),
             "printf 'noisy \\033[31mred\\a\\000z \\177 \\302\\233 \\377\\376 \"q\" back\\\\slash\\n' >&2\n"
             "echo done; sleep 0.2\n")
shell_script(os.path.join(CGI, "hello.sh"), "printf 'Content-Type: text/plain\\r\\n\\r\\nhello\\n'\n")

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"debug", "access", "info", "error", "fatal"}
NCLIENTS, NMSG = 8, 5


async def echo_client(port, i):
    async with websockets.connect("ws://127.0.0.1:%d/echo.sh?n=%d" % (port, i)) as ws:
        for k in range(NMSG):
            await ws.send("m%d-%d" % (i, k))
            assert await ws.recv() == "m%d-%d" % (i, k)
    return True


async def until_closed(port, path):
    async with websockets.connect("ws://127.0.0.1:%d/%s" % (port, path)) as ws:
        got = []
        try:
            async for m in ws:
                got.append(m)
        except websockets.ConnectionClosed:
            pass
        return got, ws.close_code


async def busy(port):
    r = await asyncio.gather(*[echo_client(port, i) for i in range(NCLIENTS)],
                             until_closed(port, "fail.sh"), until_closed(port, "killed.sh"),
                             until_closed(port, "noisy.sh"))
    return r


def typed(obj, key, types):
    """obj[key] exists and is one of types (a JSON true/false is not a number)."""
    return key in obj and isinstance(obj[key], types) and not isinstance(obj[key], bool)


with Server(flags=["--dir=" + D, "--cgidir=" + CGI, "--logformat=json"]) as srv:
    res = asyncio.run(busy(srv.port))
    ok(all(x is True for x in res[:NCLIENTS]), "%d clients echoed %d messages each" % (NCLIENTS, NMSG))
    ok(res[NCLIENTS] == (["bye"], 1011), "fail.sh: its line, then 1011", res[NCLIENTS])
    ok(res[NCLIENTS + 2][0] == ["done"], "noisy.sh: stdout reaches the client", res[NCLIENTS + 2])
    def status_of(request):
        st, _, _, sock = http_request(srv.port, request)
        sock.close()
        return st

    st404 = status_of("GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st200 = status_of("GET /hello.sh?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st400 = status_of("GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    ok((st404, st200, st400) == (404, 200, 400), "404, CGI 200 and 400 answered", (st404, st200, st400))
    ok(wait_for(lambda: srv.log_text().count('"msg":"access"') >= NCLIENTS + 6),
       "an access line for each connection")
    srv.stop()
    raw = open(srv.log_path, "rb").read()[srv.start_offset:]

lines = raw.decode("utf-8").splitlines()  # strict: the log is valid UTF-8
recs, bad = [], []
for l in lines:
    try:
        recs.append(json.loads(l))
    except ValueError:
        bad.append(l)
ok(lines and not bad, "every one of %d lines is a JSON object" % len(lines), bad[:3])
ok(all(isinstance(r, dict) for r in recs), "each line an object")
ok(all(isinstance(r.get("time"), str) and TIME_RE.match(r["time"]) for r in recs),
   "time: RFC 3339 UTC with milliseconds", [r.get("time") for r in recs[:2]])
ok(all(typed(r, "ts", (int, float)) and abs(r["ts"] - recs[0]["ts"]) < 600 for r in recs),
   "ts: a number of seconds")
ok(all(r.get("level") in LEVELS for r in recs), "level: one of %s" % sorted(LEVELS))
ok(all(typed(r, "pid", (int,)) and r["pid"] > 0 for r in recs), "pid: a number")
ok(all(typed(r, "msg", (str,)) for r in recs), "msg: a string")
ok(all("conn" not in r or (typed(r, "conn", (int,)) and r["conn"] > 0) for r in recs),
   "conn: a positive number when present")
ok(any(r["msg"].startswith("listening on ws://127.0.0.1:") for r in recs), "startup lines too")

acc = [r for r in recs if r["level"] == "access"]
FIELDS = {"remote_addr": (str,), "remote_port": (int,), "method": (str,), "path": (str,), "status": (int,),
          "duration": (int, float), "bytes_in": (int,), "bytes_out": (int,)}
NULLABLE = {"messages_in": (int,), "messages_out": (int,), "close_code": (int,), "closed_by": (str,),
            "exit_status": (int,), "signal": (int,), "signal_name": (str,), "end_reason": (str,)}
ok(all(all(typed(a, k, t) for k, t in FIELDS.items()) for a in acc), "access: typed request fields",
   [a for a in acc if not all(typed(a, k, t) for k, t in FIELDS.items())][:1])
ok(all(all(k in a and (a[k] is None or typed(a, k, t)) for k, t in NULLABLE.items()) for a in acc),
   "access: the session's fields, a value or null")
ok(all(typed(a, "conn", (int,)) and a["remote_addr"] == "127.0.0.1" for a in acc),
   "access: connection id and remote address")

echo = [a for a in acc if a["path"] == "/echo.sh"]
ok(len(echo) == NCLIENTS, "one access line per echo session", len(echo))
ok(all(a["status"] == 101 and a["method"] == "GET" and a["messages_in"] == NMSG and a["messages_out"] == NMSG
       for a in echo), "101, GET and %d messages each way" % NMSG, echo[:1])
ok(all(a["close_code"] == 1000 and a["closed_by"] == "client" and a["end_reason"] == "client-close"
       for a in echo), "the client closed with 1000", [(a["close_code"], a["closed_by"], a["end_reason"]) for a in echo])
ok(all(a["exit_status"] == 0 and a["signal"] is None for a in echo), "cat exited 0 (stdin closed)",
   [(a["exit_status"], a["signal"]) for a in echo])
ok(all(a["bytes_in"] > 0 and a["bytes_out"] > 0 and a["duration"] >= 0 for a in echo), "bytes each way")

fail = [a for a in acc if a["path"] == "/fail.sh"]
ok(len(fail) == 1 and (fail[0]["exit_status"], fail[0]["close_code"], fail[0]["closed_by"],
                       fail[0]["end_reason"], fail[0]["messages_out"]) == (3, 1011, "server", "program-exit", 1),
   "fail.sh: exit status 3, close 1011 by the server, end program-exit", fail)
kill = [a for a in acc if a["path"] == "/killed.sh"]
ok(len(kill) == 1 and (kill[0]["signal"], kill[0]["signal_name"], kill[0]["exit_status"]) == (9, "SIGKILL", None),
   "killed.sh: signal 9, SIGKILL, no exit status", kill)

http = {a["path"]: a for a in acc if a["messages_in"] is None}
n404 = http.get("/nothing-here")
ok(n404 and n404["status"] == 404 and n404["close_code"] is None and n404["exit_status"] is None
   and n404["incomplete"] is False, "a 404: no close code, no program", n404)
cgi = http.get("/hello.sh")
ok(cgi and cgi["status"] == 200 and cgi["bytes_out"] == 6, "the CGI request: 200, its body's 6 bytes", cgi)
b400 = [a for a in acc if a["status"] == 400]
ok(len(b400) == 1 and b400[0]["end_reason"] == "refused", "the bad request: 400, end reason refused", b400)

noisy = [r for r in recs if r["level"] == "error" and "noisy" in r["msg"]]
ok(len(noisy) == 1, "the program's stderr line is one error line", noisy)
m = noisy[0]["msg"] if noisy else ""
ok(m.startswith("stderr: noisy \x1b[31mred\x07\x00z \x7f \x9b \ufffd\ufffd \"q\" back\\slash"),
   "control bytes, quote and backslash round-trip; invalid bytes became U+FFFD", m)
text = raw.decode()
ok("\\u001b" in text and "\\u0007" in text and "\\u0000" in text and "\\u007f" in text and "\\u009b" in text,
   "ESC, BEL, NUL, DEL and C1 written as \\u00XX")
ok(not any(c in raw for c in (b"\x1b", b"\x07", b"\x00", b"\x7f", b"\xc2\x9b", b"\xff")),
   "no raw control byte or invalid UTF-8 in the log")

# The text format: today's line, then the new fields at its end.
with Server(flags=["--dir=" + D]) as srv:
    asyncio.run(echo_client(srv.port, 0))
    want = (r'ACCESS \| \[conn \d+\] 127\.0\.0\.1:\d+ "/echo\.sh" 101 [\d.]+s in=\d+ out=\d+ exit status 0 close=1000 '
            r'method=GET msgs_in=%d msgs_out=%d closed_by=client end=client-close$' % (NMSG, NMSG))
    ok(wait_for(lambda: re.search(want, srv.log_text(), re.M)), "text: the access line with the new fields at its end",
       [l for l in srv.log_text().splitlines() if "ACCESS" in l])

with Server("cat", flags=["--logformat=yaml"], expect_exit=1, wait_listen=False) as srv:
    srv.proc.wait(10)
    ok("--logformat must be text or json" in srv.log_text(), "an unknown format is refused")
done()
