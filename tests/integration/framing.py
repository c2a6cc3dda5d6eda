"""--framing=json|length with python3-websockets: messages that keep their newlines, text and
binary of 0 B to 16 MiB round-trip byte-exact (with and without permessage-deflate), bad output
from the program closes 1011 with a reason and a log line naming the connection, and the
options that cannot go with a framing mode are refused at startup."""
import asyncio
import json
import random
import subprocess
import sys

import websockets

from wsbtest import *

time_limit(900 if SANITIZED else 300)
PY = sys.executable
SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]
CHARS = ["a", "\x00", "\n", "\r", '"', "\\", "\x7f", "é", "€", "\u2028", "😀", "𝄞"]

# json.loads a line, print json.dumps of it: the standard library is all a program needs
json_echo = scratch("json_echo.py")
with open(json_echo, "w") as f:
    f.write("import json, sys\nfor line in sys.stdin:\n"
            "    print(json.dumps(json.loads(line)), flush=True)\n")
LENGTH_ECHO = os.path.join(EXAMPLES, "length_echo.py")


def random_text(rng, nbytes):
    """A str whose UTF-8 is exactly nbytes long, with NUL, controls, quotes and non-BMP."""
    parts, n = [], 0
    while nbytes - n >= 4:
        c = rng.choice(CHARS)
        parts.append(c)
        n += len(c.encode())
    parts.append("x" * (nbytes - n))
    return "".join(parts)


async def round_trips(port, label, rng, compression):
    async with websockets.connect("ws://127.0.0.1:%d/" % port, max_size=None, compression=compression,
                                  ping_interval=None) as ws:
        bad = []
        for size in SIZES:
            for msg in (random_text(rng, size), rng.randbytes(size)):
                await ws.send(msg)
                got = await asyncio.wait_for(ws.recv(), 120)
                if got != msg:
                    bad.append((type(msg).__name__, size, type(got).__name__, len(got)))
        ok(not bad, "%s: text and binary of %s bytes round-trip byte-exact" % (label, SIZES), bad)
        # a message the client sends in fragments is one message for the program
        await ws.send(["one ", "message ", "in ", "fragments 😀"])
        got = await asyncio.wait_for(ws.recv(), 10)
        ok(got == "one message in fragments 😀", "%s: a fragmented message is one message" % label, got)
        await ws.close()


async def pretty_document(port):
    doc = json.dumps({"name": "wsbridge", "modes": ["lines", "json", "length"]}, indent=2)
    ok(doc.count("\n") >= 2, "the document has three lines or more")
    async with websockets.connect("ws://127.0.0.1:%d/" % port) as ws:
        await ws.send(doc)
        await ws.send("next")
        got = [await asyncio.wait_for(ws.recv(), 10) for _ in range(2)]
        ok(got == [doc, "next"], "a pretty-printed JSON document arrives as one message", got)
        ok(json.loads(got[0])["modes"][2] == "length", "and JSON.parse-able as it is")


async def closed_by(port):
    """Messages until the close: (messages, code, reason)."""
    async with websockets.connect("ws://127.0.0.1:%d/" % port) as ws:
        msgs = await recv_until_close(ws)
    return msgs, ws.close_code, ws.close_reason


def bad_output(flags, script, want_msgs, want_reason, label):
    with Server("/bin/sh", "-c", script, flags=flags) as srv:
        msgs, code, reason = asyncio.run(closed_by(srv.port))
        ok(msgs == want_msgs, "%s: what came before it was sent" % label, msgs, want_msgs)
        ok(code == 1011, "%s: close 1011" % label, code)
        ok(reason == want_reason, "%s: the reason says what and where" % label, reason, want_reason)
        ok(re.search(r"ERROR +\| \[conn \d+\] " + re.escape(want_reason), srv.log_text()),
           "%s: an error line with the connection id" % label)
        ok(wait_for(lambda: children(srv.pid) == [], timeout=20), "%s: the program is stopped" % label,
           children(srv.pid))
        ok(wait_for(lambda: re.search(r"close=1011 .*end=bad-output", srv.log_text()), timeout=10),
           "%s: end=bad-output in the access line" % label)


