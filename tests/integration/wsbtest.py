"""wsbtest: the harness of the integration tests (TAP, a real server, raw clients).

Each test file is one scenario:

    from wsbtest import *
    with Server("cat") as srv:
        ws = RawClient(srv.port)
        ws.send_text("hi")
        ok(ws.recv() == (OP_TEXT, b"hi"), "echo")
    done()

The server is the built binary ($WSBRIDGE) on 127.0.0.1 with --port=0; its
log goes to NAME.server.log next to the test's own log. Every wait is
bounded; a global alarm ends a test that hangs.
"""
import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

WSBRIDGE = os.environ.get("WSBRIDGE", os.path.abspath("wsbridge"))
TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir", "."))
EXAMPLES = os.path.join(TOP_SRCDIR, "examples")
SANITIZED = bool(os.environ.get("WSB_SANITIZED"))
TEST_NAME = os.path.splitext(os.path.basename(sys.argv[0]))[0]
# Logs and scratch files live next to the test's own log (make clean removes them).
LOG_DIR = os.path.join("tests", "integration") if os.path.isdir(os.path.join("tests", "integration")) else "."
SCRATCH = os.path.abspath(os.path.join(LOG_DIR, TEST_NAME + ".tmp"))
os.makedirs(SCRATCH, exist_ok=True)


def scratch(name):
    """A path in this test's scratch directory."""
    return os.path.join(SCRATCH, name)


def shell_script(path, body, mode=0o755):
    """Writes "#!/bin/sh" + body at path (its directory made), with mode; returns path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, mode)
    return path


_socket_dir = None


def socket_path(name):
    """A path for a Unix socket, in a short private directory under /tmp (removed at exit).
    Not in the scratch directory: a socket path has at most 107 bytes, and a build directory
    can be deeper than that. Searchable by others (0711) for a proxy running as another user."""
    global _socket_dir
    if _socket_dir is None:
        import atexit
        import shutil
        import tempfile
        _socket_dir = tempfile.mkdtemp(prefix="wsb", dir="/tmp")
        os.chmod(_socket_dir, 0o711)
        atexit.register(shutil.rmtree, _socket_dir, True)
    return os.path.join(_socket_dir, name)

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

_n = 0
_failed = 0


def ok(cond, name, got=None, want=None):
    """One TAP point; on failure prints what was got and wanted."""
    global _n, _failed
    _n += 1
    if not cond:
        _failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (_n, name), flush=True)
    if not cond and (got is not None or want is not None):
        diag("  got:  %r" % (got,))
        diag("  want: %r" % (want,))
    return bool(cond)


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


def done():
    print("1..%d" % _n, flush=True)
    sys.exit(1 if _failed else 0)


def _on_alarm(signum, frame):
    print("not ok %d - %s: timed out (global alarm)" % (_n + 1, TEST_NAME), flush=True)
    print("1..%d" % (_n + 1), flush=True)
    os._exit(1)


def time_limit(seconds):
    """Ends the test (as a failure) if it runs longer than seconds."""
    if SANITIZED:
        seconds *= 3
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(int(seconds))


time_limit(120)


def free_port():
    """A TCP port on 127.0.0.1 the kernel just gave out and took back (for servers that cannot
    listen on port 0 and report the real one)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop_process(proc, sig=signal.SIGTERM, timeout=15):
    """Sends sig to proc if it still runs and waits for it (timeout s, 3x under sanitizers);
    kills it after that. Returns False when it had to be killed."""
    if proc.poll() is not None:
        return True
    proc.send_signal(sig)
    try:
        proc.wait(timeout * (3 if SANITIZED else 1))
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def wait_for(pred, timeout=10.0, interval=0.02):
    """Polls pred until true or timeout; returns its last value."""
    end = time.monotonic() + timeout * (3 if SANITIZED else 1)
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- /proc


async def recv_until_close(ws, timeout=20):
    """python3-websockets: every message until the connection closes (each wait bounded)."""
    import asyncio
    import websockets
    msgs = []
    try:
        while True:
            msgs.append(await asyncio.wait_for(ws.recv(), timeout))
    except websockets.ConnectionClosed:
        pass
    return msgs


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def _stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return rest  # rest[0] state, rest[1] ppid, rest[2] pgrp


