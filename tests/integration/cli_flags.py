"""Command line: websocketd's syntax and exit codes."""
import socket
import subprocess

from wsbtest import *


def run(*args):
    p = subprocess.run([WSBRIDGE] + list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


rc, out, _ = run("--help")
ok(rc == 0 and "--maxforks" in out and "--passenv" in out, "--help exits 0 and lists the options", rc)
rc, out, _ = run("-version")
ok(rc == 0 and out.startswith("wsbridge "), "-version (one dash) exits 0", (rc, out))
rc, out, _ = run("--license")
ok(rc == 0 and "MIT" in out, "--license exits 0", rc)
rc, _, err = run("--no-such-flag", "cat")
ok(rc == 2 and "no-such-flag" in err, "an unknown flag exits 2 and is named", (rc, err))
rc, _, err = run("--loglevel=loud", "cat")
ok(rc == 1, "a bad --loglevel exits 1", (rc, err))
rc, _, err = run("--port=80")
ok(rc == 1, "no COMMAND exits 1", (rc, err))
rc, _, err = run("--port=0", "no-such-program-anywhere")
ok(rc == 1 and "no-such-program-anywhere" in err, "COMMAND not found exits 1 and is named", (rc, err))
rc, _, err = run("--port=seventy", "cat")
ok(rc == 1 and "port" in err, "a bad number exits 1 naming the flag", (rc, err))
rc, _, err = run("--sslcert=x", "cat")
ok(rc == 1, "--sslcert without --ssl exits 1", (rc, err))
rc, _, err = run("--devconsole", "--staticdir=.", "cat")
ok(rc == 4, "--devconsole with --staticdir exits 4", (rc, err))
busy = socket.socket()
busy.bind(("127.0.0.1", 0))
busy.listen(1)
rc, _, err = run("--address=127.0.0.1", "--port=%d" % busy.getsockname()[1], "cat")
ok(rc == 3, "a port already in use exits 3", (rc, err))
busy.close()

# flag syntax: "--x v" form, and parsing stops at COMMAND (its own flags are its own)
with Server("/bin/echo", "--port", "-x", flags=["--maxforks", "5"]) as srv:
    c = RawClient(srv.port)
    op, p = c.recv()
    ok(p == b"--port -x", "options after COMMAND belong to COMMAND", p)
done()
