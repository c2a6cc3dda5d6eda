"""Chaos: valid and invalid traffic from a seeded PRNG, randomly segmented, from several threads
at once, against two live servers: `cat`, and --staticdir with --dir (an echo program).

Valid echo traffic (every frame size class, masked, fragmented, pings between fragments) must
come back as sent; invalid traffic (unmasked or reserved frames, bad UTF-8, bad close codes,
malformed handshakes) must get the right close code or HTTP status, or a close, within a
bound: never a hang. Plain HTTP GET/HEAD with keep-alive, pipelined requests then an upgrade,
the handshake and frames in ONE send, abrupt disconnects. Everything is sent in random pieces
(1 byte to 64 KiB) with short random sleeps. Afterwards both servers must still be alive, echo
on a fresh connection, exit 0 on SIGTERM and (sanitized) have logged no sanitizer report.

  CHAOS_SEED=N      the seed (default: random; printed in the TAP output and on failure);
                    each thread's choices follow from it, thread timing still varies
  CHAOS_SECONDS=S   how long to send (default 8); CHAOS_SECONDS=600 for a 10-minute soak
  CHAOS_THREADS=N   client threads (default 4)
"""
import atexit
import base64
import os
import random
import re
import select
import shutil
import socket
import struct
import tempfile
import threading
import time
import traceback

from wsbtest import *

SEED = int(os.environ.get("CHAOS_SEED") or int.from_bytes(os.urandom(4), "big"))
SECONDS = float(os.environ.get("CHAOS_SECONDS") or 8)
THREADS = int(os.environ.get("CHAOS_THREADS") or 4)
BOUND = 15.0 if SANITIZED else 5.0  # seconds any single wait may take before it counts as a hang
MAX_FRAME = 1000000  # --maxframesize; the largest valid message sent is ~330 KB
time_limit(SECONDS + 90)  # tripled when sanitized

print("# chaos: seed %d, %g s, %d threads (replay: CHAOS_SEED=%d CHAOS_SECONDS=%g)"
      % (SEED, SECONDS, THREADS, SEED, SECONDS), flush=True)


class Fail(Exception):
    """A wrong answer, or none within BOUND."""


# ---------------------------------------------------------------- content

_master = random.Random(SEED)
_ALPHABET = ([chr(c) for c in range(0x20, 0x7F)] * 8
             + list("\u00e9\u00df\u00f8\u0436\u4e2d\u6587\u20ac\U0001F600\U0001F389\u2028\ufeff"))
TEXT_POOL = "".join(_master.choice(_ALPHABET) for _ in range(100000))  # no \n, \r or NUL
ASCII_POOL = bytes(_master.randrange(0x20, 0x7F) for _ in range(100000))


def size_class(rng):
    """A payload size: 0-125 (7-bit length), 126-65535 (16-bit), 65536-~300 KB (64-bit)."""
    c = rng.random()
    if c < 0.45:
        return rng.randint(0, 125)
    if c < 0.85:
        return rng.randint(126, 65535)
    return rng.randint(65536, 300000)