def children(pid):
    """PIDs whose parent is pid (zombies included)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(_stat(int(d))[1]) == pid:
                    out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def zombies(pid):
    z = []
    for c in children(pid):
        try:
            if _stat(c)[0] == "Z":
                z.append(c)
        except OSError:
            pass
    return z


def group_members(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(_stat(int(d))[2]) == pgid:
                    out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def alive(pid):
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


# ---------------------------------------------------------------- the server


class Server:
    """wsbridge on 127.0.0.1, port chosen by the kernel; stopped on exit."""

    def __init__(self, *command, flags=(), env=None, expect_exit=0, wait_listen=True, close_stdio=False):
        self.command = list(command)
        self.close_stdio = close_stdio  # started with descriptors 0 and 1 closed (as by a careless daemon)
        self.flags = list(flags)
        self.env = env
        self.expect_exit = expect_exit
        self.wait_listen = wait_listen
        self.port = None
        self.proc = None
        self.log_path = os.path.join(LOG_DIR, "%s.server.log" % TEST_NAME)
        self.exit_code = None

    def __enter__(self):
        # One process unless the test asks for --workers: tests read the server's /proc entries
        # (children, descriptors, memory) through its PID.
        workers = [] if any(f.lstrip("-").startswith("workers") for f in self.flags) else ["--workers=1"]
        args = [WSBRIDGE, "--address=127.0.0.1", "--port=0", "--loglevel=debug"] + workers + self.flags + self.command
        self.log = open(self.log_path, "ab")
        self.log.write(("\n=== %s\n" % " ".join(args)).encode())
        self.log.flush()
        self.start_offset = self.log.tell()
        closer = (lambda: (os.close(0), os.close(1))) if self.close_stdio else None
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=self.env,
                                     preexec_fn=closer)
        if self.wait_listen:
            m = wait_for(self._listening, timeout=10)
            if not m:
                self.stop()
                raise RuntimeError("wsbridge did not report a listening port; see %s" % self.log_path)
            self.port = int(m.group(1))
        return self

    def _listening(self):
        if self.proc.poll() is not None:
            return None
        return re.search(r"listening on wss?://127\.0\.0\.1:(\d+)/", self.log_text())

    def log_text(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.start_offset)
            return f.read().decode("utf-8", "replace")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if not stop_process(self.proc, sig, timeout):
            ok(False, "server stopped within %ds of %s" % (timeout, signal.Signals(sig).name))
        self.exit_code = self.proc.returncode
        return self.exit_code

    def __exit__(self, *exc):
        code = self.stop()
        self.log.close()
        if exc[0] is None and self.expect_exit is not None:
            ok(code == self.expect_exit, "server exited with %r" % (self.expect_exit,), code, self.expect_exit)
        if exc[0] is None and SANITIZED:
            text = self.log_text()
            ok("ERROR: AddressSanitizer" not in text and "runtime error:" not in text
               and "LeakSanitizer" not in text, "no sanitizer report in the server log")
        return False


# ---------------------------------------------------------------- nginx in front


ACTIVATE = shutil.which("systemd-socket-activate")


class Activated:
    """wsbridge started by systemd-socket-activate on the listen addresses (as a socket unit
    starts it), by default at debug level and notifying a datagram socket of ours (notify=False:
    no NOTIFY_SOCKET, and the flags as given)."""

    def __init__(self, listen, command, flags=(), fdnames=None, env=(), datagram=False, notify=True):
        self.listen, self.command, self.flags = listen, list(command), list(flags)
        self.fdnames, self.env, self.datagram = fdnames, list(env), datagram
        self.with_notify = notify
        self.messages = []
        self.log_path = os.path.join(LOG_DIR, "%s.server.log" % TEST_NAME)

    def __enter__(self):
        env = list(self.env)
        if self.with_notify:
            self.notify_path = socket_path("notify%d" % os.getpid())
            if os.path.exists(self.notify_path):
                os.unlink(self.notify_path)
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify.bind(self.notify_path)
            self.notify.setblocking(False)
            env.insert(0, "NOTIFY_SOCKET=" + self.notify_path)
        args = [ACTIVATE] + ["--datagram"] * self.datagram
        for a in self.listen:
            args += ["-l", a]
        if self.fdnames:
            args += ["--fdname=" + ":".join(self.fdnames)]
        for e in env:
            args += ["-E", e]
        args += [WSBRIDGE] + ["--loglevel=debug"] * self.with_notify + self.flags + self.command
        self.log = open(self.log_path, "ab")
        self.log.write(("\n=== %s\n" % " ".join(args)).encode())
        self.log.flush()
        self.start_offset = self.log.tell()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        # systemd-socket-activate binds, then runs wsbridge at the first sign of a connection
        ok(wait_for(lambda: self.proc.poll() is not None or self._bound()), "systemd-socket-activate listens",
           self.log_text())
        return self

    def _bound(self):
        for a in self.listen:
            if a.startswith("/"):
                if not os.path.exists(a):
                    return False
            else:
                host, port = a.rsplit(":", 1)
                try:
                    s = socket.create_connection((host, int(port)), timeout=1)
                    s.close()  # the first knock starts wsbridge; it drops this empty connection
                except OSError:
                    return False
        return True

    def drain(self):
        while True:
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def got(self, pred):
        """Waits for a notification for which pred holds; returns it or None."""
        found = wait_for(lambda: [m for m in self.drain() if pred(m)], timeout=10)
        return found[0] if found else None

    def log_text(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.start_offset)
            return f.read().decode("utf-8", "replace")

    def exit_code(self):
        """Waits for the exit that a signal already sent causes (no second signal: it would land
        while the process is exiting, its handlers gone)."""
        try:
            return self.proc.wait(15 * (3 if SANITIZED else 1))
        except subprocess.TimeoutExpired:
            return self.stop()

    def stop(self, sig=signal.SIGTERM):
        if not stop_process(self.proc, sig):
            ok(False, "wsbridge stopped within 15 s of %s" % signal.Signals(sig).name)
        return self.proc.returncode

    def __exit__(self, *exc):
        self.stop()
        if self.with_notify:
            self.drain()
            self.notify.close()
            os.unlink(self.notify_path)
        self.log.close()
        if exc[0] is None and SANITIZED:
            text = self.log_text()
            ok("ERROR: AddressSanitizer" not in text and "runtime error:" not in text
               and "LeakSanitizer" not in text, "no sanitizer report in the server log")
        return False


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    """nginx with doc/nginx.conf, everything in a scratch directory; upstream: one wsbridge
    ("127.0.0.1:PORT", "unix:PATH") or a list of them (round-robin)."""

    def __init__(self, upstream, name):
        self.prefix = scratch("nginx-" + name)
        shutil.rmtree(self.prefix, ignore_errors=True)
        os.makedirs(self.prefix)
        self.port = free_port()
        ups = [upstream] if isinstance(upstream, str) else list(upstream)
        with open(os.path.join(TOP_SRCDIR, "doc", "nginx.conf")) as f:
            conf = f.read()
        servers = "\n        ".join("server %s;" % u for u in ups)
        conf = (conf.replace("@PREFIX@", self.prefix).replace("@LISTEN@", "127.0.0.1:%d" % self.port)
                .replace("server @UPSTREAM@;", servers))
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def __enter__(self):
        directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
        self.proc = subprocess.Popen([NGINX, "-p", self.prefix, "-e", os.path.join(self.prefix, "error.log"),
                                      "-c", self.conf, "-g", directives],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def up():
            if self.proc.poll() is not None:
                return "exited"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return "up"
            except OSError:
                return None
        state = wait_for(up, timeout=10)
        if state != "up":
            err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
            raise RuntimeError("nginx did not start (%s): %s" % (state, err))
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return False


# ---------------------------------------------------------------- raw WebSocket client


class Closed(Exception):
    pass


def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_of(key):
    return base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def encode_frame(op, payload=b"", fin=True, mask=True, rsv=0, length=None, key=None):
    """A client frame. key: the 4 mask bytes (random by default; b"\\0" * 4 sends bulk data fast)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    m = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4) if key is None else key
    return hdr + key + (payload if key == b"\0\0\0\0" else mask_bytes(payload, key))


