"""--passstderr: stdout and stderr lines reach the client as JSON text messages
{"stream":"stdout"|"stderr","data":"..."}; long lines are fragmented messages that never
interleave and never cost the server memory in proportion to their length; --binary keeps
stdout raw (binary messages) and sends stderr lines as JSON text."""
import json
import sys

from wsbtest import *

time_limit(240)
PY = sys.executable


def messages(c, limit=100000):
    """Every message up to the close frame: [(opcode, payload, nframes)], close code."""
    out = []
    while len(out) < limit:
        fin, op, payload = c.recv_frame()
        if op == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            return out, code
        if op >= 8:
            continue
        parts, n = [payload], 1
        while not fin:
            fin, cop, p = c.recv_frame()
            if cop >= 8:
                continue
            if cop != OP_CONT:
                raise AssertionError("a new message (opcode %d) inside a fragmented one" % cop)
            parts.append(p)
            n += 1
        out.append((op, b"".join(parts), n))
    return out, None


def decoded(msgs):
    """[(stream, data)] of text messages; None when one is not the expected JSON object."""
    res = []
    for op, p, _ in msgs:
        if op != OP_TEXT:
            return None
        try:
            o = json.loads(p.decode("utf-8"))
        except ValueError:
            return None
        if sorted(o) != ["data", "stream"]:
            return None
        res.append((o["stream"], o["data"]))
    return res


# ---------------------------------------------------------------- short lines, escaping
script = r'''
import os, sys
os.write(1, b"out one\n")
os.write(2, b"err one\r\n")
os.write(2, b'quote" back\\ tab\t nul\x00 bell\x07 del\x7f\n')
os.write(1, b"bad \xff\xfe utf8 \xe2\x82\n")
os.write(2, b"caf\xc3\xa9 \xf0\x9f\x98\x80\n")
os.write(1, b"no newline at the end")
'''
with Server(PY, "-c", script, flags=["--passstderr"]) as srv:
    c = RawClient(srv.port)
    msgs, code = messages(c)
    got = decoded(msgs)
    ok(got is not None, "every message is a JSON text object with stream and data", msgs)
    got = got or []
    outs = [d for st, d in got if st == "stdout"]
    errs = [d for st, d in got if st == "stderr"]
    ok(outs == ["out one", "bad \ufffd\ufffd utf8 \ufffd", "no newline at the end"],
       "stdout lines in order; invalid UTF-8 replaced; the last line without newline delivered", outs)
    ok(errs == ["err one", 'quote" back\\ tab\t nul\x00 bell\x07 del\x7f', "caf\u00e9 \U0001F600"],
       "stderr lines in order, \\r\\n stripped, quotes, backslashes and control bytes escaped", errs)
    raw = b"".join(p for _, p, _ in msgs)
    ok(b"\\u0000" in raw and b"\\u0007" in raw and b"\\u007f" in raw and b"\\t" in raw,
       "control bytes are escaped as \\uXXXX (never raw in the JSON)")
    ok(any(p == b'{"stream":"stdout","data":"out one"}' for _, p, _ in msgs),
       "the exact websocketd form {\"stream\":\"stdout\",\"data\":\"...\"}")
    ok(code == 1000, "close 1000 after exit 0", code)
    ok(wait_for(lambda: re.search(r"ERROR\s*\| \[conn \d+\] stderr: err one", srv.log_text())),
       "stderr lines are still logged at error level")

