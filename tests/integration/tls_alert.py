"""--ssl: a failed TLS handshake ends with the alert that says why (RFC 8446 6.2), not a bare
close: a client offering only TLS 1.0, a client without a certificate or with one the --sslca
does not sign (TLS 1.2 and 1.3). Python's ssl module then raises an SSLError naming the
alert, where a close without it gives an EOF or a reset."""
import ssl
import warnings

from wsbtest import *

time_limit(120)
pki = make_pki()
TLS = ["--ssl", "--sslcert=" + pki["cert"], "--sslkey=" + pki["key"]]


def handshake_error(port, ctx, read_after=False):
    """The exception the client's handshake (or, for TLS 1.3, whose client finishes before the
    server has checked its certificate, the first read after it) ends with; None if none."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * (3 if SANITIZED else 1))
    try:
        t = ctx.wrap_socket(s, server_hostname="localhost")
        if read_after:
            t.recv(100)  # nothing sent: the server's answer is its alert, never an RST
        t.close()
        return None
    except (ssl.SSLError, OSError) as e:
        return e
    finally:
        s.close()


def alert_name(e):
    """The alert's description when e reports a received alert ("TLSV1_ALERT_PROTOCOL_VERSION",
    "SSLV3_ALERT_BAD_CERTIFICATE", ...), else None."""
    if isinstance(e, ssl.SSLError) and not isinstance(e, ssl.SSLEOFError) and "ALERT" in (e.reason or ""):
        return e.reason
    return None


def tls10_only():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client's own policy must allow TLS 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated is the point
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    return ctx


with Server("cat", flags=TLS) as srv:
    e = handshake_error(srv.port, tls10_only())
    ok(alert_name(e) == "TLSV1_ALERT_PROTOCOL_VERSION", "TLS 1.0 only: the protocol_version alert", repr(e))
    ok(wait_for(lambda: "TLS handshake with 127.0.0.1" in srv.log_text()), "and the failure is logged")
    c = RawClient(srv.port, ssl_context=client_context(pki))
    c.send_text("after")
    ok(c.recv() == (OP_TEXT, b"after"), "the next client is served")
    c.close()

with Server("cat", flags=TLS + ["--sslca=" + pki["ca"]]) as srv:
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        name = version.name.replace("v", " ").replace("_", ".")
        for what, ctx in (("no client certificate", client_context(pki, maximum_version=version)),
                          ("a self-signed client certificate",
                           client_context(pki, pki["rogue"], pki["rogue_key"], maximum_version=version))):
            e = handshake_error(srv.port, ctx, read_after=version == ssl.TLSVersion.TLSv1_3)
            ok(alert_name(e) is not None, "%s, %s: an alert says why" % (name, what), repr(e))
    c = RawClient(srv.port, ssl_context=client_context(pki, pki["client"], pki["client_key"]))
    c.send_text("signed")
    ok(c.recv() == (OP_TEXT, b"signed"), "a signed client certificate is still served")
    c.close()
done()
