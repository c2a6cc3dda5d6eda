/*
 * server: the listeners, the table of sessions, signals and shutdown.
 *
 * One listener per --address (IPv4, IPv6 written [::1], or each address of
 * a host name; none given: all interfaces, IPv6 and IPv4) on --port, opened
 * by server_sockets_open() before any worker runs; each logs at INFO
 * "listening on ws://HOST:PORT/" ("wss://" under --ssl) with the real port
 * (--port=0: the kernel's choice). --redirport: one more listener per
 * address, answering with a redirect (redirect.h). --unixsocket=PATH: a
 * Unix socket listener ("listening on unix:PATH"), plain even under --ssl;
 * alone (no --address, no --port) it is the only listener. A stale socket
 * file there is removed, a live one (a server answers) or a file that is
 * not a socket is refused (exit 3); the file is removed at shutdown.
 * SIGHUP under --config: the file is read again and what can change without a restart is
 * applied to new requests and sessions (config_apply; a file that does not parse changes
 * nothing); under --ssl: the certificate and key are read again for new
 * connections (open ones keep theirs); a failure keeps the old ones;
 * without either it is logged and ignored. RLIMIT_NOFILE's soft limit is
 * raised to the hard one; a connection refused for want of descriptors
 * (EMFILE, ENFILE) is logged, at most once a second with a count. SIGPIPE is ignored.
 * Socket activation (sdnotify.h): the sockets systemd passed are the listeners instead of
 * --port, --address, --unixsocket and --redirport (a socket named "redirect" redirects); under
 * --workers every worker accepts on each. Readiness, stopping and the watchdog go to systemd
 * from the main process (sdnotify.h).
 * SIGINT/SIGTERM: stop accepting, close 1001 to every client, stop every child with the kill
 * ladder, return 0 once all sessions are gone; after SERVER_SHUTDOWN_MS + closems whatever is left
 * is killed (SIGKILL to each group) and closed. A second signal does that at once.
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "redirect.h"
#include "session.h"

#define SERVER_SHUTDOWN_MS 5000u

struct session;
struct redirect;
struct transport;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

struct server {
    uv_loop_t *loop;
    const struct config *cfg; /* &live */
    /* What everything reads: the configuration given, then, after each SIGHUP with --config,
     * with what the file changed that needs no restart (config_apply) pointing into gen. */
    struct config live;
    struct config gen; /* the latest re-read (config_reload), when have_gen */
    bool have_gen;
    uv_tcp_t *listeners; /* --port's, then --redirport's */
    unsigned nlisteners;
    unsigned nredirect; /* how many of listeners (the last ones) are --redirport's */
    int port;           /* the port listened on (the kernel's choice with --port=0) */
    uv_pipe_t unix_listener;
    bool unix_open;  /* unix_listener initialised */
    bool unix_bound; /* the socket file is ours: removed at shutdown */
    uint64_t unix_dev, unix_ino;
    struct ssl_ctx_st *ssl_ctx; /* --ssl: the current context (SIGHUP replaces it) */
    struct redirect_host redir; /* --redirport's responder: its open connections */
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t shutdown_timer;
    uv_pipe_t *pipes; /* socket activation: the Unix sockets systemd passed */
    unsigned npipes;
    uv_timer_t watchdog;      /* systemd's WatchdogSec=: WATCHDOG=1 from the loop */
    struct session_host host; /* what the sessions read, and their table (session.h) */
    bool forced;              /* every group got SIGKILL */
    bool gave_up;             /* sessions remained after that: exit regardless */
    char software[64];        /* "wsbridge/0.1.0" */
    /* out of descriptors: libuv's spare descriptor watched (server.c), the log rate-limited */
    uv_poll_t reserve_poll;
    int reserve_fd; /* the watched pipe's read end, or -1 */
    bool reserve_watched;
    bool fds_logged;
    uint64_t fds_logged_ms;
    unsigned fds_suppressed;
};

/* One TCP listening socket, opened before any worker starts. */
struct server_socket {
    int fd;          /* -1 once closed or handed to a libuv handle */
    unsigned worker; /* the worker that accepts on it (0 when single) */
    bool redirect;   /* a --redirport listener */
    bool unix_sock;  /* a Unix socket (socket activation only) */
};

struct server_sockets {
    struct server_socket *s; /* --port's, then --redirport's */
    unsigned n;
    int port;       /* --port's real port (the kernel's choice with --port=0) */
    bool activated; /* the sockets came from systemd (sdnotify.h): no --unixsocket either */
};

/* Whether TCP is listened on at all (not with --unixsocket alone). */
bool server_uses_tcp(const struct config *cfg);

/* How many processes serve: cfg->workers, or 1 when only one can listen (--unixsocket alone;
 * systemd's sockets are shared by any number). */
unsigned server_processes(const struct config *cfg);

/*
 * Binds and listens on every address (cfg->listen, or all interfaces: "::" with IPv4 too, or
 * 0.0.0.0 without IPv6), --port then --redirport, one socket per worker, before any worker
 * starts, so that a failure is reported once and nothing has said "listening". With several
 * workers the sockets set SO_REUSEPORT, after a plain bind proved that no one else listens
 * there. Returns 0, or CONFIG_EXIT_LISTEN after logging why (address in use, a port below 1024
 * without privileges, ...); then nothing is left open. A host name's address the system lacks
 * (::1 without IPv6) is skipped.
 */
int server_sockets_open(const struct config *cfg, unsigned nworkers, struct server_sockets *ss);


/* Closes every socket but keep_worker's (all: keep_worker < 0); frees ss once none is left. */
void server_sockets_close(struct server_sockets *ss, int keep_worker);

/*
 * Runs until shutdown on worker's sockets of ss (they pass to the loop) and, in worker 0,
 * --unixsocket; worker is this process's index among nworkers (0 of 1 when single). Returns
 * the exit code (0, or CONFIG_EXIT_LISTEN).
 */
int server_run(const struct config *cfg, struct server_sockets *ss, unsigned worker,
               unsigned nworkers);

/*
 * A new connection from listener (one of the --port listeners or the Unix
 * socket) as the transport a session runs on: TCP, TLS over TCP under
 * --ssl, or the Unix socket's. 0 or a UV error (logged by the caller).
 */
int server_accept_transport(struct server *srv, uv_stream_t *listener, struct transport **out);

#endif
