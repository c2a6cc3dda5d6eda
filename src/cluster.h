/*
 * cluster: one shared program for clients on several wsbridge instances,
 * through Redis (--redis=URL; keys and entries in clustermsg.h).
 *
 * Ownership: one instance at a time runs the program: the one holding
 * wsbridge:{E}:owner (SET NX PX CLUSTER_LOCK_MS, renewed every
 * CLUSTER_TICK_MS with a compare-and-pexpire script). An instance tries to
 * take it while it has clients (cluster_want) and the key is free; so when
 * the owner dies, another instance with clients takes over within
 * CLUSTER_LOCK_MS + CLUSTER_TICK_MS and starts the program there.
 * wsbridge:{E}:run names the instance whose run is going on; it outlives a
 * dead owner's lock (3 x CLUSTER_LOCK_MS), so the next owner knows it
 * restarts the program and every client is told as a local restart tells
 * them (1012), and connects again to the new run.
 * Instances with clients also refresh their entry in wsbridge:{E}:clients,
 * so an owner whose own clients left knows whether others still have some
 * (cluster_others) before it stops the program.
 *
 * Output: the owner delivers its program's output to its own clients
 * directly (so they keep working while Redis is down) and XADDs it to
 * wsbridge:{E}:out (MAXLEN ~ CLUSTER_STREAM_MAX) with ids of its own,
 * strictly increasing: an XADD resent after a lost connection that had
 * already been stored is refused by Redis as "equal or smaller" and
 * counted as done, so nothing is added twice. Every instance reads the
 * stream (XREAD BLOCK from the last id it saw, on a connection of its
 * own) and hands the entries of other instances to its clients: after a
 * Redis restart (with persistence) or a network blip it resumes where it
 * stopped.
 *
 * Input: an instance that is not the owner adds its clients' messages to
 * wsbridge:{E}:in, each once: numbered per instance and added by a script
 * that refuses a number already stored (clustermsg.h), so a resend after
 * an answer lost with the connection is not a second copy; the owner reads them through the consumer group
 * "wsbridge" as consumer "owner" (XREADGROUP, then XACK once the message
 * is written): each message reaches the program once. Every owner is the
 * same consumer, and reads that consumer's pending entries first and then
 * every tick: what a predecessor read but did not acknowledge (it died, or
 * its read was waiting when it let the lock go) is taken over, not lost.
 *
 * Addressed mode (--shared=addressed): client ids are unique across the
 * instances: each instance reserves blocks of CLUSTER_ID_BLOCK ids
 * (INCRBY wsbridge:{E}:ids) and asks for the next block when half of the
 * current one is used, so a join takes an id without a round trip. Before
 * the first block comes (or while Redis is away and the ids are used up)
 * cluster_id_take() returns 0 and ids() tells when there are some. A
 * client's join, messages and leave are input entries with its id (k, i:
 * clustermsg.h). The owner records the clients of each instance from the
 * joins and leaves it reads; a message or a leave of a client it does not
 * know (any more) is dropped, so the program never hears of a client that
 * did not join. At each tick the owner looks up which instances are alive
 * (their clients-set mark, renewed every tick, lasts CLUSTER_LOCK_MS):
 * the clients of an instance whose mark expired are gone() (it died);
 * not in the first CLUSTER_LOCK_MS after its own reconnect, so that the
 * others had the time to reconnect and renew theirs. An instance whose own
 * mark could not be renewed for that long is told (lapsed): its clients
 * may have been told gone, so it closes them (their leaves follow; the
 * owner drops those of clients it no longer knows).
 *
 * Redis down: the owner's program and its own clients go on; what is to be
 * added waits in a local queue of at most CLUSTER_QUEUE_MAX bytes: over
 * that, the oldest queued output is dropped (counted, logged); clients'
 * messages are not dropped: the hub stops reading its clients
 * (cluster_queued) while the queue is long. Other instances' clients wait.
 */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define CLUSTER_TICK_MS 500u
