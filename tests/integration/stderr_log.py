"""The child's stderr goes to the log, tagged with the connection; never to the client. What it
writes cannot forge a log line or drive a terminal: control bytes and invalid UTF-8 are escaped."""
from wsbtest import *

with Server("/bin/sh", "-c", "echo to-stdout; echo 'to-stderr line' >&2; sleep 0.3") as srv:
    c = RawClient(srv.port)
    got = [m for _, m in c.messages_until_close()[0]]
    ok(got == [b"to-stdout"], "only stdout reaches the client", got)
    ok(wait_for(lambda: re.search(r"ERROR\s*\| \[conn \d+\] .*to-stderr line", srv.log_text())),
       "the stderr line is logged at error level with the connection id")

# A line break in the program's stderr starts a new log line (each with its own prefix); every
# other control byte is escaped, so "INFO forged" never stands at the start of a line.
FORGE = r"printf '\033[31mfake\r\nINFO forged\n' >&2; printf 'bell\a cr\rINFO forged2 \377\n' >&2; sleep 0.3"
PREFIX = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| ERROR  \| \[conn \d+\] stderr: "
with Server("/bin/sh", "-c", FORGE) as srv:
    c = RawClient(srv.port)
    c.messages_until_close()
    ok(wait_for(lambda: "forged2" in srv.log_text()), "the program's stderr is logged")
    with open(srv.log_path, "rb") as f:
        f.seek(getattr(srv, "start_offset", 0))
        raw = f.read()
    ok(not any(b in raw for b in (b"\x1b", b"\r", b"\x07", b"\xff")), "no ESC, CR, BEL or invalid byte in the log",
       [l for l in raw.split(b"\n") if b"fake" in l or b"forged" in l])
    lines = srv.log_text().splitlines()
    mine = [l for l in lines if "fake" in l or "forged" in l]
    ok(all(re.match(PREFIX, l) for l in mine), "every line with the program's bytes has the server's prefix", mine)
    ok(any(re.match(PREFIX + r"\\x1b\[31mfake$", l) for l in mine), "ESC escaped as \\x1b", mine)
    one = [l for l in mine if "forged2" in l]
    ok(len(one) == 1 and re.match(PREFIX + r"bell\\x07 cr\\rINFO forged2 \\xff$", one[0]),
       "a bare CR, BEL and an invalid byte: one escaped log line", one)
done()
