"""--staticdir: GET/HEAD, index.html, types, 304, ranges, keep-alive and pipelining, a 64 MiB
file in little memory, escapes refused, and a --cgidir inside it whose sources are never served.

http.client for ordinary requests; raw sockets where the bytes on the wire matter (HEAD has no
body, pipelined requests, paths a client library would normalize).
"""
import email.utils
import hashlib
import http.client
import os
import re
import shutil
import socket
import time

from wsbtest import *


ROOT = scratch("www")
OUT = scratch("outside")
for d in (ROOT, OUT):
    shutil.rmtree(d, ignore_errors=True)
CGI = os.path.join(ROOT, "cgi-bin")
SOURCE_MARK = "SECRET-SOURCE-" + "7f3a"  # in the script's source, never in its output


TIMEOUT = 30 if SANITIZED else 10


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)


HELLO = b"hello, static world\n"
write(os.path.join(ROOT, "hello.txt"), HELLO)
write(os.path.join(ROOT, "index.html"), "<h1>root index</h1>\n")
write(os.path.join(ROOT, "sub", "index.html"), "<h1>sub index</h1>\n")
write(os.path.join(ROOT, "noindex", "file.txt"), "x\n")
for name in ("a.html", "a.css", "a.js", "a.json", "a.png", "a.svg", "a.unknownext", "noext", "A.HTML"):
    write(os.path.join(ROOT, "types", name), "t\n")
