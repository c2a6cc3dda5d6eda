"""--authorizer: a program decides on each upgrade (and, with --authorizer-scope=all, on plain
HTTP requests) before anything runs; real clients (python3-websockets, raw sockets, curl).

One authorizer script plays every part, chosen by the request's query: it refuses with 401 and
WWW-Authenticate, allows and hands variables to the program, exits 1, hangs, crashes, prints
garbage or too much, or takes its time (to count how many run at once).
"""
import asyncio
import glob
import subprocess

import websockets

from wsbtest import *

time_limit(240)
LIMIT = 60 if SANITIZED else 20
STARTS = scratch("program-starts")
RUNNING = scratch("running")
PEAKS = scratch("peaks")
HUNG = scratch("hung.pid")
os.makedirs(RUNNING, exist_ok=True)
for p in glob.glob(os.path.join(RUNNING, "*")) + [STARTS, PEAKS, HUNG]:
    if os.path.exists(p):
        os.unlink(p)

AUTHZ = shell_script(scratch("authz.sh"), r"""
echo "deciding on $REQUEST_METHOD $REQUEST_URI" >&2
case "$QUERY_STRING" in
  token=good*)
    echo "Set-Env: AUTHZ_USER=alice"
    echo "Set-Env: AUTHZ_ROLE=admin"
    echo "Remote-User: alice"
    echo "Set-Cookie: session=42; HttpOnly" ;;
  exit1*) exit 1 ;;
  hang*) echo $$ > %(hung)s; trap "" INT TERM; exec sleep 60 ;;
  crash*) kill -SEGV $$ ;;
  garbage*) printf 'this is not\001 a header\n' ;;
  huge*) head -c 1000000 /dev/zero | tr '\0' 'x' ;;
  setpath*) echo "Set-Env: PATH=/evil" ;;
  slow*)
    touch %(running)s/$$
    ls %(running)s | wc -l >> %(peaks)s
    sleep 0.2
    rm -f %(running)s/$$
    echo "Set-Env: AUTHZ_USER=${QUERY_STRING#slow=}" ;;
  *)
    echo "Status: 401 Unauthorized"
    echo 'WWW-Authenticate: Bearer realm="chat"'
    echo "Content-Type: application/json"
    echo
    echo '{"error":"no token"}' ;;
esac
""" % {"hung": HUNG, "running": RUNNING, "peaks": PEAKS})

PROG = shell_script(scratch("prog.sh"), """
echo started >> %s
echo "user=$AUTHZ_USER role=$AUTHZ_ROLE remote=$REMOTE_USER"
read line
echo "got=$line"
""" % STARTS)


def starts():
    try:
        with open(STARTS) as f:
            return len(f.read().splitlines())
    except FileNotFoundError:
        return 0


async def py_session(port, query):
    """(status, headers, first message or None) for an upgrade with python3-websockets."""
    try:
        async with websockets.connect("ws://127.0.0.1:%d/chat?%s" % (port, query), open_timeout=LIMIT) as ws:
            first = await ws.recv()
            await ws.send("hello")
            await ws.recv()
            return 101, ws.response_headers, first
    except websockets.InvalidStatusCode as e:
        return e.status_code, e.headers, None


def py(port, query):
    return asyncio.run(asyncio.wait_for(py_session(port, query), LIMIT * 2))


def raw_status(port, query, after=b""):
    """The status and headers of an upgrade sent by hand (after: bytes behind the request)."""
    req, _ = upgrade_request("/chat?" + query)
    status, headers, body, s = http_request(port, req + after, timeout=LIMIT)
    s.close()
    return status, headers, body


