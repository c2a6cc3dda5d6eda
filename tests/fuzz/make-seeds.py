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

# httpmsg: control byte bits 0-1 pick the function (0/1 CGI header block, 2 Range, 3 date);
# for the header block bits 2-7 the piece size ((ctl >> 2) * 37 + 1: 0x00 bytewise, 0xfc whole).
cgi_heads = {
    "lf": b"Content-Type: text/plain\n\nbody",
    "crlf": b"Content-Type: text/html\r\nX-A: 1\r\n\r\nhello",
    "status": b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnf",
    "status-only": b"Status: 404\r\n\r\n",
    "location": b"Location: /elsewhere\r\n\r\n",
    "location-status": b"Status: 200 OK\r\nLocation: /x\r\n\r\n",
    "framing": b"Content-Type: a/b\r\nConnection: close\r\nKeep-Alive: 5\r\nTransfer-Encoding: chunked\r\n\r\nb",
    "length": b"Content-Type: a/b\r\nContent-Length: 5\r\n\r\nhello",
    "folded": b"Content-Type: a/b\r\n folded\r\n\r\n",
    "bare-cr": b"Content-Type: a\rb\r\n\r\n",
    "no-type": b"X-A: 1\r\n\r\nbody",
    "status-100": b"Status: 100 Continue\r\nContent-Type: a/b\r\n\r\n",
    "nul": b"Content-Type: a\0b\r\n\r\n",
    "too-large": b"Content-Type: a/b\r\nX: " + b"a" * 16400 + b"\r\n\r\n",
}
seeds = {}
for k, v in cgi_heads.items():
    seeds["head-" + k] = b"\xfc" + v
    if len(v) < 4096:
        seeds["head-" + k + "-bytewise"] = b"\x00" + v
        seeds["head-" + k + "-split"] = b"\x15" + v
size1000 = (1000).to_bytes(8, "big")
for k, v in {"a-b": b"bytes=0-499", "a-": b"bytes=500-", "suffix": b"bytes=-100", "multi": b"bytes=0-1,5-6",
             "unit": b"items=0-1", "a-gt-b": b"bytes=5-1", "beyond": b"bytes=1000-",
             "overflow": b"bytes=0-99999999999999999999999"}.items():
    seeds["range-" + k] = b"\x02" + size1000 + v
seeds["range-size0"] = b"\x02" + bytes(8) + b"bytes=0-"
seeds["range-sizemax"] = b"\x02" + b"\xff" * 8 + b"bytes=-1"
for k, v in {"imf": b"Sun, 06 Nov 1994 08:49:37 GMT", "rfc850": b"Sunday, 06-Nov-94 08:49:37 GMT",
             "asctime": b"Sun Nov  6 08:49:37 1994", "bad": b"Sun, 32 Nov 1994 08:49:37 GMT"}.items():
    seeds["date-" + k] = b"\x03" + v
write("httpmsg", seeds)

