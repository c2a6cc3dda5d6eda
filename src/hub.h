/*
 * hub: one program shared by every client of an endpoint (--shared).
 *
 * A hub owns the program (its struct child, spawned with child.h) and the
 * reading of its stdout; its members are the WebSocket clients, each a
 * bridge started with bridge_start_member() (bridge.h): the message
 * endpoint of one client, whose inbound messages come to the hub through
 * a struct bridge_sink and whose output is bridge_send_frames().
 *
 * Output: each stdout line (--binary: each read) is encoded ONCE as
 * WebSocket frames into the hub's log, a list of BUF_SIZE pool buffers
 * (buf.h) filled with frames back to back. Every member has a cursor into
 * the log and is sent the bytes after it by reference (a gather write of
 * the buffer's bytes: no copy per client; spans up to 64 bytes are copied
 * into the batch, cheaper than a reference). Buffers behind every cursor
 * leave the log (in-flight writes keep their own references). A member is
 * handed bytes while its socket's send queue is under CHILD_LOW_WATER.
 *
 * permessage-deflate (hubz.h): a member that agreed it is sent the
 * compressed form of the log's frames: one compressed copy shared by the
 * members alike (no context takeover, same parameters), or compressed per
 * member (context takeover). Its cursor, backlog and drops stay the log's.
 *
 * Slow clients: a member's backlog is the log bytes after its cursor. Over
 * the queue limit (--slow-client-queue, bytes), --slow-client=drop moves
 * its cursor forward to a message boundary so the backlog fits, dropping
 * the oldest messages (counted; logged at its close), --slow-client=close
 * closes it with 1008 "too slow: N bytes behind". stdout is read while
 * some member's backlog is under half the limit (the fastest consumer
 * sets the pace), or while there is no member (the output is dropped). So
 * the log holds at most about the limit plus one buffer, whatever the
 * number of clients, and each member pins at most the buffers of its own
 * writes in flight.
 *
 * Input: a member's message is collected whole (bounded by the bridge's
 * max_message), then written to stdin in one write, text messages followed
 * by "\n": lines from different clients never interleave. Socket reads of
 * every member stop while stdin's queue is over CHILD_HIGH_WATER, or while
 * no program runs (a restart waits for its backoff).
 *
 * --framing=json|length (framing.h; not addressed): messages instead of
 * lines, both ways. Output: json lines are decoded whole (bridge_json,
 * bridge.h) and enter the log a pool buffer at a time while some member
 * has room (stdout is not read meanwhile); length records are streamed
 * into the log as read, a short record not all read yet carried to the
 * next read (so short messages enter whole). The log's messages are text
 * or binary each; a message that began while nobody listened is dropped
 * whole. Input: a member's message is encoded (one JSON line, or one
 * record per 4 GiB) as it arrives and written whole at its end. Bad
 * output: logged, the rest of the output ignored, the program stopped;
 * every member gets what came before the unfinished message and is closed
 * with 1011 and the reason (framing_error_text); the next run waits for
 * the backoff, as after an exit.
 *
 * Addressed mode (--shared=addressed): stdin gets JSON lines
 *   {"event":"join","id":ID,"env":{"REMOTE_ADDR":"...",...}}
 *   {"event":"message","id":ID,"data":"..."}   (binary: "base64":"...")
 *   {"event":"leave","id":ID}
 * and each stdout line is {"data":"..."} (to all), {"to":ID,"data":"..."}
 * or {"except":ID,"data":"..."}; a line that is not such an object is
 * logged and skipped. ID is the connection id of the log lines; with
 * --redis, an id from the cluster (cluster_id_take: unique across the
 * instances), and a client joins once it has one (its socket is not read
 * until then). A client whose program ran on another instance when it
 * joined sends its join, messages and leave through Redis
 * (cluster_send_client), all of them: one path keeps them in order; the
 * program's lines come back from Redis and each instance obeys them for
 * its own clients. The program hears a client leave when it closes, also
 * when the hub closed it (too slow, or its instance lost Redis: lapsed).
 *
 * Lifecycle: the program starts with the first client (a client that
 * cannot get it started is answered 500). It is stopped (child_stop) when
 * the last client leaves, after linger_ms. When it exits while clients
 * are connected, what it printed is delivered and every client is closed:
 * 1000 "program exited" for exit status 0, else 1012 (service restart)
 * with the status; the next client starts it again, but no sooner than
 * the backoff (100 ms, doubling to 10 s while runs last under 10 s),
 * waiting for it meanwhile.
 *
 * Hubs are kept per endpoint (the program's path) in this process; with
 * --workers each worker has its own (config refuses --shared with more
 * than one worker).
 */
