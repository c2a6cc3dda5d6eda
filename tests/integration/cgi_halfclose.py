"""--cgidir: a client that half-closes (shutdown of its write side, as `nc -N` or a
"request, then EOF" client does) after a whole request still gets the whole CGI response;
one that half-closes before its body is whole is a client that left: the script is stopped."""
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


# answers after a while (the EOF comes first), and streams
script("slow.sh", "sleep 0.5\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
       "for i in 1 2 3; do echo line$i; sleep 0.2; done\n")
script("echo.sh", "printf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\nexec cat\n")
script("wait.sh", "echo $$ > '%s/wait'\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nexec cat\n" % PIDS)


def half_closed(port, request, read_first=False):
    """Sends request, shuts the write side, reads to EOF: (status, body, bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    s.sendall(request)
    s.shutdown(socket.SHUT_WR)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d{3})", head)
    return (int(m.group(1)) if m else None), body, data


with Server(flags=["--cgidir=" + CGI]) as srv:
    st, body, raw = half_closed(srv.port, b"GET /slow.sh HTTP/1.1\r\nHost: t\r\n\r\n")
    ok(st == 200 and body == b"line1\nline2\nline3\n", "GET, then EOF: the whole (streamed) response", raw[-120:])

    payload = os.urandom(200_000)
    st, body, raw = half_closed(srv.port, b"POST /echo.sh HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                                % len(payload) + payload)
    ok(st == 200 and body == payload, "POST of 200 kB, then EOF: echoed whole (its stdin ended after the body)",
       (st, len(body)))

    chunked = b"POST /echo.sh HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    st, body, raw = half_closed(srv.port, chunked)
    ok(st == 200 and body == b"hello", "chunked POST, then EOF: the response", (st, body))

    # EOF before the body is whole: the client left; the script does not wait for the rest
    st, body, raw = half_closed(srv.port, b"POST /wait.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
    pid = int(open(os.path.join(PIDS, "wait")).read()) if wait_for(
        lambda: os.path.exists(os.path.join(PIDS, "wait"))) else None
    ok(pid and wait_for(lambda: not alive(pid), timeout=10 * SLOW), "EOF inside the body: the script is stopped",
       raw[:80])
done()
