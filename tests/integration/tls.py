"""--ssl: wss:// with python3-websockets and a raw TLS client; HTTPS=on; --sslca client
certificates (SSL_CLIENT_S_DN); plain HTTP to the TLS port; a silent TLS client; backpressure
through TLS; SIGHUP reloads the certificate without dropping sessions; with --workers=2 every
session ticket resumes (TLS 1.2 and 1.3), also after a reload."""
import asyncio
import shutil
import ssl

import websockets

from wsbtest import *

time_limit(240)
pki = make_pki()
TLS = ["--ssl", "--sslcert=" + pki["cert"], "--sslkey=" + pki["key"]]
ENV_SH = os.path.join(EXAMPLES, "env.sh")


def env_over(port, ctx):
    c = RawClient(port, "/p?q=1", ssl_context=ctx)
    lines = []
    while True:
        op, payload = c.recv()
        if op == OP_CLOSE:
            break
        lines.append(payload.decode())
    return dict(l.split("=", 1) for l in lines if "=" in l)


async def ws_echo(port, ctx, messages):
    async with websockets.connect("wss://localhost:%d/" % port, ssl=ctx, max_size=None) as ws:
        out = []
        for m in messages:
            await ws.send(m)
            out.append(await ws.recv())
        return out, ws.transport.get_extra_info("ssl_object").version()


def handshake_fails(port, ctx):
    """True when the TLS handshake, or the first read after it, fails (TLS 1.3 reports a
    refused client certificate only after the client's side of the handshake is done)."""
    try:
        c = RawClient(port, ssl_context=ctx)
        c.send_text("x")
        c.recv()
    except (ssl.SSLError, ConnectionError, Closed, OSError):
        return True
    return False


# --- exit codes first: a certificate that cannot be loaded is a configuration error
for args, why in ((["--ssl", "--sslcert=" + scratch("none.pem"), "--sslkey=" + pki["key"]], "a missing cert"),
                  (["--ssl", "--sslcert=" + pki["cert"], "--sslkey=" + pki["client_key"]], "a key of another cert")):
    p = subprocess.run([WSBRIDGE, "--address=127.0.0.1", "--port=0"] + args + ["cat"], capture_output=True,
                       timeout=20)
    ok(p.returncode == 1, "exit 1 for %s" % why, (p.returncode, p.stderr[-300:]))

