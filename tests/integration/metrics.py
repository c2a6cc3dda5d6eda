"""--metrics=ADDR:PORT: a Prometheus endpoint on a listener of its own. The exposition is parsed
with python3-prometheus-client's parser and its values checked against what the test did (N
sessions from python3-websockets, a 404, a refused Origin 403, a spawn failure 500, exit statuses,
close codes 1000/1011/4001, messages each way, the handshake histogram), scraped while 20
clients echo, and with --workers=2 (the sums and the per-worker families agree). Bad values of
the flag are refused, and so is the public port.
"""
import asyncio
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import websockets
from prometheus_client.parser import text_string_to_metric_families

from wsbtest import *

D = scratch("ws")
shutil.rmtree(D, ignore_errors=True)
shell_script(os.path.join(D, "echo.sh"), "exec cat\n")
shell_script(os.path.join(D, "fail.sh"), "echo bye; exit 3\n")
shell_script(os.path.join(D, "broken.sh"), "echo never\n")
with open(os.path.join(D, "broken.sh"), "w") as f:
    f.write("#!/nonexistent/interpreter\n")  # executable, but exec fails: a spawn failure
ORIGIN = "http://ok.example"
FLAGS = ["--dir=" + D, "--origin=ok.example", "--metrics=127.0.0.1:0"]


def metrics_port(srv):
    m = wait_for(lambda: re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", srv.log_text()))
    return int(m.group(1))


def scrape(port, path="/metrics", method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), ""


def parse(text):
    """{(sample name, frozenset(labels)): value}, every family through the real parser."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def v(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0)


async def echo(port, n_msgs, close_code=1000):
    async with websockets.connect("ws://127.0.0.1:%d/echo.sh" % port, origin=ORIGIN) as ws:
        for k in range(n_msgs):
            await ws.send("m%d" % k)
            assert await ws.recv() == "m%d" % k
        await ws.close(code=close_code)
    return True


async def until_closed(port, path):
    async with websockets.connect("ws://127.0.0.1:%d/%s" % (port, path), origin=ORIGIN) as ws:
        try:
            async for _ in ws:
                pass
        except websockets.ConnectionClosed:
            pass
        return ws.close_code


def run_all(*coros):
    async def gather():
        return await asyncio.gather(*coros)
    return asyncio.run(gather())


def status_of(port, request):
    st, _, _, sock = http_request(port, request)
    sock.close()
    return st


N = 6
with Server(flags=FLAGS) as srv:
    mp = metrics_port(srv)
    ok(mp != srv.port, "a listener of its own")
    res = run_all(*[echo(srv.port, 3) for _ in range(N)], echo(srv.port, 1, 4001), until_closed(srv.port, "fail.sh"))
    ok(res[:N + 1] == [True] * (N + 1) and res[-1] == 1011, "sessions ran: echoes, a 4001 close, exit 3", res)
    st = (status_of(srv.port, "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
          status_of(srv.port, upgrade_request("/echo.sh", extra=["Origin: http://evil.example"])[0]),
          status_of(srv.port, upgrade_request("/broken.sh", extra=["Origin: " + ORIGIN])[0]))
    ok(st == (404, 403, 500), "a 404, a refused Origin 403, a spawn failure 500", st)
    ok(wait_for(lambda: v(parse(scrape(mp)[2]), "wsbridge_connections_open") == 0), "every connection closed")
    code, ctype, text = scrape(mp)
    ok(code == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8", "200, format 0.0.4", (code, ctype))
    m = parse(text)
    ok(len(m) > 20, "the exposition parses (%d samples)" % len(m))
    S = N + 2  # the echoes, the 4001 one, fail.sh
    ok(v(m, "wsbridge_sessions_total") == S and v(m, "wsbridge_sessions_open") == 0,
       "sessions: %d in all, none open" % S, (v(m, "wsbridge_sessions_total"), v(m, "wsbridge_sessions_open")))
    ok(v(m, "wsbridge_connections_total") >= S + 3, "connections counted", v(m, "wsbridge_connections_total"))
    got = {s: v(m, "wsbridge_http_responses_total", status=s) for s in ("101", "403", "404", "500")}
    ok(got == {"101": S, "403": 1, "404": 1, "500": 1}, "responses by status", got)
    ok(v(m, "wsbridge_spawn_failures_total") == 1, "one spawn failure", v(m, "wsbridge_spawn_failures_total"))
    ok(v(m, "wsbridge_program_exits_total", code="3") == 1 and v(m, "wsbridge_program_exits_total", code="0") == N + 1,
       "exit statuses: one 3, the others 0",
       {k: val for k, val in m.items() if k[0] == "wsbridge_program_exits_total"})
    closes = {c: v(m, "wsbridge_close_codes_total", code=c) for c in ("1000", "1011", "4001")}
    ok(closes == {"1000": N, "1011": 1, "4001": 1}, "close codes", closes)
    msgs = (v(m, "wsbridge_websocket_messages_total", direction="in"),
            v(m, "wsbridge_websocket_messages_total", direction="out"))
    ok(msgs == (3 * N + 1, 3 * N + 2), "messages each way (the echoes, and fail.sh's line out)", msgs)
    ok(v(m, "wsbridge_websocket_bytes_total", direction="in") > 0 and
       v(m, "wsbridge_websocket_bytes_total", direction="out") > 0, "bytes each way")
    hc = v(m, "wsbridge_handshake_duration_seconds_count")
    inf = v(m, "wsbridge_handshake_duration_seconds_bucket", le="+Inf")
    b10 = v(m, "wsbridge_handshake_duration_seconds_bucket", le="10.0")
    ok(hc == S and inf == S and b10 <= S and v(m, "wsbridge_handshake_duration_seconds_sum") > 0,
       "the handshake histogram: one observation per 101", (hc, inf, b10))
    buckets = sorted((float(dict(k[1])["le"]), val) for k, val in m.items()
                     if k[0] == "wsbridge_handshake_duration_seconds_bucket")
    ok(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "buckets cumulative", buckets)
    ok(not any(k[0].startswith("wsbridge_worker_") for k in m), "one process: no per-worker families")
    ok(scrape(mp, "/")[0] == 404 and scrape(mp, "/metrics", "POST")[0] == 405, "other paths 404, other methods 405")
    hs = scrape(mp, "/metrics", "HEAD")
    ok(hs[0] == 200 and hs[2] == "", "HEAD: the headers only", hs[:2])
    ok(status_of(mp, "GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n") == 400, "a bad request: 400")
    ok(status_of(srv.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 404,
       "never on the public port")

# Scraped while 20 clients echo for a few seconds.
with Server(flags=FLAGS) as srv:
    mp = metrics_port(srv)

    async def loaded_echo(port, seconds):
        async with websockets.connect("ws://127.0.0.1:%d/echo.sh" % port, origin=ORIGIN) as ws:
            end = asyncio.get_running_loop().time() + seconds
            n = 0
            while asyncio.get_running_loop().time() < end:
                await ws.send("x" * 100)
                await ws.recv()
                n += 1
            return n

    async def scraper(port, seconds):
        samples = []
        end = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < end:
            code, _, text = await asyncio.to_thread(scrape, port)
            samples.append((code, parse(text)))
            await asyncio.sleep(0.2)
        return samples

    async def load():
        return await asyncio.gather(scraper(mp, 3.5), *[loaded_echo(srv.port, 3) for _ in range(20)])

    res = asyncio.run(load())
    samples, counts = res[0], res[1:]
    ok(len(samples) >= 5 and all(c == 200 for c, _ in samples), "scraped %d times under load" % len(samples))
    ok(max(v(s, "wsbridge_sessions_open") for _, s in samples) >= 10, "sessions seen open while they ran",
       [v(s, "wsbridge_sessions_open") for _, s in samples])
    ins = [v(s, "wsbridge_websocket_messages_total", direction="in") for _, s in samples]
    ok(all(a <= b for a, b in zip(ins, ins[1:])) and ins[-1] > ins[0], "counters only grow while load runs", ins)
    ok(wait_for(lambda: v(parse(scrape(mp)[2]), "wsbridge_sessions_open") == 0), "all closed afterwards")
    final = parse(scrape(mp)[2])
    ok(v(final, "wsbridge_websocket_messages_total", direction="in") == sum(counts),
       "every message counted (%d)" % sum(counts), v(final, "wsbridge_websocket_messages_total", direction="in"))

# --workers=2: worker 0 serves the sums and each worker's own counters.
with Server(flags=FLAGS + ["--workers=2"]) as srv:
    mp = metrics_port(srv)
    res = run_all(*[echo(srv.port, 2) for _ in range(10)])
    ok(all(res), "10 sessions over 2 workers")
    ok(wait_for(lambda: v(parse(scrape(mp)[2]), "wsbridge_sessions_open") == 0), "workers: all closed")
    m = parse(scrape(mp)[2])
    per = [v(m, "wsbridge_worker_sessions_total", worker=w) for w in ("0", "1")]
    ok(v(m, "wsbridge_sessions_total") == 10 and sum(per) == 10, "the sum and the per-worker counts agree", per)
    ok(v(m, "wsbridge_websocket_messages_total", direction="in") ==
       sum(v(m, "wsbridge_worker_websocket_messages_total", direction="in", worker=w) for w in ("0", "1")) == 20,
       "messages: sum of the workers")
    ok(v(m, "wsbridge_worker_handshake_duration_seconds_count", worker="0") +
       v(m, "wsbridge_worker_handshake_duration_seconds_count", worker="1") == 10, "per-worker histograms")

for bad, why in ((["--metrics=nonsense"], "--metrics needs"), (["--metrics=host.example:9100"], "numeric address"), (["--metrics=127.0.0.1:99999"], "port number"),
                 (["--port=8123", "--metrics=127.0.0.1:8123"], "not on the public port")):
    p = subprocess.run([WSBRIDGE] + bad + ["cat"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    ok(p.returncode == 1 and why in p.stderr.decode(), "refused: %s" % " ".join(bad), (p.returncode, p.stderr))
done()
