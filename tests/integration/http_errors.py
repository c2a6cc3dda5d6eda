"""Refusals before the upgrade, over a raw socket: the right status for each, never a 101."""
import os
import time

from wsbtest import *

with Server("cat", flags=["--handshake-timeout=700", "--max-header-bytes=2048", "--max-headers=20",
                          "--header=X-All: 1", "--header-http=X-Http: 2", "--header-ws=X-Ws: 3"]) as srv:
    st, h, body, s = http_request(srv.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    ok(st == 404, "a plain GET is 404", st)
    ok(h.get("x-all") == "1" and h.get("x-http") == "2" and "x-ws" not in h,
       "--header and --header-http on a plain response, not --header-ws", h)
    st, h, _, _ = http_request(srv.port, upgrade_request(version="8")[0])
    ok(st == 426 and h.get("sec-websocket-version") == "13", "version 8 is 426 with Sec-WebSocket-Version: 13", (st, h))
    st, h, _, _ = http_request(srv.port, upgrade_request(method="POST")[0])
    ok(st == 405, "an upgrade with POST is 405", st)
    st, _, _, _ = http_request(srv.port, upgrade_request(key="short")[0])
    ok(st == 400, "a bad key is 400", st)
    st, _, _, _ = http_request(srv.port, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40)
    ok(st == 400, "TLS bytes on the plain port are 400", st)
    st, _, _, _ = http_request(srv.port, upgrade_request(extra=["X-Big: " + "b" * 3000])[0])
    ok(st == 431, "an oversized header block is 431", st)
    st, _, _, _ = http_request(srv.port, upgrade_request(extra=["X-%d: v" % i for i in range(30)])[0])
    ok(st == 431, "too many header fields is 431", st)
    # slowloris: half a request, then silence
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
    t0 = time.monotonic()
    s.settimeout(10)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    ok(time.monotonic() - t0 < 8, "an incomplete handshake is dropped after --handshake-timeout")
    ok(data == b"" or data.startswith(b"HTTP/1.1 408"), "with nothing or a 408", data[:40])
    c = RawClient(srv.port)
    ok(c.headers.get("x-all") == "1" and c.headers.get("x-ws") == "3" and "x-http" not in c.headers,
       "--header and --header-ws on the 101, not --header-http", c.headers)
    c.close()
    ok(children(srv.pid) == [] or wait_for(lambda: children(srv.pid) == []), "no child left behind by refusals")

# --maxforks: the second session is refused with 429 while the first runs
with Server("cat", flags=["--maxforks=1"]) as srv:
    a = RawClient(srv.port)
    st, _, _, _ = http_request(srv.port, upgrade_request()[0])
    ok(st == 429, "over --maxforks is 429", st)
    a.close()
    ok(wait_for(lambda: children(srv.pid) == []), "the first child is gone")
    b = wait_for(lambda: http_request(srv.port, upgrade_request()[0])[0] == 101, timeout=5)
    ok(b, "a session is accepted again once the first is over")

# --origin and --sameorigin
with Server("cat", flags=["--origin=example.com,https://secure.example:8443"]) as srv:
    for origin, want in [("http://example.com", 101), ("https://example.com:1234", 101),
                         ("http://evil.com", 403), ("https://secure.example:8443", 101),
                         ("http://secure.example:8443", 403), ("null", 403), (None, 403)]:
        extra = ["Origin: %s" % origin] if origin else []
        st = http_request(srv.port, upgrade_request(extra=extra)[0])[0]
        ok(st == want, "--origin: Origin %s -> %d" % (origin, want), st, want)
with Server("cat", flags=["--sameorigin"]) as srv:
    st = http_request(srv.port, upgrade_request(host="h.example:80", extra=["Origin: http://h.example:80"])[0])[0]
    ok(st == 101, "--sameorigin: same host:port is accepted", st)
    st = http_request(srv.port, upgrade_request(host="h.example:80", extra=["Origin: http://other:80"])[0])[0]
    ok(st == 403, "--sameorigin: another host is 403", st)

# a program that cannot start: 500 before any 101
prog = scratch("prog.sh")
with open(prog, "w") as f:
    f.write("#!/bin/sh\ncat\n")
os.chmod(prog, 0o755)
with Server(prog) as srv:
    os.chmod(prog, 0o644)  # no longer executable once the server runs
    st, _, _, _ = http_request(srv.port, upgrade_request()[0])
    ok(st == 500, "a program that cannot start is 500, never 101", st)
    ok("cannot start" in srv.log_text(), "the reason is in the log")
done()
