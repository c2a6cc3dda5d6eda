"""--pty --binary in a browser: examples/terminal/index.html in headless Chromium.

wsbridge serves the page (--staticdir=examples/terminal) and `bash --norc -i` on the same port.
The test types into the page with real key events (DevTools Input.dispatchKeyEvent) and reads
what the page's renderer drew from its DOM: a command and its output, the window size the page
measured (?cols=&rows=) as `stty size` sees it, the size after the browser window shrinks (the
page's {"resize":[C,R]} message), Backspace, ^C interrupting a foreground job, `clear`, and
`exit` closing the session (the page shows code 1000). No child is left, the server's
descriptors are back where they were, and the page logged no error.
"""
from wsbtest import *

import browser

time_limit(240)
PAGE_DIR = os.path.join(EXAMPLES, "terminal")
T = 15


def screen(b):
    return b.js("document.getElementById('screen').textContent")


def wait_screen(b, pattern, timeout=T):
    return wait_for(lambda: re.search(pattern, screen(b)), timeout=timeout, interval=0.05)


def type_keys(b, text, ctrl=False):
    for ch in text:
        key = {"\r": "Enter", "\b": "Backspace"}.get(ch, ch)
        for t in ("keyDown", "keyUp"):
            b.call("Input.dispatchKeyEvent", type=t, key=key, code=key,
                   modifiers=2 if ctrl else 0, windowsVirtualKeyCode=13 if key == "Enter" else 0)


if not browser.CHROMIUM:
    ok(True, "# SKIP chromium is not installed (scripts/setup --test-deps installs it)")
    done()

b = browser.Browser()
try:
    with Server("bash", "--norc", "-i", flags=["--pty", "--binary", "--staticdir=" + PAGE_DIR]) as srv:
        base = fd_count(srv.pid)
        ok(b.navigate("http://127.0.0.1:%d/" % srv.port), "the terminal page loads from --staticdir")
        ok(b.wait_js("document.body.dataset.state === 'open'", timeout=T), "the page connects")
        ok(wait_screen(b, r"bash-[\d.]+[#$] "), "the shell's prompt is drawn", screen(b)[-200:])

        cols, rows = b.js("[term.cols, term.rows]")
        type_keys(b, "stty size\r")
        ok(wait_screen(b, r"\n%d %d\n" % (rows, cols)), "stty size: the size the page measured (%dx%d)" % (cols, rows),
           screen(b)[-200:])

        type_keys(b, "echo hello-$((6*7))\r")
        ok(wait_screen(b, r"\nhello-42\n"), "a typed command's output is drawn", screen(b)[-200:])

        type_keys(b, "echo abX\bc\r")
        ok(wait_screen(b, r"\nabc\n"), "Backspace erases: echo abc", screen(b)[-200:])

        type_keys(b, "sleep 1000\r")
        time.sleep(0.3)
        type_keys(b, "c", ctrl=True)
        type_keys(b, "echo after-$?\r")
        ok(wait_screen(b, r"\nafter-130\n"), "^C interrupts the foreground job (status 130)", screen(b)[-200:])

        b.call("Emulation.setDeviceMetricsOverride", width=640, height=400, deviceScaleFactor=1, mobile=False)
        ok(b.wait_js("term.cols < %d" % cols, timeout=T), "the page sees the smaller window")
        cols2, rows2 = b.js("[term.cols, term.rows]")
        type_keys(b, "stty size\r")
        ok(wait_screen(b, r"\n%d %d\n" % (rows2, cols2)),
           "after the resize message stty size says %d %d" % (rows2, cols2), screen(b)[-200:])
        ok(re.search(r"pty: window %dx%d" % (cols2, rows2), srv.log_text()), "the server logged the resize")

        b.screenshot("pty_browser.png")
        type_keys(b, "clear\r")
        ok(wait_for(lambda: "hello-42" not in screen(b), timeout=T), "clear empties the screen", screen(b)[-200:])

        type_keys(b, "exit\r")
        ok(b.wait_js("document.body.dataset.state === 'closed'", timeout=T), "exit: the session closes")
        ok(b.js("document.body.dataset.code") == "1000", "with code 1000", b.js("document.body.dataset.code"))
        ok(wait_for(lambda: children(srv.pid) == []), "no child left", children(srv.pid))
        ok(wait_for(lambda: fd_count(srv.pid) == base), "server descriptors back to %d" % base, fd_count(srv.pid))
    ok(b.problems() == [], "no error in the page", b.problems())
finally:
    b.close()
done()
