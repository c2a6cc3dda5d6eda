"""--cgidir: a request body trickled just fast enough never to look idle must still be whole
within --cgi-timeout of the request's start: else the script is stopped, 408 when it had not
answered yet, the connection closed when it had; either way its --maxforks slot is free again."""
import shutil

from wsbtest import *

time_limit(120)
SLOW = 3 if SANITIZED else 1
CGI = scratch("cgi")
PIDS = scratch("pids")
for d in (CGI, PIDS):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)


def script(name, body):
    shell_script(os.path.join(CGI, name), body)


# reads its stdin to the end, then answers: it waits for the whole body
script("sink.sh", "echo $$ > '%s/sink'\nn=$(wc -c)\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%%s\\n' \"$n\"\n" % PIDS)
# answers first, then reads its stdin
script("early.sh", "echo $$ > '%s/early'\nprintf 'Content-Type: text/plain\\r\\n\\r\\nearly\\n'\nexec cat >/dev/null\n" % PIDS)
script("ok.sh", "printf 'Content-Type: text/plain\\r\\n\\r\\nfine\\n'\n")

TIMEOUT_MS = 1500 * SLOW
STEP = TIMEOUT_MS / 1000 / 3  # well under --cgi-timeout: every byte is progress


def trickle(port, path, seconds):
    """trickle_once, again while the slot of the request before is not yet free (429)."""
    for _ in range(50):
        got, closed = trickle_once(port, path, seconds)
        if not got.startswith(b"HTTP/1.1 429 "):
            break
        time.sleep(0.1)
    return got, closed


def trickle_once(port, path, seconds):
    """POSTs a 1000-byte body one byte per STEP for up to `seconds`, reading what comes back;
    returns (bytes received, seconds until the server closed, or None if it never did)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" % path.encode())
    s.settimeout(STEP)
    got, t0, closed = b"", time.monotonic(), None
    while time.monotonic() - t0 < seconds and closed is None:
        try:
            s.sendall(b"x")
        except OSError:
            pass  # the server may have closed already: read what it said
        try:
            chunk = s.recv(4096)
            if not chunk:
                closed = time.monotonic() - t0
            got += chunk
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = time.monotonic() - t0
    s.close()
    return got, closed


def get(port, request):
    """(status, body) of one request, read to EOF."""
    st, _, body, s = http_request(port, request)
    s.settimeout(10 * SLOW)
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    s.close()
    return st, body


def get_slot(port, request):
    """get(), again while the slot of the request before is not free yet (429: --maxforks=1, and
    a slot is released as its session ends, a few milliseconds after its client saw the end)."""
    for _ in range(50):
        st, body = get(port, request)
        if st != 429:
            break
        time.sleep(0.1)
    return st, body


def slot_free(port):
    """True when a script runs at --maxforks=1 within 5 s."""
    return get_slot(port, b"GET /ok.sh HTTP/1.1\r\nHost: t\r\n\r\n")[0] == 200


def pid_gone(name):
    try:
        pid = int(open(os.path.join(PIDS, name)).read().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return wait_for(lambda: not alive(pid), timeout=10 * SLOW)


with Server(flags=["--cgidir=" + CGI, "--maxforks=1", "--cgi-timeout=%d" % TIMEOUT_MS]) as srv:
    got, closed = trickle(srv.port, "/sink.sh", 6 * TIMEOUT_MS / 1000)
    ok(got.startswith(b"HTTP/1.1 408 "), "a trickled body not whole in --cgi-timeout: 408", got[:80])
    ok(closed is not None and closed < 3 * TIMEOUT_MS / 1000, "and the connection closes, in time", closed)
    ok(pid_gone("sink"), "the script is stopped")
    ok(wait_for(lambda: re.search(r"CGI /sink\.sh: 408", srv.log_text())), "logged with its reason",
       srv.log_text()[-400:])
    ok(slot_free(srv.port), "its --maxforks slot is free again (--maxforks=1: the next script runs)")

    got, closed = trickle(srv.port, "/early.sh", 6 * TIMEOUT_MS / 1000)
    ok(got.startswith(b"HTTP/1.1 200 ") and b"early" in got, "a script that answered first: its response",
       got[:80])
    ok(closed is not None and closed < 3 * TIMEOUT_MS / 1000,
       "then the connection closes at the deadline (a short body, no error page)", closed)
    ok(pid_gone("early"), "and the script is stopped")
    ok(slot_free(srv.port), "its slot is free again too")

    # a body that arrives whole in time is not affected, however long the script then takes
    st, body = get_slot(srv.port, b"POST /sink.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
    ok(st == 200 and body.strip() == b"5", "a body whole in time: the script's answer", (st, body))
done()
