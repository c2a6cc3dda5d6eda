"""permessage-deflate with python3-websockets (compression on by default) and a raw client.

Echoes through cat of text and binary messages from 0 B to 16 MiB, byte-exact, in --binary and in
text (line) mode; every parameter combination websockets can offer; what goes on the wire (RSV1
on compressed server frames, none under the threshold, none on control frames); --deflate=off and
--deflate-params.
"""
import asyncio
import random
import zlib

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from wsbtest import *

SIZES = [0, 1, 63, 64, 1000, 65535, 65536, 1 << 20, 16 << 20]


def payload(n, seed):
    """Compressible but not trivial: JSON-like records with random numbers."""
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += b'{"id":%d,"name":"item-%d","tags":["a","b"],"v":%f}\n' % (
            rnd.randrange(10**6), rnd.randrange(1000), rnd.random())
    return bytes(out[:n])


async def echo_binary(port):
    async with websockets.connect("ws://127.0.0.1:%d/" % port, max_size=None) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        ok(ext.startswith("permessage-deflate"), "deflate is negotiated by default", ext)
        good = True
        for n in SIZES:
            data = payload(n, n) if n % 2 == 0 else random.Random(n).randbytes(n)
            await ws.send(data)
            got = b""
            while len(got) < n:
                m = await asyncio.wait_for(ws.recv(), 60)
                got += m
            if got != data:
                good = False
                diag("%d bytes: got %d back" % (n, len(got)))
        ok(good, "--binary: %s bytes, compressible and random, echoed byte-exact" % SIZES)
        await ws.close()
    ok(ws.close_code == 1000, "closed with 1000", ws.close_code)


async def echo_text(port, offer=None, sizes=(0, 1, 100, 5000, 100000, 1 << 20)):
    kw = {"extensions": [offer], "compression": None} if offer else {}
    async with websockets.connect("ws://127.0.0.1:%d/" % port, max_size=None, **kw) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        lines = [payload(n, n).replace(b"\n", b" ").decode() for n in sizes]
        lines.append("héllo wörld ✓ 😀 " * 1000)
        for line in lines:
            await ws.send(line)
        got = [await asyncio.wait_for(ws.recv(), 60) for _ in lines]
        await ws.close()
        return ext, got == lines


def raw_compressed(port, flags_desc):
    """Wire-level checks with a raw client offering the default."""
    c = RawClient(port, extra=["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
    ok("permessage-deflate" in c.headers.get("sec-websocket-extensions", ""), "raw client: agreed")
    big = b"abcdefgh" * 1000
    # a client message compressed with no context takeover, as the server asked
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    comp = co.compress(big) + co.flush(zlib.Z_SYNC_FLUSH)
    assert comp.endswith(b"\x00\x00\xff\xff")
    c.send_frame(OP_TEXT, comp[:-4], rsv=4)
    b0 = None
    c._need(2)
    b0 = c.buf[0]
    fin, op, p = c.recv_frame()
    ok(b0 & 0x40 and op == OP_TEXT and fin, "a long line comes back compressed (RSV1 set)", hex(b0))
    text = zlib.decompressobj(-15).decompress(p + b"\x00\x00\xff\xff")
    ok(text == big, "it inflates to the line", len(text))
    ok(len(p) < len(big) // 10, "and is much smaller than the line", len(p))
    c.send_text("short")
    c._need(2)
    b0 = c.buf[0]
    fin, op, p = c.recv_frame()
    ok(not (b0 & 0x40) and p == b"short", "a line under the threshold goes uncompressed", (hex(b0), p))
    c.send_frame(OP_PING, b"p")
    c._need(2)
    b0 = c.buf[0]
    fin, op, p = c.recv_frame()
    ok(op == OP_PONG and not (b0 & 0x70), "control frames are never compressed", hex(b0))
    # an uncompressed client message inside a deflate session is fine
    c.send_text("plain " * 30)
    op, p = c.recv()
    ok(op == OP_TEXT, "an uncompressed message is accepted too")
    c.close()


offers = []
for snct in (False, True):
    for cnct in (False, True):
        for smwb in (None, 8, 10, 15):
            for cmwb in (None, True, 9, 15):
                offers.append(ClientPerMessageDeflateFactory(
                    server_no_context_takeover=snct, client_no_context_takeover=cnct,
                    server_max_window_bits=smwb, client_max_window_bits=cmwb))

with Server("cat", flags=["--binary"]) as srv:
    asyncio.run(echo_binary(srv.port))

with Server("cat") as srv:
    ext, same = asyncio.run(echo_text(srv.port))
    ok(same, "text mode: lines from 0 B to 1 MiB and UTF-8 echoed exactly", ext)
    bad = []
    for o in offers:
        ext, same = asyncio.run(echo_text(srv.port, o, (0, 100, 5000)))
        if not same or not ext.startswith("permessage-deflate"):
            bad.append((vars(o), ext))
    ok(not bad, "all %d offers websockets can make are agreed and echo exactly" % len(offers), bad[:2])
    raw_compressed(srv.port, "")

with Server("cat", flags=["--deflate=off"]) as srv:
    c = RawClient(srv.port, extra=["Sec-WebSocket-Extensions: permessage-deflate"])
    ok("sec-websocket-extensions" not in c.headers, "--deflate=off: no extension in the 101", c.headers)
    c.send_frame(OP_TEXT, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=4)
    ok(c.recv_close()[0] == 1002, "--deflate=off: RSV1 is a protocol error (1002)")

with Server("cat", flags=["--deflate-params=server_max_window_bits=10,threshold=0,level=9,"
                          "client_context_takeover"]) as srv:
    c = RawClient(srv.port, extra=["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
    ext = c.headers.get("sec-websocket-extensions", "")
    ok(ext == "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; "
       "client_max_window_bits=15", "--deflate-params shape the answer", ext)
    c.send_text("a")
    c._need(2)
    b0 = c.buf[0]
    fin, op, p = c.recv_frame()
    ok(b0 & 0x40 and zlib.decompressobj(-10).decompress(p + b"\x00\x00\xff\xff") == b"a",
       "threshold=0: even one byte is compressed", hex(b0))
    # with client context takeover the client may refer to an earlier message
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    for i in range(3):
        m = co.compress(b"shared context 1") + co.flush(zlib.Z_SYNC_FLUSH)
        c.send_frame(OP_TEXT, m[:-4], rsv=4)
        op, p = c.recv()
        got = zlib.decompressobj(-10).decompress(p + b"\x00\x00\xff\xff")
        ok(got == b"shared context 1", "client_context_takeover: message %d inflates with the kept window" % i, got)
    c.close()

with Server("cat", flags=["--deflate-params=nonsense"], expect_exit=1, wait_listen=False) as srv:
    srv.proc.wait(10)
    ok("--deflate-params" in srv.log_text(), "a bad --deflate-params is refused at start", srv.log_text()[-200:])
done()
