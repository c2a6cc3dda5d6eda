"""The child's stderr goes to the log, tagged with the connection; never to the client."""
from wsbtest import *

with Server("/bin/sh", "-c", "echo to-stdout; echo 'to-stderr line' >&2; sleep 0.3") as srv:
    c = RawClient(srv.port)
    got = [m for _, m in c.messages_until_close()[0]]
    ok(got == [b"to-stdout"], "only stdout reaches the client", got)
    ok(wait_for(lambda: re.search(r"ERROR\s*\| \[conn \d+\] .*to-stderr line", srv.log_text())),
       "the stderr line is logged at error level with the connection id")
done()
