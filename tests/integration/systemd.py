"""systemd: socket activation through the real systemd-socket-activate (one socket, several with
LISTEN_FDNAMES, a Unix socket, a "redirect" one, --workers), and the notifications on a
NOTIFY_SOCKET the test binds: READY=1 with STATUS= once listening, WATCHDOG=1 every half of
WATCHDOG_USEC, STOPPING=1 on SIGTERM. A socket that is not a listening stream socket is refused."""
import asyncio
import subprocess

import websockets

from wsbtest import *

time_limit(150)


async def echo(url, text):
    async with websockets.connect(url, open_timeout=10) as ws:
        await ws.send(text)
        return await asyncio.wait_for(ws.recv(), 10)


def echo_sync(url, text):
    return asyncio.run(echo(url, text))


async def echo_unix(path, text):
    async with websockets.unix_connect(path, "ws://localhost/", open_timeout=10) as ws:
        await ws.send(text)
        return await asyncio.wait_for(ws.recv(), 10)


if not ACTIVATE:
    print("1..0 # SKIP systemd-socket-activate not installed (Debian's systemd package)")
    sys.exit(0)

# ---- one socket, one process: served; READY=1 with STATUS; the watchdog; STOPPING=1
port = free_port()
# the program shows what it inherited: descriptor 3 (the first passed socket) and LISTEN_*
PROG = ["/bin/sh", "-c", 'if [ -e /proc/$$/fd/3 ]; then f=open; else f=closed; fi; '
        'echo "fd3=$f listen=${LISTEN_FDS:-none}"; exec cat']
with Activated(["127.0.0.1:%d" % port], PROG, flags=["--workers=1", "--passenv=PATH,LISTEN_FDS,LISTEN_PID"],
               env=["WATCHDOG_USEC=300000"]) as a:
    ready = a.got(lambda m: "READY=1" in m)
    ok(ready is not None, "READY=1 on the notify socket", a.messages)
    ok(ready and "STATUS=serving on 1 sockets from systemd" in ready, "READY=1 comes with a STATUS= line", ready)

    async def session():
        async with websockets.connect("ws://127.0.0.1:%d/" % port, open_timeout=10) as ws:
            first = await asyncio.wait_for(ws.recv(), 10)
            await ws.send("through systemd's socket")
            return first, await asyncio.wait_for(ws.recv(), 10)

    first, back = asyncio.run(session())
    ok(back == "through systemd's socket", "a real client is served on the passed socket", back)
    ok(first == "fd3=closed listen=none", "the program inherits neither the socket nor LISTEN_FDS", first)
    ok(re.search(r"listening on ws://127\.0\.0\.1:%d/" % port, a.log_text()), "the log names the passed socket")
    ok(wait_for(lambda: sum(m == "WATCHDOG=1" for m in a.drain()) >= 4, timeout=5),
       "WATCHDOG=1 arrives every half of WATCHDOG_USEC", a.messages)
    ok(not any("STOPPING" in m for m in a.drain()), "no STOPPING=1 before the signal")
    a.proc.send_signal(signal.SIGTERM)
    stopping = a.got(lambda m: m.startswith("STOPPING=1"))
    ok(stopping is not None, "STOPPING=1 on SIGTERM", a.messages)
    ok(stopping and "STATUS=shutting down" in stopping, "STOPPING=1 with a STATUS= line", stopping)
    ok(a.exit_code() == 0, "exit status 0 after SIGTERM", a.proc.returncode)

# ---- without WATCHDOG_USEC: no WATCHDOG=1; flags that would open sockets are not used
port = free_port()
with Activated(["127.0.0.1:%d" % port], ["cat"], flags=["--workers=1", "--port=1", "--address=127.0.0.1"]) as a:
    ok(a.got(lambda m: "READY=1" in m), "READY=1 with --port and --address given")
    ok(echo_sync("ws://127.0.0.1:%d/" % port, "hi") == "hi", "served on systemd's port, not --port=1")
    ok("--port, --address, --unixsocket and --redirport are not used" in a.log_text(),
       "the log says --port and --address are not used")
    time.sleep(0.5)
    ok(not any("WATCHDOG" in m for m in a.drain()), "no WATCHDOG=1 without WATCHDOG_USEC", a.messages)