#define CLUSTER_LOCK_MS 5000u
#define CLUSTER_STREAM_MAX 10000ul     /* entries kept in each stream (MAXLEN ~) */
#define CLUSTER_QUEUE_MAX (4u << 20)   /* bytes waiting to be added */
#define CLUSTER_HIGH_WATER (256u << 10) /* cluster_busy() over this, while connected */
#define CLUSTER_LOW_WATER (64u << 10)
#define CLUSTER_ID_BLOCK 1024u /* client ids reserved at a time (addressed mode) */

/* How the cluster reaches its user (the hub); ctx is cluster_new's. */
struct cluster_events {
    /* this instance holds the lock now: start the program; restart: the last run did not end
     * (its instance died, or stopped it while others had clients): their clients are told */
    void (*owned)(void *ctx, bool restart);
    void (*lost)(void *ctx);  /* it lost the lock: stop the program (clients stay) */
    /* a piece of the program's output from the owner elsewhere (fin: it ends a message) */
    void (*output)(void *ctx, bool binary, const uint8_t *p, size_t n, bool fin);
    /* the pieces of one read from Redis are all in: hand them to the clients */
    void (*output_end)(void *ctx);
    /* the owner's program is over: every client is closed with code and reason */
    void (*over)(void *ctx, uint16_t code, const char *reason);
    /* owner: a client's message from another instance, to write to stdin as it is */
    void (*input)(void *ctx, const uint8_t *p, size_t n);
    /* owner: whether stdin can take more now (false: the in stream is not read) */
    bool (*input_room)(void *ctx);
    /* the queue toward Redis went short again after cluster_busy() or a long cluster_queued() */
    void (*drained)(void *ctx);
    /* addressed: client ids can be taken (cluster_id_take() returned 0 before) */
    void (*ids)(void *ctx);
    /* owner, addressed: a client of another instance is gone (that instance died) */
    void (*gone)(void *ctx, uint64_t id);
    /* addressed: this instance's clients mark was not renewed for longer than it lasts (Redis
     * away): the owner may have told the program its clients left */
    void (*lapsed)(void *ctx);
};

struct cluster;

/* The cluster of endpoint (the program's path) on the Redis at url (checked by config). NULL:
 * no memory. Connecting starts now. */
struct cluster *cluster_new(uv_loop_t *loop, const char *url, const char *endpoint,
                            const struct cluster_events *ev, void *ctx);
/* Whether this instance has clients (and may run the program now: false during a backoff). */
void cluster_want(struct cluster *cl, bool want);
bool cluster_owner(const struct cluster *cl);
/* Another instance had clients at the last tick (the owner's, while it has none itself). */
bool cluster_others(const struct cluster *cl);
/* Owner: gives the lock up (and this instance's entry in the clients set). ended: the run is
 * over for every client (they were told, or none is left anywhere); else the next owner's
 * start is a restart (owned's restart) if another instance has clients now. */
void cluster_release(struct cluster *cl, bool ended);
/* Owner: a piece of output, whole text messages each ended by "\n" (n > 0), an end of the
 * program (code, reason). All copied. */
void cluster_publish(struct cluster *cl, bool binary, const uint8_t *p, size_t n, bool fin);
void cluster_publish_lines(struct cluster *cl, const uint8_t *p, size_t n);
void cluster_publish_over(struct cluster *cl, uint16_t code, const char *reason);
/* Not the owner: a client's message for the program (copied). */
void cluster_send_input(struct cluster *cl, const uint8_t *p, size_t n);
/* Addressed: client id's event line for the program (kind 'j', 'm' or 'l'; copied), through
 * the input stream whoever is the owner. */
void cluster_send_client(struct cluster *cl, char kind, uint64_t id, const uint8_t *p, size_t n);
/* Addressed: a new client id (unique across the instances), or 0 when this instance has none
 * now (ids() follows when it has). */
uint64_t cluster_id_take(struct cluster *cl);
/* Bytes waiting to go to Redis (queued or sent, not yet answered). */
size_t cluster_queued(struct cluster *cl);
/* Connected and the queue over CLUSTER_HIGH_WATER: the owner stops reading the program. */
bool cluster_busy(struct cluster *cl);
/* Owner: stdin has room again (input_room turned true). */
void cluster_input_resume(struct cluster *cl);
/* Ends it: the lock is released if held, what is queued is sent if connected; then the
 * connections close. No event comes after this call. NULL is ignored. */
void cluster_free(struct cluster *cl);

#endif
