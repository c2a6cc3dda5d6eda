"""permessage-deflate with a real browser: headless Chromium offers it (as every browser does), the
server agrees, and text and binary messages of 0 B to 16 MiB, compressed both ways, come back
byte-exact. The echo is `wsbridge --framing=json cat`: cat copies each JSON line, so every message
keeps its type and its bytes (newlines, NUL, non-BMP characters included) whatever its size."""
import json

from wsbtest import *

import browser

time_limit(300)

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]
if SANITIZED:
    SIZES = SIZES[:-1] + [4 << 20]  # the same paths, in the time a sanitized build has

SETUP = r"""
(async () => {
  const ws = new WebSocket(%s);
  ws.binaryType = "arraybuffer";
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error("no connection")); });
  const queue = [];
  let waiter = null;
  ws.onmessage = e => { if (waiter) { const w = waiter; waiter = null; w(e.data); } else queue.push(e.data); };
  let seed = 20261205;
  window.t = {
    ws,
    next: () => queue.length ? Promise.resolve(queue.shift()) : new Promise(r => { waiter = r; }),
    rnd: () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed >>> 24; },
  };
  return ws.extensions;
})()
"""

# one message each way of about n bytes; returns what differs (nothing when byte-exact)
ROUND_TRIP = r"""
(async () => {
  const n = %d, kind = %s, t = window.t;
  if (kind === "binary") {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i %% 5 === 0) ? t.rnd() : (i & 0x3f);  // half random, half compressible
    t.ws.send(b);
    const got = new Uint8Array(await t.next());
    if (got.length !== n) return "binary length " + got.length + " != " + n;
    for (let i = 0; i < n; i++) if (got[i] !== b[i]) return "binary byte " + i + " differs";
    return "";
  }
  const parts = ["line\n", "\u0000", "\u00e9t\u00e9", "\ud83d\ude00", "{\"k\": [1, 2]}\n", "\"q\"\\", "plain text "];
  const pieces = [];
  let len = 0;
  while (len < n) { const p = parts[t.rnd() %% parts.length]; pieces.push(p); len += p.length; }
  const s = pieces.join("");
  t.ws.send(s);
  const got = await t.next();
  if (typeof got !== "string") return "text came back as " + typeof got;
  if (got.length !== s.length) return "text length " + got.length + " != " + s.length;
  return got === s ? "" : "text differs";
})()
"""

if not browser.CHROMIUM:
    print("1..0 # SKIP no chromium (Debian's chromium package)")
    sys.exit(0)

b = browser.Browser()
try:
    with Server("cat", flags=["--framing=json"]) as srv:
        ext = b.js(SETUP % json.dumps("ws://127.0.0.1:%d/" % srv.port))
        ok(ext.startswith("permessage-deflate"), "Chromium offers permessage-deflate and the server agrees", ext)
        for n in SIZES:
            for kind in ("text", "binary"):
                got = b.js(ROUND_TRIP % (n, json.dumps(kind)))
                ok(got == "", "%s message of %d bytes, compressed both ways, back byte-exact" % (kind, n), got, "")
        b.js("window.t.ws.close(1000)")
        ok(wait_for(lambda: re.search(r"close=1000\b.*closed_by=client", srv.log_text())),
           "the browser's close is logged with 1000", srv.log_text()[-600:])
        # the echoed messages hold at least 2 x sum(SIZES) bytes of payload; compressed, far less goes out
        m = re.search(r"ACCESS .* out=(\d+) ", srv.log_text())
        sent = int(m.group(1)) if m else None
        ok(sent is not None and sent < 2 * sum(SIZES) * 0.9, "the server's replies went out compressed "
           "(bytes on the wire under 0.9 of the payload)", sent, "< %d" % (2 * sum(SIZES) * 0.9))
    ok(not b.problems(), "no console error in the page", b.problems())
finally:
    b.close()
done()
