#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/NAME/).

Each file starts with the control byte the target reads first (role,
pauses, piece size), then the input. Run from the repository root; the
output is committed, so this only needs rerunning when seeds change.
"""
import os
import struct

MASK = b"\x37\xfa\x21\x3d"


def frame(op, payload=b"", fin=True, masked=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    if n < 126:
        hdr = bytes([b0, (0x80 if masked else 0) | n])
    elif n < 65536:
        hdr = bytes([b0, (0x80 if masked else 0) | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, (0x80 if masked else 0) | 127]) + struct.pack(">Q", n)
    if not masked:
        return hdr + payload
    return hdr + MASK + bytes(c ^ MASK[i % 4] for i, c in enumerate(payload))


def write(name, seeds):
    d = os.path.join("tests", "fuzz", "corpus", name)
    os.makedirs(d, exist_ok=True)
    for key, data in seeds.items():
        with open(os.path.join(d, key), "wb") as f:
            f.write(data)


frames = {
    "text": frame(1, b"Hello"),
    "binary-16bit": frame(2, bytes(range(256)) * 2),
    "binary-64bit": frame(2, b"x" * 65536),
    "fragmented": frame(1, b"Hel", fin=False) + frame(9, b"p") + frame(0, b"lo"),
    "ping-pong": frame(9, b"Hello") + frame(10, b"Hello"),
    "close-1000": frame(8, b"\x03\xe8bye"),
    "close-empty": frame(8),
    "close-1byte": frame(8, b"\x03"),
    "close-bad-code": frame(8, b"\x03\xed"),
    "close-bad-utf8": frame(8, b"\x03\xe8\xff"),
    "unmasked": frame(1, b"hi", masked=False),
    "rsv1": frame(1, b"x", rsv=4),
    "rsv2": frame(1, b"x", rsv=2),
    "opcode-3": frame(3, b"x"),
    "opcode-b": frame(0xB, b"x"),
    "long-ping": bytes([0x89, 0xFE, 0x00, 0x7E]) + MASK + b"p" * 126,
    "fragmented-ping": frame(9, b"p", fin=False),
    "top-bit-length": bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) + MASK,
    "continuation-alone": frame(0, b"x"),
    "new-message-inside": frame(1, b"a", fin=False) + frame(1, b"b"),
    "utf8-split": frame(1, b"\xe2\x82", fin=False) + frame(0, b"\xac"),
    "utf8-bad": frame(1, b"ok\xc0\xaf"),
    "utf8-surrogate": frame(1, b"\xed\xa0\x80"),
    "utf8-truncated": frame(1, b"end\xe2\x82"),
    "big-for-limit": frame(2, b"y" * 100),
    "many-small": b"".join(frame(1, bytes([65 + i % 26])) for i in range(40)),
    "data-after-close": frame(8, b"\x03\xe8") + frame(1, b"late"),
}

# control byte: bit0 role (0 server), bit1 pause (frame) / limit (stream), rest piece size
seeds = {}
for k, v in frames.items():
    seeds[k] = b"\x00" + v
    if len(v) < 4096:
        seeds[k + "-bytewise"] = b"\x02" + v
server_frames = {
    "server-text": b"\x01" + frame(1, b"Hello", masked=False),
    "server-masked": b"\x01" + frame(1, b"Hello"),
    "server-close": b"\x01" + frame(8, b"\x03\xe8", masked=False),
}
seeds.update(server_frames)
write("frame", seeds)
write("stream", seeds)

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
good = (b"GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY + b"\r\n"
        b"Origin: http://example.com\r\nSec-WebSocket-Version: 13\r\n\r\n")
hs = {
    "good": good,
    "good-pipelined": good + frame(1, b"Hello"),
    "plain-get": b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n",
    "post-upgrade": good.replace(b"GET", b"POST", 1),
    "http10": good.replace(b"HTTP/1.1", b"HTTP/1.0", 1),
    "version-8": good.replace(b"Version: 13", b"Version: 8"),
    "no-key": good.replace(b"Sec-WebSocket-Key: " + KEY + b"\r\n", b""),
    "short-key": good.replace(KEY, b"dGhlIHNhbXBsZSBub25jZQ="),
    "two-hosts": good.replace(b"Host:", b"Host: b\r\nHost:", 1),
    "token-lists": good.replace(b"Connection: Upgrade", b"Connection: keep-alive, UpGrade"),
    "empty-value": b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX: y\r\n\r\n",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "bad-header": b"GET / HTTP/1.1\r\nHo st: a\r\n\r\n",
    "many-headers": b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(20)) + b"\r\n",
    "long-url": b"GET /" + b"a" * 700 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    "chunked-post": b"POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
}
seeds = {}
for k, v in hs.items():
    seeds[k] = b"\x10" + v
    seeds[k + "-split"] = b"\x05" + v
write("handshake", seeds)
