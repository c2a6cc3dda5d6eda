/*
 * conn: the state of one connection and the contracts between its layers.
 *
 * struct session is the connection: the session (session.c) owns it and
 * runs its HTTP phase and its upgrade; the layers below it -- plain HTTP
 * (http_serve.c), CGI (cgi.c) -- read its fields and ask the session for
 * anything else only through s->ops (struct session_ops), a callback
 * struct, as the WebSocket data path does through struct bridge_events
 * (bridge.h). What runs sessions (the server, a test) fills in a struct
 * session_host. This header holds data and contracts only: no function of
 * its own, so every layer may include it without calling up.
 */
#ifndef CONN_H
#define CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "child.h"

struct authz_answer;
struct bridge;
struct buf;
struct handshake;
struct hub_member;
struct transport;

#define SESSION_LINGER_MS 2000u /* wait for the peer's close reply this long */

struct config;

enum session_phase {
    SESSION_HTTP,
    SESSION_WS,
    SESSION_DONE, /* transport closing or closed */
};

enum session_timer_mode {
    SESSION_T_NONE,
    SESSION_T_HANDSHAKE,
    SESSION_T_WATCH, /* WebSocket: the next of --pingms's ping (or a probe), --idle-timeout,
                        --max-lifetime and the buffered-output hint (struct session_watch) */
    SESSION_T_EXIT_GRACE, /* leader exited, stdout still open (a grandchild holds it) */
    SESSION_T_LINGER,     /* our close is out, waiting for the peer's */
    SESSION_T_IDLE,       /* keep-alive: waiting for the next request */
    SESSION_T_SEND,       /* plain HTTP response: the peer stopped reading */
};

/* The WebSocket phase's deadlines, all on the session's one timer (SESSION_T_WATCH, session.c):
 * an idle session pays for a few numbers, not for a timer handle of each. Times are the loop's
 * (uv_now), in ms. */
struct session_watch {
    uint64_t due;        /* when the timer fires while in SESSION_T_WATCH */
    uint64_t tick;       /* the next --pingms ping, or probe (no --pingms, reads stopped); 0: none */
    uint64_t started;    /* the 101: --max-lifetime counts from here */
    uint64_t last_msg;   /* the last data message either way: --idle-timeout counts from here */
    uint64_t seen_in, seen_out; /* the bridge's message counts when last looked at */
    uint64_t unanswered; /* a client message since which nothing was sent (the hint); 0: none */
    uint32_t idle_ms, lifetime_ms; /* taken at the upgrade (SIGHUP: sessions after it); 0: off */
    bool hint_off;       /* the hint was given, or does not apply (--pty, --shared) */
};

struct http_resp;

struct session;
struct child_env_request;

/* Why the session's socket is not read (a bitmask): reads run while none is set. One owner,
 * the session, starts and stops them (session_ops.pause); nobody else calls the transport's
 * read_start/read_stop. */
enum session_pause {
    SESSION_PAUSE_DECIDING = 1u << 0, /* an upgrade is being decided (reverse DNS, spawn) */
    SESSION_PAUSE_HELD = 1u << 1,     /* pipelined bytes wait for the response before them */
    SESSION_PAUSE_BODY = 1u << 2,     /* the CGI script's stdin is full, or its body refused */
    SESSION_PAUSE_PEER = 1u << 3,     /* the peer's side is over (EOF), or we are closing */
    SESSION_PAUSE_QUEUE = 1u << 4,    /* WebSocket: the child's stdin or our send queue is full */
};

/*
 * What the layers below the session (http_serve.c, cgi.c) may ask of it: they reach the
 * session only through s->ops, never by a function of session.c (that would be a call up).
 */