rng = random.Random(1212)
with Server(PY, json_echo, flags=["--framing=json"]) as srv:
    asyncio.run(pretty_document(srv.port))
    asyncio.run(round_trips(srv.port, "json, deflate", rng, "deflate"))
with Server(LENGTH_ECHO, flags=["--framing=length"]) as srv:
    asyncio.run(round_trips(srv.port, "length, deflate", rng, "deflate"))
    asyncio.run(round_trips(srv.port, "length, no deflate", rng, None))

# the program writes JSON on its own: a string with newlines is one message, binary too
with Server("/bin/sh", "-c", r"""printf '"line 1\\nline 2\\nline 3"\n\n{"binary":"AAEC/w=="}\n  "\\u00e9\\ud83d\\ude00" \r\n"last, no newline"'""",
            flags=["--framing=json"]) as srv:
    msgs, code, _ = asyncio.run(closed_by(srv.port))
    ok(msgs == ["line 1\nline 2\nline 3", b"\x00\x01\x02\xff", "é😀", "last, no newline"],
       "json from the program: escapes, binary, blanks, the last line without a newline", msgs)
    ok(code == 1000, "then a normal close", code)

# length records from the program: text split over records, binary, empty
records = "\\201\\000\\000\\000\\002\\303\\251\\001\\000\\000\\000\\001!\\002\\000\\000\\000\\003a\\000b\\001\\000\\000\\000\\000"
with Server("/bin/sh", "-c", "printf '%s'" % records, flags=["--framing=length"]) as srv:
    msgs, code, _ = asyncio.run(closed_by(srv.port))
    ok(msgs == ["é!", b"a\x00b", ""], "length records from the program: MORE, binary, empty", msgs)
    ok(code == 1000, "then a normal close", code)

bad_output(["--framing=json"], "echo '\"ok\"'; echo 'hello world'; sleep 30", ["ok"],
           "bad output from program: not a JSON string or {\"binary\":BASE64} at line 2 byte 0", "json: a bare word")
bad_output(["--framing=json"], "printf '\"half'; sleep 0.2", [],
           "bad output from program: a value cut short by the end of output at line 1 byte 5", "json: cut at EOF")
bad_output(["--framing=json"], "printf '{\"binary\":\"AB=C\"}\\n'; sleep 30", [],
           "bad output from program: invalid base64 at line 1 byte 14", "json: bad base64")
bad_output(["--framing=json"], "printf '\"\\\\ud800\"\\n'; sleep 30", [],
           "bad output from program: a lone surrogate at line 1 byte 7", "json: a lone surrogate")
bad_output(["--framing=length"], "printf '\\001\\000\\000\\000\\001x\\007'; sleep 30", ["x"],
           "bad output from program: an unknown record type at byte 6", "length: type 7")
bad_output(["--framing=length"], "printf '\\002\\000\\000\\001\\000abc'", [],
           "bad output from program: a record cut short by the end of output at byte 8", "length: cut at EOF")
bad_output(["--framing=length"], "printf '\\001\\000\\000\\000\\002\\303\\050'; sleep 30", [],
           "bad output from program: invalid UTF-8 in a text record at byte 6", "length: invalid UTF-8")

for flags, want in ((["--framing=xml"], "--framing must be lines, json or length, not 'xml'"),
                    (["--framing=json", "--binary"], "--framing=json carries binary messages itself: drop --binary"),
                    (["--framing=length", "--passstderr"], "--framing=length frames stdout only"),
                    (["--framing=json", "--pty"], "--framing=json cannot be used with --pty"),
                    (["--framing=length", "--shared=addressed"],
                     "--framing=length cannot be used with --shared=addressed")):
    p = subprocess.run([WSBRIDGE, "--port=0"] + flags + ["cat"], capture_output=True, text=True, timeout=30)
    ok(p.returncode != 0 and want in p.stderr, "refused: %s" % " ".join(flags), (p.returncode, p.stderr))
p = subprocess.run([WSBRIDGE, "--help"], capture_output=True, text=True, timeout=30)
ok("--framing=MODE" in p.stdout, "--help lists --framing")
done()