# --- wss:// echo (python3-websockets), TLS 1.3 and 1.2, big messages, HTTPS=on
with Server("cat", flags=TLS) as srv:
    ok(re.search(r"listening on wss://127\.0\.0\.1:%d/" % srv.port, srv.log_text()), "the log says wss://")
    ctx = client_context(pki)
    got, version = asyncio.run(ws_echo(srv.port, ctx, ["hello", "x" * 3_000_000]))
    ok(got == ["hello", "x" * 3_000_000], "echo over wss://, a 3 MB message included", [len(g) for g in got])
    ok(version == "TLSv1.3", "TLS 1.3 by default", version)
    ctx12 = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_2)
    got, version = asyncio.run(ws_echo(srv.port, ctx12, ["twelve"]))
    ok(got == ["twelve"] and version == "TLSv1.2", "TLS 1.2 works too", (got, version))

    # TLS 1.3: AES-128-GCM preferred over the client's order (OpenSSL's: AES-256 first), and one
    # session ticket per handshake (OpenSSL's default is two)
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-tls1_3", "-msg", "-ign_eof"],
                       input=b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", capture_output=True,
                       timeout=30)
    out = p.stdout.decode(errors="replace")
    ok(re.search(r"Cipher is TLS_AES_128_GCM_SHA256", out), "TLS 1.3: TLS_AES_128_GCM_SHA256 chosen",
       re.findall(r"Cipher is \S+", out))
    ok(len(re.findall(r"<<< TLS 1.3, Handshake \[length [0-9a-f]+\], NewSessionTicket", out)) == 1,
       "one session ticket per TLS 1.3 handshake", re.findall(r".*NewSessionTicket.*", out))

    # plain HTTP to the TLS port: logged and closed; the server serves the next client
    status, _, _, s = http_request(srv.port, upgrade_request()[0])
    s.close()
    ok(status is None, "plain HTTP to the TLS port gets no HTTP answer", status)
    ok(wait_for(lambda: "TLS handshake with 127.0.0.1" in srv.log_text() and "http request" in srv.log_text()),
       "and the failed handshake is logged with OpenSSL's reason")
    got, _ = asyncio.run(ws_echo(srv.port, ctx, ["after"]))
    ok(got == ["after"], "the next TLS client is served", got)

    # a client that sends TLS records very slowly, one byte at a time: still served
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outg, server_hostname="localhost")
    for _ in range(100):
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            data = outg.read()
            for i in range(len(data)):
                raw.sendall(data[i:i + 1])
            chunk = raw.recv(65536)
            if not chunk:
                break
            inc.write(chunk)
    req, _ = upgrade_request()
    obj.write(req + encode_frame(OP_TEXT, "slow"))
    data = outg.read()
    for i in range(0, len(data), 7):
        raw.sendall(data[i:i + 7])
    buf = b""
    end = time.monotonic() + 10
    while b"slow" not in buf and time.monotonic() < end:
        chunk = raw.recv(65536)
        if not chunk:
            break
        inc.write(chunk)
        try:
            while True:
                buf += obj.read(65536)
        except ssl.SSLWantReadError:
            pass
    ok(buf.startswith(b"HTTP/1.1 101") and buf.endswith(b"slow"), "TLS records split in 1- and 7-byte pieces", buf[-40:])
    raw.close()

    # the close handshake ends with TLS's close_notify (an EOF without it is an error to Python)
    c = RawClient(srv.port, ssl_context=ctx)
    c.send_text("bye")
    ok(c.recv() == (OP_TEXT, b"bye"), "a raw TLS client is echoed")
    c.send_frame(OP_CLOSE, struct.pack("!H", 1000))
    ok(c.recv_close() == (1000, ""), "close 1000 answered")
    try:
        c.sock.settimeout(10)
        tail = c.sock.recv(100)
        ok(tail == b"", "then close_notify: a clean TLS end", tail)
    except ssl.SSLError as e:
        ok(False, "then close_notify: a clean TLS end (%s)" % e)
    c.sock.close()

    # garbage after the handshake (a record that fails its MAC): logged, closed, no crash
    c = RawClient(srv.port, ssl_context=ctx)
    s = socket.socket(fileno=c.sock.detach())  # the TCP socket under the TLS session
    s.sendall(b"\x17\x03\x03\x00\x20" + os.urandom(32))
    s.settimeout(10)
    try:
        while s.recv(4096):
            pass
        closed = True
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    ok(closed, "a forged record: the connection is closed")
    ok(wait_for(lambda: "TLS read from 127.0.0.1" in srv.log_text()), "and the TLS error is logged")
    s.close()
    got, _ = asyncio.run(ws_echo(srv.port, ctx, ["still"]))
    ok(got == ["still"], "the server goes on", got)

with Server(ENV_SH, flags=TLS) as srv:
    e = env_over(srv.port, client_context(pki))
    ok(e.get("HTTPS") == "on", "HTTPS=on in the environment", e.get("HTTPS"))
    ok(e.get("REMOTE_ADDR") == "127.0.0.1" and e.get("REMOTE_PORT", "").isdigit() and int(e["REMOTE_PORT"]) > 0,
       "REMOTE_ADDR and REMOTE_PORT over TLS", {k: e.get(k) for k in ("REMOTE_ADDR", "REMOTE_PORT")})
    ok(e.get("SERVER_PORT") == "443" and e.get("SSL_CLIENT_VERIFY") == "NONE" and "SSL_CLIENT_S_DN" not in e,
       "SERVER_PORT defaults to 443 (no port in Host), SSL_CLIENT_VERIFY=NONE without --sslca",
       {k: e.get(k) for k in ("SERVER_PORT", "SSL_CLIENT_VERIFY", "SSL_CLIENT_S_DN")})

