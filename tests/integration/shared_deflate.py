"""--shared with permessage-deflate: clients that agreed it get compressed frames of the one
output; clients with equal parameters and no context takeover share one compressed copy, the others
are compressed per client (context takeover: their own window), clients without it get the
uncompressed frames. python3-websockets clients (compression on by default, and off) check the
extension agreed and byte-exact delivery; a raw client checks RSV1 on the wire and inflates."""
import asyncio
import random
import zlib

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from wsbtest import *

SCALE = 3 if SANITIZED else 1


def record_line(n, seed):
    """A compressible line of n bytes (no '\\n')."""
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += b'{"id":%d,"name":"item-%d","v":%f} ' % (rnd.randrange(10**6), rnd.randrange(1000),
                                                        rnd.random())
    return out[:n].decode()


# an empty line, under the threshold, over it, over a hub frame (16 KiB), over a pool buffer,
# and UTF-8 that a frame boundary may cut
LINES = [""] + [record_line(n, n) for n in (10, 63, 64, 1000, 20000, 100000)] + ["héllo ✓ 😀 " * 3000]


def raw_member(port, offer):
    c = RawClient(port, extra=["Sec-WebSocket-Extensions: " + offer] if offer else [])
    return c


def recv_frame_b0(c):
    c._need(2)
    b0 = c.buf[0]
    return (b0,) + c.recv_frame()


def raw_message(c, window, inflater=None):
    """One message from raw client c: (first frame's RSV1, text). inflater: the client's
    decompressor kept across messages (context takeover), else a new one per message."""
    b0, fin, op, p = recv_frame_b0(c)
    rsv1 = bool(b0 & 0x40)
    data = p
    while not fin:
        b, fin, op2, p = recv_frame_b0(c)
        if b & 0x40:
            raise AssertionError("RSV1 on a continuation frame")
        data += p
    if rsv1:
        d = inflater or zlib.decompressobj(-window)
        data = d.decompress(data + b"\x00\x00\xff\xff")
    return rsv1, len(p), data.decode()


async def clients_matrix(port):
    plain_kw = {"compression": None}
    offers = {
        "default": {},  # websockets' default offer: client_max_window_bits
        "default2": {},
        "window10": {"extensions": [ClientPerMessageDeflateFactory(server_max_window_bits=10)],
                     "compression": None},
        "plain": plain_kw,
    }
    conns = {name: await websockets.connect("ws://127.0.0.1:%d/" % port, max_size=None, max_queue=None,
                                            **kw) for name, kw in offers.items()}
    raw = raw_member(port, "permessage-deflate")
    raw_plain = raw_member(port, None)
    exts = {name: ws.response_headers.get("Sec-WebSocket-Extensions", "") for name, ws in conns.items()}
    ok(exts["default"].startswith("permessage-deflate") and "server_no_context_takeover" in exts["default"],
       "a websockets client agrees deflate, the server without context takeover", exts["default"])
    ok("server_max_window_bits=10" in exts["window10"], "another agrees a 10-bit window", exts["window10"])
    ok(exts["plain"] == "", "a client without compression agrees nothing", exts["plain"])
    ok("permessage-deflate" in raw.headers.get("sec-websocket-extensions", ""), "the raw client agrees it")

    for line in LINES:
        await conns["plain"].send(line)
    async def recv_all(ws):
        return [await asyncio.wait_for(ws.recv(), 30 * SCALE) for _ in LINES]
    got = await asyncio.gather(*(recv_all(ws) for ws in conns.values()))
    for name, g in zip(conns, got):
        ok(g == LINES, "%s: every line (0 B to 100 kB, UTF-8) arrives byte-exact" % name,
           [len(x) for x in g], [len(x) for x in LINES])

    msgs = [raw_message(raw, 15) for _ in LINES]
    ok([m[2] for m in msgs] == LINES, "raw client: every line inflates to what was printed")
    ok([m[0] for m in msgs] == [len(l.encode()) >= 64 for l in LINES],
       "RSV1 exactly on the lines at or over the threshold (64 B)", [m[0] for m in msgs])
    plain_msgs = [raw_plain.recv() for _ in LINES]
    ok([p[1].decode() for p in plain_msgs] == LINES, "a raw client without the offer gets them uncompressed")

    await asyncio.gather(*(ws.close() for ws in conns.values()))
    raw.close()
    raw_plain.close()


def takeover(port):
    """server_context_takeover: each client is compressed with its own window, so a line printed
    twice comes back much smaller the second time, and inflates with the kept context."""
    a = raw_member(port, "permessage-deflate")
    b = raw_member(port, "permessage-deflate")
    ext = a.headers.get("sec-websocket-extensions", "")
    ok("server_no_context_takeover" not in ext, "server_context_takeover: the server keeps its context", ext)
    line = record_line(5000, 7)
    a.send_text(line)
    a.send_text(line)
    for c in (a, b):
        inf = zlib.decompressobj(-15)
        m1 = raw_message(c, 15, inf)
        m2 = raw_message(c, 15, inf)
        ok(m1[0] and m2[0] and m1[2] == line and m2[2] == line,
           "each client inflates both lines with one context kept across messages")
        ok(m2[1] < m1[1] // 4, "the second copy refers to the first (context takeover): %d vs %d bytes"
           % (m2[1], m1[1]))
    a.close()
    b.close()


async def binary_shared(port):
    conns = [await websockets.connect("ws://127.0.0.1:%d/" % port, max_size=None, max_queue=None)
             for _ in range(3)]
    data = record_line(300000, 3).encode() + random.Random(4).randbytes(100000)
    await conns[0].send(data)
    good = True
    for ws in conns:
        got = b""
        while len(got) < len(data):
            got += await asyncio.wait_for(ws.recv(), 30 * SCALE)
        good = good and got == data
    ok(good, "--binary --shared: 400 kB (compressible, then random) reach all 3 clients byte-exact")
    await asyncio.gather(*(ws.close() for ws in conns))


time_limit(240)
with Server("cat", flags=["--shared"]) as srv:
    asyncio.run(clients_matrix(srv.port))
shares = [int(n) for n in re.findall(r"compressed frames shared by (\d+) clients alike", srv.log_text())]
ok(shares == [1, 2, 1, 3], "clients with equal parameters share one compressed copy (2 copies for 4 clients)",
   shares)
with Server("cat", flags=["--shared", "--deflate-params=server_context_takeover"]) as srv:
    takeover(srv.port)
ok(srv.log_text().count("compressed for this client alone") == 2, "with context takeover: per client")
with Server("cat", flags=["--shared", "--binary"]) as srv:
    asyncio.run(binary_shared(srv.port))
done()
