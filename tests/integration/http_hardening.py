"""Plain HTTP requests that must be refused before anything is served, over a raw socket against
--staticdir and --cgidir (issue 10): Transfer-Encoding whose final coding is not chunked, or with
Content-Length, or in HTTP/1.0 (400, and the body is never answered as a second request); Host
missing, repeated or invalid (400); HTTP/2.0 and later (505), HTTP/0.9 (400); a TAB in the request
line, obs-fold (400); a Content-Length over the body limit (413, the script never runs); chunk
extensions, trailers and chunk sizes over their bounds. Each refusal: the status line, then the
connection closes.
"""
import os
import re
import shutil
import socket
import time

from wsbtest import *

time_limit(120)

TIMEOUT = 30 if SANITIZED else 10
STATIC = scratch("static")
CGI = scratch("cgi")
MARK = scratch("ran")
for d in (STATIC, CGI):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
with open(os.path.join(STATIC, "hello.txt"), "w") as f:
    f.write("hello\n")
with open(os.path.join(STATIC, "secret.txt"), "w") as f:
    f.write("SMUGGLED-ANSWER\n")


def script(name, body):
    shell_script(os.path.join(CGI, name), body)


# marks that it ran, reads the whole body, then answers with its length
script("sink.sh", "echo ran >> '%s'\nn=$(wc -c)\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%%s' \"$n\"\n" % MARK)

SMUGGLED = b"GET /secret.txt HTTP/1.1\r\nHost: a\r\n\r\n"


def exchange(port, data):
    """Sends data, reads to EOF (bounded). Returns (statuses of every response, all bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    got = b""
    closed = False
    deadline = time.monotonic() + TIMEOUT
    try:
        s.sendall(data)
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    statuses = [int(m) for m in re.findall(rb"(?m)^HTTP/1\.1 (\d{3}) ", got)]
    return statuses, got, closed


def refused(port, name, data, want):
    """want: a status, or a tuple of acceptable ones."""
    statuses, got, closed = exchange(port, data)
    wants = want if isinstance(want, tuple) else (want,)
    ok(len(statuses) == 1 and statuses[0] in wants and closed,
       "%s: %s, then closed, nothing more" % (name, "/".join(map(str, wants))), (statuses, closed, got[:300]))
    ok(b"SMUGGLED-ANSWER" not in got, "%s: the rest is not answered as a request" % name, got[:300])


def ran():
    return os.path.exists(MARK)


TE = b"POST /hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n"
TE_CGI = b"POST /sink.sh HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n"

with Server("cat", flags=["--staticdir=" + STATIC, "--cgidir=" + CGI]) as srv:
    P = srv.port
    # what still works
    statuses, got, _ = exchange(P, b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /hello.txt HTTP/1.1\r\n"
                                   b"Host: a\r\nConnection: close\r\n\r\n")
    ok(statuses == [200, 200], "two keep-alive GETs are served", statuses)
    statuses, got, _ = exchange(P, b"GET /hello.txt HTTP/1.0\r\n\r\n")
    ok(statuses == [200], "HTTP/1.0 without Host is served", statuses)
    statuses, got, _ = exchange(P, b"GET /hello.txt HTTP/1.1\r\nHost: [::1]:8080\r\nX: a\tb\r\n\r\n")
    ok(statuses == [200], "an IPv6 Host with a port, a TAB inside a value: served", statuses)
    statuses, got, _ = exchange(P, (TE_CGI % b"gzip, chunked") + b"5;a=1\r\nhello\r\n0\r\nT: 1\r\n\r\n")
    ok(statuses == [200] and got.endswith(b"\r\n\r\n5"), "chunked (last) body with an extension and a trailer reaches a script",
       got[-200:])
    os.unlink(MARK)

    # B3: the final coding is not chunked -> 400, and the body is not a second request
    for te in (b"gzip", b"xchunked", b"chunked, gzip", b"identity"):
        refused(P, "static, Transfer-Encoding: %s" % te.decode(), (TE % te) + SMUGGLED, 400)
        refused(P, "cgi, Transfer-Encoding: %s" % te.decode(), (TE_CGI % te) + SMUGGLED, 400)
    refused(P, "Transfer-Encoding and Content-Length",
            b"POST /hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 0\r\n\r\n" + SMUGGLED,
            400)
    refused(P, "Transfer-Encoding: chunked in HTTP/1.0",
            b"POST /sink.sh HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, 400)
    refused(P, "a folded Transfer-Encoding",
            b"POST /hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
            400)
    ok(not ran(), "no script ran for a refused Transfer-Encoding")

    # Host, version, whitespace: plain requests too
    refused(P, "HTTP/1.1 without Host", b"GET /hello.txt HTTP/1.1\r\n\r\n" + SMUGGLED, 400)
    refused(P, "two Host headers", b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + SMUGGLED, 400)
    refused(P, "Host evil.com/x", b"GET /hello.txt HTTP/1.1\r\nHost: evil.com/x\r\n\r\n" + SMUGGLED, 400)
    refused(P, "Host with a bad port", b"GET /sink.sh HTTP/1.1\r\nHost: a:80x\r\n\r\n" + SMUGGLED, 400)
    refused(P, "HTTP/2.0", b"GET /hello.txt HTTP/2.0\r\nHost: a\r\n\r\n" + SMUGGLED, 505)
    refused(P, "HTTP/3.0", b"GET /hello.txt HTTP/3.0\r\nHost: a\r\n\r\n" + SMUGGLED, 505)
    refused(P, "an HTTP/0.9 request line", b"GET /hello.txt\r\n\r\n" + SMUGGLED, 400)
    refused(P, "TAB in the request line", b"GET /hello.txt\tHTTP/1.1\r\nHost: a\r\n\r\n" + SMUGGLED, 400)
    refused(P, "TAB inside the target", b"GET /hello\t.txt HTTP/1.1\r\nHost: a\r\n\r\n" + SMUGGLED, 400)
    refused(P, "obs-fold", b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n" + SMUGGLED, 400)
    ok(not ran(), "no script ran for a refused Host, version or fold")

    # limits
    refused(P, "Content-Length: 2^64-1 to a script",
            b"POST /sink.sh HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\nxxxx", 413)
    refused(P, "Content-Length: 1 GiB + 1 to a file",
            b"POST /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1073741825\r\n\r\n", 413)
    ok(not ran(), "no script ran for a Content-Length over the limit")
    # refused while the body is read, so the script has started; it had not answered yet
    refused(P, "a chunk of 1 GiB + 1", (TE_CGI % b"chunked") + b"40000001\r\nxxxx", 413)
    refused(P, "a chunk extension of 5000 bytes",
            (TE_CGI % b"chunked") + b"5;x=" + b"e" * 5000 + b"\r\nhello\r\n0\r\n\r\n", 413)
    refused(P, "a trailer section of 20000 bytes",
            (TE_CGI % b"chunked") + b"1\r\nx\r\n0\r\nT: " + b"t" * 20000 + b"\r\n\r\n", 431)
    refused(P, "101 trailer fields",
            (TE_CGI % b"chunked") + b"1\r\nx\r\n0\r\n" + b"T: 1\r\n" * 101 + b"\r\n", 431)
    log = srv.log_text()
    for why in ("request body over the limit", "chunk extensions too long", "trailer section too large",
                "too many trailer fields"):
        ok(why in log, "the log says why: %s" % why, log[-2000:])
done()
