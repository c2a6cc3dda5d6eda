"""Issue 10 B1: the handshake and frames of every size in one TCP send.

The bytes behind the request sit in the middle of the read buffer; a payload
over 64 bytes is written to the program's stdin by reference to that buffer.
Each case sends the request and the frames in one sendall(), then checks every
message comes back intact, so the buffer's owner must be the one referenced
(a sanitized build reports the misuse; a release build corrupted its heap).
Also through --reverselookup (the upgrade waits for DNS) and after a keep-alive
HTTP request answered first (the upgrade comes from the pipelined rest).
"""
from wsbtest import *

SIZES = [0, 1, 64, 65, 100, 125, 126, 1000, 4000, 65535, 65536, 70000, 200000]


def payload(n, seed):
    return bytes((seed * 7 + i * 13) % 26 + 97 for i in range(n))


def run_case(port, prefix=b"", label=""):
    try:
        _run_case(port, prefix, label)
    except OSError as e:  # the server died or refused: a failure, not a crash of the test
        ok(False, "%s: connection failed: %r" % (label, e))


def _exchange(port, prefix):
    """(upgraded, response head, messages got, messages wanted)"""
    frames, want = b"", []
    for i, n in enumerate(SIZES):
        p = payload(n, i)
        frames += encode_frame(OP_TEXT, p)
        want.append(p)
    req, key = upgrade_request("/")
    s = socket.create_connection(("127.0.0.1", port), timeout=30 if SANITIZED else 10)
    s.sendall(prefix + req + frames)
    c = RawClient.__new__(RawClient)
    c.sock, c.buf = s, b""
    # skip any answer to the prefix request, then the 101
    head = b""
    while b"101 Switching Protocols" not in head or not head.endswith(b"\r\n\r\n"):
        ch = s.recv(1)
        if not ch:
            break
        head += ch
    got = []
    try:
        for _ in want:
            got.append(c.recv()[1])
    except Exception as e:  # noqa: BLE001 - shows as a short list
        got.append(repr(e).encode())
    s.close()
    return b"HTTP/1.1 101" in head, head[-200:], got, want


def _run_case(port, prefix, label):
    upgraded, head, got, want = _exchange(port, prefix)
    ok(upgraded, "%s: upgraded" % label, head)
    ok(got == want, "%s: %d messages of sizes %s came back intact" % (label, len(want), SIZES),
       [len(g) for g in got], [len(w) for w in want])


with Server("cat") as srv:
    for rep in range(3):
        run_case(srv.port, label="plain, round %d" % rep)
    run_case(srv.port, prefix=b"GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", label="after a keep-alive 404")
    # several at once, so freed buffers get reused by the next reads
    # (the threads only collect: TAP points are numbered, so they are reported here, in order)
    import threading
    results = {}

    def collect(i):
        try:
            results[i] = _exchange(srv.port, b"")
        except OSError as e:
            results[i] = (False, repr(e), [], [])

    ts = [threading.Thread(target=collect, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i in range(4):
        upgraded, head, got, want = results[i]
        ok(upgraded, "concurrent %d: upgraded" % i, head)
        ok(got == want, "concurrent %d: all messages came back intact" % i,
           [len(g) for g in got], [len(w) for w in want])
    ok(alive(srv.pid), "server alive after all cases")

with Server("cat", flags=["--reverselookup"]) as srv:
    run_case(srv.port, label="--reverselookup")
    run_case(srv.port, label="--reverselookup again")
done()