# --- plain HTTP answers go through TLS too: a static file over https, byte for byte
import urllib.request
www = scratch("www")
os.makedirs(www, exist_ok=True)
blob = os.urandom(5_000_000)
with open(os.path.join(www, "blob.bin"), "wb") as f:
    f.write(blob)
with Server(flags=TLS + ["--staticdir=" + www]) as srv:
    body = urllib.request.urlopen("https://localhost:%d/blob.bin" % srv.port, context=client_context(pki),
                                  timeout=30).read()
    ok(body == blob, "a 5 MB static file over https, byte for byte", len(body))

# --- --sslca: client certificates required and verified
with Server(ENV_SH, flags=TLS + ["--sslca=" + pki["ca"]]) as srv:
    e = env_over(srv.port, client_context(pki, pki["client"], pki["client_key"]))
    ok(e.get("SSL_CLIENT_S_DN") == "CN=wsb-client,O=wsbridge" and e.get("SSL_CLIENT_VERIFY") == "SUCCESS",
       "a CA-signed client certificate: its subject in SSL_CLIENT_S_DN, SSL_CLIENT_VERIFY=SUCCESS",
       {k: e.get(k) for k in ("SSL_CLIENT_S_DN", "SSL_CLIENT_VERIFY")})
    ok(handshake_fails(srv.port, client_context(pki)), "no client certificate: refused")
    ok(handshake_fails(srv.port, client_context(pki, pki["rogue"], pki["rogue_key"])),
       "a self-signed client certificate: refused")
    ok(wait_for(lambda: srv.log_text().count("TLS handshake with") >= 2), "both refusals logged",
       srv.log_text()[-600:])
    e = env_over(srv.port, client_context(pki, pki["client"], pki["client_key"]))
    ok(e.get("SSL_CLIENT_VERIFY") == "SUCCESS", "and the server goes on serving", e.get("SSL_CLIENT_VERIFY"))

# --- a client that connects and says nothing is bounded by --handshake-timeout
with Server("cat", flags=TLS + ["--handshake-timeout=300"]) as srv:
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    t0 = time.monotonic()
    s.settimeout(10 * (3 if SANITIZED else 1))
    try:
        eof = s.recv(100) == b""
    except ConnectionResetError:
        eof = True
    ok(eof and time.monotonic() - t0 < 8 * (3 if SANITIZED else 1), "a silent TLS client is dropped by the handshake timeout",
       time.monotonic() - t0)
    s.close()

# --- backpressure through TLS: a client that stops reading does not grow the server
GEN = 'head -c 300000000 /dev/zero | tr "\\0" "x" | fold -w 1000'
with Server("sh", "-c", GEN, flags=TLS) as srv:
    c = RawClient(srv.port, ssl_context=client_context(pki))
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    time.sleep(2)  # the program writes as fast as it can; nobody reads: the queues fill
    # under ASan freed memory sits in quarantine, so RSS grows while data still moves: wait
    # (bounded) until it stops moving, then it must stay flat
    r1 = rss_kib(srv.pid)
    for _ in range(40):
        time.sleep(0.5)
        r1, prev = rss_kib(srv.pid), r1
        if abs(r1 - prev) < 512:
            break
    time.sleep(2)
    r2 = rss_kib(srv.pid)
    ok(r2 - r1 < 4096, "a client that does not read: server RSS flat through TLS (%d -> %d KiB)" % (r1, r2))
    frames = [c.recv() for _ in range(2000)]
    ok(all(f == (OP_TEXT, b"x" * 1000) for f in frames), "the stream resumes, intact, when the client reads")
    c.sock.close()

# --- SIGHUP: a new certificate for new connections, open sessions keep going
certs = {}
for name in ("first", "second"):
    certs[name] = (scratch(name + ".pem"), scratch(name + "_key.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=" + name, "-addext", "subjectAltName=DNS:localhost", "-keyout", certs[name][1],
                    "-out", certs[name][0]], check=True, capture_output=True)
live_cert, live_key = scratch("live.pem"), scratch("live_key.pem")
shutil.copy(certs["first"][0], live_cert)
shutil.copy(certs["first"][1], live_key)


