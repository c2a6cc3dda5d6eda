"""--workers=2: two server processes share the port; --maxforks is global; a dead worker is
replaced; SIGTERM to the supervisor stops everything gracefully; connection ids stay unique."""
import re
import struct
import time

from wsbtest import *

# the program says which worker runs it (its parent), then echoes
PROG = ["/bin/sh", "-c", "echo worker $PPID; exec cat"]


def worker_of(c):
    op, p = c.recv()
    return int(p.decode().split()[1])


def status_of(port):
    status, _, _, sock = http_request(port, upgrade_request()[0])
    sock.close()
    return status


def worker_pids(srv):
    return sorted(children(srv.pid))


time_limit(150)
if True:
    with Server(*PROG, flags=["--workers=2"]) as srv:
        started = time.monotonic()
        ok(wait_for(lambda: len(worker_pids(srv)) == 2), "two worker processes", worker_pids(srv))
        workers = worker_pids(srv)
        clients = [RawClient(srv.port) for _ in range(40)]
        seen = {worker_of(c) for c in clients}
        ok(seen == set(workers), "40 connections were spread over both workers", seen, workers)
        for i, c in enumerate(clients):
            c.send_text("m%d" % i)
        ok(all(c.recv() == (OP_TEXT, b"m%d" % i) for i, c in enumerate(clients)), "every session echoes")
        for c in clients:
            c.close()
        ok(wait_for(lambda: len(re.findall(r'"/" 101 ', srv.log_text())) == 40), "40 access lines")
        ids = re.findall(r"ACCESS \| \[conn (\d+)\]", srv.log_text())
        ok(len(ids) == 40 and len(set(ids)) == 40, "connection ids are unique across workers", len(set(ids)))
        ok(len(re.findall(r"INFO\s*\| listening on ws://", srv.log_text())) == 1,
           "one 'listening on' line at INFO: the first worker's")

        # a worker that dies is replaced, and the server goes on serving (one that dies within a
        # second of its start is a crash loop: that would stop the server)
        time.sleep(max(0.0, 1.5 - (time.monotonic() - started)))
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        ok(wait_for(lambda: len(worker_pids(srv)) == 2 and victim not in worker_pids(srv)),
           "a killed worker is started again", worker_pids(srv))
        ok(re.search(r"worker \d \(pid %d\) died \(signal 9\): starting it again" % victim, srv.log_text()),
           "the supervisor logs the death")
        served = set()
        for _ in range(30):
            c = RawClient(srv.port)
            served.add(worker_of(c))
            c.close()
        ok(served == set(worker_pids(srv)), "both workers serve after the restart", served, worker_pids(srv))

    # --maxforks counts sessions across all workers
    with Server(*PROG, flags=["--workers=2", "--maxforks=3"]) as srv:
        wait_for(lambda: len(worker_pids(srv)) == 2)
        held = [RawClient(srv.port) for _ in range(3)]
        for c in held:
            worker_of(c)
        statuses = [status_of(srv.port) for _ in range(6)]
        ok(statuses == [429] * 6, "a 4th session gets 429 whichever worker takes it", statuses)
        held.pop().close()
        ok(wait_for(lambda: status_of(srv.port) == 101, timeout=5),
           "a slot freed in one worker is free for all")
        for c in held:
            c.close()

    # SIGTERM to the supervisor: every client gets 1001, every process ends
    with Server(*PROG, flags=["--workers=2"]) as srv:
        wait_for(lambda: len(worker_pids(srv)) == 2)
        clients = [RawClient(srv.port) for _ in range(10)]
        programs = set()
        for c in clients:
            worker_of(c)
        for w in worker_pids(srv):
            programs |= set(children(w))
        ok(len(programs) == 10, "ten programs run", len(programs))
        pids = worker_pids(srv)
        srv.proc.send_signal(signal.SIGTERM)
        codes = [c.recv_close()[0] for c in clients]
        ok(codes == [1001] * 10, "every client gets 1001", codes)
        ok(srv.proc.wait(30) == 0, "the supervisor exits 0")
        ok(wait_for(lambda: not any(alive(p) for p in list(programs) + pids)),
           "no worker and no program is left")
        ok("all workers ended" in srv.log_text(), "the supervisor says so")

    # SIGKILL to the supervisor: the workers notice (parent-death signal) and shut down
    with Server(*PROG, flags=["--workers=2"], expect_exit=None) as srv:
        wait_for(lambda: len(worker_pids(srv)) == 2)
        pids = worker_pids(srv)
        c = RawClient(srv.port)
        worker_of(c)
        srv.proc.kill()
        ok(c.recv_close()[0] == 1001, "its clients still get 1001")
        ok(wait_for(lambda: not any(alive(p) for p in pids)), "the workers end")

done()
