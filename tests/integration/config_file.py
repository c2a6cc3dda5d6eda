"""--config=FILE: options one a line, COMMAND on a command= line, the command line winning; errors
with the file and line; SIGHUP re-reads it: --maxforks, --header, --origin and COMMAND change for
new connections (open sessions go on), --pingms and --unixsocket are logged as needing a
restart, a broken file changes nothing; under --workers the supervisor passes SIGHUP on and
every worker applies it."""
import asyncio
import subprocess

import websockets

from wsbtest import *

time_limit(150)
CONF = scratch("wsbridge.conf")


def write_conf(text):
    with open(CONF + ".new", "w") as f:
        f.write(text)
    os.rename(CONF + ".new", CONF)


def head(port, origin="http://good.example"):
    """Status and headers of an upgrade request (the socket is closed, and its program waited
    for, so that it holds no --maxforks slot)."""
    status, headers, _, sock = http_request(port, upgrade_request(extra=["Origin: " + origin])[0])
    sock.close()
    if status == 101 and SERVER:
        wait_for(lambda: not children(SERVER.pid))
    return status, headers


async def open_session(port, origin="http://good.example"):
    ws = await websockets.connect("ws://127.0.0.1:%d/" % port, origin=origin, open_timeout=10)
    return ws, await asyncio.wait_for(ws.recv(), 10)


async def echo(ws, text):
    await ws.send(text)
    return await asyncio.wait_for(ws.recv(), 10)


def hup_and_wait(srv, pattern, count=1):
    srv.proc.send_signal(signal.SIGHUP)
    return wait_for(lambda: len(re.findall(pattern, srv.log_text())) >= count)


BASE = """# wsbridge.conf for config_file.py
port=1
loglevel=error
maxforks=1
header=X-Conf: one
origin = http://good.example
  pingms=0

command=/bin/sh -c 'echo "hello $0"; exec cat' v1
"""

write_conf(BASE)
upath = socket_path("not-yet.sock")


async def scenario(srv):
    port = srv.port
    ok(port != 1, "--port on the command line wins over port=1 in the file", port)
    ok("DEBUG" in srv.log_text(), "--loglevel=debug on the command line wins over loglevel=error")
    ws1, hello = await open_session(port)
    ok(hello == "hello v1", "command= runs the program with its quoted arguments", hello)
    ok(await echo(ws1, "one") == "one", "a real client talks to it")
    status, _ = head(port)
    ok(status == 429, "maxforks=1 from the file: a second session at once gets 429", status)
    await ws1.close()
    ok(wait_for(lambda: not children(srv.pid)) and head(port)[0] == 101, "one slot again once the first is gone")
    status, headers = head(port)
    ok(headers.get("x-conf") == "one", "header= from the file is on the 101", headers)
    ok(head(port, "http://evil.example")[0] == 403, "origin= from the file refuses another origin")

    # SIGHUP: what can change does, for what starts afterwards; the open session goes on
    ws1, _ = await open_session(port)
    write_conf(BASE.replace("maxforks=1", "maxforks=2").replace("X-Conf: one", "X-Conf: two")
               .replace("http://good.example", "http://good.example,http://other.example")
               .replace("pingms=0", "pingms=5000").replace("v1", "v2")
               .replace("loglevel=error", "loglevel=info")
               + "unixsocket=%s\n" % upath)
    ok(hup_and_wait(srv, r"read again: \d+ changes applied"), "SIGHUP: the file is read again")
    log = srv.log_text()
    ok("SIGHUP: maxforks=2 (was 1)" in log, "the log says maxforks changed")
    ok("SIGHUP: header=X-Conf: two (was X-Conf: one)" in log, "the log says the header changed")
    ok(re.search(r"SIGHUP: pingms=5000 needs a restart to take effect \(still 0\)", log),
       "pingms: logged as needing a restart")
    ok(re.search(r"SIGHUP: unixsocket=\S+ needs a restart", log), "unixsocket: logged as needing a restart")
    ok("SIGHUP: loglevel" not in log, "loglevel: the command line's still wins")
    ok(re.search(r"4 changes applied, 2 need a restart", log), "counted: 4 applied, 2 need a restart",
       re.findall(r"read again: .*", log))
    ok(not os.path.exists(upath), "no Unix socket appeared")
    ok(await echo(ws1, "still") == "still", "the session open across SIGHUP goes on")
    ws2, hello2 = await open_session(port)
    ok(hello2 == "hello v2", "a new session runs the new command=", hello2)
    ok(await echo(ws2, "two") == "two", "two sessions at once now (maxforks=2)")
    status, _, _, sock = http_request(port, upgrade_request(extra=["Origin: http://good.example"])[0])
    sock.close()
    ok(status == 429, "a third gets 429")
    await ws2.close()
    ok(wait_for(lambda: len(children(srv.pid)) == 1), "a slot again")
    ok(head(port)[1].get("x-conf") == "two", "new responses carry the new header")
    ok(head(port, "http://other.example")[0] == 101, "the newly allowed origin is accepted")
    ok(await echo(ws1, "v1 still") == "v1 still", "the first session still runs the old program")

    # a broken file: logged with its line, nothing changes, the server goes on
    write_conf("maxforks=9\nheader=X-Conf: three\nprot=8080\n")
    ok(hup_and_wait(srv, r"not applied: the running configuration stays"), "a broken file is not applied")
    ok(re.search(r"SIGHUP: \S*wsbridge\.conf:3: unknown option 'prot' \(did you mean 'port'\?\)",
                 srv.log_text()), "the log names the file, the line and the likely option")
    ok(head(port)[1].get("x-conf") == "two", "the previous configuration stays")
    ok(await echo(ws1, "alive") == "alive" and srv.proc.poll() is None, "the server and its session go on")
    await ws1.close()