with Server(PROG, flags=["--authorizer=" + AUTHZ, "--authorizer-timeout=1000"]) as srv:
    fds = fd_count(srv.pid)
    st, hdr, first = py(srv.port, "token=bad")
    ok(st == 401, "python3-websockets without a token: 401", st)
    ok(hdr.get("WWW-Authenticate") == 'Bearer realm="chat"', "... with the authorizer's WWW-Authenticate",
       hdr.get("WWW-Authenticate"))
    status, headers, body = raw_status(srv.port, "token=bad")
    ok(status == 401 and headers.get("content-type") == "application/json" and b'{"error":"no token"}' in body,
       "the refusal carries the authorizer's body and its Content-Type", (status, headers, body))

    st, hdr, first = py(srv.port, "token=good")
    ok(st == 101 and first == "user=alice role=admin remote=alice",
       "allowed: the program sees AUTHZ_USER, AUTHZ_ROLE and REMOTE_USER", (st, first))
    ok(hdr.get("Set-Cookie") == "session=42; HttpOnly", "the 101 carries the authorizer's Set-Cookie",
       hdr.get("Set-Cookie"))
    ok(starts() == 1, "only the allowed connection started the program", starts())

    frame = encode_frame(OP_TEXT, b"must not reach the program")
    status, _, _ = raw_status(srv.port, "token=bad", after=frame)
    ok(status == 401 and starts() == 1, "a refused request with a frame behind it: 401, no program ran",
       (status, starts()))
    ok(raw_status(srv.port, "exit1")[0] == 403, "exit status 1 without output: 403")
    ok(raw_status(srv.port, "setpath")[0] == 500, "Set-Env of PATH (outside AUTHZ_): 500")
    log = srv.log_text()
    ok(re.search(r"\[conn \d+\] authorizer stderr: deciding on GET /chat\?token=bad", log),
       "the authorizer's stderr is logged with the connection id")
    ok(re.search(r"\[conn \d+\] authorizer: 500 \(a Set-Env that is not AUTHZ_NAME=value\)", log),
       "a bad answer is logged with its reason")

    t0 = time.monotonic()
    status, _, _ = raw_status(srv.port, "hang")
    took = time.monotonic() - t0
    ok(status == 503, "a hung authorizer: 503 after --authorizer-timeout", status)
    ok(took >= 0.9, "... not before the timeout (%.2fs)" % took, took)
    hung = int(open(HUNG).read()) if wait_for(lambda: os.path.exists(HUNG), 5) else None
    ok(hung and wait_for(lambda: not alive(hung), 10), "... and it is stopped (the stop ladder: it ignores SIGINT and SIGTERM) and reaped",
       hung)
    ok(re.search(r"authorizer: no answer after 1000 ms: 503", srv.log_text()), "the timeout is logged")

    ok(raw_status(srv.port, "crash")[0] == 500, "an authorizer killed by SIGSEGV: 500")
    ok(raw_status(srv.port, "garbage")[0] == 500, "garbage output: 500")
    ok(raw_status(srv.port, "huge")[0] == 500, "a megabyte of output: 500")
    st, _, first = py(srv.port, "token=good")
    ok(st == 101 and first.startswith("user=alice"), "the server still serves after all that", (st, first))
    ok(wait_for(lambda: not zombies(srv.pid) and len(children(srv.pid)) == 0, 10),
       "no authorizer left behind, no zombie", children(srv.pid))
    ok(wait_for(lambda: fd_count(srv.pid) == fds, 5), "no descriptor leaked", (fd_count(srv.pid), fds))
    ok(starts() == 2, "only the two allowed connections ran the program", starts())

# 50 handshakes at once, at most 3 authorizers at a time: the others wait their turn
with Server(PROG, flags=["--authorizer=" + AUTHZ, "--authorizer-max=3", "--authorizer-timeout=60000"]) as srv:
    async def many():
        return await asyncio.gather(*(py_session(srv.port, "slow=u%d" % i) for i in range(50)))
    got = asyncio.run(asyncio.wait_for(many(), 200 if SANITIZED else 100))
    good = sum(1 for i, (st, _, first) in enumerate(got) if st == 101 and first.startswith("user=u%d " % i))
    ok(good == 50, "50 concurrent handshakes: each allowed, each program sees its own variable", good)
    peaks = [int(l) for l in open(PEAKS).read().split()]
    ok(len(peaks) == 50 and max(peaks) <= 3, "never more than --authorizer-max=3 authorizers at once",
       (len(peaks), max(peaks) if peaks else None))
    ok(max(peaks) >= 2, "... and they do run in parallel", max(peaks) if peaks else None)
    ok(wait_for(lambda: not children(srv.pid), 10), "every authorizer and program reaped", children(srv.pid))