def text_of(rng, n):
    """About n bytes of valid UTF-8 without newlines (multi-byte characters included)."""
    parts, left = [], n
    while left > 0:
        k = min(left, len(TEXT_POOL) // 2)
        start = rng.randrange(len(TEXT_POOL) - k)
        parts.append(TEXT_POOL[start:start + k])
        left -= k
    return "".join(parts).encode()


def ascii_of(rng, n):
    parts, left = [], n
    while left > 0:
        k = min(left, len(ASCII_POOL) // 2)
        start = rng.randrange(len(ASCII_POOL) - k)
        parts.append(ASCII_POOL[start:start + k])
        left -= k
    return b"".join(parts)


def frame(rng, op, payload=b"", fin=True, mask=True, rsv=0, length=None):
    return encode_frame(op, payload, fin=fin, mask=mask, rsv=rsv, length=length, key=rng.randbytes(4))


class Echo:
    """Valid messages for an echoing program, as frames, with what must come back."""

    def __init__(self, rng, tag):
        self.rng = rng
        self.tag = tag
        self.expected = []  # text payloads to come back, in order
        self.pings = []  # payloads of the pings sent, in order
        self.n = 0

    def ping(self):
        self.n += 1
        p = b"%s-%d-" % (self.tag, self.n)
        p += ascii_of(self.rng, self.rng.randint(0, 125 - len(p)))
        self.pings.append(p)
        return frame(self.rng, OP_PING, p)

    def message(self, size=None):
        """One message (text, or binary holding whole lines), fragmented at random, with pings and
        unsolicited pongs between its fragments."""
        rng = self.rng
        n = size_class(rng) if size is None else size
        if rng.random() < 0.7:
            op, payload = OP_TEXT, text_of(rng, n)
            self.expected.append(payload)
        else:  # a binary message is written as is: whole lines, each one comes back as a text message
            body = ascii_of(rng, n)
            cuts = sorted(rng.randint(0, n) for _ in range(rng.randint(0, 2)))
            lines = [body[a:b] for a, b in zip([0] + cuts, cuts + [n])]
            op, payload = OP_BINARY, b"\n".join(lines) + b"\n"
            self.expected.extend(lines)
        if len(payload) < 2 or rng.random() < 0.6:
            pieces = [payload]
        else:
            cuts = sorted(rng.randint(0, len(payload)) for _ in range(rng.randint(1, 7)))
            pieces = [payload[a:b] for a, b in zip([0] + cuts, cuts + [len(payload)])]
        out = []
        for i, piece in enumerate(pieces):
            out.append(frame(rng, op if i == 0 else OP_CONT, piece, fin=(i == len(pieces) - 1)))
            r = rng.random()
            if r < 0.15:
                out.append(self.ping())
            elif r < 0.2:
                out.append(frame(rng, OP_PONG, ascii_of(rng, rng.randint(0, 125))))
        return b"".join(out)


# ---------------------------------------------------------------- a non-blocking client connection


class Conn:
    """One TCP connection: sends in random pieces while reading whatever comes back; every wait is
    bounded (Fail after BOUND seconds)."""

    def __init__(self, rng, port):
        self.rng = rng
        try:
            self.s = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
        except OSError as e:
            raise Fail("connect: %r" % e)
        self.s.setblocking(False)
        self.rx = bytearray()
        self.eof = False  # the server closed (FIN)
        self.reset = False  # ECONNRESET or EPIPE
        self.partial = None

    def close(self, rst=False):
        if rst:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.s.close()

    def _read(self):
        try:
            d = self.s.recv(1 << 18)
        except BlockingIOError:
            return
        except (ConnectionResetError, BrokenPipeError):
            self.reset = True
            return
        if d:
            self.rx += d
        else:
            self.eof = True

    def pieces(self, data):
        """data cut at random: whole, 1-byte pieces first, or sizes log-uniform in 1..64 KiB."""
        rng = self.rng
        mode = rng.random()
        if mode < 0.25 or not data:
            return [data]
        out, i = [], 0
        if mode < 0.4:  # the first bytes one at a time
            k = min(len(data), rng.randint(1, 300))
            out = [data[j:j + 1] for j in range(k)]
            i = k
        while i < len(data) and len(out) < 300:
            k = int(2 ** rng.uniform(0, 16))
            out.append(data[i:i + k])
            i += k
        if i < len(data):
            out.append(data[i:])
        return out

    def send(self, data, whole=False):
        """Sends data (in one send() call when whole, else in random pieces with short sleeps),
        reading meanwhile. False if the server is gone (reset)."""
        rng = self.rng
        for piece in ([data] if whole else self.pieces(data)):
            view = memoryview(piece)
            last = time.monotonic()
            while view:
                if self.reset:
                    return False
                r, w, _ = select.select([] if self.eof else [self.s], [self.s], [], 0.5)
                if r:
                    self._read()
                if w:
                    try:
                        n = self.s.send(view)
                    except BlockingIOError:
                        n = 0
                    except (BrokenPipeError, ConnectionResetError):
                        self.reset = True
                        return False
                    if n:
                        view, last = view[n:], time.monotonic()
                if time.monotonic() - last > BOUND:
                    raise Fail("the server took none of our bytes for %gs" % BOUND)
            if not whole and rng.random() < 0.1:
                time.sleep(rng.choice((0, 0.0005, 0.002, 0.005)))
        return True

    def wait(self, pred, what):
        """Reads until pred() is true (returned) or the server closed (pred() returned)."""
        end = time.monotonic() + BOUND
        while True:
            v = pred()
            if v or self.eof or self.reset:
                return v
            left = end - time.monotonic()
            if left <= 0:
                raise Fail("no answer within %gs: %s" % (BOUND, what))
            r, _, _ = select.select([self.s], [], [], left)
            if r:
                self._read()

    def wait_eof(self, what):
        self.wait(lambda: False, what)
        if self.rx:
            raise Fail("%s: %d bytes more: %r" % (what, len(self.rx), bytes(self.rx[:60])))

    def http_head(self, what):
        """(status, headers) of the next response head, taken from the input; None at EOF."""
        if not self.wait(lambda: b"\r\n\r\n" in self.rx, what):
            if self.rx:
                raise Fail("%s: closed after part of a response: %r" % (what, bytes(self.rx[:80])))
            return None
        i = self.rx.index(b"\r\n\r\n")
        head = bytes(self.rx[:i]).decode("latin-1")
        del self.rx[:i + 4]
        lines = head.split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
        if not m:
            raise Fail("%s: not an HTTP status line: %r" % (what, lines[0][:80]))
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return int(m.group(1)), headers

    def take(self, n, what):
        if not self.wait(lambda: len(self.rx) >= n, what):
            raise Fail("%s: closed after %d of %d bytes" % (what, len(self.rx), n))
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out

    def http_body(self, status, headers, head_request, what):
        if head_request or status in (204, 304) or status < 200:
            return b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                self.wait(lambda: b"\r\n" in self.rx, what + " (chunk size)")
                i = self.rx.index(b"\r\n")
                size = int(bytes(self.rx[:i]).split(b";")[0], 16)
                del self.rx[:i + 2]
                body += self.take(size, what)
                self.take(2, what)
                if size == 0:
                    return body
        if "content-length" in headers:
            return self.take(int(headers["content-length"]), what)
        self.wait(lambda: False, what + " (body to EOF)")
        out = bytes(self.rx)
        del self.rx[:]
        return out

    def upgrade_answer(self, key, what):
        got = self.http_head(what)
        if got is None:
            raise Fail("%s: closed without an answer" % what)
        status, headers = got
        if status != 101:
            raise Fail("%s: status %d, want 101" % (what, status))
        if headers.get("sec-websocket-accept") != accept_of(key):
            raise Fail("%s: wrong Sec-WebSocket-Accept %r" % (what, headers.get("sec-websocket-accept")))

    def frame(self, what):
        """(fin, opcode, payload) of the next server frame; None at EOF."""
        rx = self.rx

        def complete():
            if len(rx) < 2:
                return None
            n, off = rx[1] & 0x7F, 2
            if n == 126:
                if len(rx) < 4:
                    return None
                n, off = struct.unpack("!H", rx[2:4])[0], 4
            elif n == 127:
                if len(rx) < 10:
                    return None
                n, off = struct.unpack("!Q", rx[2:10])[0], 10
            return (off, n) if len(rx) >= off + n else None
        got = self.wait(complete, what)
        if not got:
            if rx:
                raise Fail("%s: closed inside a frame (%d bytes: %r)" % (what, len(rx), bytes(rx[:20])))
            return None
        off, n = got
        b0, b1 = rx[0], rx[1]
        if b1 & 0x80:
            raise Fail("%s: the server sent a masked frame" % what)
        if b0 & 0x70:
            raise Fail("%s: the server set RSV bits (%#x)" % (what, b0))
        payload = bytes(rx[off:off + n])
        del rx[:off + n]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def message(self, what):
        """(opcode, payload): a whole data message, or one control frame; None at EOF."""
        while True:
            f = self.frame(what)
            if f is None:
                return None
            fin, op, payload = f
            if op >= 8:
                if not fin or len(payload) > 125:
                    raise Fail("%s: bad control frame from the server (op %d)" % (what, op))
                return op, payload
            if op == OP_CONT:
                if self.partial is None:
                    raise Fail("%s: a continuation without a message" % what)
                self.partial[1].append(payload)
            elif op in (OP_TEXT, OP_BINARY):
                if self.partial is not None:
                    raise Fail("%s: a new message inside a fragmented one" % what)
                self.partial = (op, [payload])
            else:
                raise Fail("%s: reserved opcode %d from the server" % (what, op))
            if fin:
                op, parts = self.partial
                self.partial = None
                return op, b"".join(parts)

    def until_close(self, what):
        """Reads past data and pongs to the close frame: its code (None without one); None at EOF."""
        while True:
            m = self.message(what)
            if m is None:
                return "eof"
            op, payload = m
            if op == OP_CLOSE:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def short(b, n=60):
    return bytes(b[:n]) + (b"...(%d bytes)" % len(b) if len(b) > n else b"")


# ---------------------------------------------------------------- targets


class Target:
    def __init__(self, name, srv, ws_paths, files):
        self.name, self.srv, self.ws_paths, self.files = name, srv, ws_paths, files

    @property
    def port(self):
        return self.srv.port


def start_session(rng, t, e, what):
    """A connection with a valid handshake; often the first message(s) in the same send (the
    same send() when whole). Returns (conn, whole-send-with-a-payload-over-64)."""
    c = Conn(rng, t.port)
    req, key = upgrade_request(rng.choice(t.ws_paths), key=base64.b64encode(rng.randbytes(16)).decode())
    glued, big = b"", False
    if rng.random() < 0.6:
        for _ in range(rng.randint(1, 3)):
            size = rng.randint(65, 4000) if rng.random() < 0.5 else None
            glued += e.message(size)
        big = len(glued) > 72
    whole = bool(glued) and rng.random() < 0.6
    c.send(req + glued, whole=whole)
    c.upgrade_answer(key, what + ": handshake")
    return c, whole and big


def read_echoes(c, e, what):
    """Reads until every expected echo (in order) and the last ping's pong are in."""
    got, pongs = 0, []
    while got < len(e.expected) or (e.pings and (not pongs or pongs[-1] != e.pings[-1])):
        m = c.message(what + ": echo %d of %d" % (got + 1, len(e.expected)))
        if m is None:
            raise Fail("%s: closed after %d of %d echoes" % (what, got, len(e.expected)))
        op, payload = m
        if op == OP_PONG:
            if payload not in e.pings or (pongs and e.pings.index(payload) <= e.pings.index(pongs[-1])):
                raise Fail("%s: pong %r answers no ping sent (or out of order)" % (what, short(payload)))
            pongs.append(payload)
        elif op == OP_PING:
            c.send(frame(c.rng, OP_PONG, payload))
        elif op == OP_CLOSE:
            raise Fail("%s: closed (%r) after %d of %d echoes" % (what, short(payload), got, len(e.expected)))
        elif op != OP_TEXT:
            raise Fail("%s: opcode %d, want a text message" % (what, op))
        elif got >= len(e.expected):
            raise Fail("%s: an echo more than was sent: %r" % (what, short(payload)))
        elif payload != e.expected[got]:
            raise Fail("%s: echo %d is %r, want %r" % (what, got + 1, short(payload), short(e.expected[got])))
        else:
            got += 1
    e.expected, e.pings = [], []


# ---------------------------------------------------------------- scenarios


def sc_echo(rng, t, st):
    """A valid session: messages of every size class, echoed intact, then a close or a drop."""
    e = Echo(rng, b"t%d" % st.thread)
    c, hit = start_session(rng, t, e, "echo")
    st.b1 += hit
    try:
        for _ in range(rng.randint(0, 3)):
            data = b"".join(e.message() for _ in range(rng.choice((1, 1, 2, 3, 10))))
            if rng.random() < 0.2:
                data += e.ping()
            if not c.send(data):
                raise Fail("echo: the server reset the connection")
            if rng.random() < 0.7:
                read_echoes(c, e, "echo")
        end = rng.random()
        if end < 0.15:  # gone without a close frame, echoes possibly in flight
            c.close(rst=rng.random() < 0.5)
            return
        read_echoes(c, e, "echo")
        if end < 0.25:  # half-close: the server must close (with or without a close frame)
            c.s.shutdown(socket.SHUT_WR)
            c.wait(lambda: False, "echo: EOF after our half-close")
        elif end < 0.35:
            c.send(frame(rng, OP_CLOSE))
            code = c.until_close("echo: close without a code")
            if code != 1000:
                raise Fail("echo: a close without a code answered %r, want 1000" % (code,))
            c.wait_eof("echo: EOF after the close")
        else:
            code = rng.choice((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                               rng.randint(3000, 4999)))
            reason = text_of(rng, rng.randint(0, 40))[:123]
            while True:  # cut at a character boundary
                try:
                    reason.decode()
                    break
                except UnicodeDecodeError:
                    reason = reason[:-1]
            c.send(frame(rng, OP_CLOSE, struct.pack("!H", code) + reason))
            got = c.until_close("echo: close %d" % code)
            if got != code:
                raise Fail("echo: close %d answered %r" % (code, got))
            c.wait_eof("echo: EOF after close %d" % code)
    finally:
        c.close()


def bad_frame(rng):
    """(frame bytes, the close code it must get, description)."""
    k = rng.randrange(14)
    if k == 0:
        return frame(rng, OP_TEXT, ascii_of(rng, rng.randint(0, 100)), mask=False), 1002, "unmasked frame"
    if k == 1:
        return frame(rng, OP_BINARY, b"x", rsv=rng.randint(1, 7)), 1002, "RSV bits"
    if k == 2:
        op = rng.choice((3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF))
        return frame(rng, op, b"r"), 1002, "reserved opcode %d" % op
    if k == 3:
        return frame(rng, OP_PING, b"p" * rng.randint(126, 200)), 1002, "ping over 125 bytes"
    if k == 4:
        op = rng.choice((OP_PING, OP_PONG, OP_CLOSE))
        return frame(rng, op, b"", fin=False), 1002, "fragmented control frame %d" % op
    if k == 5:
        return frame(rng, OP_CONT, b"c"), 1002, "continuation without a message"
    if k == 6:
        return (frame(rng, OP_TEXT, b"a", fin=False) + frame(rng, rng.choice((OP_TEXT, OP_BINARY)), b"b"),
                1002, "a new message inside a fragmented one")
    if k in (7, 8):
        bad = rng.choice((b"\xc0\xaf", b"\xed\xa0\x80", b"\xff", b"\xf5\x80\x80\x80", b"\x80", b"\xe2\x28\xa1"))
        body = text_of(rng, size_class(rng)) + bad
        return frame(rng, OP_TEXT, body, fin=(k == 7)), 1007, "invalid UTF-8 (%s)" % ("fin" if k == 7 else "fail-fast")
    if k == 9:
        return frame(rng, OP_TEXT, text_of(rng, rng.randint(0, 300)) + b"\xe2\x82"), 1007, "UTF-8 cut at FIN"
    if k == 10:
        return frame(rng, OP_CLOSE, b"\x03"), 1002, "a 1-byte close payload"
    if k == 11:
        code = rng.choice((0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535))
        return frame(rng, OP_CLOSE, struct.pack("!H", code)), 1002, "close code %d" % code
    if k == 12:
        return frame(rng, OP_CLOSE, struct.pack("!H", 1000) + b"ok \xff"), 1007, "a close reason not UTF-8"
    hdr = struct.pack("!BBQ", 0x82, 0xFF, MAX_FRAME + rng.randint(1, 1 << 20)) + rng.randbytes(4)
    return hdr + rng.randbytes(rng.randint(0, 100)), 1009, "a frame over --maxframesize"


def sc_invalid(rng, t, st):
    """A valid session, maybe some echo traffic, then one protocol violation: its close code."""
    e = Echo(rng, b"t%d" % st.thread)
    bad, want, desc = bad_frame(rng)
    if rng.random() < 0.3:  # the violation in the same send as the handshake
        c = Conn(rng, t.port)
        req, key = upgrade_request(rng.choice(t.ws_paths), key=base64.b64encode(rng.randbytes(16)).decode())
        pre = e.message(rng.randint(65, 2000)) if rng.random() < 0.5 else b""
        c.send(req + pre + bad, whole=True)
        st.b1 += len(pre) > 72
        c.upgrade_answer(key, "invalid (%s): handshake" % desc)
    else:
        c, hit = start_session(rng, t, e, "invalid (%s)" % desc)
        st.b1 += hit
        if rng.random() < 0.5:
            c.send(e.message())
        c.send(bad, whole=True)  # the violation last, in one piece: the server needs nothing after it
    try:
        got = c.until_close("invalid (%s): close %d" % (desc, want))
        if got != want:
            raise Fail("invalid (%s): got close %r, want %d" % (desc, got, want))
        if rng.random() < 0.5:
            c.send(frame(rng, OP_CLOSE, struct.pack("!H", want)))
        c.wait(lambda: False, "invalid (%s): EOF after the close" % desc)
    finally:
        c.close()


def bad_handshake(rng, t):
    """(request bytes, acceptable statuses, description)."""
    key = base64.b64encode(rng.randbytes(16)).decode()
    path = rng.choice(t.ws_paths)
    k = rng.randrange(9)
    if k == 0:
        junk = bytes(b for b in rng.randbytes(rng.randint(1, 3000)) if b not in b"\r\n")
        return b"X" + junk + b"\r\n\r\n", range(400, 600), "random bytes"
    if k == 1:
        return upgrade_request(path, version="8", key=key)[0], (426,), "version 8"
    if k == 2:
        return upgrade_request(path, method="POST", key=key)[0], (405,), "POST"
    if k == 3:
        return upgrade_request(path, key="short")[0], (400,), "a bad key"
    if k == 4:
        req = upgrade_request(path, key=key)[0].replace(b"Sec-WebSocket-Key: %s\r\n" % key.encode(), b"")
        return req, (400,), "no key"
    if k == 5:
        return upgrade_request(path, key=key, extra=["X-Big: " + "b" * 20000])[0], (431,), "a 20 KB header"
    if k == 6:
        return upgrade_request(path, key=key, extra=["X-%d: v" % i for i in range(120)])[0], (431,), "120 headers"
    if k == 7:
        return b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + rng.randbytes(40), (400,), "TLS bytes"
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", (400,),
            "a bad Content-Length")


def sc_bad_handshake(rng, t, st):
    """A malformed or refused handshake (frames may follow in the same send): the right status."""
    req, want, desc = bad_handshake(rng, t)
    c = Conn(rng, t.port)
    try:
        tail = frame(rng, OP_TEXT, text_of(rng, rng.randint(0, 500))) if rng.random() < 0.3 else b""
        c.send(req + tail, whole=rng.random() < 0.5)
        got = c.http_head("bad handshake (%s)" % desc)
        if got is None:
            if c.reset and desc in ("a 20 KB header", "120 headers", "random bytes"):
                return  # refused while our bytes were still coming: a reset may beat the answer
            raise Fail("bad handshake (%s): closed without an answer" % desc)
        if got[0] not in want:
            raise Fail("bad handshake (%s): status %d, want %s" % (desc, got[0], list(want)[:3]))
    finally:
        c.close()


def http_exchange(rng, t, st, upgrade_after):
    """Keep-alive GET/HEAD requests, pipelined or one by one; optionally an upgrade (with frames
    in the same send) pipelined behind them."""
    c = Conn(rng, t.port)
    try:
        reqs = []
        for _ in range(rng.randint(1, 5)):
            name = rng.choice(list(t.files) + ["/no-such-file"]) if t.files else "/nothing-here"
            method = rng.choice(("GET", "GET", "HEAD"))
            hdrs = "Host: 127.0.0.1\r\n"
            rng_req = None
            body = t.files.get(name)
            if body and rng.random() < 0.2:
                a = rng.randrange(len(body))
                b = rng.randrange(a, len(body))
                hdrs += "Range: bytes=%d-%d\r\n" % (a, b)
                rng_req = (a, b)
            reqs.append((("%s %s HTTP/1.1\r\n%s\r\n" % (method, name, hdrs)).encode(), name, method, rng_req))
        e = Echo(rng, b"t%d" % st.thread)
        key = base64.b64encode(rng.randbytes(16)).decode()
        tail = b""
        if upgrade_after:
            tail = upgrade_request(rng.choice(t.ws_paths), key=key)[0]
            if rng.random() < 0.7:
                tail += b"".join(e.message(rng.randint(65, 3000) if rng.random() < 0.5 else None)
                                 for _ in range(rng.randint(1, 2)))
        pipelined = rng.random() < 0.6
        if pipelined:
            c.send(b"".join(r[0] for r in reqs) + tail, whole=rng.random() < 0.5)
        closed = False
        for i, (raw, name, method, rng_req) in enumerate(reqs):
            if not pipelined:
                c.send(raw + (tail if i == len(reqs) - 1 else b""))
            what = "http %s %s" % (method, name)
            got = c.http_head(what)
            if got is None:
                raise Fail("%s: closed without an answer" % what)
            status, headers = got
            body = c.http_body(status, headers, method == "HEAD", what)
            want_body = t.files.get(name)
            if want_body is None:
                if status != 404:
                    raise Fail("%s: status %d, want 404" % (what, status))
            elif rng_req:
                a, b = rng_req
                want = want_body[a:b + 1] if method == "GET" else b""
                if status != 206 or body != want:
                    raise Fail("%s bytes=%d-%d: status %d, %d bytes, want 206 with %d"
                               % (what, a, b, status, len(body), len(want)))
            else:
                want = want_body if method == "GET" else b""
                if status != 200 or body != want:
                    raise Fail("%s: status %d, %d bytes, want 200 with %d" % (what, status, len(body), len(want)))
                if method == "HEAD" and headers.get("content-length") != str(len(want_body)):
                    raise Fail("%s: Content-Length %r, want %d" % (what, headers.get("content-length"), len(want_body)))
            if headers.get("connection", "").lower() == "close":
                closed = True
                break
        if closed or not upgrade_after:
            return
        st.b1 += bool(e.expected) and pipelined
        c.upgrade_answer(key, "upgrade after keep-alive requests")
        read_echoes(c, e, "upgrade after keep-alive requests")
        c.close(rst=rng.random() < 0.3)
    finally:
        c.close()


def sc_http(rng, t, st):
    """Plain keep-alive GET/HEAD requests (files, ranges, 404s)."""
    http_exchange(rng, t, st, upgrade_after=False)


def sc_http_then_upgrade(rng, t, st):
    """Keep-alive requests, then an upgrade and frames pipelined behind them."""
    http_exchange(rng, t, st, upgrade_after=True)


def sc_drop(rng, t, st):
    """Gone at a random point: inside the request, or inside a large frame, often with a reset."""
    e = Echo(rng, b"t%d" % st.thread)
    c = Conn(rng, t.port)
    req, key = upgrade_request(rng.choice(t.ws_paths), key=base64.b64encode(rng.randbytes(16)).decode())
    data = req + e.message(rng.randint(65536, 300000) if rng.random() < 0.5 else None)
    c.send(data[:rng.randint(0, len(data) - 1)])
    c.close(rst=rng.random() < 0.5)


SCENARIOS = [  # (name, function, weight)
    ("echo", sc_echo, 8),
    ("invalid frame", sc_invalid, 5),
    ("bad handshake", sc_bad_handshake, 3),
    ("http keep-alive", sc_http, 2),
    ("http then upgrade", sc_http_then_upgrade, 3),
    ("drop", sc_drop, 2),
]


class Stats:
    def __init__(self, thread):
        self.thread = thread
        self.runs = {name: 0 for name, _, _ in SCENARIOS}
        self.fails = {name: [] for name, _, _ in SCENARIOS}
        self.b1 = 0  # handshake and a frame over 64 bytes in one send()


def worker(idx, targets, deadline, stop, st):
    rng = random.Random(SEED * 1000 + idx)
    names = [s[0] for s in SCENARIOS]
    fns = {s[0]: s[1] for s in SCENARIOS}
    weights = [s[2] for s in SCENARIOS]
    i = 0
    while time.monotonic() < deadline and not stop.is_set():
        i += 1
        t = rng.choice(targets)
        name = rng.choices(names, weights)[0]
        st.runs[name] += 1
        try:
            fns[name](rng, t, st)
        except Fail as e:
            st.fails[name].append("thread %d run %d, %s: %s" % (idx, i, t.name, e))
        except Exception:
            st.fails[name].append("thread %d run %d, %s: %s" % (idx, i, t.name, traceback.format_exc()))
        if any(x.srv.proc.poll() is not None for x in targets):
            stop.set()


# ---------------------------------------------------------------- the run


def fresh_echo(t):
    try:
        c = RawClient(t.port, path=t.ws_paths[0])
        c.send_text("fresh after chaos " * 10)
        got = c.recv()
        c.close()
        return got == (OP_TEXT, b"fresh after chaos " * 10)
    except (OSError, Closed, AssertionError):
        return False


def sanitizer_lines(text):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "ERROR: AddressSanitizer" in line or "runtime error:" in line or "LeakSanitizer" in line:
            return lines[max(0, i - 2):i + 25]
    return []


work = tempfile.mkdtemp(prefix="wsbchaos")
atexit.register(shutil.rmtree, work, True)
WWW, APPS = os.path.join(work, "www"), os.path.join(work, "apps")
os.makedirs(os.path.join(WWW, "sub"))
os.makedirs(APPS)
files = {"/small.txt": _master.randbytes(_master.randint(0, 2000)), "/blob.bin": _master.randbytes(200000),
         "/index.html": b"<h1>chaos</h1>\n", "/sub/page.html": b"<p>sub</p>\n" * 50}
for name, data in files.items():
    with open(WWW + name, "wb") as f:
        f.write(data)
files["/"] = files["/index.html"]
with open(os.path.join(APPS, "echo.sh"), "w") as f:
    f.write("#!/bin/sh\nexec cat\n")
os.chmod(os.path.join(APPS, "echo.sh"), 0o755)

common = ["--maxframesize=%d" % MAX_FRAME]
with Server("cat", flags=common) as cat_srv, \
        Server(flags=common + ["--staticdir=" + WWW, "--dir=" + APPS]) as dir_srv:
    targets = [Target("cat", cat_srv, ["/", "/chaos", "/a/b?c=d"], {}),
               Target("dir+static", dir_srv, ["/echo.sh", "/echo.sh/more", "/echo.sh?q=1"], files)]
    stop = threading.Event()
    stats = [Stats(i) for i in range(THREADS)]
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i, targets, t0 + SECONDS, stop, stats[i]), daemon=True)
               for i in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(SECONDS + 10 * BOUND)
    hung = [th.name for th in threads if th.is_alive()]
    elapsed = time.monotonic() - t0

    total = sum(sum(s.runs.values()) for s in stats)
    b1 = sum(s.b1 for s in stats)
    diag("%d scenarios in %.1f s; %d sent the handshake and a frame over 64 bytes in one send()"
         % (total, elapsed, b1))
    for name, _, _ in SCENARIOS:
        runs = sum(s.runs[name] for s in stats)
        fails = [f for s in stats for f in s.fails[name]]
        ok(not fails, "seed %d: %s: %d runs, %d failed" % (SEED, name, runs, len(fails)))
        for f in fails[:5]:
            diag("  " + f)
    ok(not hung, "every client thread finished (seed %d)" % SEED, hung)
    ok(total >= 5 * THREADS or stop.is_set(), "seed %d: at least %d scenarios ran" % (SEED, 5 * THREADS), total)
    ok(b1 > 0 or stop.is_set(), "the handshake and a frame over 64 bytes went in one send() (%d times)" % b1)
    for t in targets:
        up = t.srv.proc.poll() is None
        ok(up, "seed %d: the %s server is still running" % (SEED, t.name), t.srv.proc.returncode)
        ok(up and fresh_echo(t), "seed %d: the %s server echoes on a fresh connection" % (SEED, t.name))
    report = sanitizer_lines(cat_srv.log_text())
    if report:
        diag("seed %d: the server log has a sanitizer report:" % SEED)
        for line in report:
            diag("  " + line)
    failed_any = any(s.fails[n] for s in stats for n in s.fails) or hung or report
    if failed_any:
        diag("replay with CHAOS_SEED=%d CHAOS_SECONDS=%g" % (SEED, SECONDS))
done()