def mask_bytes(data, key):
    if not data:
        return b""
    k = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big")


def http_request(port, request, timeout=10, ssl_context=None):
    """Sends raw bytes, returns (status, headers dict lowercased, body, socket).
    ssl_context: an ssl.SSLContext to speak TLS (--ssl)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if ssl_context is not None:
        s = ssl_context.wrap_socket(s, server_hostname="localhost")
    s.sendall(request if isinstance(request, bytes) else request.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0] if lines else "")
    status = int(m.group(1)) if m else None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, rest, s


def upgrade_request(path="/", host="127.0.0.1", key=None, extra=(), version="13", method="GET"):
    key = key or ws_key()
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host, "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: %s" % key, "Sec-WebSocket-Version: %s" % version]
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


class RawClient:
    """A minimal blocking WebSocket client that shows every frame."""

    def __init__(self, port, path="/", extra=(), after=b"", timeout=10, ssl_context=None):
        req, key = upgrade_request(path, extra=extra)
        status, headers, rest, self.sock = http_request(port, req + after, timeout * (3 if SANITIZED else 1),
                                                        ssl_context)
        self.status, self.headers = status, headers
        if status != 101:
            raise Closed("handshake answered %r" % status)
        if headers.get("sec-websocket-accept") != accept_of(key):
            raise Closed("bad Sec-WebSocket-Accept")
        self.buf = rest

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, op, payload=b"", **kw):
        self.sock.sendall(encode_frame(op, payload, **kw))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise Closed("connection closed by the server")
            self.buf += chunk

    def recv_frame(self):
        """(fin, opcode, payload) of the next frame, as sent (no reassembly)."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        if b1 & 0x80:
            raise AssertionError("server frame is masked")
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv(self):
        """(opcode, payload) of the next message; control frames are returned as they come."""
        fin, op, payload = self.recv_frame()
        if op >= 8:
            return op, payload
        parts = [payload]
        while not fin:
            fin, cop, p = self.recv_frame()
            if cop >= 8:
                continue  # control frame between fragments
            if cop != OP_CONT:
                raise AssertionError("expected a continuation, got opcode %d" % cop)
            parts.append(p)
        return op, b"".join(parts)

    def messages_until_close(self):
        """([(opcode, payload)...] of the data messages, close frame's payload): reads to the close."""
        got = []
        while True:
            op, payload = self.recv()
            if op == OP_CLOSE:
                return got, payload
            if op < 8:
                got.append((op, payload))

    def recv_close(self):
        """Reads until the close frame; returns (code, reason) or (None, None)."""
        while True:
            op, payload = self.recv()
            if op == OP_CLOSE:
                if len(payload) >= 2:
                    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")
                return None, ""

    def close(self, code=1000, wait=True):
        self.send_frame(OP_CLOSE, struct.pack("!H", code))
        result = self.recv_close() if wait else None
        self.sock.close()
        return result

    def eof(self, timeout=5):
        """True once the server closed the TCP connection."""
        self.sock.settimeout(timeout * (3 if SANITIZED else 1))
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (socket.timeout, ConnectionResetError):
            return False


