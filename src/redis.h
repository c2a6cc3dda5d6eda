/*
 * redis: one connection to Redis on the loop (hiredis's async API on
 * uv_poll), kept up: AUTH and SELECT when the address asks for them, a wait
 * while Redis is still loading its data (after a restart), then "ready"; a failure or a lost connection is logged once (at error
 * level; the attempts after it at debug level) and retried with backoff,
 * 100 ms doubling to 5 s; getting back is logged too.
 *
 * Commands are sent only while ready (redis_command returns -1 otherwise);
 * each callback runs once: with the reply, or with NULL when the
 * connection was lost or closed before it came (what the command did is
 * then unknown). A reply is only valid during its callback (hiredis frees it).
 */
#ifndef REDIS_H
#define REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "clustermsg.h"

struct redis;

typedef void (*redis_reply_cb)(struct redis *r, const redisReply *reply, void *data);

struct redis_events {
    void (*ready)(struct redis *r); /* connected (and authenticated): commands go */
    void (*down)(struct redis *r);  /* the ready connection was lost: reconnecting */
};

/*
 * A connection to addr (copied), named name in the log ("out reader", ...). Connecting starts
 * now. ev's functions get data as redis_data(). NULL when out of memory.
 */
struct redis *redis_new(uv_loop_t *loop, const struct clustermsg_addr *addr, const char *name,
                        const struct redis_events *ev, void *data);
void *redis_data(const struct redis *r);
bool redis_ready(const struct redis *r);
/* Sends argv (argc strings of argvlen bytes, copied). 0, or -1 when not ready / no memory (cb
 * is then not called). */
int redis_command(struct redis *r, redis_reply_cb cb, void *data, int argc, const char **argv,
                  const size_t *argvlen);
/* The bytes written to the connection and not yet answered, roughly (hiredis's output buffer). */
size_t redis_pending(const struct redis *r);
/*
 * Ends the connection. graceful: commands already sent get their replies first (not for a
 * connection waiting in a BLOCK), else at once; callbacks still pending then get NULL. r is
 * freed later, on the loop; no ready/down event comes after this call. NULL is ignored.
 */
void redis_close(struct redis *r, bool graceful);

#endif
