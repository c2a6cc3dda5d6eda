/*
 * server: the listeners, the table of sessions, signals and shutdown.
 *
 * One listener per --address (IPv4, or IPv6 written [::1]; none given:
 * all interfaces, IPv6 and IPv4) on --port; each logs at INFO
 * "listening on ws://HOST:PORT/" ("wss://" under --ssl) with the real port
 * (--port=0: the kernel's choice). --redirport: one more listener per
 * address, answering with a redirect (redirect.h). --unixsocket=PATH: a
 * Unix socket listener ("listening on unix:PATH"), plain even under --ssl;
 * alone (no --address, no --port) it is the only listener. A stale socket
 * file there is removed, a live one (a server answers) or a file that is
 * not a socket is refused (exit 3); the file is removed at shutdown.
 * SIGHUP under --ssl: the certificate and key are read again for new
 * connections (open ones keep theirs); a failure keeps the old ones;
 * without --ssl it is logged and ignored. RLIMIT_NOFILE's soft limit is
 * raised to the hard one. SIGPIPE is ignored. SIGINT/SIGTERM: stop
 * accepting, close 1001 to every client, stop every child with the kill
 * ladder, return 0 once all sessions are gone; after SERVER_SHUTDOWN_MS + closems whatever is left
 * is killed (SIGKILL to each group) and closed. A second signal does that at once.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"

#define SERVER_SHUTDOWN_MS 5000u

struct session;
struct redirect;
struct transport;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

struct server {
    uv_loop_t *loop;
    const struct config *cfg;
    uv_tcp_t *listeners; /* --port's, then --redirport's */
    unsigned nlisteners;
    unsigned nredirect; /* how many of listeners (the last ones) are --redirport's */
    int port;           /* the port listened on (the kernel's choice with --port=0) */
    uv_pipe_t unix_listener;
    bool unix_open;  /* unix_listener initialised */
    bool unix_bound; /* the socket file is ours: removed at shutdown */
    uint64_t unix_dev, unix_ino;
    struct ssl_ctx_st *ssl_ctx; /* --ssl: the current context (SIGHUP replaces it) */
    struct redirect *redirects; /* open --redirport connections */
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t shutdown_timer;
    struct session *sessions; /* doubly linked */
    unsigned nsessions;
    unsigned long next_id;
    uint64_t unique_base;
    bool shutting_down;
    bool forced;       /* every group got SIGKILL */
    bool gave_up;      /* sessions remained after that: exit regardless */
    char software[64]; /* "wsbridge/0.1.0" */
};

/* An --address as a host for inet_pton: "[::1]" -> "::1", others as they are. */
void server_address_host(const char *addr, char *host, size_t len);

/* Runs until shutdown. Returns the exit code (0, or CONFIG_EXIT_LISTEN). */
int server_run(const struct config *cfg);

/*
 * A new connection from listener (one of the --port listeners or the Unix
 * socket) as the transport a session runs on: TCP, TLS over TCP under
 * --ssl, or the Unix socket's. 0 or a UV error (logged by the caller).
 */
int server_accept_transport(struct server *srv, uv_stream_t *listener, struct transport **out);

/* Session table (session.c). */
void server_add_session(struct server *srv, struct session *s);
void server_remove_session(struct server *srv, struct session *s);

#endif
