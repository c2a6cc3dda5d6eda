"""Echo through cat with python3-websockets as the client: order, UTF-8, binary, close."""
import asyncio

import websockets

from wsbtest import *


async def main(port):
    async with websockets.connect("ws://127.0.0.1:%d/" % port, max_size=None) as ws:
        for i in range(200):
            await ws.send("message %d" % i)
        got = [await asyncio.wait_for(ws.recv(), 10) for _ in range(200)]
        ok(got == ["message %d" % i for i in range(200)], "200 text messages come back in order", got[:3])
        await ws.send("héllo wörld ✓ 😀")
        ok(await ws.recv() == "héllo wörld ✓ 😀", "UTF-8 text survives the round trip")
        await ws.send("a\nb")
        a, b = await ws.recv(), await ws.recv()
        ok((a, b) == ("a", "b"), "an embedded newline splits into two lines", (a, b))
        await ws.send(b"bin\n")
        ok(await ws.recv() == "bin", "a binary message is written as its bytes (text mode)")
        await ws.send("")
        ok(await ws.recv() == "", "an empty message is an empty line")
        await ws.close(1000, "done")
    ok(ws.close_code == 1000, "the server answers the close with the client's code", ws.close_code, 1000)


with Server("cat") as srv:
    asyncio.run(main(srv.port))
    ok(wait_for(lambda: children(srv.pid) == []), "cat is gone after the client closed", children(srv.pid))
    ok(re.search(r'ACCESS .*127\.0\.0\.1:\d+ "/" 101 [\d.]+s in=\d+ out=\d+ exit status 0', srv.log_text()),
       "an access line with peer, path, status, duration, bytes each way and exit status")
done()
