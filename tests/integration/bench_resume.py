"""The load client's --resume (bench/wsbridge-bench, the wss:// connect rows of scripts/bench) against
wsbridge --ssl: every connection that has a ticket to offer resumes, over TLS 1.3 and 1.2. OpenSSL's
TLS 1.3 client spends a ticket once a handshake with it is done, and an OpenSSL server sends new
tickets only after the client's Finished: a client that offered its one newest ticket to every
connection got full handshakes for about 13 % of them."""
import json

from wsbtest import *

time_limit(120)
BENCH = os.path.join(os.path.dirname(WSBRIDGE), "bench", "wsbridge-bench")
pki = make_pki()
TLS = ["--ssl", "--sslcert=" + pki["cert"], "--sslkey=" + pki["key"]]
CONNS = 8


def connect_run(port, *opts):
    """One wsbridge-bench connect run (8 concurrent, 1 s): its JSON line, or {} with the reason."""
    p = subprocess.run([BENCH, "-j", "-m", "connect", "-c", str(CONNS), "-t", "1"] + list(opts) +
                       ["wss://127.0.0.1:%d/" % port], capture_output=True, text=True, timeout=60)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"stderr": p.stderr[-300:]}


# --workers=2: the tickets of one worker resume on the other (one set of ticket keys)
with Server("cat", flags=["--workers=2"] + TLS) as srv:
    for version in ("1.3", "1.2"):
        j = connect_run(srv.port, "--tls-version=" + version, "--resume")
        full, again = j.get("tls_full", -1), j.get("tls_resumed", -1)
        ok(j.get("errors") == 0 and j.get("tls") == "TLSv" + version and again > 0,
           "TLS %s --resume: cycles without errors, some resumed" % version, j)
        # the first CONNS connections start together, before any ticket exists
        ok(0 <= full <= CONNS, "TLS %s: only the first %d handshakes are full (%d resumed)" % (version, CONNS, again),
           (full, again))
    j = connect_run(srv.port, "--tls-version=1.3")
    ok(j.get("errors") == 0 and j.get("tls_resumed") == 0 and j.get("tls_full", 0) > 0,
       "without --resume every handshake is full", j)
done()
