"""The child's stderr is logged line by line however its writes split a line, with one logger for
the WebSocket bridge and for CGI: a line split across writes is one log line, a line longer than
1500 bytes is logged once, cut, and the last line without a newline is logged at EOF."""
import http.client
import os

from wsbtest import *

SCRIPT = (r"printf 'half-' >&2; sleep 0.2; printf 'line\r\n' >&2; "
          r"head -c 3000 /dev/zero | tr '\0' z >&2; printf '\nlast' >&2; echo done")
with Server("/bin/sh", "-c", SCRIPT + "; sleep 0.2") as srv:
    c = RawClient(srv.port)
    got = [m for _, m in c.messages_until_close()[0]]
    ok(got == [b"done"], "only stdout reaches the client", got)
    ok(wait_for(lambda: "stderr: last" in srv.log_text()), "the last line, without a newline, is logged")
    mine = [l.split("] ", 1)[1] for l in srv.log_text().splitlines() if "] stderr: " in l]
    ok("stderr: half-line" in mine and "stderr: half-" not in mine and "stderr: line" not in mine,
       "a line written in two pieces is one log line", [l[:40] for l in mine[:3]])
    zs = [l for l in mine if l.startswith("stderr: z")]
    ok(len(zs) == 1 and zs[0] == "stderr: " + "z" * 1500, "a 3000-byte line: one log line of 1500 bytes",
       [len(l) for l in zs])

# CGI: the same logger.
CGI = scratch("cgi")
shell_script(os.path.join(CGI, "err.sh"), SCRIPT.replace("; echo done", "") +
             "\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n")
with Server(flags=["--cgidir=" + CGI]) as srv:
    h = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    h.request("GET", "/err.sh")
    r = h.getresponse()
    body = r.read()
    h.close()
    ok(r.status == 200 and body == b"ok\n", "the script answers", (r.status, body))
    ok(wait_for(lambda: "CGI stderr: last" in srv.log_text()), "CGI: the last line is logged")
    mine = [l.split("] ", 1)[1] for l in srv.log_text().splitlines() if "] CGI stderr: " in l]
    ok("CGI stderr: half-line" in mine, "CGI: a line written in two pieces is one log line", [l[:40] for l in mine[:3]])
    zs = [l for l in mine if l.startswith("CGI stderr: z")]
    ok(len(zs) == 1 and zs[0] == "CGI stderr: " + "z" * 1500,
       "CGI: a 3000-byte line is one log line of 1500 bytes (not six pieces)", [len(l) for l in zs])
done()
