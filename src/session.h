/*
 * session: one accepted connection, from the first byte to the access line.
 *
 * HTTP phase: the request goes through handshake (limits from the config,
 * a timeout: config->handshake_timeout_ms). A request that is not an
 * upgrade gets 404, a bad upgrade its handshake status, --maxforks 429,
 * --origin/--sameorigin 403 -- each with --header and --header-http lines.
 * A good one: the child is spawned first, and only when child_spawn() succeeded
 * is 101 sent (with --header and --header-ws lines); a spawn failure is a
 * 500 and an error line naming the reason. Bytes behind the header block
 * go straight to the WebSocket stream. The handshake (its arena) is freed
 * after the decision.
 *
 * WebSocket phase: see bridge.h for the data path. The end:
 *  - the child exits: what it wrote is delivered (stdout EOF and exit), then
 *    a close frame: 1000 for exit status 0, else 1011 "exit status N" or
 *    "killed by signal N (SIGX)"; the connection is closed after the peer's
 *    reply or SESSION_LINGER_MS;
 *  - the peer closes, disconnects, breaks the protocol, or is silent for
 *    2 * --pingms: the child is stopped with the kill ladder (child.h);
 *  - server shutdown: close 1001 and the kill ladder.
 * The session is freed once every handle is closed and every write is
 * done (a reference count, never re-entrantly), after its access line.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "bridge.h"
#include "child.h"
#include "child_env.h"
#include "handshake.h"
#include "transport.h"
#include "ws_stream.h"

#define SESSION_LINGER_MS 2000u /* wait for the peer's close reply this long */

struct server;

enum session_phase {
    SESSION_HTTP,
    SESSION_WS,
    SESSION_DONE, /* transport closing or closed */
};

enum session_timer_mode {
    SESSION_T_NONE,
    SESSION_T_HANDSHAKE,
    SESSION_T_PING,
    SESSION_T_EXIT_GRACE, /* leader exited, stdout still open (a grandchild holds it) */
    SESSION_T_LINGER,     /* our close is out, waiting for the peer's */
    SESSION_T_IDLE,       /* keep-alive: waiting for the next request */
    SESSION_T_SEND,       /* plain HTTP response: the peer stopped reading */
    SESSION_T_PROBE,      /* no --pingms, socket reads stopped: a ping now and then */
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
    /* Starts the session's program (s->child; the caller took its --maxforks slot). 0, or a
     * UV error (then child_close still follows when the session ends). */
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

struct session {
    struct session *prev, *next; /* the server's list */
    struct server *srv;
    const struct session_ops *ops; /* for the layers below (http_serve, cgi) */
    unsigned pause;                /* enum session_pause: why the socket is not read */
    unsigned long id;
    unsigned refs;
    enum session_phase phase;

    struct transport *t;
    bool t_closing;   /* close() called */
    bool t_shutdown;  /* graceful shutdown requested */
    bool peer_eof;    /* the client half-closed; the response in progress goes on */
    bool sock_paused; /* socket reads stopped (child's stdin full) */
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

    /* WebSocket phase */
    struct bridge *br; /* the data path (bridge.c), from the 101 on; NULL before */
    bool stdout_eof;   /* the bridge said the program's output is over */
    bool has_child;    /* child initialised (child_close needed) */
    bool counted;      /* counts toward --maxforks */
    bool child_done;   /* child_close() called */
    bool close_queued; /* our close frame for the child's end is out */
    struct child child;
};

/* Takes a new connection from a listener. Errors are logged. */
void session_accept(struct server *srv, uv_stream_t *listener);
/* Runs a session on a transport already connected (session_accept's second half; the tests'
 * memory transport): the session owns t from here and closes it. Errors are logged. */
void session_start(struct server *srv, struct transport *t);

/* Server shutdown: close 1001 and stop the child (or close the HTTP connection). */
void session_shutdown(struct session *s);
/* Shutdown timeout: SIGKILL the child's group and close the connection now. */
void session_kill(struct session *s);

void session_ref(struct session *s);
void session_unref(struct session *s);
/* The peer closed, failed the protocol, or the connection broke: stop everything. */
void session_peer_gone(struct session *s, bool graceful);

/* sizeof(struct session) + the transport's, for the memory budget log. */
size_t session_memory(void);

#endif