# ---------------------------------------------------------------- long lines on both streams
N_OUT = 3 * 1024 * 1024 + 17
N_ERR = 1024 * 1024 + 5
script = r'''
import os
def w(fd, b):
    while b:
        n = os.write(fd, b)
        b = b[n:]
chunk = b"o" * 65536
for i in range(48):
    w(1, chunk)
    w(2, b"short err %d\n" % i)
w(1, b"o" * 17 + b"\n")
w(2, b"e" * (1024 * 1024 + 5) + b"\n")
w(1, b"after\n")
w(2, b"last err\n")
'''
with Server(PY, "-c", script, flags=["--passstderr"]) as srv:
    c = RawClient(srv.port, timeout=60)
    msgs, code = messages(c)
    got = decoded(msgs)
    ok(got is not None, "long lines: every message is one well-formed JSON object (no interleaving)")
    got = got or []
    outs = [d for st, d in got if st == "stdout"]
    errs = [d for st, d in got if st == "stderr"]
    ok(len(outs) == 2 and outs[0] == "o" * N_OUT and outs[1] == "after",
       "a 3 MiB stdout line arrives whole, then the next line", [len(x) for x in outs])
    ok(errs == ["short err %d" % i for i in range(48)] + ["e" * N_ERR, "last err"],
       "48 short stderr lines, a 1 MiB stderr line, the last one, in order",
       [len(x) for x in errs][:5])
    frames = [n for op, p, n in msgs if len(p) > 1024 * 1024]
    ok(len(frames) == 2 and min(frames) >= 4, "the long lines went out as fragmented messages", frames)
    ok(code == 1000, "close 1000", code)

# ---------------------------------------------------------------- memory: a 64 MiB stderr line
script = r'''
import os
b = b"x" * 65536
for i in range(1024):
    n = 0
    while n < len(b):
        n += os.write(2, b[n:])
os.write(2, b"\n")
os.write(1, b"done\n")
'''
with Server(PY, "-c", script, flags=["--passstderr"]) as srv:
    base = rss_kib(srv.pid)
    c = RawClient(srv.port, timeout=60)
    total, peak, nframes, first, last = 0, 0, 0, b"", b""
    done_seen = False
    while True:
        fin, op, p = c.recv_frame()
        if op == OP_CLOSE:
            break
        if p.startswith(b'{"stream":"stdout"'):
            done_seen = p == b'{"stream":"stdout","data":"done"}'
            continue
        nframes += 1
        if nframes == 1:
            first = p[:40]
        total += len(p)
        last = (last + p)[-10:]
        if nframes % 64 == 0:
            peak = max(peak, rss_kib(srv.pid) - base)
    want = len('{"stream":"stderr","data":"') + 64 * 1024 * 1024 + 2
    ok(total == want and first.startswith(b'{"stream":"stderr","data":"xxx') and last.endswith(b'xx"}'),
       "a 64 MiB stderr line arrives as one JSON message (prefix first, suffix last)", (total, first, last), want)
    ok(done_seen, "stdout's line follows it")
    diag("server RSS growth during the 64 MiB line: %d KiB over %d frames" % (peak, nframes))
    if SANITIZED:
        diag("sanitized build: ASan's quarantine keeps freed pieces, RSS is not checked")
    else:
        ok(peak < 24 * 1024, "server memory stays bounded (< 24 MiB growth)", peak)

# ---------------------------------------------------------------- --binary --passstderr
script = r'''
import os, time
os.write(1, b"\x00\xff raw \xfe\n")
os.write(2, b"an error\n")
'''
with Server(PY, "-c", script, flags=["--passstderr", "--binary"]) as srv:
    c = RawClient(srv.port)
    msgs, code = messages(c)
    bins = b"".join(p for op, p, _ in msgs if op == OP_BINARY)
    texts = [p for op, p, _ in msgs if op == OP_TEXT]
    ok(bins == b"\x00\xff raw \xfe\n", "--binary: stdout stays raw bytes in binary messages", bins)
    ok(texts == [b'{"stream":"stderr","data":"an error"}'], "--binary: stderr lines are JSON text", texts)
    ok(code == 1000, "close 1000", code)

# ---------------------------------------------------------------- program keeps stderr open: gave up, closed
with Server("/bin/sh", "-c", "echo hi; (sleep 30 >&2 &) ; exit 0", flags=["--passstderr"]) as srv:
    c = RawClient(srv.port)
    msgs, code = messages(c)
    ok(decoded(msgs) == [("stdout", "hi")] and code == 1000,
       "a grandchild holding stderr does not hold the session", (msgs, code))
done()
