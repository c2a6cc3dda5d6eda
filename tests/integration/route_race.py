"""Route confinement is atomic: a directory swapped for a symlink mid-request never escapes (issue 10 B4).

Under each served root, "d" is swapped as fast as a helper process can for a
symlink to a directory outside (renameat2 RENAME_EXCHANGE: "d" always exists,
as one or the other). Meanwhile clients hammer it: static GETs of /d/f.txt
(--staticdir) and WebSocket upgrades to /d/prog.sh (--dir). The route checks
one object and must serve or run that same object: no response may carry the
outside file, no outside program may run (it would leave a marker file).
Each phase is bounded (a time and an attempt budget, whichever ends first);
afterwards the server holds as many descriptors as before it (none leaked on
any path).
"""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

from wsbtest import *

PHASE_S = 2.0 * (2 if SANITIZED else 1)
MAX_GETS = 6000
MAX_UPGRADES = 400

BASE = scratch("race")
shutil.rmtree(BASE, ignore_errors=True)
MARKS = os.path.join(BASE, "marks")
os.makedirs(MARKS)


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


# The static tree: root/d/f.txt inside, outside/f.txt the secret; root/swap -> ../outside is the
# symlink that trades places with root/d.
S_ROOT, S_OUT = os.path.join(BASE, "sroot"), os.path.join(BASE, "soutside")
write(os.path.join(S_ROOT, "d", "f.txt"), "inside\n")
write(os.path.join(S_OUT, "f.txt"), "OUTSIDE-SECRET\n")
os.symlink("../soutside", os.path.join(S_ROOT, "swap"))

# The --dir tree: the same shape with programs; the outside one leaves a marker.
D_ROOT, D_OUT = os.path.join(BASE, "droot"), os.path.join(BASE, "doutside")
write(os.path.join(D_ROOT, "d", "prog.sh"), "#!/bin/sh\necho inside\n", 0o755)
write(os.path.join(D_OUT, "prog.sh"), "#!/bin/sh\ntouch '%s'\necho OUTSIDE-RAN\n" % os.path.join(MARKS, "outside"),
      0o755)
os.symlink("../doutside", os.path.join(D_ROOT, "swap"))

# The swapper: its own process (no GIL shared with the clients), ends by itself after a minute
# at most; renameat2(RENAME_EXCHANGE) where the kernel and libc have it, else two renames
# through a spare name (then "d" is missing for a moment too, which is still a valid race).
SWAPPER = r"""
import ctypes, os, sys, time
root = sys.argv[1]
a, b, spare = os.path.join(root, "d"), os.path.join(root, "swap"), os.path.join(root, "spare")
libc = ctypes.CDLL(None, use_errno=True)
fn = getattr(libc, "renameat2", None)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
ba, bb = a.encode(), b.encode()
exchange = fn is not None and fn(AT_FDCWD, ba, AT_FDCWD, bb, RENAME_EXCHANGE) == 0
if exchange:
    fn(AT_FDCWD, ba, AT_FDCWD, bb, RENAME_EXCHANGE)
print("exchange" if exchange else "rename", flush=True)
end = time.monotonic() + 60
n = 0
while time.monotonic() < end:
    if exchange:
        fn(AT_FDCWD, ba, AT_FDCWD, bb, RENAME_EXCHANGE)
    else:
        os.rename(a, spare); os.rename(b, a); os.rename(a, b); os.rename(spare, a)
    n += 1
    if n % 2 == 0 and os.path.exists(os.path.join(root, "stop")):
        break
"""


class Swapper:
    def __init__(self, root):
        self.root = root

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", SWAPPER, self.root], stdout=subprocess.PIPE)
        self.mode = self.proc.stdout.readline().decode().strip()
        return self

    def __exit__(self, *exc):
        # an even number of swaps: "d" is the directory again when it stops
        open(os.path.join(self.root, "stop"), "w").close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.unlink(os.path.join(self.root, "stop"))
        return False