def peer_cn(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            der = t.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(), capture_output=True)
    return out.stdout.decode().strip()


with Server("cat", flags=["--ssl", "--sslcert=" + live_cert, "--sslkey=" + live_key]) as srv:
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    old = RawClient(srv.port, ssl_context=insecure)
    old.send_text("before")
    ok(old.recv() == (OP_TEXT, b"before"), "a session before the reload")
    ok("CN = first" in peer_cn(srv.port), "the first certificate is served", peer_cn(srv.port))
    shutil.copy(certs["second"][0], live_cert)
    shutil.copy(certs["second"][1], live_key)
    srv.proc.send_signal(signal.SIGHUP)
    ok(wait_for(lambda: "certificate and key reloaded" in srv.log_text()), "SIGHUP: reloaded (logged)")
    ok("CN = second" in peer_cn(srv.port), "new connections get the new certificate", peer_cn(srv.port))
    old.send_text("after")
    ok(old.recv() == (OP_TEXT, b"after"), "the session opened before the reload goes on")
    with open(live_key, "w") as f:
        f.write("not a key\n")
    srv.proc.send_signal(signal.SIGHUP)
    ok(wait_for(lambda: "reload failed" in srv.log_text()), "SIGHUP with a broken key: the failure is logged")
    ok("CN = second" in peer_cn(srv.port) and srv.proc.poll() is None, "and the previous certificate stays in use")
    ok(old.close() == (1000, ""), "the old session closes normally")



RESUME_CTX = {}


def resumed(port, version, session):
    """One HTTPS request offering session (None: a full handshake): (reused?, the newest session).
    The response is read to its end, so TLS 1.3's tickets (sent after the handshake) arrive.
    One client context per version: Python resumes a session only in the context that made it."""
    ctx = RESUME_CTX.get(version)
    if ctx is None:
        ctx = RESUME_CTX[version] = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost", session=session) as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while t.recv(65536):
                pass
            return t.session_reused, t.session


def resumptions(port, version, n, session=None):
    """How many of n connections, each offering the newest session, were resumed; the last session."""
    if session is None:
        _, session = resumed(port, version, None)
    count = 0
    for _ in range(n):
        r, session = resumed(port, version, session)
        count += r
    return count, session


# --workers: the supervisor passes SIGHUP on, every worker reloads; one set of session ticket keys
shutil.copy(certs["first"][0], live_cert)
shutil.copy(certs["first"][1], live_key)
with Server("cat", flags=["--workers=2", "--ssl", "--sslcert=" + live_cert, "--sslkey=" + live_key]) as srv:
    ok(wait_for(lambda: srv.log_text().count("listening on wss://") >= 2), "two workers listening")
    # with a ticket key per worker, about half of these landed on the other worker and were refused
    sessions = {}
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        got, sessions[v] = resumptions(srv.port, v, 20)
        ok(got == 20, "%s: 20 of 20 resumed, whichever worker accepts" % v.name, got)
    shutil.copy(certs["second"][0], live_cert)
    shutil.copy(certs["second"][1], live_key)
    srv.proc.send_signal(signal.SIGHUP)
    ok(wait_for(lambda: srv.log_text().count("certificate and key reloaded") >= 2), "both workers reloaded",
       srv.log_text()[-500:])
    cns = {peer_cn(srv.port) for _ in range(20)}
    ok(all("CN = second" in cn for cn in cns), "20 new connections, whichever worker: the new certificate", cns)
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        got, _ = resumptions(srv.port, v, 5, sessions[v])
        ok(got == 5, "%s: a session from before the reload resumes after it" % v.name, got)

# without --ssl SIGHUP is logged and ignored (never the default action: death)
with Server("cat") as srv:
    c = RawClient(srv.port)
    srv.proc.send_signal(signal.SIGHUP)
    ok(wait_for(lambda: "SIGHUP: nothing to reload" in srv.log_text()), "SIGHUP without --ssl: logged")
    c.send_text("still here")
    ok(c.recv() == (OP_TEXT, b"still here") and srv.proc.poll() is None, "and the server and its session go on")
    c.close()
done()
