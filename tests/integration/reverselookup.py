"""--reverselookup: REMOTE_HOST is the name of the client's address; without it, the address."""
from wsbtest import *

try:
    name = socket.gethostbyaddr("127.0.0.1")[0]
except OSError:
    name = "127.0.0.1"  # no name for the address on this machine: the address is kept


def remote_host(flags):
    with Server(os.path.join(EXAMPLES, "env.sh"), flags=flags) as srv:
        c = RawClient(srv.port)
        env = dict(m.decode().partition("=")[::2] for _, m in c.messages_until_close()[0])
        return env.get("REMOTE_HOST")


ok(remote_host(["--reverselookup"]) == name, "with --reverselookup: %s" % name, remote_host(["--reverselookup"]), name)
ok(remote_host([]) == "127.0.0.1", "without: the address")
done()
