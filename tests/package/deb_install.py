#!/usr/bin/python3
"""The Debian package as a user gets it (TAP): build it, install it, serve an example, remove it.

    tests/package/deb_install.py [--deb=PATH]

Builds wsbridge_VERSION_ARCH.deb with scripts/deb (or takes PATH), checks what it holds,
installs it with `apt-get install -y ./wsbridge_*.deb`, starts /usr/bin/wsbridge (never a
wsbridge from PATH: /usr/local/bin may hold a `make install`) on a free 127.0.0.1 port with
the installed examples/count.sh, reads its first lines with a real client
(python3-websockets), stops it by PID; then runs the installed wsbridge.service's ExecStart
(with /etc/wsbridge/wsbridge.conf, a conffile) under systemd-socket-activate on a free port, as
wsbridge.socket would start it, and echoes a message through the configured program; then `apt-get remove -y wsbridge` and checks the
binary is gone. Needs root for apt-get: skips otherwise, and skips when wsbridge is already
installed (the test would replace and remove it). Exit status: 0 passed, 77 skipped,
1 failed. Not part of `make check` (it installs into the system): scripts/test --deb and
.ci/run run it.
"""
import asyncio
import glob
import shlex
import shutil
import os
import re
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = "/usr/bin/wsbridge"
EXAMPLES = "/usr/share/doc/wsbridge/examples"
CONF = "/etc/wsbridge/wsbridge.conf"
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import wsbtest  # noqa: E402  (the TAP points and process helpers the integration tests use)
from wsbtest import done, free_port, ok, stop_process, time_limit  # noqa: E402

time_limit(3600)  # building, installing and removing a package; wsbtest's default is 120 s



def diag(text):
    wsbtest.diag("\n".join(line for line in str(text).splitlines()
                            if not line.startswith("(Reading database ...")))  # dpkg's progress, one line per 5%


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


async def echo_once(port, text, timeout):
    import websockets
    async with websockets.connect("ws://127.0.0.1:%d/" % port, open_timeout=timeout) as ws:
        await ws.send(text)
        return await asyncio.wait_for(ws.recv(), timeout)


def check_units_in_package(deb, files):
    """The units and the configuration file are in the package; the file is a conffile."""
    for unit in ("wsbridge.service", "wsbridge@.service", "wsbridge.socket"):
        ok(any(f.endswith("/systemd/system/" + unit) for f in files), "the package holds the unit " + unit,
           sorted(f for f in files if "/systemd/" in f))
    ok(CONF in files, "the package holds " + CONF)
    rc, conffiles = run(["dpkg-deb", "--info", deb, "conffiles"], 60)
    ok(rc == 0 and CONF in conffiles.split(), CONF + " is a conffile (kept and merged on upgrade)", conffiles)


def serve_as_the_unit_would(files):
    """The installed wsbridge.service's ExecStart, started by systemd-socket-activate as
    wsbridge.socket starts it: the configuration file's program (cat) echoes a message."""
    unit = next((f for f in files if f.endswith("/systemd/system/wsbridge.service")), None)
    if not ok(unit is not None and os.path.isfile(unit), "wsbridge.service is installed", unit):
        return
    with open(unit) as f:
        text = f.read()
    m = re.search(r"^ExecStart=(.*)$", text, re.M)
    argv = shlex.split(m.group(1)) if m else []
    ok(argv == [BIN, "--config=" + CONF], "ExecStart runs the installed binary with the installed configuration",
       argv, [BIN, "--config=" + CONF])
    analyze = shutil.which("systemd-analyze")
    if analyze:
        rc, out = run([analyze, "verify", unit, unit.replace(".service", ".socket")], 60)
        diag(out)
        ok(rc == 0, "systemd-analyze verify accepts wsbridge.service and wsbridge.socket", rc, 0)
    activate = shutil.which("systemd-socket-activate")
    if not activate or not argv:
        ok(True, "# SKIP no systemd-socket-activate (Debian's systemd package)")
        return
    port = free_port()
    log_path = os.path.join(tmp, "activated.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([activate, "-l", "127.0.0.1:%d" % port] + argv, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, start_new_session=True)
    try:
        got = None
        deadline = time.monotonic() + 20
        while got is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                got = asyncio.run(asyncio.wait_for(echo_once(port, "through wsbridge.socket", 10), 20))
            except (ConnectionRefusedError, OSError):
                time.sleep(0.1)  # systemd-socket-activate has not bound yet
            except Exception as e:
                got = "%s: %s" % (type(e).__name__, e)
        ok(got == "through wsbridge.socket", "a client's message comes back through the configured program (cat)",
           got, "through wsbridge.socket")
    finally:
        stop_process(proc)
        log.close()
        with open(log_path, "rb") as f:
            diag(f.read().decode("utf-8", "replace")[-1500:])


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
        stop_process(proc)
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
    check_units_in_package(deb, files)
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
        # the systemd units are installed but neither enabled nor started
        enabled = glob.glob("/etc/systemd/system/*.wants/wsbridge*")
        ok(not enabled, "the install enables no wsbridge unit", enabled, [])
        serve_and_check()
        serve_as_the_unit_would(files)
    finally:
        rc, out = run(["apt-get", "remove", "-y", "wsbridge"], 600, env=APT_ENV)
        diag(out[-1000:])
        ok(rc == 0, "apt-get remove -y wsbridge", rc, 0)
        ok(not os.path.exists(BIN) and not installed(), "/usr/bin/wsbridge is gone and the package is removed")
        # remove keeps configuration files; leave the system as it was
        run(["dpkg", "--purge", "wsbridge"], 300)
        subprocess.run(["rm", "-rf", tmp])
    done()


if __name__ == "__main__":
    main()
