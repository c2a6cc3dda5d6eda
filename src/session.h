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
 *  - --idle-timeout (no data message either way for that long; pings do not count) or
 *    --max-lifetime (from the 101): close 1001 with the reason, and the kill ladder; with
 *    --shared, that client leaves its hub;
 *  - server shutdown: close 1001 and the kill ladder.
 * While it runs, a client message that the program (not --pty, not --shared) has not answered
 * after a second logs, once per session, that its output may be buffered (see --unbuffered).
 * The WebSocket phase's timers (--pingms, a probe while reads are stopped, both lifetimes, that
 * hint) share the session's one timer (struct session_watch in conn.h).
 * The session is freed once every handle is closed and every write is
 * done (a reference count, never re-entrantly), after its access line.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

/* Runs a session on a connected transport (the server's accepted connection; the tests'
 * memory transport): the session owns t from here and closes it. Errors are logged. */
void session_start(struct session_host *host, struct transport *t);

/* Server shutdown: close 1001 and stop the child (or close the HTTP connection). */
void session_shutdown(struct session *s);
/* Shutdown timeout: SIGKILL the child's group and close the connection now. */
void session_kill(struct session *s);

/* sizeof(struct session) + the transport's, for the memory budget log. */
size_t session_memory(void);

#endif
