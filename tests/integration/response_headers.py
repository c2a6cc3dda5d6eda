"""--header on every response, --header-ws on the 101 only, --header-http on every non-101 (refusals too)."""
from wsbtest import *

ORIGIN = "Origin: http://ok.example"
with Server("cat", flags=["--header=X-All: 1", "--header=X-All2: 1b", "--header-ws=X-Ws: 3",
                          "--header-http=X-Http: 2", "--origin=ok.example", "--maxforks=1"]) as srv:
    cases = [
        (403, upgrade_request(extra=["Origin: http://bad.example"])[0]),
        (426, upgrade_request(version="8", extra=[ORIGIN])[0]),
        (405, upgrade_request(method="POST", extra=[ORIGIN])[0]),
        (400, upgrade_request(key="x", extra=[ORIGIN])[0]),
    ]
    want = {"x-all": "1", "x-all2": "1b", "x-http": "2"}
    for status, req in cases:
        st, h, _, s = http_request(srv.port, req)
        s.close()
        h = {k: v for k, v in h.items() if k.startswith("x-")}
        ok(st == status, "refusal %d" % status, st, status)
        ok(h == want, "%d: --header and --header-http, not --header-ws" % status, h, want)
    first = RawClient(srv.port, extra=[ORIGIN])
    h = {k: v for k, v in first.headers.items() if k.startswith("x-")}
    ok(h == {"x-all": "1", "x-all2": "1b", "x-ws": "3"}, "101: --header (repeated) and --header-ws, not --header-http", h)
    # the first session holds the only fork
    st, h, _, s = http_request(srv.port, upgrade_request(extra=[ORIGIN])[0])
    s.close()
    h = {k: v for k, v in h.items() if k.startswith("x-")}
    ok(st == 429, "refusal 429", st, 429)
    ok(h == want, "429: --header and --header-http, not --header-ws", h, want)
    ok(first.close() == (1000, ""), "the first session still closes cleanly")
done()