write(os.path.join(ROOT, "empty.txt"), b"")
DIGITS = bytes(range(48, 58)) * 100  # 1000 bytes
write(os.path.join(ROOT, "digits.bin"), DIGITS)
write(os.path.join(ROOT, ".hidden.txt"), "hidden\n")
write(os.path.join(ROOT, "sp ace.txt"), "spaced\n")
EDGE = bytes((i * 7 + i // 251) & 0xFF for i in range(65537))  # one past the 64 KiB read size
write(os.path.join(ROOT, "edge64k.bin"), EDGE[:65536])
write(os.path.join(ROOT, "edge64k1.bin"), EDGE)
os.makedirs(os.path.join(ROOT, "badindex"))
os.symlink("../../outside/secret.txt", os.path.join(ROOT, "badindex", "index.html"))
write(os.path.join(ROOT, ".git", "config"), "[core]\n")
write(os.path.join(OUT, "secret.txt"), "outside secret\n")
os.symlink("../outside/secret.txt", os.path.join(ROOT, "link-out.txt"))
os.symlink("../outside", os.path.join(ROOT, "link-dir-out"))
os.symlink("hello.txt", os.path.join(ROOT, "link-in.txt"))
# --cgidir inside --staticdir: its URL space is the cgidir's own (/script.sh runs cgi-bin/script.sh)
write(os.path.join(CGI, "script.sh"),
      "#!/bin/sh\n# %s\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho \"script ran: $SCRIPT_NAME\"\n"
      % SOURCE_MARK, 0o755)
write(os.path.join(CGI, "notes.txt"), "notes %s\n" % SOURCE_MARK)
write(os.path.join(CGI, "index.html"), "<p>%s</p>\n" % SOURCE_MARK)
os.symlink("cgi-bin/script.sh", os.path.join(ROOT, "alias.sh"))
os.symlink("cgi-bin", os.path.join(ROOT, "aliasdir"))
BIG = os.path.join(ROOT, "big.bin")
BIG_SIZE = 64 << 20
BIG_SHA = hashlib.sha256()
with open(BIG, "wb") as f:
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB, not all zeros
    for i in range(BIG_SIZE >> 20):
        chunk = bytes([i]) + block[1:]
        BIG_SHA.update(chunk)
        f.write(chunk)
BIG_SHA = BIG_SHA.hexdigest()


class Resp:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body


def read_response(f, head_only=False):
    """One response from a file object over the socket, framed by Content-Length."""
    line = f.readline()
    m = re.match(rb"HTTP/1\.1 (\d{3}) (.*)\r\n", line)
    if not m:
        return None
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    n = 0 if head_only or m.group(1) in (b"304",) else int(headers.get("content-length", "0"))
    body = f.read(n) if n else b""
    return Resp(int(m.group(1)), m.group(2).decode(), headers, body)


def raw(port, data, count=1, head_only=(), wait_close=0.5):
    """Sends data on one connection, reads count responses; (responses, closed within wait_close s?)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30 if SANITIZED else 10)
    s.sendall(data)
    f = s.makefile("rb")
    out = [read_response(f, i in head_only) for i in range(count)]
    s.settimeout(wait_close)
    try:
        closed = f.read(1) == b""
    except (socket.timeout, OSError):
        closed = False
    s.close()
    return out, closed


def get(port, path, method="GET", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30 if SANITIZED else 10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return Resp(r.status, r.reason, {k.lower(): v for k, v in r.getheaders()}, body)


def req(path, method="GET", extra=""):
    return ("%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (method, path, extra)).encode()


with Server(flags=["--staticdir=" + ROOT, "--cgidir=" + CGI]) as srv:
    P = srv.port
    # ---------------------------------------------------------------- GET, HEAD
    r = get(P, "/hello.txt")
    ok(r.status == 200 and r.body == HELLO, "GET a file: 200 and its bytes", (r.status, r.body))
    ok(r.headers.get("content-type") == "text/plain; charset=utf-8", "Content-Type from .txt",
       r.headers.get("content-type"))
    ok(r.headers.get("content-length") == str(len(HELLO)), "Content-Length")
    mtime = int(os.stat(os.path.join(ROOT, "hello.txt")).st_mtime)
    lm = r.headers.get("last-modified", "")
    ok(lm == email.utils.formatdate(mtime, usegmt=True), "Last-Modified is the file's mtime (IMF-fixdate)",
       lm, email.utils.formatdate(mtime, usegmt=True))
    etag = r.headers.get("etag", "")
    ok(re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', etag), "a strong ETag", etag)
    ok(r.headers.get("accept-ranges") == "bytes", "Accept-Ranges: bytes")

    (h, g), closed = raw(P, req("/hello.txt", "HEAD") + req("/hello.txt"), 2, head_only=(0,))
    ok(h and h.status == 200 and h.headers.get("content-length") == str(len(HELLO)),
       "HEAD: 200 with the GET's Content-Length")
    ok(g and g.status == 200 and g.body == HELLO,
       "HEAD has no body: the next response on the connection follows its head directly",
       g and (g.status, g.body))
    r = get(P, "/hello.txt", "POST")
    ok(r.status == 405 and "GET" in r.headers.get("allow", ""), "POST: 405 with Allow", (r.status, r.headers))
    (r,), _ = raw(P, b"GET http://127.0.0.1/hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    ok(r and r.status == 200 and r.body == HELLO, "an absolute-form request target (RFC 9112 3.2.2: MUST accept)",
       r and (r.status, r.body))
    r = get(P, "/empty.txt")
    ok(r.status == 200 and r.body == b"" and r.headers.get("content-length") == "0", "an empty file")
    r = get(P, "/link-in.txt")
    ok(r.status == 200 and r.body == HELLO, "a symlink inside the root is served")

    # ---------------------------------------------------------------- directories
    r = get(P, "/")
    ok(r.status == 200 and b"root index" in r.body, "/ serves index.html", r.status)
    ok(r.headers.get("content-type") == "text/html; charset=utf-8", "index.html is text/html")
    r = get(P, "/sub/")
    ok(r.status == 200 and b"sub index" in r.body, "/sub/ serves its index.html", r.status)
    r = get(P, "/sub?x=1")
    ok(r.status == 301 and r.headers.get("location") == "/sub/?x=1", "/sub is 301 to /sub/, query kept",
       (r.status, r.headers.get("location")))
    (r,), _ = raw(P, req("//sub"))
    ok(r.status == 301 and r.headers.get("location") == "/sub/", "//sub redirects on-site (/sub/, not //sub/)",
       (r.status, r.headers.get("location")))
    q = "q=" + "a" * 600  # a Location longer than a small fixed buffer
    s = socket.create_connection(("127.0.0.1", P), timeout=5)
    s.sendall(req("/sub?" + q) + req("/hello.txt"))
    f = s.makefile("rb")
    try:
        r1, r2 = read_response(f), read_response(f)
    except (OSError, ValueError):
        r1 = r2 = None
    s.close()
    ok(r1 and r1.status == 301 and r1.headers.get("location") == "/sub/?" + q and r2 and r2.status == 200
       and r2.body == HELLO, "a 301 with a 600-byte query: the whole Location, then the next response (B5)")
    r = get(P, "/badindex/")
    ok(r.status == 404 and b"secret" not in r.body, "an index.html symlinked out of the root: 404", (r.status, r.body))
    r = get(P, "/sp%20ace.txt")
    ok(r.status == 200 and r.body == b"spaced\n", "a percent-encoded file name", (r.status, r.body))
    r = get(P, "/noindex/")
    ok(r.status == 404 and b"file.txt" not in r.body, "a directory without index.html: 404, no listing",
       (r.status, r.body))

    # ---------------------------------------------------------------- types
    types = {"a.html": "text/html; charset=utf-8", "a.css": "text/css; charset=utf-8",
             "a.js": "text/javascript; charset=utf-8", "a.json": "application/json", "a.png": "image/png",
             "a.svg": "image/svg+xml", "a.unknownext": "application/octet-stream",
             "noext": "application/octet-stream", "A.HTML": "text/html; charset=utf-8"}
    for name, t in types.items():
        r = get(P, "/types/" + name)
        ok(r.status == 200 and r.headers.get("content-type") == t, "Content-Type of %s: %s" % (name, t),
           r.headers.get("content-type"))

    # ---------------------------------------------------------------- conditional requests
    r = get(P, "/hello.txt", headers={"If-Modified-Since": lm})
    ok(r.status == 304 and r.body == b"", "If-Modified-Since the Last-Modified: 304, no body", (r.status, r.body))
    ok(r.headers.get("etag") == etag, "304 carries the ETag")
    later = email.utils.formatdate(mtime + 3600, usegmt=True)
    r = get(P, "/hello.txt", headers={"If-Modified-Since": later})
    ok(r.status == 304, "If-Modified-Since a later date: 304", r.status)
    earlier = email.utils.formatdate(mtime - 3600, usegmt=True)
    r = get(P, "/hello.txt", headers={"If-Modified-Since": earlier})
    ok(r.status == 200 and r.body == HELLO, "If-Modified-Since an earlier date: 200", r.status)
    r = get(P, "/hello.txt", headers={"If-Modified-Since": "Sunday, 06-Nov-94 08:49:37 GMT"})
    ok(r.status == 200, "If-Modified-Since in RFC 850 form (1994): 200", r.status)
    r = get(P, "/hello.txt", headers={"If-Modified-Since": "garbage"})
    ok(r.status == 200, "an unparsable If-Modified-Since: 200", r.status)
    r = get(P, "/hello.txt", headers={"If-None-Match": etag})
    ok(r.status == 304, "If-None-Match with the ETag: 304", r.status)
    r = get(P, "/hello.txt", headers={"If-None-Match": '"other", W/' + etag})
    ok(r.status == 304, "If-None-Match with a list holding the weak ETag: 304", r.status)
    r = get(P, "/hello.txt", headers={"If-None-Match": '"other"', "If-Modified-Since": later})
    ok(r.status == 200, "If-None-Match wins over If-Modified-Since: 200", r.status)
    (r, g), _ = raw(P, req("/hello.txt", extra="If-None-Match: %s\r\n" % etag) + req("/hello.txt"), 2)
    ok(r.status == 304 and g and g.status == 200 and g.body == HELLO,
       "a 304 has no body: the next response follows on the connection")

    # ---------------------------------------------------------------- ranges
    r = get(P, "/digits.bin", headers={"Range": "bytes=0-4"})
    ok(r.status == 206 and r.body == DIGITS[0:5] and r.headers.get("content-range") == "bytes 0-4/1000"
       and r.headers.get("content-length") == "5", "Range 0-4: 206, 5 bytes, Content-Range",
       (r.status, r.body, r.headers.get("content-range")))
    r = get(P, "/digits.bin", headers={"Range": "bytes=995-"})
    ok(r.status == 206 and r.body == DIGITS[995:] and r.headers.get("content-range") == "bytes 995-999/1000",
       "Range 995-: the tail", (r.status, r.headers.get("content-range")))
    r = get(P, "/digits.bin", headers={"Range": "bytes=-3"})
    ok(r.status == 206 and r.body == DIGITS[-3:], "Range -3: the last 3 bytes", (r.status, r.body))
    r = get(P, "/digits.bin", headers={"Range": "bytes=1000-"})
    ok(r.status == 416 and r.headers.get("content-range") == "bytes */1000", "Range past the end: 416 bytes */1000",
       (r.status, r.headers.get("content-range")))
    r = get(P, "/digits.bin", headers={"Range": "bytes=0-1,5-6"})
    ok(r.status == 200 and r.body == DIGITS, "several ranges: the whole file (200)", r.status)
    r = get(P, "/digits.bin", headers={"Range": "bytes=9-2"})
    ok(r.status == 200 and r.body == DIGITS, "an invalid range (a > b): 200", r.status)
    r = get(P, "/digits.bin", headers={"Range": "items=0-1"})
    ok(r.status == 200, "another unit: 200", r.status)
    r0 = get(P, "/digits.bin")
    r = get(P, "/digits.bin", headers={"Range": "bytes=10-19", "If-Range": r0.headers["etag"]})
    ok(r.status == 206 and r.body == DIGITS[10:20], "If-Range with the current ETag: 206", r.status)
    r = get(P, "/digits.bin", headers={"Range": "bytes=10-19", "If-Range": '"stale"'})
    ok(r.status == 200 and r.body == DIGITS, "If-Range with a stale ETag: the whole file", r.status)
    r = get(P, "/edge64k1.bin", headers={"Range": "bytes=65530-65536"})
    ok(r.status == 206 and r.body == EDGE[65530:], "a range across the 64 KiB read boundary", (r.status, len(r.body)))
    for name, data in (("edge64k.bin", EDGE[:65536]), ("edge64k1.bin", EDGE)):
        r = get(P, "/" + name)
        ok(r.status == 200 and r.body == data, "%s: %d bytes whole" % (name, len(data)), (r.status, len(r.body)))
    r = get(P, "/empty.txt", headers={"Range": "bytes=0-"})
    ok(r.status == 416, "any range of an empty file: 416", r.status)

    # ---------------------------------------------------------------- keep-alive, pipelining
    c = http.client.HTTPConnection("127.0.0.1", P, timeout=10)
    socks, good = set(), 0
    for i in range(5):
        c.request("GET", ["/hello.txt", "/digits.bin", "/sub/"][i % 3])
        rr = c.getresponse()
        body = rr.read()
        good += rr.status == 200 and len(body) > 0
        socks.add(id(c.sock))
    c.close()
    ok(good == 5 and len(socks) == 1, "5 requests on one keep-alive connection (http.client)", (good, len(socks)))
    paths = ["/hello.txt", "/digits.bin", "/missing", "/sub/", "/hello.txt"]
    rs, closed = raw(P, b"".join(req(p) for p in paths), len(paths))
    ok([x and x.status for x in rs] == [200, 200, 404, 200, 200], "5 pipelined requests in one send: in order",
       [x and x.status for x in rs])
    ok(rs[0].body == HELLO and rs[1].body == DIGITS and b"sub index" in rs[3].body,
       "pipelined responses carry their own bodies")
    ok(not closed, "the connection stays open after them")
    # 1001 pipelined: 1000 answered (HTTP_MAX_KEEPALIVE_REQUESTS), the last with Connection: close
    s = socket.create_connection(("127.0.0.1", P), timeout=TIMEOUT)
    s.sendall(req("/hello.txt") * 1001)
    out = bytearray()
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            out += d
    except socket.timeout:
        out += b"<TIMEOUT>"
    s.close()
    ok(out.count(b"HTTP/1.1 200 OK") == 1000 and out.count(b"Connection: close") == 1
       and out.endswith(b"Connection: close\r\n\r\n" + HELLO),
       "1001 pipelined requests: 1000 answered, the last says Connection: close, then the end",
       (out.count(b"HTTP/1.1 200 OK"), bytes(out[-60:])))
    rs, closed = raw(P, req("/hello.txt", extra="Connection: close\r\n") + req("/digits.bin"), 1, wait_close=TIMEOUT)
    ok(rs[0].status == 200 and closed, "Connection: close: one response, then the server closes")
    rs, closed = raw(P, b"GET /hello.txt HTTP/1.0\r\n\r\n", wait_close=TIMEOUT)
    ok(rs[0] and rs[0].status == 200 and closed, "HTTP/1.0 without keep-alive: closed after the response")
    rs, closed = raw(P, b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + req("/digits.bin"), 2)
    ok(rs[0].headers.get("connection", "").lower() == "keep-alive" and rs[1] and rs[1].body == DIGITS,
       "HTTP/1.0 with keep-alive: kept, says so", rs[0].headers)

    # a body is never read as the next request (no smuggling): 405 or 200, then the end
    inner = req("/digits.bin")
    for what, data in (("POST with Content-Length", b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                        % len(inner) + inner),
                       ("POST chunked", b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n"
                        % len(inner) + inner + b"\r\n0\r\n\r\n"),
                       ("GET with a body", b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                        % len(inner) + inner)):
        s = socket.create_connection(("127.0.0.1", P), timeout=TIMEOUT)
        s.sendall(data)
        out = bytearray()
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            out += b"<TIMEOUT>"
        s.close()
        ok(out.count(b"HTTP/1.1 ") == 1 and DIGITS not in out and not out.endswith(b"<TIMEOUT>"),
           "%s: one response, the body never served as a request, closed" % what, bytes(out[:40]))

    # ---------------------------------------------------------------- escapes
    for path, code in (("/.hidden.txt", 403), ("/.git/config", 403), ("/%2egit/config", 403),
                       ("/sub/../hello.txt", 403), ("/sub/%2e%2e/hello.txt", 403),
                       ("/../outside/secret.txt", 403), ("/%2e%2e/outside/secret.txt", 403),
                       ("/sub%2f..%2fhello.txt", 403), ("/hello.txt%00", 403), ("/link-out.txt", 403),
                       ("/link-dir-out/secret.txt", 403), ("/missing.txt", 404), ("/hello.txt/x", 404)):
        (r,), _ = raw(P, req(path))
        ok(r and r.status == code and b"secret" not in r.body and b"hidden" not in r.body,
           "%s: %d, nothing of the file" % (path, code), r and (r.status, r.body))

    # ---------------------------------------------------------------- --cgidir inside --staticdir
    r = get(P, "/script.sh")
    ok(r.status == 200 and r.body == b"script ran: /script.sh\n", "the script runs at its cgidir URL",
       (r.status, r.body))
    for path in ("/cgi-bin/script.sh", "/cgi-bin//script.sh", "/cgi-bin/%73cript.sh", "/cgi-bin/notes.txt",
                 "/cgi-bin/", "/cgi-bin/index.html", "/alias.sh", "/aliasdir/script.sh", "/aliasdir/",
                 "/aliasdir/notes.txt"):
        for method in ("GET", "HEAD"):
            (r,), _ = raw(P, req(path, method), head_only=(0,) if method == "HEAD" else ())
            ok(r and r.status in (403, 404) and SOURCE_MARK.encode() not in r.body,
               "%s %s: 403/404, the source is never served" % (method, path), r and (r.status, r.body))
    r = get(P, "/notes.txt")
    ok(r.status in (403, 404) and SOURCE_MARK.encode() not in r.body,
       "a non-executable file in the cgidir, at its cgidir URL: refused", (r.status, r.body))

    # ---------------------------------------------------------------- a 64 MiB file, little memory
    base_hwm = rss_kib(srv.pid, "VmHWM")
    s = socket.create_connection(("127.0.0.1", P), timeout=60)
    s.sendall(req("/big.bin"))
    f = s.makefile("rb")
    line = f.readline()
    hdrs = {}
    while True:
        hl = f.readline()
        if hl in (b"\r\n", b""):
            break
        k, _, v = hl.decode().partition(":")
        hdrs[k.strip().lower()] = v.strip()
    sha, got, peak = hashlib.sha256(), 0, 0
    t0 = time.monotonic()
    while got < BIG_SIZE:
        chunk = f.read(min(1 << 20, BIG_SIZE - got))
        if not chunk:
            break
        sha.update(chunk)
        got += len(chunk)
        peak = max(peak, rss_kib(srv.pid, "VmRSS"))
    secs = time.monotonic() - t0
    s.close()
    hwm = rss_kib(srv.pid, "VmHWM")
    ok(line.startswith(b"HTTP/1.1 200") and hdrs.get("content-length") == str(BIG_SIZE), "64 MiB file: 200, its length")
    ok(got == BIG_SIZE and sha.hexdigest() == BIG_SHA, "64 MiB file: every byte, in order (sha256)", got)
    diag("64 MiB in %.2f s; server VmHWM %d KiB before, %d KiB after; VmRSS peak while sending %d KiB"
         % (secs, base_hwm, hwm, peak))
    if SANITIZED:  # ASan's own footprint: judge the growth
        ok(hwm - base_hwm < 32 * 1024, "the server's VmHWM grew by less than 32 MiB", hwm - base_hwm)
    else:
        ok(0 < hwm < 32 * 1024, "the server's VmHWM stays under 32 MiB", hwm)
    off = 40 << 20
    r = get(P, "/big.bin", headers={"Range": "bytes=%d-%d" % (off, off + 99)})
    with open(BIG, "rb") as bf:
        bf.seek(off)
        want = bf.read(100)
    ok(r.status == 206 and r.body == want, "a range deep in the 64 MiB file", (r.status, len(r.body)))
    ok(wait_for(lambda: "\"GET /big.bin\" 200" in srv.log_text()), "the access line of the big file")

    # ---------------------------------------------------------------- a file that shrinks mid-send
    shrink = os.path.join(ROOT, "shrink.bin")
    with open(shrink, "wb") as sf:
        sf.write(b"z" * (16 << 20))
    s = socket.create_connection(("127.0.0.1", P), timeout=TIMEOUT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # the server cannot run far ahead
    s.sendall(req("/shrink.bin"))
    got = len(s.recv(65536))
    os.truncate(shrink, 1000)
    closed = False
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                closed = True
                break
            got += len(d)
    except socket.timeout:
        pass
    s.close()
    ok(closed and got < (16 << 20), "a file truncated mid-send: the connection ends short, no hang", (closed, got))
    ok(wait_for(lambda: re.search(r'"GET /shrink\.bin" 200 .*\(incomplete\)', srv.log_text())),
       "its access line says incomplete")
    r = get(P, "/shrink.bin")
    ok(r.status == 200 and len(r.body) == 1000, "the server serves on: the file's new size", (r.status, len(r.body)))
    log = srv.log_text()
    ok(re.search(r'"GET /hello\.txt" 200 \d+\.\d{3}s out=%d' % len(HELLO), log), "an access line per request")
# the two large files are not kept next to the logs
for big in (BIG, os.path.join(ROOT, "shrink.bin")):
    if os.path.exists(big):
        os.remove(big)
done()
