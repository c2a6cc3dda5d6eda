"""--redirport: a plain-HTTP listener answering 301 to the https URL (Host with or without a
port, IPv6), 400 without a usable Host; http:// without --ssl; shut down with the server."""
from wsbtest import *

pki = make_pki()
TLS = ["--ssl", "--sslcert=" + pki["cert"], "--sslkey=" + pki["key"]]


def get(port, lines):
    req = "\r\n".join(lines) + "\r\n\r\n"
    status, headers, body, s = http_request(port, req)
    s.settimeout(5 * (3 if SANITIZED else 1))
    try:
        closed = s.recv(100) == b"" or True
    except (socket.timeout, ConnectionResetError):
        closed = False
    s.close()
    return status, headers, closed


rport = free_port()
with Server("cat", flags=TLS + ["--redirport=%d" % rport]) as srv:
    # logged just after the "listening" line the harness waited for
    ok(wait_for(lambda: re.search(r"redirecting http://127\.0\.0\.1:%d/ to port %d" % (rport, srv.port),
                                  srv.log_text())),
       "the redirect listener is logged", srv.log_text())
    status, headers, closed = get(rport, ["GET /chat?room=1 HTTP/1.1", "Host: example.com:8080"])
    ok(status == 301 and headers.get("location") == "https://example.com:%d/chat?room=1" % srv.port,
       "301 to https://HOST:PORT/path?query (Host's port replaced)", (status, headers.get("location")))
    ok(closed, "the connection is closed after the answer")
    status, headers, _ = get(rport, ["GET / HTTP/1.1", "Host: example.com"])
    ok(status == 301 and headers.get("location") == "https://example.com:%d/" % srv.port,
       "Host without a port (websocketd crashes here)", (status, headers.get("location")))
    status, headers, _ = get(rport, ["GET /x HTTP/1.1", "Host: [::1]:80"])
    ok(status == 301 and headers.get("location") == "https://[::1]:%d/x" % srv.port, "an IPv6 Host",
       (status, headers.get("location")))
    status, headers, _ = get(rport, ["GET / HTTP/1.1"])
    ok(status == 400, "no Host: 400", status)
    status, headers, _ = get(rport, ["GET / HTTP/1.1", "Host: evil.com/x"])
    ok(status == 400, "a Host that is not a host name: 400", status)
    status, headers, _ = get(rport, ["GET / HTTP/1.1", "Host: a", "Host: b"])
    ok(status == 400, "two Hosts: 400", status)
    # a client that never finishes its request does not hold the shutdown
    lingering = socket.create_connection(("127.0.0.1", rport), timeout=10)
    lingering.sendall(b"GET / HTTP/1.1\r\n")
    ok(wait_for(lambda: srv.log_text().count(" redirect ") >= 6), "an access line per answer",
       srv.log_text()[-500:])
    t0 = time.monotonic()
code = srv.exit_code
ok(time.monotonic() - t0 < 5 * (3 if SANITIZED else 1), "shutdown does not wait for an open redirect connection",
   time.monotonic() - t0)
lingering.close()

# without --ssl: to http://, port 80 left out
rport = free_port()
with Server("cat", flags=["--redirport=%d" % rport]) as srv:
    status, headers, _ = get(rport, ["GET /a HTTP/1.1", "Host: example.com:1"])
    ok(status == 301 and headers.get("location") == "http://example.com:%d/a" % srv.port, "without --ssl: http://",
       (status, headers.get("location")))
    # the main port still serves WebSocket
    c = RawClient(srv.port)
    c.send_text("hi")
    ok(c.recv() == (OP_TEXT, b"hi"), "the main port serves WebSocket as usual")
    c.close()
done()
