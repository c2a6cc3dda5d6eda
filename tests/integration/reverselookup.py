"""--reverselookup: REMOTE_HOST is the name of the client's address; without it, the address."""
from wsbtest import *

try:
    name = socket.gethostbyaddr("127.0.0.1")[0]
except OSError:
    name = "127.0.0.1"  # no name for the address on this machine: the address is kept


def remote_host(flags):
    with Server(os.path.join(EXAMPLES, "env.sh"), flags=flags) as srv:
        c = RawClient(srv.port)
        env = {}
        while True:
            op, p = c.recv()
            if op == OP_CLOSE:
                return env.get("REMOTE_HOST")
            k, _, v = p.decode().partition("=")
            env[k] = v


ok(remote_host(["--reverselookup"]) == name, "with --reverselookup: %s" % name, remote_host(["--reverselookup"]), name)
ok(remote_host([]) == "127.0.0.1", "without: the address")
done()