# ---- several sockets named with LISTEN_FDNAMES: two TCP, a Unix socket, a "redirect" one
p1, p2, pr = free_port(), free_port(), free_port()
upath = socket_path("ws.sock")
with Activated(["127.0.0.1:%d" % p1, "127.0.0.1:%d" % p2, upath, "127.0.0.1:%d" % pr], ["cat"],
               flags=["--workers=1"], fdnames=["web", "web2", "local", "redirect"]) as a:
    ready = a.got(lambda m: "READY=1" in m)
    ok(ready and "4 sockets" in ready, "READY=1 once all four listen", ready)
    ok(echo_sync("ws://127.0.0.1:%d/" % p1, "one") == "one", "the first TCP socket serves")
    ok(echo_sync("ws://127.0.0.1:%d/" % p2, "two") == "two", "the second TCP socket serves")
    ok(asyncio.run(echo_unix(upath, "unix")) == "unix", "the Unix socket serves")
    status, headers, _, sock = http_request(pr, b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n")
    sock.close()
    ok(status == 301 and headers.get("location") == "http://example.com:%d/x" % p1,
       "the socket named 'redirect' redirects to the first serving port", (status, headers))
    ok(re.search(r"listening on unix:%s" % re.escape(upath), a.log_text()), "the log names the Unix socket")
ok(os.path.exists(upath), "systemd's Unix socket file is left to systemd (not removed)")

# ---- --workers=2 on one passed socket: both workers accept; READY=1 once both listen
port = free_port()
PROG = ["/bin/sh", "-c", "echo worker $PPID; exec cat"]
with Activated(["127.0.0.1:%d" % port], PROG, flags=["--workers=2"], env=["WATCHDOG_USEC=400000"]) as a:
    ready = a.got(lambda m: "READY=1" in m)
    ok(ready and "2 workers" in ready, "READY=1 from the supervisor once both workers listen", ready)
    ok(wait_for(lambda: len(children(a.proc.pid)) == 2), "two workers", children(a.proc.pid))
    workers = set(children(a.proc.pid))
    seen = set()
    for _ in range(40):
        c = RawClient(port)
        seen.add(int(c.recv()[1].decode().split()[1]))
        c.close()
        if seen == workers:
            break
    ok(seen == workers, "connections reach both workers through the one socket", (seen, workers))
    ok(wait_for(lambda: sum(m == "WATCHDOG=1" for m in a.drain()) >= 3, timeout=5),
       "the supervisor sends WATCHDOG=1", a.messages)
    ok(sum("READY=1" in m for m in a.drain()) == 1, "READY=1 once", a.messages)
    a.proc.send_signal(signal.SIGTERM)
    ok(a.got(lambda m: m.startswith("STOPPING=1")), "STOPPING=1 from the supervisor on SIGTERM", a.messages)
    ok(a.exit_code() == 0, "exit status 0", a.proc.returncode)

# ---- a datagram socket is not something to serve on: exit 3, with the reason
port = free_port()
a = Activated(["127.0.0.1:%d" % port], ["cat"], flags=["--workers=1"], datagram=True)
a.notify_path = socket_path("notify-dgram")
a.log = open(a.log_path, "ab")
a.start_offset = a.log.tell()
a.proc = subprocess.Popen([ACTIVATE, "--datagram", "-l", "127.0.0.1:%d" % port, WSBRIDGE, "cat"],
                          stdin=subprocess.DEVNULL, stdout=a.log, stderr=a.log)
time.sleep(0.3)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(20):  # the first datagram starts wsbridge
    u.sendto(b"x", ("127.0.0.1", port))
    if wait_for(lambda: a.proc.poll() is not None, timeout=0.5):
        break
u.close()
ok(wait_for(lambda: a.proc.poll() is not None), "wsbridge exits")
if a.proc.poll() is None:
    a.proc.kill()
ok(a.proc.wait() == 3, "exit status 3 (cannot listen)", a.proc.returncode)
ok("not a listening TCP or Unix stream socket" in a.log_text(), "the log says why", a.log_text()[-300:])
a.log.close()
done()