# a queue that waits too long: the wait counts toward the timeout
with Server(PROG, flags=["--authorizer=" + AUTHZ, "--authorizer-max=1", "--authorizer-timeout=700"]) as srv:
    async def queued():
        async def one(q):
            req, _ = upgrade_request("/chat?" + q)
            r, w = await asyncio.open_connection("127.0.0.1", srv.port)
            w.write(req)
            line = await r.readline()
            w.close()
            return int(line.split()[1])
        first = asyncio.ensure_future(one("hang"))
        await asyncio.sleep(0.2)
        return await asyncio.gather(first, one("token=good"))
    got = asyncio.run(asyncio.wait_for(queued(), LIMIT))
    ok(got == [503, 503], "--authorizer-max=1 held by a hung authorizer: the waiting request times out too", got)
    ok(re.search(r"no answer after 700 ms \(still waiting for a slot\)", srv.log_text()),
       "... logged as still waiting for a slot")

# shutdown while an authorizer hangs: the request gets 503, the authorizer does not outlive the server
if os.path.exists(HUNG):
    os.unlink(HUNG)
with Server(PROG, flags=["--authorizer=" + AUTHZ, "--authorizer-timeout=60000"]) as srv:
    req, _ = upgrade_request("/chat?hang")
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=LIMIT)
    c.sendall(req)
    ok(wait_for(lambda: os.path.exists(HUNG) and os.path.getsize(HUNG) > 0, 10), "the authorizer hangs")
    hung = int(open(HUNG).read())
    t0 = time.monotonic()
    srv.stop()
    took = time.monotonic() - t0
    answer = c.recv(4096)
    c.close()
    ok(answer.startswith(b"HTTP/1.1 503 "), "SIGTERM: the request being decided gets 503", answer[:40])
    ok(took < 4 * (3 if SANITIZED else 1), "the server exits without waiting for the timeout (%.1fs)" % took, took)
    ok(wait_for(lambda: not alive(hung), 5), "the hung authorizer did not outlive the server", hung)

# --authorizer-scope=all: plain HTTP requests too (CGI scripts get the variables)
CGI = scratch("cgi")
shell_script(os.path.join(CGI, "who.sh"), 'printf "Content-Type: text/plain\\r\\n\\r\\nuser=%s remote=%s\\n" '
             '"$AUTHZ_USER" "$REMOTE_USER"\n')
with Server(flags=["--authorizer=" + AUTHZ, "--authorizer-scope=all", "--cgidir=" + CGI]) as srv:
    p = subprocess.run(["curl", "-s", "-i", "--max-time", str(LIMIT), "http://127.0.0.1:%d/who.sh?x" % srv.port],
                       capture_output=True, timeout=LIMIT + 5)
    out = p.stdout.decode("latin-1")
    ok(out.startswith("HTTP/1.1 401") and 'WWW-Authenticate: Bearer realm="chat"' in out,
       "curl to a CGI script without a token: 401 with WWW-Authenticate", out[:200])
    p = subprocess.run(["curl", "-s", "--max-time", str(LIMIT), "http://127.0.0.1:%d/who.sh?token=good" % srv.port],
                       capture_output=True, timeout=LIMIT + 5)
    ok(p.stdout.decode() == "user=alice remote=alice\n", "allowed: the CGI script sees the variables",
       p.stdout.decode())

for flags, why in ((["--authorizer=/nonexistent/x"], "not found"),
                   (["--authorizer-scope=all"], "needs --authorizer"),
                   (["--authorizer=" + AUTHZ, "--authorizer-scope=some"], "upgrade or all"),
                   (["--authorizer=" + AUTHZ, "--authorizer-timeout=0"], "--authorizer-timeout must be")):
    p = subprocess.run([WSBRIDGE, "--port=0"] + flags + ["cat"], capture_output=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    ok(p.returncode == 1 and why in p.stderr.decode(), "%s: exit 1, says '%s'" % (" ".join(flags), why),
       (p.returncode, p.stderr.decode()))
done()