#ifndef HUB_H
#define HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "framing.h"

struct bridge;
struct route;

enum hub_slow { HUB_SLOW_DROP, HUB_SLOW_CLOSE };

#define HUB_QUEUE_MIN (2u * 64u * 1024u) /* the smallest --slow-client-queue: two buffers */

/* What every hub of the process is started with (hub_configure; copied). */
struct hub_options {
    uv_loop_t *loop;
    bool binary;        /* --binary */
    bool addressed;     /* --shared=addressed */
    enum framing_mode framing; /* --framing: not with addressed or binary */
    enum hub_slow slow; /* --slow-client */
    size_t queue;       /* --slow-client-queue: bytes, >= HUB_QUEUE_MIN */
    unsigned linger_ms; /* --shared-linger */
    unsigned closems;   /* --closems: the kill ladder's */
    const char *redis;  /* --redis=URL (checked; kept by the caller), or NULL: this process only */
};

/* How the hub reaches a member's owner (the session). */
struct hub_member_events {
    /* The hub ends this client: send our close frame (code, reason) and finish. The member
     * has left the hub already (no hub_leave needed, nothing more is sent). */
    void (*close)(void *ctx, uint16_t code, const char *reason);
};

struct hub_member; /* private */

/* Sets the options of hubs created from now on. */
void hub_configure(const struct hub_options *opt);

/*
 * A client joins the hub of the program file (argv, for a spawn; file is the key: one hub
 * per path). env: the client's CGI environment (child_env_build; ownership taken, freed here
 * or kept for the program's spawn). rt: the --dir route result to run checked
 * (child_exec_checked), or NULL; used only if the program is spawned now. conn: the client's
 * connection id (its ID in the addressed mode). On success *out is the member, to be given
 * its bridge with hub_attach() after the 101 is sent; the program runs (or waits for its
 * backoff). Else a UV error from the spawn (nothing joined).
 */
int hub_join(struct hub_member **out, const char *file, char *const *argv, char **env,
             const struct route *rt, unsigned long conn, const struct hub_member_events *ev,
             void *ctx);
/* A member's inbound message (its bridge's struct bridge_sink, through the owner, which
 * knows when m is gone): begins, its bytes (copied), ends (written to stdin whole); the bytes
 * the program's stdin holds (SIZE_MAX while no program runs: the owner stops reading). All
 * NULL-safe (a member that left: ignored, 0). */
void hub_in_begin(struct hub_member *m, bool text);
void hub_in_data(struct hub_member *m, const uint8_t *p, size_t n);
void hub_in_end(struct hub_member *m);
size_t hub_in_queued(const struct hub_member *m);
/* The member's bridge is started: output flows to it from here. */
void hub_attach(struct hub_member *m, struct bridge *br);
/* The member's socket can take more (bridge_events.drained). */
void hub_drained(struct hub_member *m);
/* The member leaves (its connection closes; nothing is sent to br anymore). Its drops, if
 * any, are logged. The member is freed here. now: the server is shutting down (a program
 * left without members is stopped at once, no linger). NULL is ignored. */
void hub_leave(struct hub_member *m, bool now);

/* Stops every program now (server shutdown). */
void hub_shutdown_all(void);
/* No hub and no program left (every handle closed or closing): for tests. */
bool hub_idle(void);

#endif