class StuckClient(RawClient):
    """A client with a 4 KiB receive buffer set before connecting (a small window from the
    start), that reads nothing until told to."""

    def __init__(self, port, path="/"):
        req, key = upgrade_request(path)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10 * (3 if SANITIZED else 1))
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise Closed("no answer")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise Closed(head)
        self.buf = b""


# ---------------------------------------------------------------- redis-server (--redis)


REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


class Redis:
    """redis-server on 127.0.0.1:port (or a Unix socket), persistence in its own directory."""

    def __init__(self, name, extra=(), unixsocket=None):
        self.dir = scratch("redis-" + name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = free_port()
        self.extra = list(extra)
        self.unixsocket = unixsocket
        self.proc = None

    def start(self):
        args = [REDIS, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir,
                "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
                "--logfile", os.path.join(self.dir, "redis.log")] + self.extra
        if self.unixsocket:
            args += ["--unixsocket", self.unixsocket, "--unixsocketperm", "700"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def up():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                s.sendall(b"PING\r\n")
                got = s.recv(64)
                s.close()
                return got.startswith((b"+PONG", b"-NOAUTH"))
            except OSError:
                return False
        if not wait_for(up, timeout=10):
            raise RuntimeError("redis-server did not start")
        return self

    def fill(self, n):
        """n SETs of filler keys, pipelined (a restart then reads them back: LOADING)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        for k in range(0, n, 10000):  # a batch, then its replies: neither side's buffers fill
            s.sendall(b"".join(b"SET filler:%d xxxxxxxxxxxxxxxx\r\n" % i for i in range(k, k + 10000)))
            got = b""
            while got.count(b"+OK") < 10000:
                got += s.recv(1 << 20)
        s.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------- TLS


def make_pki(d=None):
    """With the openssl CLI, in d (default: the scratch directory): a CA, a server certificate
    for localhost and 127.0.0.1 signed by it, a client certificate (CN=wsb-client) signed by
    it, and a self-signed client certificate (CN=rogue). Returns a dict of PEM paths."""
    d = d or SCRATCH
    p = {k: os.path.join(d, k + ".pem") for k in
         ("ca", "ca_key", "cert", "key", "client", "client_key", "rogue", "rogue_key")}

    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=wsb test CA",
        "-keyout", p["ca_key"], "-out", p["ca"])
    for name, key, cn, ext in (("cert", "key", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                               ("client", "client_key", "wsb-client", "extendedKeyUsage=clientAuth")):
        csr = os.path.join(d, name + ".csr")
        extfile = os.path.join(d, name + ".ext")
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=wsbridge/CN=" + cn, "-keyout", p[key],
            "-out", csr)
        run("x509", "-req", "-in", csr, "-CA", p["ca"], "-CAkey", p["ca_key"], "-CAcreateserial", "-days",
            "2", "-extfile", extfile, "-out", p[name])
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=rogue",
        "-keyout", p["rogue_key"], "-out", p["rogue"])
    return p


def client_context(pki, cert=None, key=None, **kw):
    """An ssl.SSLContext trusting pki's CA, optionally presenting cert/key."""
    import ssl
    ctx = ssl.create_default_context(cafile=pki["ca"])
    if cert:
        ctx.load_cert_chain(cert, key)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx
