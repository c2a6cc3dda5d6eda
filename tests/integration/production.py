"""The README's production setup, as written there: its wsbridge.conf and auth.sh blocks are read
out of README (so the README stays true), their paths and ports pointed into this test's scratch
directory, and wsbridge started the way systemd/wsbridge.socket starts it (the service's
ExecStart, --config=FILE, under the real systemd-socket-activate). Then: a client without the
token gets the authorizer's 401 with its WWW-Authenticate; one with it is let in and the
program sees AUTHZ_USER=alice; a wrong Origin is refused; the metrics listener serves
exposition text that python3-prometheus-client parses, counting what happened; every log line
is one JSON object, and the access lines carry the statuses."""
import asyncio
import json
import urllib.request

import websockets
from prometheus_client.parser import text_string_to_metric_families

from wsbtest import *

time_limit(120)
README = os.path.join(TOP_SRCDIR, "README")


def readme_block(first_line):
    """The lines of README's indented block after first_line, up to an empty line, dedented."""
    with open(README) as f:
        lines = f.read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.strip() == first_line)
    block = []
    for l in lines[start + 1:]:
        if not l.strip() or not l.startswith("    "):
            break
        block.append(l[4:])
    return block


def main():
    if not ACTIVATE:
        print("1..0 # SKIP systemd-socket-activate not installed (Debian's systemd package)")
        return
    os.makedirs(SCRATCH, exist_ok=True)
    conf_lines = readme_block('# /etc/wsbridge/wsbridge.conf (the options without "--", one a line)')
    auth_lines = readme_block("# /etc/wsbridge/auth.sh (chmod +x): a request's CGI environment in,")
    auth_lines = [l for l in auth_lines if not l.startswith("# ")]  # the block's own comment lines
    ok(auth_lines[:1] == ["#!/bin/sh"], "README's auth.sh block is a shell script", auth_lines[:1])
    options = dict(l.split("=", 1) for l in conf_lines if "=" in l and not l.startswith("#"))
    ok({"authorizer", "metrics", "logformat", "command", "origin"} <= set(options),
       "README's wsbridge.conf sets the authorizer, metrics, the log format, the program",
       sorted(options))

    # the same files, in the scratch directory, on free ports; the program says who it serves
    auth = scratch("auth.sh")
    with open(auth, "w") as f:
        f.write("\n".join(auth_lines) + "\n")
    os.chmod(auth, 0o755)
    app = shell_script(scratch("app"), 'echo "user=$AUTHZ_USER args=$*"\nexec cat\n')
    metrics_port = free_port()
    conf = scratch("wsbridge.conf")
    with open(conf, "w") as f:
        for line in conf_lines:
            key = line.split("=", 1)[0]
            if key == "authorizer":
                line = "authorizer=" + auth
            elif key == "metrics":
                line = "metrics=127.0.0.1:%d" % metrics_port
            elif key == "command":
                line = "command=%s %s" % (app, line.split(" ", 1)[1])
            f.write(line + "\n")
    port = free_port()
    origin = "https://" + options["origin"]
    with Activated(["127.0.0.1:%d" % port], [], flags=["--config=" + conf], notify=False) as server:
        def refused():
            try:
                req, _ = upgrade_request("/", extra=["Origin: " + origin])
                status, headers, _, s = http_request(port, req)
                s.close()
                return status, headers
            except OSError:
                return None
        got = wait_for(lambda: refused() or None, timeout=20)
        status, headers = got if got else (None, {})
        ok(status == 401, "no token: the authorizer's 401", status, 401)
        ok(headers.get("www-authenticate") == "Bearer", "with its WWW-Authenticate", headers)

        async def session():
            async with websockets.connect("ws://127.0.0.1:%d/?token=s3cret" % port, origin=origin,
                                          open_timeout=10) as ws:
                first = await asyncio.wait_for(ws.recv(), 10)
                await ws.send("hello")
                return first, await asyncio.wait_for(ws.recv(), 10)
        first, echoed = asyncio.run(session())
        ok(first == "user=alice args=--mode=live", "the token lets the client in; the program gets AUTHZ_USER "
           "and the configured arguments", first, "user=alice args=--mode=live")
        ok(echoed == "hello", "and echoes", echoed)

        req, _ = upgrade_request("/?token=s3cret", extra=["Origin: https://elsewhere.example"])
        status, _, _, s = http_request(port, req)
        s.close()
        ok(status == 403, "another Origin is refused", status, 403)

        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=10) as r:
            text = r.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        total = {s.name: s.value for s in families["wsbridge_sessions"].samples} if "wsbridge_sessions" in families else {}
        ok(total.get("wsbridge_sessions_total") == 1, "metrics: one session so far", total)
        ok("wsbridge_sessions_open" in families, "metrics: wsbridge_sessions_open, which README greps for",
           sorted(families))
        by_status = {s.labels.get("status"): s.value for f in families.values() for s in f.samples
                     if s.name == "wsbridge_http_responses_total"}
        ok(by_status.get("401") == 1 and by_status.get("403") == 1, "metrics: the 401 and the 403 counted", by_status)
        ok(server.stop() == 0, "SIGTERM stops it with 0", server.proc.returncode, 0)
        lines = server.log_text().splitlines()

    records = []
    execing = next((i for i, l in enumerate(lines) if l.startswith("Execing ")), -1)
    for line in lines[execing + 1:]:  # before: systemd-socket-activate's own lines
        try:
            records.append(json.loads(line))
        except ValueError:
            if not SANITIZED or "Sanitizer" in line:
                ok(False, "every log line is JSON", line)
    ok(execing >= 0 and records, "the server logged", lines[:5])
    # (the knocks that start it are connections without a request: status 0)
    statuses = sorted(r.get("status") for r in records if r.get("level") == "access" and r.get("method"))
    ok(statuses == [101, 401, 403], "the access lines carry 101, 401 and 403", statuses, [101, 401, 403])
    done()


main()
