/*
 * workers: --workers=N, N server processes sharing the listening ports.
 *
 * With N > 1 the process that parsed the command line becomes a small
 * supervisor that never runs an event loop: main() has opened the
 * listening sockets (server_sockets_open: one per worker and address, with
 * SO_REUSEPORT, --port=0 one kernel choice for all), it shares the
 * --maxforks count (forks.h), forks N workers and waits, holding every socket
 * open so that a restarted worker finds its own again and no stranger joins
 * the group. Each worker is an ordinary server_run() on its sockets; the
 * kernel spreads new connections over them; it reaps its own children. The
 * --unixsocket listener belongs to worker 0 alone. Stopping, the supervisor
 * closes its copies of the sockets at once.
 *
 * Signals to the supervisor: SIGINT/SIGTERM are passed to every worker,
 * which shut down gracefully (a second one: at once); the supervisor
 * exits once all are gone (0, or the first failing worker's status).
 * SIGHUP is passed on (TLS and --config reload); the supervisor re-reads
 * --config as well, so that a worker started again later runs with what the
 * others applied. Under systemd the supervisor alone
 * notifies it (sdnotify.h): READY=1 once every worker says its listeners are
 * open, STOPPING=1 at SIGINT/SIGTERM, WATCHDOG=1 while it runs.
 * A worker that dies otherwise is logged
 * and started again, unless it died within a second of its start
 * (a crash loop): then everything is stopped and the exit status is 1.
 * A worker that cannot listen (exit 3) stops the whole server with 3.
 */
#ifndef WORKERS_H
#define WORKERS_H

#include <stdbool.h>

#include "config.h"
#include "server.h"

/* Runs cfg->workers workers (> 1) on socks (server_sockets_open for as many) until shutdown;
 * returns the exit code. socks is closed when it returns. */
int workers_run(const struct config *cfg, struct server_sockets *socks);

#endif
