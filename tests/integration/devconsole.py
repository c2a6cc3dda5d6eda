"""--devconsole: the console page served by wsbridge, driven in headless Chromium.

The browser (Debian's chromium, DevTools protocol over our RawClient)
opens the page wsbridge serves for a plain GET, connects to the example
greeter, sends with Enter, recalls history with Up/Down, and sees replies,
binary messages (--binary cat) and close codes with reasons; screenshots go
next to the test's log. Reflection: raw hostile targets and Host headers
come back escaped, and the escaped page, rendered by the browser, runs no
injected script. --devconsole with --staticdir or --cgidir is exit 4.
"""
import html
import http.server
import threading

from wsbtest import *

import browser

time_limit(240)
CHROMIUM = browser.CHROMIUM


def ex(name):
    return os.path.join(EXAMPLES, name)


# ---------------------------------------------------------------- exit 4 (no browser needed)

for flag in ("--staticdir", "--cgidir"):
    p = subprocess.run([WSBRIDGE, "--port=0", "--devconsole", "%s=%s" % (flag, SCRATCH)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    ok(p.returncode == 4, "--devconsole with %s: exit 4" % flag, p.returncode, 4)
    ok(b"--devconsole" in p.stderr, "--devconsole with %s: the message says why" % flag, p.stderr)


# ---------------------------------------------------------------- raw HTTP: the page and reflection

def get(port, target, host="127.0.0.1", method="GET"):
    """(status, headers, body) of one request, read to EOF."""
    if isinstance(target, str):
        target = target.encode()
    req = (b"%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
           % (method.encode(), target, host.encode()))
    status, headers, body, s = http_request(port, req)
    s.settimeout(10 * (3 if SANITIZED else 1))
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    s.close()
    return status, headers, body


def url_box(body):
    m = re.search(rb'id="url"[^>]*value="([^"]*)"', body)
    return m.group(1).decode("ascii", "replace") if m else None


XSS = '/"><script>window.pwned=1</script><img/src=x/onerror="window.pwned=2">'
XSS_ESC = html.escape(XSS)
xss_page = None

with Server(ex("greeter.sh"), flags=["--devconsole"]) as srv:
    status, headers, body = get(srv.port, "/any/path?q=1")
    ok(status == 200, "GET of any path: 200", status)
    ok(headers.get("content-type") == "text/html; charset=utf-8", "Content-Type text/html; charset=utf-8",
       headers.get("content-type"))
    ok(body.startswith(b"<!DOCTYPE html>") and body.rstrip().endswith(b"</html>"), "the page, whole")
    ok(int(headers.get("content-length", -1)) == len(body), "Content-Length matches", headers, len(body))
    ok(url_box(body) == "ws://127.0.0.1/any/path?q=1", "URL box: ws:// + Host + request URI", url_box(body))
    ok(not re.search(rb'(src|href)="?[a-z]+:', body), "no external asset")
    # frame protection is a response header: a meta CSP cannot say frame-ancestors
    ok(headers.get("content-security-policy") == "frame-ancestors 'self'",
       "Content-Security-Policy: frame-ancestors 'self' (clickjacking)", headers.get("content-security-policy"))
    ok(headers.get("x-frame-options") == "SAMEORIGIN", "X-Frame-Options: SAMEORIGIN (older browsers)",
       headers.get("x-frame-options"))
    ok(re.search(rb'<meta http-equiv="Content-Security-Policy" content="[^"]*script-src', body),
       "and the page keeps its own CSP (meta)")

    status, headers, head_body = get(srv.port, "/any/path?q=1", method="HEAD")
    ok(status == 200 and head_body == b"" and int(headers.get("content-length", -1)) == len(body),
       "HEAD: 200, same Content-Length, no body", (status, headers.get("content-length"), head_body[:40]))

    status, headers, body = get(srv.port, XSS)
    xss_page = body
    ok(status == 200, "hostile target: 200", status)
    ok(b"window.pwned" not in body.replace(XSS_ESC.encode(), b""), "hostile target only in escaped form")
    ok(url_box(body) == "ws://127.0.0.1" + XSS_ESC, "hostile target: escaped in the URL box", url_box(body),
       "ws://127.0.0.1" + XSS_ESC)
    ok(body.count(b"<script") == 1 and body.count(b"</script") == 1, "one script element, the page's own")

    for target in (b"/</script>", b"/'`\"\xe2\x80\xa8\xe2\x80\xa9", b"/a\\\"\\", b"/\xff\xfe"):
        status, _, body = get(srv.port, target)
        box = url_box(body) or ""
        ok(status == 200 and body.count(b"<script") == 1 and not re.search(r"[<>\"'`\x80-\uffff]", box),
           "target %r comes back escaped" % target, box)
    # a Host that is no host name: refused before any page (400), or at least percent-encoded
    # (test_devconsole checks the escaping itself)
    status, _, body = get(srv.port, "/", host='h"><svg onload=alert(1)>')
    ok(b"<svg" not in body and (status == 400 or (
        status == 200 and url_box(body) == "ws://h%22%3E%3Csvg%20onload=alert(1)%3E/")),
       "hostile Host: refused or percent-encoded, no markup", (status, url_box(body)))

    # the console does not take the WebSocket's place
    c = RawClient(srv.port, "/any/path")
    c.send_text("Ada")
    ok(c.recv() == (OP_TEXT, b"Hello, Ada!"), "upgrades still reach the program")
    c.close()


# ---------------------------------------------------------------- the browser

if not CHROMIUM:
    ok(True, "the browser part # SKIP chromium is not installed (scripts/setup installs it)")


class Browser(browser.Browser):
    """The console page's own helpers on top of the generic browser."""

    def type_and_enter(self, text):
        self.js("document.getElementById('msg').focus()")
        self.call("Input.insertText", text=text)
        self.key("Enter", vk=13)

    def log_lines(self, cls=""):
        return self.js("Array.from(document.querySelectorAll('#log div%s')).map(function (d) {"
                       " return d.childNodes[2].textContent; })" % cls)

    def wait_line(self, cls, text, timeout=10):
        return wait_for(lambda: any(text in l for l in self.log_lines(cls)), timeout=timeout, interval=0.05)


if CHROMIUM:
    b = Browser()
    try:
        # --- the greeter, typed into the page
        with Server(ex("greeter.sh"), flags=["--devconsole"]) as srv:
            page = "http://127.0.0.1:%d/chat/room?x=1&y=%%22" % srv.port
            ok(b.navigate(page), "the browser loads the console")
            want = "ws://127.0.0.1:%d/chat/room?x=1&y=%%22" % srv.port
            ok(b.js("document.getElementById('url').value") == want, "URL box prefilled", b.js(
                "document.getElementById('url').value"), want)
            ok(b.js("document.getElementById('status').textContent") == "closed",
               "the script ran under the page's CSP")
            b.js("document.getElementById('connect').click()")
            ok(b.wait_js("document.getElementById('status').textContent === 'open'"), "Connect: open")
            ext = b.js("document.getElementById('ext').textContent")
            ok(ext.startswith("permessage-deflate"), "the page shows the agreed extension", ext)
            ok(any("extensions permessage-deflate" in l for l in b.log_lines(".info")),
               "and logs it with the open", b.log_lines(".info"))
            b.type_and_enter("World")
            ok(b.wait_line(".out", "World"), "the message is logged as out")
            ok(b.wait_line(".in", "Hello, World!"), "the reply is logged as in", b.log_lines())
            b.type_and_enter("Ada")
            ok(b.wait_line(".in", "Hello, Ada!"), "a second reply")
            recalled = []
            for k in ("ArrowUp", "ArrowUp", "ArrowUp", "ArrowDown", "ArrowDown"):
                b.key(k, vk=38 if k == "ArrowUp" else 40)
                recalled.append(b.js("document.getElementById('msg').value"))
            ok(recalled == ["Ada", "World", "World", "Ada", ""], "history: Up/Down recall what was sent",
               recalled)
            long_name = "Grace" * 400
            b.type_and_enter(long_name)
            ok(b.wait_line(".in", "Hello, %s!" % long_name), "a 2 KB message both ways, compressed by "
               "chromium and by the server, arrives intact")
            # a close code the browser refuses is reported, not thrown away
            b.js("document.getElementById('code').value = '1006'")
            b.js("document.getElementById('disconnect').click()")
            ok(b.wait_line(".err", "cannot close"), "close code 1006 refused by the browser is logged")
            b.js("document.getElementById('code').value = '4001';"
                 "document.getElementById('reason').value = 'done here'")
            b.js("document.getElementById('disconnect').click()")
            ok(b.wait_js("document.getElementById('status').textContent === 'closed'"), "Disconnect: closed")
            lines = b.log_lines(".info")
            ok(any("closing with code 4001" in l and 'reason "done here"' in l for l in lines),
               "our close code and reason are logged", lines)
            ok(any(l.startswith("closed: code 4001") for l in lines), "the server's answer: code 4001, clean",
               lines)
            path, png = b.screenshot("devconsole.png")
            ok(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, "screenshot saved: %s" % path, len(png))

        # --- binary both ways (--binary cat echoes raw bytes as binary messages)
        with Server("cat", flags=["--devconsole", "--binary"]) as srv:
            ok(b.navigate("http://127.0.0.1:%d/" % srv.port), "the console of a --binary server")
            b.js("document.getElementById('connect').click()")
            ok(b.wait_js("document.getElementById('status').textContent === 'open'"), "binary: open")
            b.js("document.getElementById('mode').value = 'hex'")
            b.type_and_enter("00 01 fe ff")
            ok(b.wait_line(".out.bin", "binary, 4 bytes: 00 01 fe ff"), "binary out, as hex")
            ok(b.wait_line(".in.bin", "binary, 4 bytes: 00 01 fe ff"), "binary in, as hex", b.log_lines())
            b.type_and_enter("zz")
            ok(b.wait_line(".err", "not hex bytes: zz"), "bad hex is refused with a message")
            b.screenshot("devconsole-binary.png")

        # --- the server closes: code and reason shown
        with Server("sh", "-c", 'read -r line; echo "bye $line"; exit 3', flags=["--devconsole"]) as srv:
            ok(b.navigate("http://127.0.0.1:%d/" % srv.port), "the console of a program that exits 3")
            b.js("document.getElementById('connect').click()")
            ok(b.wait_js("document.getElementById('status').textContent === 'open'"), "exit 3: open")
            b.type_and_enter("now")
            ok(b.wait_line(".in", "bye now"), "its last words arrive")
            ok(b.wait_js("document.getElementById('status').textContent === 'closed'"), "the server closed")
            lines = b.log_lines()
            ok(any('closed: code 1011 (Internal Error), reason "exit status 3"' in l for l in lines),
               "close code and reason shown", lines)
            b.screenshot("devconsole-close.png")

        # --- the hostile page, as wsbridge escaped it, rendered by the browser
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(xss_page)))
                self.end_headers()
                self.wfile.write(xss_page)

            def log_message(self, *a):
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            ok(b.navigate("http://127.0.0.1:%d/" % httpd.server_address[1]), "the escaped hostile page loads")
            ok(b.js("typeof window.pwned") == "undefined", "no injected script ran", b.js("typeof window.pwned"))
            ok(b.js("document.scripts.length") == 1 and b.js("document.images.length") == 0,
               "no injected element", (b.js("document.scripts.length"), b.js("document.images.length")))
            ok(b.js("document.getElementById('url').value") == "ws://127.0.0.1" + XSS,
               "the box shows the hostile target as text", b.js("document.getElementById('url').value"))
            ok(b.js("document.getElementById('status').textContent") == "closed", "the page's own script ran")
        finally:
            httpd.shutdown()
            httpd.server_close()

        probs = b.problems()
        ok(probs == [], "no console error, CSP violation or dialog in any page", probs)
    finally:
        b.close()
done()
