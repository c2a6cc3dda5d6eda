#!/usr/bin/python3
"""The Debian package as a user gets it (TAP): build it, install it, serve an example, remove it.

    tests/package/deb_install.py [--deb=PATH]

Builds wsbridge_VERSION_ARCH.deb with scripts/deb (or takes PATH), checks what it holds,
installs it with `apt-get install -y ./wsbridge_*.deb`, starts /usr/bin/wsbridge (never a
wsbridge from PATH: /usr/local/bin may hold a `make install`) on a free 127.0.0.1 port with
the installed examples/count.sh, reads its first lines with a real client
(python3-websockets), stops it by PID, then `apt-get remove -y wsbridge` and checks the
binary is gone. Needs root for apt-get: skips otherwise, and skips when wsbridge is already
installed (the test would replace and remove it). Exit status: 0 passed, 77 skipped,
1 failed. Not part of `make check` (it installs into the system): scripts/test --deb and
.ci/run run it.
"""
import asyncio
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = "/usr/bin/wsbridge"
EXAMPLES = "/usr/share/doc/wsbridge/examples"
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

_n = 0
_failed = 0


def ok(cond, name, got=None, want=None):
    global _n, _failed
    _n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", _n, name), flush=True)
    if not cond:
        _failed += 1
        if got is not None or want is not None:
            print("#   got:  %r\n#   want: %r" % (got, want), flush=True)
    return cond


def diag(text):
    for line in str(text).splitlines():
        if not line.startswith("(Reading database ..."):  # dpkg's progress, one line per 5%
            print("# " + line, flush=True)


def skip_all(reason):
    print("1..0 # SKIP " + reason, flush=True)
    sys.exit(77)


def run(args, timeout, **kw):
    """Runs args; returns (exit status, output). A timeout is a failure, not a hang."""
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, **kw)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return -1, (e.stdout or b"").decode("utf-8", "replace") + "\n(timed out after %ds)" % timeout


def installed():
    rc, out = run(["dpkg-query", "-W", "-f=${Status}", "wsbridge"], 30)
    return rc == 0 and "install ok installed" in out


def version_of_tree():
    with open(os.path.join(TOP, "configure.ac")) as f:
        m = re.search(r"^AC_INIT\(\[wsbridge\], *\[([^]]+)\]", f.read(), re.M)
    return m.group(1) if m else None


async def first_lines(port, count, timeout):
    import websockets
    got = []
    async with websockets.connect("ws://127.0.0.1:%d/" % port, open_timeout=timeout) as ws:
        while len(got) < count:
            got.append(await asyncio.wait_for(ws.recv(), timeout))
    return got