with Server(flags=["--config=" + CONF]) as srv:
    SERVER = srv
    asyncio.run(scenario(srv))

# --workers=2: the supervisor passes SIGHUP on; every worker applies the file
write_conf("header=X-W: a\ncommand=cat\n")
with Server(flags=["--config=" + CONF, "--workers=2"]) as srv:
    ok(wait_for(lambda: len(children(srv.pid)) == 2), "two workers")
    SERVER = None  # the server's children are its workers here: no slot to wait for
    ok(all(head(srv.port)[1].get("x-w") == "a" for _ in range(10)), "X-W: a from every worker")
    write_conf("header=X-W: b\ncommand=cat\n")
    ok(hup_and_wait(srv, r"read again: 1 changes applied", 1), "SIGHUP to the supervisor")
    ok(wait_for(lambda: srv.log_text().count("SIGHUP: header=X-W: b (was X-W: a)") == 3),
       "both workers and the supervisor applied it (the first worker at INFO, the others at DEBUG)")
    ok(len(re.findall(r"INFO\s*\| SIGHUP: header=X-W: b", srv.log_text())) == 1, "logged once at INFO")
    got = [head(srv.port)[1].get("x-w") for _ in range(20)]
    ok(got == ["b"] * 20, "20 new connections, whichever worker: X-W: b", got)
    # a worker started again after the reload runs what the others run
    time.sleep(1.2)  # one that dies within a second of its start is a crash loop
    victim = children(srv.pid)[0]
    os.kill(victim, signal.SIGKILL)
    ok(wait_for(lambda: len(children(srv.pid)) == 2 and victim not in children(srv.pid)),
       "a killed worker is started again")
    got = [head(srv.port)[1].get("x-w") for _ in range(30)]
    ok(got == ["b"] * 30, "30 connections after that: X-W: b from the new worker too", got)

# errors at start name the file and the line
write_conf("port=8080\n\nprot=1\n")
r = subprocess.run([WSBRIDGE, "--config=" + CONF, "cat"], capture_output=True, text=True, timeout=10)
ok(r.returncode == 2 and "wsbridge.conf:3: unknown option 'prot' (did you mean 'port'?)" in r.stderr,
   "an unknown option: exit 2, file:line and a suggestion", (r.returncode, r.stderr))
write_conf("maxforks=lots\n")
r = subprocess.run([WSBRIDGE, "--config=" + CONF, "cat"], capture_output=True, text=True, timeout=10)
ok(r.returncode == 1 and "wsbridge.conf:1: --maxforks needs a number, not 'lots'" in r.stderr,
   "a bad value: exit 1, file:line", (r.returncode, r.stderr))
r = subprocess.run([WSBRIDGE, "--config=" + CONF + ".missing", "cat"], capture_output=True, text=True,
                   timeout=10)
ok(r.returncode == 1 and "cannot open it" in r.stderr, "a missing file: exit 1", (r.returncode, r.stderr))
done()
