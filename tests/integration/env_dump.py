"""The child's environment: CGI variables, HTTP_* with the header hygiene, passenv."""
import os

from wsbtest import *


def env_of(port, path, extra):
    c = RawClient(port, path, extra=extra)
    lines = [m.decode() for _, m in c.messages_until_close()[0]]
    return dict(l.split("=", 1) for l in lines if "=" in l)


environ = dict(os.environ, SECRET_PARENT="leak", KEEP_ME="kept")
with Server(os.path.join(EXAMPLES, "env.sh"), flags=["--passenv=PATH,KEEP_ME"], env=environ) as srv:
    e = env_of(srv.port, "/some/path?a=1&b=%20x",
               ["X-Custom: one", "X-Custom: two", "Proxy: http://evil", "X_Under: sneaky", "X-Under: real",
                "Origin: http://example.com"])
    want = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "GET",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_HOST": "127.0.0.1", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
        "SCRIPT_NAME": "/", "PATH_INFO": "/some/path", "PATH_TRANSLATED": "/some/path",
        "QUERY_STRING": "a=1&b=%20x", "REQUEST_URI": "/some/path?a=1&b=%20x", "AUTH_TYPE": "",
        "CONTENT_LENGTH": "", "CONTENT_TYPE": "", "REMOTE_IDENT": "", "REMOTE_USER": "",
        "HTTP_X_CUSTOM": "one, two", "HTTP_X_UNDER": "real", "HTTP_ORIGIN": "http://example.com",
        "HTTP_UPGRADE": "websocket", "HTTP_SEC_WEBSOCKET_VERSION": "13", "KEEP_ME": "kept",
    }
    for k, v in want.items():
        ok(e.get(k) == v, "%s=%s" % (k, v), e.get(k), v)
    ok(e.get("SERVER_SOFTWARE", "").startswith("wsbridge/"), "SERVER_SOFTWARE names wsbridge", e.get("SERVER_SOFTWARE"))
    ok(e.get("REMOTE_PORT", "").isdigit(), "REMOTE_PORT is the client's port", e.get("REMOTE_PORT"))
    ok(e.get("UNIQUE_ID", "") != "", "UNIQUE_ID is set")
    ok("HTTP_PROXY" not in e, "no HTTP_PROXY from a Proxy: header (httpoxy)", e.get("HTTP_PROXY"))
    ok("SECRET_PARENT" not in e, "the parent environment is not passed", e.get("SECRET_PARENT"))
    ok(e.get("PATH") == os.environ["PATH"], "PATH is passed (--passenv)")
    ok("HTTPS" not in e, "no HTTPS without TLS")
    e2 = env_of(srv.port, "/", ["Host-Extra: x"])
    ok(e2.get("UNIQUE_ID") != e.get("UNIQUE_ID"), "UNIQUE_ID differs between sessions")
done()
