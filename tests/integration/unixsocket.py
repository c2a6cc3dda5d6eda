"""--unixsocket=PATH: the only listener without --address/--port, REMOTE_ADDR=unix-socket, a
stale socket file replaced, a live one or a plain file refused (exit 3), the file removed at
shutdown; next to TCP listeners when --address/--port are given."""
from wsbtest import *

ENV_SH = os.path.join(EXAMPLES, "env.sh")
path = socket_path("ws.sock")
log_path = os.path.join(LOG_DIR, "unixsocket.server.log")


def start(*args):
    log = open(log_path, "ab")
    log.write(("\n=== %s\n" % " ".join(args)).encode())
    log.flush()
    offset = log.tell()
    p = subprocess.Popen([WSBRIDGE, "--loglevel=debug"] + list(args), stdin=subprocess.DEVNULL, stdout=log,
                         stderr=log)
    log.close()

    def text():
        with open(log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    return p, text


def unix_request(req, wait_for_bytes=b"\r\n\r\n"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10 * (3 if SANITIZED else 1))
    s.connect(path)
    s.sendall(req)
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf


def env_over_unix():
    req, _ = upgrade_request("/u?x=1", host="localhost")
    data = unix_request(req)
    head, _, rest = data.partition(b"\r\n\r\n")
    env = {}
    while len(rest) >= 2:  # unmasked server frames
        n, off = rest[1] & 0x7F, 2
        if n == 126:
            n, off = struct.unpack("!H", rest[2:4])[0], 4
        op, payload, rest = rest[0] & 0x0F, rest[off:off + n], rest[off + n:]
        if op == OP_TEXT and b"=" in payload:
            k, v = payload.decode().split("=", 1)
            env[k] = v
    return head, env


def stop(p):
    p.terminate()
    try:
        return p.wait(20 * (3 if SANITIZED else 1))
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


def sanitizer_clean(text):
    return "ERROR: AddressSanitizer" not in text and "runtime error:" not in text and "LeakSanitizer" not in text


# --- alone: the only listener
p, text = start("--unixsocket=" + path, ENV_SH)
ok(wait_for(lambda: "listening on unix:" + path in text()), "the log says listening on unix:PATH", text())
ok("listening on ws" not in text(), "no TCP listener without --address and --port", text())
head, env = env_over_unix()
ok(head.startswith(b"HTTP/1.1 101"), "a WebSocket upgrade over the Unix socket", head[:40])
ok(env.get("REMOTE_ADDR") == "unix-socket" and env.get("REMOTE_PORT") == "0",
   "REMOTE_ADDR=unix-socket, REMOTE_PORT=0", {k: env.get(k) for k in ("REMOTE_ADDR", "REMOTE_PORT")})
ok("HTTPS" not in env and env.get("QUERY_STRING") == "x=1", "no HTTPS, the request's query", env.get("QUERY_STRING"))
ok(wait_for(lambda: ' "/u" 101 ' in text()), "an access line for the Unix socket client", text()[-300:])
ok(stop(p) == 0, "exit 0 on SIGTERM")
ok(not os.path.exists(path), "the socket file is removed at shutdown")
if SANITIZED:
    ok(sanitizer_clean(text()), "no sanitizer report")

# --- a stale socket file (bound, then its server gone) is replaced
stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
stale.bind(path)
stale.close()
ok(os.path.exists(path), "(a stale socket file is left at PATH)")
p, text = start("--unixsocket=" + path, ENV_SH)
ok(wait_for(lambda: "listening on unix:" in text()), "a stale socket file: removed and listened on", text())
ok("removing the stale socket" in text(), "and that is logged")

# --- a live one (this server) is refused, and left alone
p2, text2 = start("--unixsocket=" + path, "cat")
ok(p2.wait(20) == 3, "a second server on the same live socket exits 3")
ok("another server is listening" in text2(), "and says why", text2())
head, _ = env_over_unix()
ok(head.startswith(b"HTTP/1.1 101"), "the first server still serves the socket", head[:40])
ok(stop(p) == 0 and not os.path.exists(path), "first server stopped, file removed")

# --- a regular file at PATH is never removed
with open(path, "w") as f:
    f.write("precious\n")
p, text = start("--unixsocket=" + path, "cat")
ok(p.wait(20) == 3, "a regular file at PATH: exit 3")
ok(open(path).read() == "precious\n", "and the file is untouched")
os.unlink(path)

# --- --ssl is for the TCP listeners: the Unix socket stays plain, without HTTPS=on
pki = make_pki()
p, text = start("--ssl", "--sslcert=" + pki["cert"], "--sslkey=" + pki["key"], "--unixsocket=" + path, ENV_SH)
ok(wait_for(lambda: "listening on unix:" in text()), "--ssl with --unixsocket alone", text())
head, env = env_over_unix()
ok(head.startswith(b"HTTP/1.1 101") and "HTTPS" not in env and env.get("REMOTE_ADDR") == "unix-socket",
   "the Unix socket is plain HTTP, no HTTPS=on", (head[:20], env.get("HTTPS")))
ok(stop(p) == 0 and not os.path.exists(path), "stopped, file removed")

# --- with --address/--port: the TCP listener and the Unix socket both serve
with Server("cat", flags=["--unixsocket=" + path]) as srv:
    # the Unix socket's line may follow the TCP one that Server waited for
    ok(srv.port and wait_for(lambda: "listening on unix:" + path in srv.log_text()),
       "--address/--port given: TCP and the Unix socket")
    c = RawClient(srv.port)
    c.send_text("tcp")
    ok(c.recv() == (OP_TEXT, b"tcp"), "echo over TCP")
    c.close()
    req, _ = upgrade_request()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(req + encode_frame(OP_TEXT, "unix"))
    buf = b""
    while not buf.endswith(b"unix"):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    ok(buf.startswith(b"HTTP/1.1 101") and buf.endswith(b"unix"), "echo over the Unix socket", buf[-20:])
    s.close()
ok(not os.path.exists(path), "the file is removed at shutdown")

# a static file over the Unix socket (sent with sendfile, as over TCP), byte for byte
www = scratch("www")
os.makedirs(www, exist_ok=True)
blob = os.urandom(3_000_000)
with open(os.path.join(www, "blob.bin"), "wb") as f:
    f.write(blob)
p, text = start("--unixsocket=" + path, "--staticdir=" + www)
ok(wait_for(lambda: "listening on unix:" + path in text()), "listening with --staticdir", text())
resp = unix_request(b"GET /blob.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
head, _, body = resp.partition(b"\r\n\r\n")
ok(head.startswith(b"HTTP/1.1 200") and body == blob, "a 3 MB static file over the Unix socket, byte for byte",
   (head[:20], len(body)))
ok(stop(p) == 0, "exit 0 on SIGTERM")
done()
