"""wsbredis.py: more for the --redis integration tests (cluster*.py; redis-server itself is
wsbtest.py's Redis): a relay that can lose Redis's answers, and a websockets
client that collects what it receives."""
import asyncio
import threading

import websockets

from wsbtest import *

SCALE = 3 if SANITIZED else 1


def skip_without(*progs):
    """Skips the whole test when one of (path, package) is not installed."""
    for prog, pkg in progs:
        if not os.access(prog, os.X_OK):
            print("1..0 # SKIP %s is not installed (scripts/setup installs it)" % pkg)
            sys.exit(0)


class Relay:
    """A TCP relay to 127.0.0.1:port. eat: Redis's answers are thrown away (the commands still
    reach Redis and run); refuse: new connections are closed at once; cut() closes every
    connection through it."""

    def __init__(self, port):
        self.target = port
        self.eat = False
        self.refuse = False
        self.pairs = []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
                if self.refuse:
                    c.close()
                    continue
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                u.settimeout(None)
            except OSError:
                return
            self.pairs.append((c, u))
            threading.Thread(target=self._pipe, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, True), daemon=True).start()

    def _pipe(self, a, b, answers):
        while True:
            try:
                d = a.recv(65536)
                if not d:
                    break
                if not (answers and self.eat):
                    b.sendall(d)
            except OSError:
                break
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.lsock.close()
        self.cut()


class Client:
    """A websockets client that collects what it receives in the background."""

    def __init__(self, ws, via):
        self.ws = ws
        self.via = via
        self.got = []
        self.closed = None
        self.task = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for m in self.ws:
                self.got.append(m)
        except websockets.ConnectionClosed:
            pass
        self.closed = self.ws.close_code

    def numbers(self):
        return [int(m[1:].split()[0]) for m in self.got if m.startswith("n")]

    def count(self, line):
        return self.got.count(line)


def stop_all(servers):
    """Stops the servers still running (checked as Server's exit does); closes the logs of
    those that were killed."""
    for s in servers:
        if s.proc.poll() is None:
            s.__exit__(None, None, None)
        else:
            s.log.close()


async def connect(port, via, path="/"):
    ws = await websockets.connect("ws://127.0.0.1:%d%s" % (port, path), max_size=None, open_timeout=20)
    return Client(ws, via)


async def until(pred, timeout):
    end = time.monotonic() + timeout * SCALE
    while not pred() and time.monotonic() < end:
        await asyncio.sleep(0.02)
    return pred()
