"""Request headers -> HTTP_* without httpoxy, shadowing or non-token names."""
from wsbtest import *


def env_of(port, extra):
    """The child's environment for a handshake with extra header lines; None if refused."""
    req, _ = upgrade_request(extra=extra)
    st, _, rest, s = http_request(port, req)
    if st != 101:
        s.close()
        return st
    c = RawClient.__new__(RawClient)
    c.sock, c.buf = s, rest
    env = {}
    while True:
        op, p = c.recv()
        if op == OP_CLOSE:
            return env
        k, _, v = p.decode().partition("=")
        env[k] = v


with Server(os.path.join(EXAMPLES, "env.sh")) as srv:
    e = env_of(srv.port, ["Proxy: http://evil:3128", "proxy: http://evil2"])
    ok(isinstance(e, dict) and "HTTP_PROXY" not in e, "Proxy: (any case) never becomes HTTP_PROXY",
       e if not isinstance(e, dict) else e.get("HTTP_PROXY"))
    # X-A / X_A in either order: the underscore spelling cannot shadow or join the dash one
    for order in (["X-Sh: dash", "X_Sh: under"], ["X_Sh: under", "X-Sh: dash"]):
        e = env_of(srv.port, order)
        got = e.get("HTTP_X_SH") if isinstance(e, dict) else e
        ok(got == "dash", "%s then %s: HTTP_X_SH is the dash header's" % tuple(order), got, "dash")
    e = env_of(srv.port, ["X-Rep: a", "X-Other: o", "x-rep: b", "X-REP: c"])
    got = e.get("HTTP_X_REP") if isinstance(e, dict) else e
    ok(got == "a, b, c", "repeated headers (any case) joined with ', ' in order", got, "a, b, c")
    # a name that is not a token: refused at the handshake or dropped; never in the environment
    for bad in ("X(bad): v", "X{b}: v", "X/slash: v"):
        e = env_of(srv.port, [bad, "X-Good: g"])
        if isinstance(e, dict):
            leaked = [k for k in e if k.startswith("HTTP_X") and k != "HTTP_X_GOOD"]
            ok(leaked == [] and e.get("HTTP_X_GOOD") == "g", "%r dropped, the rest kept" % bad, leaked)
        else:
            ok(e == 400, "%r refused with 400" % bad, e, 400)
    e = env_of(srv.port, ["X-Val: a\tb  c "])
    got = e.get("HTTP_X_VAL") if isinstance(e, dict) else e
    ok(got == "a\tb  c", "inner whitespace of a value kept, the outer trimmed", got, "a\tb  c")
done()
