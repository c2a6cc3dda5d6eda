/*
 * server: the listeners, the table of sessions, signals and shutdown.
 *
 * One listener per --address (IPv4, or IPv6 written [::1]; none given:
 * all interfaces, IPv6 and IPv4) on --port; each logs at INFO
 * "listening on ws://HOST:PORT/" with the real port (--port=0: the
 * kernel's choice). RLIMIT_NOFILE's soft limit is raised to the hard one.
 * SIGPIPE is ignored. SIGINT/SIGTERM: stop accepting, close 1001 to every
 * client, stop every child with the kill ladder, return 0 once all
 * sessions are gone; after SERVER_SHUTDOWN_MS + closems whatever is left is
 * killed (SIGKILL to each group) and closed. A second signal does that at
 * once.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"

#define SERVER_SHUTDOWN_MS 5000u

struct session;

struct server {
    uv_loop_t *loop;
    const struct config *cfg;
    uv_tcp_t *listeners;
    unsigned nlisteners;
    int port; /* the port listened on (the kernel's choice with --port=0) */
    uv_signal_t sigint, sigterm;
    uv_timer_t shutdown_timer;
    struct session *sessions; /* doubly linked */
    unsigned nsessions;
    unsigned nforks; /* sessions with a child, for --maxforks */
    unsigned long next_id;
    uint64_t unique_base;
    bool shutting_down;
    bool forced;       /* every group got SIGKILL */
    bool gave_up;      /* sessions remained after that: exit regardless */
    char software[64]; /* "wsbridge/0.1.0" */
};

/* Runs until shutdown. Returns the exit code (0, or CONFIG_EXIT_LISTEN). */
int server_run(const struct config *cfg);

/* Session table (session.c). */
void server_add_session(struct server *srv, struct session *s);
void server_remove_session(struct server *srv, struct session *s);

#endif