# fuzz_session: byte 0 = server mode (bits 0-1: cat, --binary cat, --staticdir + cat,
# --staticdir alone; bit 2: the client resets instead of a FIN; bit 3: modes 0 and 1 become
# --framing=json cat and --framing=length cat; bit 4 with them: --shared too), byte 1 =
# segmentation (0x80:
# all at once, else pieces of (b & 0x7f) + 1 bytes); then what the client sends.
UPGRADE = (b"GET /echo HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
CLOSE = frame(8, b"\x03\xe8")
sessions = {
    "upgrade-echo": UPGRADE + frame(1, b"hello") + frame(2, b"\x00\x01") + CLOSE,
    "upgrade-fragmented-ping": UPGRADE + frame(1, b"wor", fin=False) + frame(9, b"p") + frame(0, b"ld") + CLOSE,
    "upgrade-long-line": UPGRADE + frame(1, b"x" * 70000) + CLOSE,
    "upgrade-no-close": UPGRADE + frame(1, b"a\nb\nc"),
    "upgrade-unmasked": UPGRADE + frame(1, b"hi", masked=False),
    "upgrade-bad-utf8": UPGRADE + frame(1, b"ok\xc0\xaf"),
    "upgrade-close-bad-code": UPGRADE + frame(8, b"\x03\xed"),
    "upgrade-rsv1": UPGRADE + frame(1, b"x", rsv=4),
    "upgrade-no-key": UPGRADE.replace(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b""),
    "upgrade-version-8": UPGRADE.replace(b"Version: 13", b"Version: 8"),
    "get": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "get-file": b"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=1-3\r\n\r\n",
    "head-http10": b"HEAD /sub/b.css HTTP/1.0\r\n\r\n",
    "get-dotdot": b"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    "post-chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "pipelined-then-upgrade": b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                              + UPGRADE + frame(1, b"after") + CLOSE,
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "header-too-long": b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n",
}
seeds = {}
for k, v in sessions.items():
    seeds[k] = b"\x00\x80" + v
    seeds[k + "-binary-split7"] = b"\x01\x06" + v
    seeds[k + "-static-bytewise"] = b"\x02\x00" + v
    seeds[k + "-staticonly-reset"] = b"\x07\x80" + v
    if k.startswith("upgrade"):
        seeds[k + "-json"] = b"\x08\x80" + v
        seeds[k + "-length-split7"] = b"\x09\x06" + v
        seeds[k + "-shared-json"] = b"\x18\x80" + v
        seeds[k + "-shared-length-split7"] = b"\x19\x06" + v
write("session", seeds)

# the --config file (fuzz_config.c): a first line "!" adds COMMAND on the command line
write("config", {
    "full": b"# full\nport=8080\naddress=127.0.0.1\nmaxforks=10\nbinary\nheader=X-A: 1\n"
            b"origin=a.example,b.example\ncommand=/bin/sh -c 'exec cat' \"a b\" c\\ d\n",
    "cli-wins": b"!\ncommand=/bin/echo x\nloglevel=debug\r\n",
    "misspelt": b"prot=1\n",
    "open-quote": b"command=sh \"a\\\"b\n",
    "no-value": b"maxforks\n",
    "nul": b"port=1\x00\n",
    "spaces": b"  --pingms = 1000  \n\n# c\ncommand=cat\n",
    "lifetimes": b"idle-timeout=300000\nmax-lifetime=604800001\ncommand=cat\n",
})

# permessage-deflate: control byte (bit0 limit, bit1 pauses, bit2 context takeover, rest window
# and piece size), then client frames with RSV1; the same bytes are also offered as an extension
# header value to the negotiation.
import zlib


def deflated(data, level=6, wbits=15):
    co = zlib.compressobj(level, zlib.DEFLATED, -wbits)
    return (co.compress(data) + co.flush(zlib.Z_SYNC_FLUSH))[:-4]


hello = deflated(b"Hello")
seeds = {
    "rfc-hello": b"\x00" + frame(1, hello, rsv=4),
    "rfc-fragmented": b"\x30" + frame(1, hello[:3], fin=False, rsv=4) + frame(0, hello[3:]),
    "rfc-stored": b"\x00" + frame(1, b"\x00\x05\x00\xfa\xffHello\x00", rsv=4),
    "rfc-bfinal": b"\x00" + frame(1, b"\xf3\x48\xcd\xc9\xc9\x07\x00\x00", rsv=4),
    "rfc-empty": b"\x00" + frame(1, b"\x00", rsv=4),
    "takeover": b"\x04" + frame(1, hello, rsv=4) + frame(1, b"\xf2\x00\x11\x00\x00", rsv=4),
    "bomb-limit": b"\x01" + frame(2, deflated(b"\0" * 200000, 9), rsv=4),
    "bomb-paused": b"\x92" + frame(2, deflated(b"\0" * 300000, 9), rsv=4),
    "json-paused": b"\x62" + frame(1, deflated(b'{"id":1,"v":"abc"} ' * 3000), rsv=4),
    "truncated": b"\x00" + frame(1, deflated(bytes(range(256)) * 8)[:300], rsv=4),
    "corrupt": b"\x00" + frame(1, b"\xff\xff\xff\xff", rsv=4),
    "bad-utf8": b"\x00" + frame(1, deflated(b"ok \xed\xa0\x80"), rsv=4),
    "rsv-cont": b"\x00" + frame(1, hello[:2], fin=False, rsv=4) + frame(0, hello[2:], rsv=4),
    "plain-between": b"\x00" + frame(1, b"plain") + frame(1, hello, rsv=4),
    "offer-all": b"\x00permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                 b"server_max_window_bits=10; client_max_window_bits",
    "offer-many": b"\x00x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=7, "
                  b"permessage-deflate; client_max_window_bits=\"9\", permessage-deflate",
    "offer-bad": b"\x00permessage-deflate; a=\"b,c\", ; permessage-deflate;;",
}
write("pmd", seeds)

write("pty", {
    "resize": b'{"resize":[80,24]}',
    "resize-blanks": b' { "resize" : [ 132 , 43 ] }\n',
    "resize-zero": b'{"resize":[0,24]}',
    "resize-fraction": b'{"resize":[80.5,2e1]}',
    "resize-big": b'{"resize":[99999999999999999999999,24]}',
    "resize-unclosed": b'{"resize":[80,24]',
    "keystrokes": b"ls -l\r",
    "query": b"cols=120&rows=40",
    "query-mixed": b"x=1&cols=100;rows=30&y&cols=0&rows=1001",
    "query-overflow": b"cols=99999999999999999999&rows=12a",
})
# the --authorizer's answers: control byte (0 exit 0, 1 exit 1, 2 killed, 3 truncated), output
answers = {
    "empty": b"",
    "allow": b"Set-Env: AUTHZ_USER=alice\nRemote-User: alice\nSet-Cookie: s=1\n",
    "refuse-401": b"Status: 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"x\"\r\n\r\nno\n",
    "refuse-json": b"Status: 429\nRetry-After: 5\nContent-Type: application/json\n\n{\"e\":1}",
    "garbage": b"hello\x00world\n\x01\x02",
    "server-header": b"Connection: close\nSec-WebSocket-Protocol: x\n",
    "bad-env": b"Set-Env: PATH=/tmp\nSet-Env: AUTHZ_=1\n",
}
seeds = {}
for k, v in answers.items():
    for ctl, end in ((0, "exit0"), (1, "exit1"), (2, "killed"), (3, "truncated")):
        seeds["%s-%s" % (k, end)] = bytes([ctl]) + v
write("authz", seeds)

# --redis: control byte 1 + a URL, or 0 + RESP replies (XREAD, XREVRANGE, errors) as Redis sends
def bulk(s):
    return b"$%d\r\n%s\r\n" % (len(s), s)


def entry(eid, *fields):
    return b"*2\r\n" + bulk(eid) + b"*%d\r\n" % len(fields) + b"".join(bulk(f) for f in fields)


def xread(*entries):
    return b"*1\r\n*2\r\n" + bulk(b"wsbridge:{/bin/cat}:out") + b"*%d\r\n" % len(entries) + b"".join(entries)


text = entry(b"1700000000000-0", b"o", b"vm:12:abcd", b"t", b"text", b"f", b"1", b"d", b"hello")
write("clustermsg", {
    "url-tcp": b"\x01redis://127.0.0.1:6379",
    "url-auth-db": b"\x01redis://:s3cret@host.example:7000/3",
    "url-ipv6": b"\x01redis://[::1]:6380/",
    "url-unix": b"\x01unix://:pw@/run/redis/redis.sock?db=2",
    "url-bad": b"\x01redis://user:pw@host:99999/x",
    "xread-text": b"\x00" + xread(text),
    "xread-pieces": b"\x00" + xread(entry(b"5-1", b"t", b"binary", b"f", b"0", b"d", b"\x00\xff"),
                                     entry(b"5-2", b"t", b"binary", b"f", b"1", b"d", b"")),
    "xread-over": b"\x00" + xread(entry(b"9-0", b"o", b"x", b"t", b"over", b"c", b"1012", b"d", b"program exit status 1: restarting")),
    "xread-deleted": b"\x00" + xread(b"*2\r\n" + bulk(b"3-3") + b"$-1\r\n"),
    "xread-nil": b"\x00*-1\r\n",
    "xread-error": b"\x00-NOGROUP No such key\r\n",
    "xread-bad-shape": b"\x00*1\r\n*2\r\n:1\r\n*1\r\n:2\r\n",
    "xread-lines": b"\x00" + xread(entry(b"7-0", b"o", b"h:1:ab", b"t", b"lines", b"d", b"a\nbc\n\n")),
    "xrevrange": b"\x00*1\r\n" + text,
    "xrevrange-empty": b"\x00*0\r\n",
    "two-replies": b"\x00" + xread(text) + b"*0\r\n",
    "xread-input-once": b"\x00" + xread(entry(b"8-0", b"o", b"h:2:cd", b"t", b"text", b"f", b"1", b"s", b"17", b"d", b"hi\n")),
    "xread-addressed": b"\x00" + xread(entry(b"8-1", b"o", b"h:2:cd", b"t", b"text", b"s", b"18", b"k", b"j", b"i", b"1025", b"d", b'{"event":"join","id":1025,"env":{}}\n'),
                                       entry(b"8-2", b"t", b"text", b"k", b"l", b"i", b"9007199254740993", b"d", b"")),
})

# --framing: the first byte is bit 0 (0 json, 1 length) and the piece size (byte >> 1, +1)
def rec(t, payload):
    return bytes([t]) + struct.pack(">I", len(payload)) + payload


write("framing", {
    "json-text": b"\x00" + b'"hello"\n"a\\nb\\u0000\\ud83d\\ude00"\n',
    "json-binary": b"\x02" + b'{"binary":"AAECAw=="}\n{ "binary" : "/w" }\n',
    "json-blank-lines": b"\x04" + b'\n  \n"x"\r\n\n',
    "json-no-newline": b"\x06" + b'"last"',
    "json-utf8": b"\x08" + '"é€😀"\n'.encode(),
    "json-bad-word": b"\x00" + b"hello\n",
    "json-bad-surrogate": b"\x02" + b'"\\ud800x"\n',
    "json-bad-base64": b"\x00" + b'{"binary":"AB=C"}\n',
    "json-bad-member": b"\x00" + b'{"text":"a"}\n',
    "json-bad-utf8": b"\x00" + b'"\xc3("\n',
    "json-cut": b"\x00" + b'{"binary":"AA',
    "length-text": b"\x01" + rec(1, b"hi") + rec(2, b"\x00\xff"),
    "length-more": b"\x03" + rec(0x81, "é".encode()) + rec(0x81, b"") + rec(1, b"x"),
    "length-empty": b"\x05" + rec(1, b"") + rec(2, b""),
    "length-bad-type": b"\x01" + rec(3, b"x"),
    "length-bad-change": b"\x01" + rec(0x81, b"x") + rec(2, b"y"),
    "length-bad-utf8": b"\x07" + rec(1, b"\xc3\x28"),
    "length-cut": b"\x01" + b"\x02\x00\x00\x01\x00abc",
})
