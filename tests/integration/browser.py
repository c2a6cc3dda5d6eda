"""Headless Chromium driven over the DevTools protocol, for the tests of web pages.

    from browser import CHROMIUM, Browser
    b = Browser()                 # one page; b.close() ends chromium
    b.navigate("http://127.0.0.1:%d/" % port)
    b.wait_js("document.body.dataset.state === 'open'")

CHROMIUM is None when no chromium is installed: the test then skips its browser part.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys

from wsbtest import LOG_DIR, OP_TEXT, RawClient, scratch, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """Headless Chromium and one page, driven over the DevTools protocol."""

    def __init__(self):
        self.errlog_path = scratch("chromium.log")
        self.errlog = open(self.errlog_path, "wb")
        profile = scratch("profile")
        shutil.rmtree(profile, ignore_errors=True)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             "--user-data-dir=" + profile, "--window-size=1100,720", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.errlog, start_new_session=True)
        m = wait_for(self._listening, timeout=30)
        if not m:
            self.close()
            raise RuntimeError("chromium did not print its DevTools address; see %s" % self.errlog_path)
        port = int(m.group(1))
        # the page target's own socket (the browser's answers only Target/Browser methods)
        targets = json.loads(subprocess.run(
            [sys.executable, "-c", "import urllib.request,sys;"
             "sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:%d/json/list',timeout=10).read().decode())"
             % port], capture_output=True, timeout=30).stdout)
        page = next(t for t in targets if t["type"] == "page")
        path = page["webSocketDebuggerUrl"].split(str(port), 1)[1]
        self.ws = RawClient(port, path, timeout=30)
        self.id = 0
        self.events = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")

    def _listening(self):
        with open(self.errlog_path, "rb") as f:
            return re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/", f.read())

    def call(self, method, **params):
        self.id += 1
        self.ws.send_text(json.dumps({"id": self.id, "method": method, "params": params}))
        while True:
            op, payload = self.ws.recv()
            if op != OP_TEXT:
                continue
            msg = json.loads(payload)
            if msg.get("id") == self.id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_js(self, expr, timeout=10):
        return wait_for(lambda: self.js(expr), timeout=timeout, interval=0.05)

    def navigate(self, url):
        self.call("Page.navigate", url=url)
        return self.wait_js("document.readyState === 'complete' && location.href === %s" % json.dumps(url))

    def key(self, key, code=None, vk=0):
        for t in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=t, key=key, code=code or key, windowsVirtualKeyCode=vk)

    def screenshot(self, name):
        import base64 as b64
        data = b64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        path = os.path.join(LOG_DIR, name)
        with open(path, "wb") as f:
            f.write(data)
        return path, data

    def problems(self):
        """Console errors, CSP violations, dialogs seen so far."""
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Log.entryAdded" and p["entry"]["level"] == "error" and "favicon" not in p["entry"].get("url", ""):
                out.append(p["entry"]["text"])
            elif m == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("text"))
            elif m == "Page.javascriptDialogOpening":
                out.append("dialog: " + p.get("message", ""))
        return out

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.errlog.close()