struct session_ops {
    void (*ref)(struct session *s);
    void (*unref)(struct session *s);
    /* Sets (on) or clears a reason (enum session_pause) for not reading the socket. */
    void (*pause)(struct session *s, unsigned reason, bool on);
    /* The peer closed, failed the protocol, or the connection broke: stop everything. */
    void (*peer_gone)(struct session *s, bool graceful);
    /* (Re)starts the session's one timer in mode for ms. */
    void (*timer)(struct session *s, enum session_timer_mode mode, uint64_t ms);
    /* An error response with Connection: close, then the connection ends. */
    void (*http_error)(struct session *s, int status, const char *why);
    /* The plain-HTTP response is complete: the next request (keep_alive) or the end. */
    void (*http_next)(struct session *s, bool keep_alive);
    /* Takes the bytes behind the request's header block (*data, *len; the buffer holding them
     * is returned with its reference, or NULL). */
    struct buf *(*take_pending)(struct session *s, uint8_t **data, size_t *len);
    /* The session's struct child (s->child), allocated zeroed at the first call and freed with
     * the session; NULL when out of memory. */
    struct child *(*child)(struct session *s);
    /* Starts the session's program (s->child, from child(); the caller took its --maxforks
     * slot). 0, or a UV error (then child_close still follows when the session ends). */
    int (*spawn)(struct session *s, const char *file, char *const *argv, char **env,
                 child_cb on_exit);
    /* A child started with spawn() was reaped: the session may end now. */
    void (*child_exited)(struct session *s);
    /* The environment request for the request in s->hs: the client (--trust-proxy: the
     * forwarded one, written into client[client_len]), TLS, the request line and headers,
     * SCRIPT_NAME "/". The caller sets what differs (--dir, CGI). */
    void (*env_request)(struct session *s, struct child_env_request *req, char *client,
                        size_t client_len);
};

/*
 * What a session needs from whoever runs it (the server; a test): filled in before the first
 * session_start() and kept for as long as any of its sessions lives. Sessions only read it,
 * but for the table of live sessions and the id counter, which session.c keeps.
 */
struct session_host {
    uv_loop_t *loop;
    const struct config *cfg;
    const char *software;      /* "wsbridge/VERSION", for SERVER_SOFTWARE and Server: */
    uint64_t unique_base;      /* UNIQUE_ID's random base, per process */
    unsigned worker, nworkers; /* ids: worker w of n numbers w+1, w+1+n, ... (1 of 1: single) */
    unsigned long next_id;     /* session.c's */
    bool shutting_down;        /* the owner's: no keep-alive, no new request */
    struct session *sessions;  /* the live sessions (doubly linked by session.c) */
    unsigned nsessions;
    /* optional: called after a session left the table (the server waits for none at
     * shutdown) */
    void (*on_session_gone)(struct session_host *h);
    void *data; /* the owner's */
};

struct session {
    struct session *prev, *next; /* the host's table */
    struct session_host *host;
    const struct session_ops *ops; /* for the layers below (http_serve, cgi) */
    unsigned pause;                /* enum session_pause: why the socket is not read */
    unsigned long id;
    unsigned refs;
    enum session_phase phase;

    struct transport *t;
    bool t_closing;  /* close() called */
    bool t_shutdown; /* graceful shutdown requested */
    bool peer_eof;   /* the client half-closed; the response in progress goes on */
    uv_timer_t timer;
    uint8_t timer_mode; /* enum session_timer_mode */

    struct handshake *hs; /* HTTP phase only */
    char *path;           /* for the access line */
    char *remote_host;    /* --reverselookup result, or NULL */
    char peer[46];
    int peer_port;
    int status;              /* HTTP status answered (0 once a plain-HTTP response was logged) */
    unsigned nrequests;      /* plain-HTTP requests answered on this connection */
    struct http_resp *resp;  /* the plain-HTTP response in progress (http_serve.c) */
    struct buf *pending_buf; /* pipelined bytes behind the request being answered */
    uint8_t *pending;
    size_t pending_len;
    uint64_t started_ms, last_rx_ms;
    uint64_t bytes_in, bytes_out;

    /* for the access line: the request's method ("" before it is known), and why the
     * connection ended ("client-close", "idle-timeout"...: a static string; the first one set
     * stays, see session_end_reason) */
    char method[16];
    const char *end_reason;
    uint64_t req_start_ns; /* metrics: the request's first byte read (uv_hrtime), 0: none */

    /* WebSocket phase */
    struct bridge *br; /* the data path (bridge.c), from the 101 on; NULL before */
    bool stdout_eof;   /* the bridge said the program's output is over */
    bool has_child;    /* child initialised (child_close needed) */
    bool counted;      /* counts toward --maxforks */
    bool child_done;   /* child_close() called */
    bool close_queued; /* our close frame for the child's end is out */
    /* the session's own program (bridge mode, CGI), from ops->child() on; NULL with --shared
     * (the hub's program) and for plain HTTP: an idle shared client does not pay for its
     * handles (doc/PERFORMANCE.md, memory per idle client) */
    struct child *child;
    struct session_watch watch;

    /* --shared: this client in its program's hub (hub.h); NULL otherwise */
    struct hub_member *member;

    /* the --authorizer's allowing answer for the request (its variables, its 101 headers), or
     * NULL */
    struct authz_answer *authz;
};

#endif