def serve_and_check():
    """Starts the installed binary on a free port with an installed example; a client reads it."""
    log_path = os.path.join(tmp, "server.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([BIN, "--address=127.0.0.1", "--port=0", "--workers=1", EXAMPLES + "/count.sh"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    try:
        port = None
        deadline = time.monotonic() + 10
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            with open(log_path, "rb") as f:
                m = re.search(rb"listening on ws://127\.0\.0\.1:(\d+)/", f.read())
            if m:
                port = int(m.group(1))
            else:
                time.sleep(0.05)
        if not ok(port is not None, "/usr/bin/wsbridge reports its listening port"):
            return
        try:
            got = asyncio.run(asyncio.wait_for(first_lines(port, 3, 10), 20))
        except Exception as e:  # a refused or failed connection is this test's failure, with the reason
            got = "%s: %s" % (type(e).__name__, e)
        ok(got == ["1", "2", "3"], "a python3-websockets client receives count.sh's first lines", got, ["1", "2", "3"])
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        ok(proc.returncode == 0, "the server stopped by SIGTERM to its PID exits with 0", proc.returncode, 0)
        with open(log_path, "rb") as f:
            diag(f.read().decode("utf-8", "replace")[-2000:])


def main():
    global tmp
    deb = None
    for a in sys.argv[1:]:
        if a.startswith("--deb="):
            deb = os.path.abspath(a[len("--deb="):])
        else:
            print("deb_install.py: unknown argument %s" % a, file=sys.stderr)
            sys.exit(2)
    if os.geteuid() != 0:
        skip_all("not root: apt-get install needs root (run it as root, or through sudo)")
    if installed():
        skip_all("a wsbridge package is installed already; the test would replace and remove it")
    try:
        import websockets  # noqa: F401
    except ImportError:
        skip_all("no python3-websockets for the client (apt-get install python3-websockets)")

    print("1..16", flush=True)
    tmp = tempfile.mkdtemp(prefix="wsb-deb-test.")
    version = version_of_tree()
    arch = subprocess.run(["dpkg", "--print-architecture"], stdout=subprocess.PIPE).stdout.decode().strip()
    name = "wsbridge_%s_%s.deb" % (version, arch)
    if deb is None:
        rc, out = run([os.path.join(TOP, "scripts", "deb"), "--outdir=" + tmp], 3600)
        diag(out[-4000:])
        ok(rc == 0, "scripts/deb builds the package and lintian reports no error", rc, 0)
        deb = os.path.join(tmp, name)
    else:
        ok(os.path.isfile(deb), "the given package exists", deb)
    ok(os.path.basename(deb) == name and os.path.isfile(deb), "the package is %s" % name,
       sorted(glob.glob(os.path.join(os.path.dirname(deb), "*.deb"))), name)
    if not os.path.isfile(deb):
        sys.exit(1)

    rc, contents = run(["dpkg-deb", "--contents", deb], 60)
    files = set(re.findall(r" \.(/\S+)$", contents, re.M))
    for path in (BIN, "/usr/share/man/man1/wsbridge.1.gz", EXAMPLES + "/count.sh",
                 "/usr/share/doc/wsbridge/copyright"):
        ok(path in files, "the package holds " + path)
    rc, depends = run(["dpkg-deb", "--field", deb, "Depends"], 60)
    ok("libuv1" in depends and "libssl" in depends and "libc6" in depends,
       "Depends is computed from the libraries the binary links (shlibs)", depends.strip())

    try:
        # ./ makes apt-get take a file, not a package name from the archive
        rc, out = run(["apt-get", "install", "-y", "./" + os.path.basename(deb)], 900,
                      cwd=os.path.dirname(deb), env=APT_ENV)
        diag(out[-1500:])
        if not ok(rc == 0 and installed(), "apt-get install -y ./%s" % os.path.basename(deb), rc, 0):
            sys.exit(1)
        rc, out = run([BIN, "--version"], 30)
        ok(out.strip() == "wsbridge %s" % version, "/usr/bin/wsbridge --version", out.strip(), "wsbridge " + version)
        ok(os.access(EXAMPLES + "/count.sh", os.X_OK), "the installed examples are executable")
        # systemd units, when the package has them, are installed but neither enabled nor started
        units = sorted(os.path.basename(f) for f in files if re.search(r"/systemd/system/[^/]+\.(service|socket)$", f))
        diag("systemd units in the package: %s" % (", ".join(units) or "none"))
        enabled = glob.glob("/etc/systemd/system/*.wants/wsbridge*")
        ok(not enabled, "the install enables no wsbridge unit", enabled, [])
        serve_and_check()
    finally:
        rc, out = run(["apt-get", "remove", "-y", "wsbridge"], 600, env=APT_ENV)
        diag(out[-1000:])
        ok(rc == 0, "apt-get remove -y wsbridge", rc, 0)
        ok(not os.path.exists(BIN) and not installed(), "/usr/bin/wsbridge is gone and the package is removed")
        # remove keeps configuration files; leave the system as it was
        run(["dpkg", "--purge", "wsbridge"], 300)
        subprocess.run(["rm", "-rf", tmp])
    sys.exit(1 if _failed else 0)


if __name__ == "__main__":
    main()
