"""Command line and listening, hardened (issue 10): values checked before anything listens, a
port held by anyone else refused, options after COMMAND warned about, scripts exec cannot run
refused at startup, descriptor exhaustion logged."""
import ctypes
import resource
import socket
import subprocess
import time

from wsbtest import *


def run(*args, preexec_fn=None):
    p = subprocess.run([WSBRIDGE] + list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                       preexec_fn=preexec_fn)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def refused(args, want, name, code=1):
    rc, out, err = run(*args)
    ok(rc == code and all(w in err for w in want) and "listening on" not in err + out, name, (rc, err),
       (code, want))


# B5: millisecond values wrapped around in 32 bits (--closems=4294967295 killed after 0.9 s)
refused(["--closems=4294967295", "cat"], ["--closems", "3600000"], "--closems past one hour is refused")
refused(["--pingms=3600001", "cat"], ["--pingms"], "--pingms past one hour is refused")
refused(["--handshake-timeout=4294967295", "cat"], ["--handshake-timeout"], "--handshake-timeout past one hour")
refused(["--cgi-timeout=0", "--cgidir=" + SCRATCH], ["--cgi-timeout"], "--cgi-timeout=0 is refused")

# zero and empty values that were taken silently
refused(["--origin=", "cat"], ["--origin"], "an empty --origin is refused")
refused(["--max-header-bytes=0", "cat"], ["--max-header-bytes"], "--max-header-bytes=0 is refused")
refused(["--max-headers=0", "cat"], ["--max-headers"], "--max-headers=0 is refused")

# --staticdir overlapping --dir would serve the programs' source
progs = scratch("progs")
os.makedirs(os.path.join(progs, "static"), exist_ok=True)
refused(["--dir=" + progs, "--staticdir=" + progs], ["--staticdir", "--dir", "overlap"], "--staticdir = --dir")
refused(["--dir=" + progs, "--staticdir=" + os.path.join(progs, "static")], ["overlap"], "--staticdir inside --dir")
refused(["--dir=" + os.path.join(progs, "static"), "--staticdir=" + progs], ["overlap"], "--dir inside --staticdir")

# every --address checked before anything listens (was: "listening" on the first, then exit 3)
refused(["--address=127.0.0.1", "--address=127.0.0.300", "--port=0", "cat"], ["--address=127.0.0.300"],
        "a bad --address after a good one: exit 1 before listening")
refused(["--address=127.0.0.1", "--address=[::zz]", "--port=0", "cat"], ["--address=::zz"], "a bad IPv6 --address")
log = os.path.join(LOG_DIR, "cli_hardening.server.log")
with open(log, "wb") as f:
    p = subprocess.Popen([WSBRIDGE, "--address=localhost", "--port=0", "--workers=1", "cat"],
                         stdin=subprocess.DEVNULL, stdout=f, stderr=f)
text = wait_for(lambda: "listening on" in open(log).read() and open(log).read())
m = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/", text or "")
ok(m, "--address=localhost listens on 127.0.0.1", text)
if m:
    c = RawClient(int(m.group(1)))
    c.send_text("hi")
    ok(c.recv() == (OP_TEXT, b"hi"), "and serves there")
    c.close()
p.terminate()
ok(p.wait(20) == 0, "exit 0 on SIGTERM")

# B6: a port held by another program: refused at startup, whatever --workers
busy = socket.socket()
busy.bind(("127.0.0.1", 0))
busy.listen(1)
port = busy.getsockname()[1]
for workers in ("1", "2"):
    refused(["--address=127.0.0.1", "--port=%d" % port, "--workers=" + workers, "cat"],
            ["address already in use", "127.0.0.1 port %d" % port],
            "a port held by a plain listener: --workers=%s exits 3 naming it" % workers, code=3)
busy.close()

# B6: two wsbridge on one port (both with SO_REUSEPORT through --workers): the second fails
with Server("cat", flags=["--workers=2"]) as first:
    refused(["--address=127.0.0.1", "--port=%d" % first.port, "--workers=2", "cat"],
            ["address already in use"], "a second wsbridge --workers=2 on the port exits 3", code=3)
    refused(["--port=%d" % first.port, "--workers=2", "cat"], ["address already in use"],
            "also on all interfaces", code=3)
    c = RawClient(first.port)
    c.send_text("still")
    ok(c.recv() == (OP_TEXT, b"still"), "the first one serves on")
    c.close()

