"""Frames sent in the same packet as the handshake are not lost."""
from wsbtest import *

with Server("cat") as srv:
    frames = b"".join(encode_frame(OP_TEXT, "early %d" % i) for i in range(5))
    c = RawClient(srv.port, after=frames)
    got = [c.recv()[1] for _ in range(5)]
    ok(got == [b"early %d" % i for i in range(5)], "5 frames pipelined behind the request all arrive", got)
    ok(c.close() == (1000, ""), "clean close")
done()