def hammer(nthreads, budget, one):
    """Runs one() from nthreads threads until PHASE_S has passed or budget calls were made;
    returns the list of their results."""
    results, lock = [], threading.Lock()
    end = time.monotonic() + PHASE_S

    def loop():
        while time.monotonic() < end:
            with lock:
                if len(results) >= budget:
                    return
            r = one()
            with lock:
                results.append(r)

    threads = [threading.Thread(target=loop) for _ in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(PHASE_S + 60)
    return results


def read_all(s, limit=65536, until=None):
    """What s sends until EOF (or until until(data) is true), at most limit bytes."""
    data = b""
    try:
        while len(data) < limit and not (until and until(data)):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def get_once(port):
    try:
        status, _, rest, s = http_request(port, "GET /d/f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 10)
        body = rest + read_all(s)
        s.close()
        return status, body
    except OSError as e:
        return None, repr(e).encode()


def upgrade_once(port):
    try:
        req, _ = upgrade_request("/d/prog.sh")
        status, _, rest, s = http_request(port, req, 10)
        # the program's one line, or the server's close frame (0x88) when it printed nothing
        data = rest + (read_all(s, until=lambda d: b"inside" in rest + d or b"OUTSIDE" in rest + d
                                or b"\x88" in rest + d) if status == 101 else b"")
        s.close()
        return status, data
    except OSError as e:
        return None, repr(e).encode()


def settled_fds(srv, baseline):
    return wait_for(lambda: fd_count(srv.pid) <= baseline, timeout=10) and fd_count(srv.pid)


# ---------------------------------------------------------------- static files
with Server(flags=["--staticdir=" + S_ROOT]) as srv:
    status, body = get_once(srv.port)
    ok(status == 200 and body == b"inside\n", "control: /d/f.txt is served", (status, body))
    r = http_request(srv.port, "GET /swap/f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    ok(r[0] == 403, "control: the symlink out of the root is refused", r[0], 403)
    r[3].close()
    baseline = fd_count(srv.pid)
    with Swapper(S_ROOT) as sw:
        results = hammer(4, MAX_GETS, lambda: get_once(srv.port))
    diag("static: %d GETs while swapping (%s)" % (len(results), sw.mode))
    leaked = [r for r in results if b"OUTSIDE" in (r[1] or b"")]
    ok(not leaked, "no GET served the file outside the root", "%d of %d" % (len(leaked), len(results)), 0)
    odd = [r for r in results if r[0] not in (200, 403, 404) or (r[0] == 200 and r[1] != b"inside\n")]
    ok(not odd, "each answer is the inside file, 403 or 404", odd[:3], [])
    ok(len(results) >= 50, "the race ran (%d requests)" % len(results))
    n = settled_fds(srv, baseline)
    ok(n is not False and n <= baseline, "no descriptor left open after the race", n, baseline)

# ---------------------------------------------------------------- --dir programs
with Server(flags=["--dir=" + D_ROOT]) as srv:
    status, data = upgrade_once(srv.port)
    ok(status == 101 and b"inside" in data, "control: /d/prog.sh runs", (status, data[-40:]))
    baseline = fd_count(srv.pid)
    with Swapper(D_ROOT) as sw:
        results = hammer(3, MAX_UPGRADES, lambda: upgrade_once(srv.port))
    diag("--dir: %d upgrades while swapping (%s)" % (len(results), sw.mode))
    ran = [r for r in results if b"OUTSIDE" in (r[1] or b"")]
    ok(not ran and not os.path.exists(os.path.join(MARKS, "outside")),
       "no upgrade ran the program outside the root",
       "%d of %d answered from outside, marker %s" % (len(ran), len(results),
                                                       os.path.exists(os.path.join(MARKS, "outside"))), 0)
    odd = [r for r in results if r[0] not in (101, 403, 404, 500)]
    ok(not odd, "each answer is 101, 403, 404 or 500", odd[:3], [])
    ok(len(results) >= 10, "the race ran (%d upgrades)" % len(results))
    n = settled_fds(srv, baseline)
    ok(n is not False and n <= baseline, "no descriptor left open after the race", n, baseline)

done()