# options written after COMMAND go to the program, with a warning naming them
with Server("/bin/echo", "--port=8123", "-x") as srv:
    c = RawClient(srv.port)
    ok(c.recv() == (OP_TEXT, b"--port=8123 -x"), "the program still gets them")
    ok(re.search(r"warning: --port=8123 comes after COMMAND", srv.log_text()), "--port=8123 after COMMAND: warned",
       srv.log_text()[-400:])
    ok("-x comes after" not in srv.log_text(), "a program's own flag is not")

# a port below 1024 without the privilege: say so and name --port
def no_bind_privilege():
    if os.geteuid() == 0:  # root: drop CAP_NET_BIND_SERVICE (10) from the bounding set before exec
        ctypes.CDLL(None, use_errno=True).prctl(24, 10, 0, 0, 0)


low = None
with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
    start = int(f.read())
for candidate in range(min(start, 1024) - 1, 0, -1):
    t = socket.socket()
    try:
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("127.0.0.1", candidate))
        low = candidate
        break
    except OSError:
        pass
    finally:
        t.close()
if low:
    rc, _, err = run("--address=127.0.0.1", "--port=%d" % low, "--workers=1", "cat", preexec_fn=no_bind_privilege)
    ok(rc == 3 and "below 1024" in err and "--port" in err, "port %d without privileges: explained" % low, (rc, err))
else:
    ok(True, "# SKIP no free port below 1024")

# scripts exec cannot run: found at startup, not on every connection
noshebang = scratch("noshebang.sh")
with open(noshebang, "w") as f:
    f.write("echo hi\n")
crlf = scratch("crlf.sh")
with open(crlf, "wb") as f:
    f.write(b"#!/bin/sh\r\necho hi\r\n")
badinterp = scratch("badinterp.sh")
with open(badinterp, "w") as f:
    f.write("#!/no/such/interpreter\necho hi\n")
for path in (noshebang, crlf, badinterp):
    os.chmod(path, 0o755)
refused(["--port=0", noshebang], ["noshebang.sh", "#!"], "a text script without #! is refused")
refused(["--port=0", crlf], ["crlf.sh", "CR"], "a #! line ending in CR LF is refused")
refused(["--port=0", badinterp], ["/no/such/interpreter"], "a missing interpreter is named")


# out of descriptors: connections dropped by accept are logged (rate-limited), and the server
# serves again once descriptors are free
def few_fds():
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))


log = os.path.join(LOG_DIR, "cli_hardening.server.log")
with open(log, "ab") as f:
    p = subprocess.Popen([WSBRIDGE, "--address=127.0.0.1", "--port=0", "--workers=1", "--loglevel=info", "cat"],
                         stdin=subprocess.DEVNULL, stdout=f, stderr=f, preexec_fn=few_fds)
    start = f.tell()


def tail():
    with open(log, "rb") as f:
        f.seek(start)
        return f.read().decode("utf-8", "replace")


m = wait_for(lambda: re.search(r"listening on ws://127\.0\.0\.1:(\d+)/", tail()))
ok(m, "the server starts with 48 descriptors")
if m:
    port = int(m.group(1))
    held = []
    for _ in range(80):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            pass
    ok(wait_for(lambda: "too many open files" in tail()), "EMFILE on accept is logged", tail()[-600:])
    ok(len(re.findall(r"too many open files", tail())) <= 2, "at most one line a second")
    for s in held:
        s.close()
    time.sleep(0.5)
    c = RawClient(port)
    c.send_text("back")
    ok(c.recv() == (OP_TEXT, b"back"), "served again once descriptors are free")
    c.close()
p.terminate()
ok(p.wait(20) == 0, "exit 0 on SIGTERM")
if SANITIZED:
    ok("ERROR: AddressSanitizer" not in tail() and "runtime error:" not in tail(), "no sanitizer report")
done()
