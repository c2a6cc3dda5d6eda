"""wsbridge behind nginx, configured by doc/nginx.conf (ports and paths substituted), over a
TCP upstream and a Unix-socket upstream: echo through python websockets, an 8 MiB message,
close codes passed through, the child's REMOTE_ADDR/REMOTE_PORT with and without
--trust-proxy, and a client's own X-Forwarded-For / Forwarded never believed."""
import asyncio

import websockets

from wsbtest import *

time_limit(180)
if not os.access(NGINX, os.X_OK):
    print("1..0 # SKIP nginx is not installed (scripts/setup installs it)")
    sys.exit(0)
CLIENT_IP = "127.0.0.2"  # the client's own loopback address: nginx and wsbridge use 127.0.0.1
ENV_CMD = ["/bin/sh", "-c", 'echo "$REMOTE_ADDR|$REMOTE_PORT|$HTTP_X_FORWARDED_FOR"; cat']


async def talk(port, send=(), extra_headers=(), local=CLIENT_IP, max_size=None):
    """Connects from local, reads the first line, sends messages and reads their echoes;
    returns (first, echoes, close code, the client's own port)."""
    async with websockets.connect("ws://127.0.0.1:%d/" % port, extra_headers=list(extra_headers),
                                  local_addr=(local, 0), max_size=max_size, open_timeout=20) as ws:
        my_port = ws.transport.get_extra_info("sockname")[1]
        first = await asyncio.wait_for(ws.recv(), 20)
        echoes = []
        for m in send:
            await ws.send(m)
            echoes.append(await asyncio.wait_for(ws.recv(), 60))
        await ws.close()
        return first, echoes, ws.close_code, my_port


async def close_code(port):
    async with websockets.connect("ws://127.0.0.1:%d/" % port, local_addr=(CLIENT_IP, 0)) as ws:
        msgs = await recv_until_close(ws)
        return msgs, ws.close_code, ws.close_reason


def env_of(first):
    addr, port, xff = first.split("|", 2)
    return addr, int(port) if port.isdigit() else port, xff


SPOOF = [("X-Forwarded-For", "6.6.6.6"), ("Forwarded", "for=6.6.6.6;proto=https")]

# ---------------------------------------------------------------- TCP upstream
with Server(*ENV_CMD) as plain:
    with Nginx("127.0.0.1:%d" % plain.port, "tcp-plain") as ngx:
        big = "x" * (8 << 20)
        first, echoes, code, my_port = asyncio.run(talk(ngx.port, ["hello", big]))
        ok(echoes[0] == "hello", "echo through nginx (TCP upstream)", echoes[0][:20])
        ok(len(echoes[1]) == len(big) and echoes[1] == big, "an 8 MiB message through nginx and back",
           len(echoes[1]))
        ok(code == 1000, "the client's close 1000 is answered 1000", code)
        addr, port, xff = env_of(first)
        ok(addr == "127.0.0.1", "no --trust-proxy: REMOTE_ADDR is nginx's address", addr, "127.0.0.1")
        ok(port != my_port, "no --trust-proxy: REMOTE_PORT is nginx's port, not the client's", port)
        ok(xff == CLIENT_IP, "HTTP_X_FORWARDED_FOR still passed to the program", xff, CLIENT_IP)

with Server("/bin/sh", "-c", "echo bye; exit 3") as failing:
    with Nginx("127.0.0.1:%d" % failing.port, "tcp-exit") as ngx:
        msgs, code, reason = asyncio.run(close_code(ngx.port))
        ok(msgs == ["bye"] and code == 1011 and "exit status 3" in reason,
           "the child's exit status 3 reaches the client as close 1011 through nginx", (msgs, code, reason))

with Server(*ENV_CMD, flags=["--trust-proxy=127.0.0.1"]) as trusting:
    with Nginx("127.0.0.1:%d" % trusting.port, "tcp-trust") as ngx:
        first, _, _, my_port = asyncio.run(talk(ngx.port))
        addr, port, xff = env_of(first)
        ok(addr == CLIENT_IP and port == my_port,
           "--trust-proxy=127.0.0.1: REMOTE_ADDR and REMOTE_PORT are the client's (Forwarded)",
           (addr, port), (CLIENT_IP, my_port))
        first, _, _, my_port = asyncio.run(talk(ngx.port, extra_headers=SPOOF))
        addr, port, xff = env_of(first)
        ok(addr == CLIENT_IP and port == my_port,
           "a client's own X-Forwarded-For and Forwarded (6.6.6.6) are not believed", (addr, port, xff))
        ok(xff == "6.6.6.6, " + CLIENT_IP, "the spoofed part stays visible in HTTP_X_FORWARDED_FOR", xff)
    ok(re.search(r"client 127\.0\.0\.2 port \d+, forwarded by 127\.0\.0\.1:\d+", trusting.log_text()),
       "the forwarded client is logged with the proxy that named it")
    # straight to wsbridge from an address not in the list: its headers count for nothing
    first, _, _, my_port = asyncio.run(talk(trusting.port, extra_headers=SPOOF))
    addr, port, _ = env_of(first)
    ok(addr == CLIENT_IP and port == my_port, "a direct client that is not trusted cannot spoof", (addr, port))

# ---------------------------------------------------------------- Unix-socket upstream
sock = socket_path("wsb.sock")
with Server(*ENV_CMD, flags=["--unixsocket=" + sock, "--trust-proxy=unix"]) as srv:
    os.chmod(sock, 0o777)  # nginx's worker may run as another user
    with Nginx("unix:" + sock, "unix") as ngx:
        first, echoes, code, my_port = asyncio.run(talk(ngx.port, ["over unix"], extra_headers=SPOOF))
        ok(echoes == ["over unix"] and code == 1000, "echo through nginx over a Unix-socket upstream",
           (echoes, code))
        addr, port, xff = env_of(first)
        ok(addr == CLIENT_IP and port == my_port,
           "--trust-proxy=unix: the client's address and port, spoofed headers not believed", (addr, port, xff))
with Server(*ENV_CMD, flags=["--unixsocket=" + sock]) as srv:
    os.chmod(sock, 0o777)
    with Nginx("unix:" + sock, "unix-plain") as ngx:
        first, _, _, _ = asyncio.run(talk(ngx.port))
        ok(env_of(first)[0] == "unix-socket", "Unix socket without --trust-proxy: REMOTE_ADDR=unix-socket",
           first)
done()
