/*
 * cluster: a shared program across instances through Redis (see cluster.h).
 *
 * Three connections: cmd (the lock, XADD, XACK, the clients set), out (a
 * blocking XREAD loop on the output stream) and in (the owner's blocking
 * XREADGROUP loop on the input stream). Every command's callback holds a
 * reference on the cluster, so cluster_free() leaves the memory to the
 * last callback (each runs once: with the reply, or NULL when its
 * connection closed).
 */
#include "build-config.h"

#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clustermsg.h"
#include "idtable.h"
#include "log.h"
#include "redis.h"

#define CLUSTER_READ_COUNT "256"
#define CLUSTER_BLOCK_MS "1000"
#define CLUSTER_GROUP "wsbridge"
#define CLUSTER_CONSUMER "owner" /* one name for every owner: a new one inherits the pending */
#define CLUSTER_ORIGINS_MAX 4096 /* addressed: instances the owner keeps clients of at a time */

/* compare-and-pexpire, compare-and-delete: the lock (and the run key with it) is touched only
 * by who holds it */
static const char renew_lua[] = "if redis.call('get', KEYS[1]) == ARGV[1] then "
                                "redis.call('pexpire', KEYS[2], ARGV[3]) "
                                "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
/* ... and the run key goes when the run ended for everyone, or when no other instance has
 * clients now (nobody to tell: the next run is a fresh start, not a restart) */
static const char release_lua[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "redis.call('zrem', KEYS[3], ARGV[1]) "
    "if ARGV[2] == '1' or redis.call('zcount', KEYS[3], ARGV[3], '+inf') == 0 then "
    "redis.call('del', KEYS[2]) end "
    "return redis.call('del', KEYS[1]) else return 0 end";
/* An instance going away leaves the clients set, and when no instance holds the lock or has
 * clients, the run key goes too (nobody is left to tell of a
 * restart; without this, the run an owner stopped while this one still had clients would be
 * taken for one that did not end by the next instance started) */
static const char leave_lua[] =
    "redis.call('zrem', KEYS[3], ARGV[1]) "
    "if redis.call('exists', KEYS[1]) == 0 and "
    "redis.call('zcount', KEYS[3], ARGV[2], '+inf') == 0 then "
    "redis.call('del', KEYS[2]) end "
    "return 1";
/* the run key outlives a dead owner's lock, so that its successor knows it restarts the
 * program (its clients are told) */
#define CLUSTER_RUN_MS (3u * CLUSTER_LOCK_MS)

/* An entry to add (XADD). */
struct cl_item {
    struct cl_item *next;
    struct cluster *cl;
    bool out; /* to the output stream, with an id of ours; else the input stream */
    bool has_id, retry;
    struct clustermsg_id id;
    struct clustermsg_entry e; /* e.data points to bytes below */
    size_t len;
    uint8_t bytes[];
};

/* Owner, addressed: an instance whose clients joined (an idtable value is its index). */
struct cl_origin {
    char name[CLUSTERMSG_INSTANCE_MAX + 1]; /* "": a free slot */
    uint32_t seen;                          /* check_no when a join of it was last read */
};

struct cluster {
    uv_loop_t *loop;
    const struct cluster_events *ev;
    void *ctx;
    char *endpoint, *k_owner, *k_run, *k_out, *k_in, *k_clients, *k_inseq, *k_inseen, *k_ids;
    struct redis *cmd, *rout, *rin;
    uv_timer_t tick;
    unsigned refs;
    bool dead, want, owner, taking, top_known, registered, others;
    bool out_reading, in_reading, group_made, busy_said;
    /* owner: the next input read is of the pending entries (id 0), the one in flight was */
    bool in_pending, in_read_pending;
    bool have_last;
    char last[CLUSTERMSG_ID_MAX]; /* the last output entry seen */
    struct clustermsg_id out_id;  /* owner: the last output id given */
    /* entries to add: head..send are in flight, send.. not yet sent */
    struct cl_item *head, *tail, *send;
    size_t queued;
    uint64_t dropped;
    /* an output message being read across entries from another instance */
    bool in_message;
    /* addressed: client ids [id_next, id_end) and the block after it (id2) */
    uint64_t id_next, id_end, id2_next, id2_end;
    bool ids_wanted, ids_asking, ids_short;
    /* owner, addressed: other instances' clients (id -> origin index), liveness checks */
    struct idtable peers;
    struct cl_origin *origins;
    uint32_t norigins, check_no;
    bool checking;
    uint64_t cmd_up_ms;  /* when the command connection was last ready (uv_now) */
    uint64_t marked_ms;  /* when this instance's clients mark was last renewed (0: not marking) */
};

static char instance[CLUSTERMSG_INSTANCE_MAX + 1];
/* the last input sequence number given (clustermsg.h): one counter for every cluster of the
 * process, so a cluster made again for an endpoint goes on above what its predecessor added */
static uint64_t in_seq;

static void cluster_pump(struct cluster *cl);
static void out_read_next(struct cluster *cl);
static void out_start(struct cluster *cl);
static void in_read_next(struct cluster *cl);
static void peers_check(struct cluster *cl, const char *now);
static void peers_reset(struct cluster *cl);
static void ids_refill(struct cluster *cl);

/* ---------------------------------------------------------------- lifetime */

static void instance_init(void)
{
    char host[33] = "";
    size_t hn = sizeof host - 1;
    unsigned char rnd[4] = {0};

    if (instance[0])
        return;
    if (uv_os_gethostname(host, &hn) != 0)
        snprintf(host, sizeof host, "host");
    host[32] = '\0';
    (void)uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL);
    snprintf(instance, sizeof instance, "%s:%ld:%02x%02x%02x%02x", host, (long)getpid(), rnd[0],
             rnd[1], rnd[2], rnd[3]);
}

static void cluster_tick_closed(uv_handle_t *h)
{
    struct cluster *cl = h->data;

    cl->refs--;
    if (cl->refs)
        return;
    free(cl->endpoint);
    free(cl->k_owner);
    free(cl->k_run);
    free(cl->k_out);
    free(cl->k_in);
    free(cl->k_clients);
    free(cl->k_inseq);
    free(cl->k_inseen);
    free(cl->k_ids);
    idtable_free(&cl->peers);
    free(cl->origins);
    free(cl);
}

static void cluster_unref(struct cluster *cl)
{
    if (--cl->refs == 0) {
        cl->refs = 1; /* the timer's close callback drops the last one */
        uv_close((uv_handle_t *)&cl->tick, cluster_tick_closed);
    }
}

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A command on c with the cluster referenced until its callback. */
static int cl_command(struct cluster *cl, struct redis *c, redis_reply_cb cb, void *data,
                      int argc, const char **argv)
{
    size_t len[CLUSTERMSG_ARGV_MAX];

    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    if (redis_command(c, cb, data, argc, argv, len) != 0)
        return -1;
    cl->refs++;
    return 0;
}

static const char *reply_text(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS) && r->str
               ? r->str
               : "";
}

/* A reply nobody waits for: an error is logged. */
static void on_done(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;

    (void)c;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error(0, "redis (%s): %s", cl->endpoint, reply_text(r));
    cluster_unref(cl);
}

/* ---------------------------------------------------------------- the queue toward Redis */

static void item_free(struct cluster *cl, struct cl_item *it)
{
    cl->queued -= it->len;
    free(it);
}

/* The messages an entry ends (what a drop is counted in). */
static uint64_t item_messages(const struct cl_item *it)
{
    uint64_t n = 0;

    if (it->e.type != CLUSTERMSG_LINES)
        return it->e.fin;
    for (size_t i = 0; i < it->e.len; i++)
        n += it->bytes[i] == '\n';
    return n;
}

/* The oldest entries not yet sent go while the queue is over its limit (Redis is away). */
static void queue_trim(struct cluster *cl)
{
    uint64_t before = cl->dropped;

    while (cl->queued > CLUSTER_QUEUE_MAX && cl->send && cl->send->out && cl->send->next) {
        struct cl_item *it = cl->send, **p = &cl->head;
        while (*p != it)
            p = &(*p)->next;
        *p = it->next;
        cl->send = it->next;
        cl->dropped += item_messages(it);
        item_free(cl, it);
    }
    if (cl->dropped != before && before == 0)
        log_error(0, "redis (%s): the queue toward Redis is full (%u bytes): dropping the oldest "
                     "output (counted; logged when Redis is back)",
                  cl->endpoint, CLUSTER_QUEUE_MAX);
}

static void queue_add(struct cluster *cl, struct cl_item *it)
{
    if (cl->tail)
        cl->tail->next = it;
    else
        cl->head = it;
    cl->tail = it;
    if (!cl->send)
        cl->send = it;
    cl->queued += it->len;
    queue_trim(cl);
    cluster_pump(cl);
}

static struct cl_item *item_new(struct cluster *cl, bool out, enum clustermsg_type t,
                                const uint8_t *p, size_t n)
{
    struct cl_item *it = malloc(sizeof *it + n + 1);

    if (!it) {
        log_error(0, "out of memory: a message for Redis lost");
        return NULL;
    }
    memset(it, 0, sizeof *it);
    it->cl = cl;
    it->out = out;
    it->len = sizeof *it + n;
    if (n)
        memcpy(it->bytes, p, n);
    it->e.type = t;
    it->e.fin = true;
    it->e.data = it->bytes;
    it->e.len = n;
    it->e.origin = instance;
    it->e.origin_len = strlen(instance);
    return it;
}

static void queue_drained_check(struct cluster *cl)
{
    if (cl->busy_said && cl->queued < CLUSTER_LOW_WATER) {
        cl->busy_said = false;
        cl->ev->drained(cl->ctx);
    }
}

static void on_xadd(struct redis *c, const redisReply *r, void *data)
{
    struct cl_item *it = data;
    struct cluster *cl = it->cl;

    (void)c;
    if (!r && !cl->dead) { /* lost with the connection: sent again once it is back */
        it->retry = true;
        cluster_unref(cl);
        return;
    }
    if (r && r->type == REDIS_REPLY_ERROR) {
        /* an own id refused as not above the top: this entry was stored before (a resend) */
        if (!(it->retry && it->out && strstr(reply_text(r), "equal or smaller")))
            log_error(0, "redis (%s): XADD refused: %s", cl->endpoint, reply_text(r));
    } else if (r && !it->out && r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        log_debug(0, "redis (%s): input %llu was added before its answer was lost: not again",
                  cl->endpoint, (unsigned long long)it->e.seq);
    }
    /* replies come in order: it is the head */
    if (cl->head == it) {
        cl->head = it->next;
        if (!cl->head)
            cl->tail = NULL;
        if (cl->send == it)
            cl->send = it->next;
        item_free(cl, it);
    }
    queue_drained_check(cl);
    cluster_unref(cl);
}

static void item_send(struct cluster *cl, struct cl_item *it)
{
    const char *argv[CLUSTERMSG_ARGV_MAX];
    size_t len[CLUSTERMSG_ARGV_MAX];
    struct clustermsg_scratch s;
    int argc;

    if (it->out && !it->has_id) {
        it->id = cl->out_id = clustermsg_id_next(&cl->out_id, wall_ms());
        it->has_id = true;
    }
    if (!it->out) { /* added once, whatever the resends (clustermsg.h) */
        const char *keys[3] = {cl->k_in, cl->k_inseq, cl->k_inseen};
        if (!it->e.seq)
            it->e.seq = ++in_seq;
        argc = clustermsg_xadd_once(keys, CLUSTER_STREAM_MAX, wall_ms(), &it->e, &s, argv, len);
    } else {
        argc = clustermsg_xadd(cl->k_out, CLUSTER_STREAM_MAX, &it->id, &it->e, &s, argv, len);
    }
    if (redis_command(cl->cmd, on_xadd, it, argc, argv, len) == 0)
        cl->refs++;
}

/* Sends what is queued while connected (output only once the stream's top id is known). */
static void cluster_pump(struct cluster *cl)
{
    while (cl->send && redis_ready(cl->cmd) && !cl->dead) {
        struct cl_item *it = cl->send;
        if (it->out && !it->has_id && !cl->top_known)
            break;
        /* input once the output reader knows where it starts: the answer to a message (a
         * join's welcome) comes after that point, not before it */
        if (!it->out && !cl->have_last)
            break;
        item_send(cl, it);
        cl->send = it->next;
    }
}

/* ---------------------------------------------------------------- ownership */

static void in_start(struct cluster *cl);

/* The run key's previous value: a run that did not end (its owner died or stopped with
 * clients elsewhere) is being restarted here. */
static void on_run(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;

    (void)c;
    if (!cl->dead && cl->owner && r) {
        bool restart = r->type == REDIS_REPLY_STRING;
        if (r->type == REDIS_REPLY_ERROR)
            log_error(0, "redis (%s): SET GET: %s", cl->endpoint, reply_text(r));
        cl->top_known = true;
        log_info(0, "redis: this instance (%s) runs the shared program %s%s", instance,
                 cl->endpoint, restart ? " (taking over from a run that did not end)" : "");
        cl->ev->owned(cl->ctx, restart);
        cluster_pump(cl);
        in_start(cl);
    }
    cluster_unref(cl);
}

static void on_top(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;
    struct clustermsg_id top;
    bool found;
    const char *why = clustermsg_top_reply(r, &top, &found);
    char ttl[16];
    const char *argv[] = {"SET", cl->k_run, instance, "PX", ttl, "GET"};

    (void)c;
    if (!cl->dead && cl->owner && r) {
        if (why)
            log_error(0, "redis (%s): XREVRANGE: %s", cl->endpoint, why);
        if (found && clustermsg_id_less(&cl->out_id, &top))
            cl->out_id = top;
        snprintf(ttl, sizeof ttl, "%u", CLUSTER_RUN_MS);
        if (cl_command(cl, cl->cmd, on_run, cl, 6, argv) != 0)
            cl->owner = false; /* the connection went: tried again at a later tick */
    }
    cluster_unref(cl);
}

static void on_take(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;

    (void)c;
    cl->taking = false;
    if (!cl->dead && r && r->type == REDIS_REPLY_STATUS && !cl->owner) {
        const char *argv[] = {"XREVRANGE", cl->k_out, "+", "-", "COUNT", "1"};
        cl->owner = true;
        cl->top_known = false;
        peers_reset(cl); /* a run of its own: who is here is learnt from the joins read */
        if (cl_command(cl, cl->cmd, on_top, cl, 6, argv) != 0) {
            cl->owner = false; /* the connection went: tried again at a later tick */
        }
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        log_error(0, "redis (%s): SET NX: %s", cl->endpoint, reply_text(r));
    }
    cluster_unref(cl);
}

static void lose(struct cluster *cl, const char *why)
{
    cl->owner = false;
    cl->top_known = false;
    log_error(0, "redis: this instance no longer holds the lock of %s (%s): stopping its program",
              cl->endpoint, why);
    cl->ev->lost(cl->ctx);
}

static void on_renew(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;

    (void)c;
    if (!cl->dead && cl->owner && r && r->type == REDIS_REPLY_INTEGER && r->integer == 0)
        lose(cl, "it expired, or another instance took it");
    cluster_unref(cl);
}

static void on_others(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;

    (void)c;
    if (r && r->type == REDIS_REPLY_INTEGER)
        cl->others = r->integer > 0;
    cluster_unref(cl);
}

static void try_take(struct cluster *cl)
{
    char ttl[16];
    const char *argv[] = {"SET", cl->k_owner, instance, "NX", "PX", ttl};

    if (cl->owner || cl->taking || !cl->want || !redis_ready(cl->cmd))
        return;
    snprintf(ttl, sizeof ttl, "%u", CLUSTER_LOCK_MS);
    if (cl_command(cl, cl->cmd, on_take, cl, 6, argv) == 0)
        cl->taking = true;
}

/* This instance's clients mark renewed. Not renewed for longer than it lasts (Redis was away):
 * the owner may have told the program its clients left (addressed mode): they are lapsed(). */
static void on_mark(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;
    uint64_t now = uv_now(cl->loop);

    (void)c;
    if (!cl->dead && r && r->type == REDIS_REPLY_INTEGER && cl->want) {
        bool lapsed = cl->marked_ms && now - cl->marked_ms > CLUSTER_LOCK_MS;
        cl->marked_ms = now;
        if (lapsed && cl->ev->lapsed)
            cl->ev->lapsed(cl->ctx);
    } else {
        on_done(c, r, data);
        return;
    }
    cluster_unref(cl);
}

/* Every tick: the lock renewed or tried for, this instance's clients announced. */
static void cluster_tick(uv_timer_t *t)
{
    struct cluster *cl = t->data;
    char ttl[16], run_ttl[16], until[24], now[24];

    if (!redis_ready(cl->cmd))
        return;
    snprintf(ttl, sizeof ttl, "%u", CLUSTER_LOCK_MS);
    snprintf(run_ttl, sizeof run_ttl, "%u", CLUSTER_RUN_MS);
    snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
    snprintf(until, sizeof until, "%llu", (unsigned long long)(wall_ms() + CLUSTER_LOCK_MS));
    if (cl->want) {
        const char *argv[] = {"ZADD", cl->k_clients, until, instance};
        cl->registered = cl_command(cl, cl->cmd, on_mark, cl, 4, argv) == 0;
    } else if (cl->registered) {
        const char *argv[] = {"ZREM", cl->k_clients, instance};
        cl->registered = cl_command(cl, cl->cmd, on_done, cl, 3, argv) != 0;
    }
    if (cl->owner) {
        const char *argv[] = {"EVAL", renew_lua, "2", cl->k_owner, cl->k_run, instance, ttl,
                              run_ttl};
        cl->in_pending = true; /* what a former owner's late read left pending */
        cl_command(cl, cl->cmd, on_renew, cl, 8, argv);
        if (!cl->want) {
            const char *zc[] = {"ZCOUNT", cl->k_clients, now, "+inf"};
            cl_command(cl, cl->cmd, on_others, cl, 4, zc);
        }
    }
    peers_check(cl, now);
    ids_refill(cl);
    try_take(cl);
    out_start(cl); /* after an error reply: again at a tick's pace */
    in_read_next(cl);
}

void cluster_want(struct cluster *cl, bool want)
{
    bool was = cl->want;

    cl->want = want;
    if (!want)
        cl->marked_ms = 0; /* a mark that lapses while nobody is here tells nothing */
    if (want && !was)
        cluster_tick(&cl->tick); /* at once, not at the next tick */
}

bool cluster_owner(const struct cluster *cl)
{
    return cl->owner;
}

bool cluster_others(const struct cluster *cl)
{
    return cl->others;
}

void cluster_release(struct cluster *cl, bool ended)
{
    char now[24];
    const char *argv[] = {"EVAL", release_lua, "3", cl->k_owner, cl->k_run, cl->k_clients,
                          instance, ended ? "1" : "0", now};

    if (!cl->owner)
        return;
    cl->owner = false;
    cl->top_known = false;
    cl->others = false;
    snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
    cl_command(cl, cl->cmd, on_done, cl, 9, argv);
    log_debug(0, "redis: the lock of %s released", cl->endpoint);
}

/* ---------------------------------------------------------------- publishing */

void cluster_publish(struct cluster *cl, bool binary, const uint8_t *p, size_t n, bool fin)
{
    struct cl_item *it = item_new(cl, true, binary ? CLUSTERMSG_BINARY : CLUSTERMSG_TEXT, p, n);

    if (!it)
        return;
    it->e.fin = fin;
    queue_add(cl, it);
}

void cluster_publish_lines(struct cluster *cl, const uint8_t *p, size_t n)
{
    struct cl_item *it = item_new(cl, true, CLUSTERMSG_LINES, p, n);

    if (it)
        queue_add(cl, it);
}

void cluster_publish_over(struct cluster *cl, uint16_t code, const char *reason)
{
    size_t n = strlen(reason);
    struct cl_item *it =
        item_new(cl, true, CLUSTERMSG_OVER, (const uint8_t *)reason,
                 n > CLUSTERMSG_REASON_MAX ? CLUSTERMSG_REASON_MAX : n);

    if (!it)
        return;
    it->e.code = code;
    queue_add(cl, it);
}

void cluster_send_client(struct cluster *cl, char kind, uint64_t id, const uint8_t *p, size_t n)
{
    struct cl_item *it = item_new(cl, false, CLUSTERMSG_TEXT, p, n);

    if (!it)
        return;
    it->e.kind = kind;
    it->e.client = kind ? id : 0;
    queue_add(cl, it);
}

void cluster_send_input(struct cluster *cl, const uint8_t *p, size_t n)
{
    cluster_send_client(cl, 0, 0, p, n);
}

/* ---------------------------------------------------------------- client ids (addressed) */

static void on_ids(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;

    (void)c;
    cl->ids_asking = false;
    if (!cl->dead && r && r->type == REDIS_REPLY_INTEGER && r->integer >= CLUSTER_ID_BLOCK &&
        (uint64_t)r->integer <= CLUSTERMSG_CLIENT_MAX) {
        uint64_t end = (uint64_t)r->integer + 1;
        if (cl->id_next == cl->id_end) {
            cl->id_next = end - CLUSTER_ID_BLOCK;
            cl->id_end = end;
        } else {
            cl->id2_next = end - CLUSTER_ID_BLOCK;
            cl->id2_end = end;
        }
        if (cl->ids_short) {
            cl->ids_short = false;
            cl->ev->ids(cl->ctx);
        }
    } else if (!cl->dead && r) {
        log_error(0, "redis (%s): INCRBY %s: %s", cl->endpoint, cl->k_ids,
                  r->type == REDIS_REPLY_INTEGER ? "past 2^53 (client ids must stay JSON "
                                                   "integers): delete the key with no client "
                                                   "connected"
                                                 : reply_text(r));
    }
    cluster_unref(cl);
}

/* Asks for the next block when less than half of one is left (and none is on its way). */
static void ids_refill(struct cluster *cl)
{
    const char *argv[] = {"INCRBY", cl->k_ids, "1024"};

    if (!cl->ids_wanted || cl->ids_asking || cl->id2_end || cl->dead || !redis_ready(cl->cmd) ||
        cl->id_end - cl->id_next >= CLUSTER_ID_BLOCK / 2)
        return;
    if (cl_command(cl, cl->cmd, on_ids, cl, 3, argv) == 0)
        cl->ids_asking = true;
}

uint64_t cluster_id_take(struct cluster *cl)
{
    uint64_t id = 0;

    cl->ids_wanted = true;
    if (cl->id_next == cl->id_end && cl->id2_end) {
        cl->id_next = cl->id2_next;
        cl->id_end = cl->id2_end;
        cl->id2_next = cl->id2_end = 0;
    }
    if (cl->id_next < cl->id_end)
        id = cl->id_next++;
    else
        cl->ids_short = true;
    ids_refill(cl);
    return id;
}

/* ---------------------------------------------------------------- owner: other instances' clients */

static void peers_reset(struct cluster *cl)
{
    idtable_free(&cl->peers);
    free(cl->origins);
    cl->origins = NULL;
    cl->norigins = 0;
}

/* The index of origin (added if new; seen now). UINT32_MAX: no room. */
static uint32_t origin_index(struct cluster *cl, const char *name, size_t len)
{
    uint32_t i, free_slot = UINT32_MAX;

    for (i = 0; i < cl->norigins; i++) {
        if (strlen(cl->origins[i].name) == len && memcmp(cl->origins[i].name, name, len) == 0)
            break;
        if (!cl->origins[i].name[0] && free_slot == UINT32_MAX)
            free_slot = i;
    }
    if (i == cl->norigins && free_slot != UINT32_MAX) {
        i = free_slot;
    } else if (i == cl->norigins) {
        struct cl_origin *o;
        if (cl->norigins == CLUSTER_ORIGINS_MAX ||
            !(o = realloc(cl->origins, (cl->norigins + 1) * sizeof *o)))
            return UINT32_MAX;
        cl->origins = o;
        cl->norigins++;
    }
    memcpy(cl->origins[i].name, name, len);
    cl->origins[i].name[len] = '\0';
    cl->origins[i].seen = cl->check_no;
    return i;
}

/* Owner: an input entry of a client (k, i) keeps the record of other instances' clients.
 * false: it is about a client the owner does not know (any more): dropped. */
static bool peer_input(struct cluster *cl, const struct clustermsg_entry *e)
{
    uint32_t o;

    if (!e->kind)
        return true;
    if (e->kind == 'j') {
        o = origin_index(cl, e->origin, e->origin_len);
        if (o == UINT32_MAX || idtable_put(&cl->peers, e->client, o) != 0)
            log_error(0, "redis (%s): client %llu joined, but no room to remember it: if its "
                         "instance dies, its leave is not told",
                      cl->endpoint, (unsigned long long)e->client);
        return true;
    }
    if (!idtable_get(&cl->peers, e->client, NULL)) {
        log_debug(0, "redis (%s): input of client %llu, not (or no longer) here: dropped",
                  cl->endpoint, (unsigned long long)e->client);
        return false;
    }
    if (e->kind == 'l')
        idtable_del(&cl->peers, e->client);
    return true;
}

static void peer_gone(void *ctx, uint64_t id)
{
    struct cluster *cl = ctx;

    cl->ev->gone(cl->ctx, id);
}

static bool reply_has(const redisReply *r, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e && e->type == REDIS_REPLY_STRING && e->len == n && memcmp(e->str, name, n) == 0)
            return true;
    }
    return false;
}

/* The instances alive now (ZRANGEBYSCORE clients now +inf): those with clients here that are
 * not, and whose last join was read before the question was sent, died. */
static void on_alive(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;

    (void)c;
    cl->checking = false;
    if (!cl->dead && cl->owner && r && r->type == REDIS_REPLY_ARRAY &&
        (r->elements == 0 || r->element)) {
        for (uint32_t i = 0; i < cl->norigins && !cl->dead && cl->owner; i++) {
            struct cl_origin *o = &cl->origins[i];
            if (!o->name[0] || o->seen >= cl->check_no || reply_has(r, o->name))
                continue;
            log_info(0, "redis (%s): instance %s went away: telling the program its clients left",
                     cl->endpoint, o->name);
            o->name[0] = '\0';
            idtable_del_value(&cl->peers, i, peer_gone, cl);
        }
    }
    cluster_unref(cl);
}

static void peers_check(struct cluster *cl, const char *now)
{
    const char *argv[] = {"ZRANGEBYSCORE", cl->k_clients, now, "+inf"};

    /* after a reconnect, the others get the time to reconnect and renew their marks first */
    if (!cl->owner || cl->checking || cl->peers.n == 0 ||
        uv_now(cl->loop) - cl->cmd_up_ms < CLUSTER_LOCK_MS)
        return;
    if (cl_command(cl, cl->cmd, on_alive, cl, 4, argv) == 0) {
        cl->checking = true;
        cl->check_no++;
    }
}

size_t cluster_queued(struct cluster *cl)
{
    if (cl->queued >= CLUSTER_LOW_WATER)
        cl->busy_said = true; /* drained() when it is short again */
    return cl->queued;
}

bool cluster_busy(struct cluster *cl)
{
    bool busy = redis_ready(cl->cmd) && cl->queued > CLUSTER_HIGH_WATER;

    if (busy)
        cl->busy_said = true;
    return busy;
}

/* ---------------------------------------------------------------- reading the output */

static void out_entry(struct cluster *cl, const struct clustermsg_entry *e)
{
    char reason[CLUSTERMSG_REASON_MAX + 1];

    if (e->origin_len == strlen(instance) && memcmp(e->origin, instance, e->origin_len) == 0)
        return; /* this instance's own program: its clients had it directly */
    if (e->type == CLUSTERMSG_OVER) {
        if (cl->in_message)
            cl->ev->output(cl->ctx, false, NULL, 0, true);
        cl->in_message = false;
        memcpy(reason, e->data, e->len);
        reason[e->len] = '\0';
        cl->ev->over(cl->ctx, e->code, reason);
        return;
    }
    if (e->type == CLUSTERMSG_LINES) {
        for (const uint8_t *p = e->data, *end = e->data + e->len, *nl; p < end; p = nl + 1) {
            nl = memchr(p, '\n', (size_t)(end - p)); /* the last byte is one (decode checked) */
            cl->ev->output(cl->ctx, false, p, (size_t)(nl - p), true);
        }
        cl->in_message = false;
        return;
    }
    cl->ev->output(cl->ctx, e->type == CLUSTERMSG_BINARY, e->data, e->len, e->fin);
    cl->in_message = !e->fin;
}

/* The entries of a read's reply (*n 0 and the reason logged when it is refused). */
static const char *read_entries(struct cluster *cl, const char *cmd, const redisReply *r,
                                redisReply *const **es, size_t *n)
{
    const char *why = clustermsg_read_reply(r, es, n);

    if (why) {
        log_error(0, "redis (%s): %s: %s%s%s", cl->endpoint, cmd, why,
                  r->type == REDIS_REPLY_ERROR ? ": " : "", reply_text(r));
        *n = 0;
    }
    return why;
}

static void on_out_read(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;
    redisReply *const *es;
    size_t n;
    const char *why;

    (void)c;
    cl->out_reading = false;
    if (cl->dead || !r) {
        cluster_unref(cl);
        return;
    }
    why = read_entries(cl, "XREAD", r, &es, &n);
    for (size_t i = 0; i < n && !cl->dead; i++) {
        struct clustermsg_entry e;
        const char *bad = clustermsg_entry_decode(es[i], &e);
        if (bad && !e.ids[0]) {
            log_error(0, "redis (%s): an output entry without an id (%s): reading stops", cl->endpoint,
                      bad);
            break;
        }
        memcpy(cl->last, e.ids, sizeof cl->last);
        if (bad)
            log_error(0, "redis (%s): output entry %s skipped: %s", cl->endpoint, e.ids, bad);
        else
            out_entry(cl, &e);
    }
    if (!cl->dead && n)
        cl->ev->output_end(cl->ctx);
    /* an error reply: the next read waits for a tick's worth of time, not a busy loop */
    if (!cl->dead && !why)
        out_read_next(cl);
    cluster_unref(cl);
}

static void out_read_next(struct cluster *cl)
{
    const char *argv[] = {"XREAD", "COUNT", CLUSTER_READ_COUNT, "BLOCK", CLUSTER_BLOCK_MS,
                          "STREAMS", cl->k_out, cl->last};

    if (cl->out_reading || cl->dead || !cl->have_last)
        return;
    if (cl_command(cl, cl->rout, on_out_read, cl, 8, argv) == 0)
        cl->out_reading = true;
}

/* Where the first read starts: after the stream's last entry now (or 0-0: an empty stream). */
static void on_out_top(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;
    struct clustermsg_id top;
    bool found;

    (void)c;
    cl->out_reading = false;
    if (!cl->dead && r) {
        const char *why = clustermsg_top_reply(r, &top, &found);
        if (why) {
            log_error(0, "redis (%s): XREVRANGE: %s", cl->endpoint, why);
        } else {
            clustermsg_id_format(&top, cl->last);
            cl->have_last = true;
            out_read_next(cl);
            cluster_pump(cl); /* input waited for this */
        }
    }
    cluster_unref(cl);
}

/* The output reader (re)starts: from the last entry seen, or from the stream's end now. */
static void out_start(struct cluster *cl)
{
    const char *argv[] = {"XREVRANGE", cl->k_out, "+", "-", "COUNT", "1"};

    if (!redis_ready(cl->rout))
        return;
    if (cl->have_last) {
        out_read_next(cl); /* resumes after the last entry seen */
    } else if (!cl->out_reading && cl_command(cl, cl->rout, on_out_top, cl, 6, argv) == 0) {
        cl->out_reading = true;
    }
}

static void out_ready(struct redis *c)
{
    out_start(redis_data(c));
}

/* ---------------------------------------------------------------- the owner reads the input */

static void on_group(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;

    (void)c;
    if (r && (r->type != REDIS_REPLY_ERROR || strstr(reply_text(r), "BUSYGROUP")))
        cl->group_made = true;
    else if (r)
        log_error(0, "redis (%s): XGROUP CREATE: %s", cl->endpoint, reply_text(r));
    cl->in_reading = false;
    if (!cl->dead)
        in_read_next(cl);
    cluster_unref(cl);
}

static void on_in_read(struct redis *c, const redisReply *r, void *data)
{
    struct cluster *cl = data;
    redisReply *const *es;
    size_t n;
    const char *why;

    (void)c;
    cl->in_reading = false;
    if (cl->dead || !r) {
        cluster_unref(cl);
        return;
    }
    why = read_entries(cl, "XREADGROUP", r, &es, &n);
    if (why && strstr(reply_text(r), "NOGROUP"))
        cl->group_made = false; /* the stream went (a Redis without persistence restarted) */
    if (cl->in_read_pending && n == 0 && !why)
        cl->in_pending = false; /* no unacknowledged entry is left */
    /* Read by an instance that is no longer the owner (its read was waiting when it let go):
     * not acknowledged, so they stay pending for the consumer "owner", and the owner takes
     * them at its next read of the pending entries. */
    for (size_t i = 0; i < n && !cl->dead && cl->owner; i++) {
        struct clustermsg_entry e;
        const char *bad = clustermsg_entry_decode(es[i], &e);
        if (bad && !e.ids[0])
            break;
        if (!bad) {
            if (peer_input(cl, &e))
                cl->ev->input(cl->ctx, e.data, e.len);
        } else if (strcmp(bad, "a deleted entry") != 0) {
            log_error(0, "redis (%s): input entry %s skipped: %s", cl->endpoint, e.ids, bad);
        }
        /* on the same connection as the reads: done before the next read of pending ones */
        const char *ack[] = {"XACK", cl->k_in, CLUSTER_GROUP, e.ids};
        cl_command(cl, cl->rin, on_done, cl, 4, ack);
    }
    if (!cl->dead && !why)
        in_read_next(cl);
    cluster_unref(cl);
}

static void in_read_next(struct cluster *cl)
{
    if (cl->in_reading || cl->dead || !cl->owner || !cl->top_known || !redis_ready(cl->rin))
        return;
    if (!cl->group_made) {
        const char *argv[] = {"XGROUP", "CREATE", cl->k_in, CLUSTER_GROUP, "0", "MKSTREAM"};
        if (cl_command(cl, cl->rin, on_group, cl, 6, argv) == 0)
            cl->in_reading = true;
        return;
    }
    if (!cl->ev->input_room(cl->ctx))
        return; /* cluster_input_resume() */
    const char *argv[] = {"XREADGROUP", "GROUP", CLUSTER_GROUP, CLUSTER_CONSUMER, "COUNT",
                          CLUSTER_READ_COUNT, "BLOCK", CLUSTER_BLOCK_MS, "STREAMS", cl->k_in,
                          cl->in_pending ? "0" : ">"};
    if (cl_command(cl, cl->rin, on_in_read, cl, 11, argv) == 0) {
        cl->in_reading = true;
        cl->in_read_pending = cl->in_pending;
    }
}

static void in_start(struct cluster *cl)
{
    cl->in_pending = true;
    in_read_next(cl);
}

void cluster_input_resume(struct cluster *cl)
{
    in_read_next(cl);
}

/* ---------------------------------------------------------------- connections */

static void cmd_ready(struct redis *c)
{
    struct cluster *cl = redis_data(c);

    cl->cmd_up_ms = uv_now(cl->loop);
    cl->send = cl->head; /* whatever was in flight is sent again, in order */
    if (cl->dropped) {
        log_error(0, "redis (%s): %llu output messages were dropped while Redis was away",
                  cl->endpoint, (unsigned long long)cl->dropped);
        cl->dropped = 0;
    }
    cluster_tick(&cl->tick);
    cluster_pump(cl);
}

static void in_ready(struct redis *c)
{
    in_read_next(redis_data(c));
}

static void conn_down(struct redis *c)
{
    (void)c;
}

static const struct redis_events cmd_events = {.ready = cmd_ready, .down = conn_down};
static const struct redis_events out_events = {.ready = out_ready, .down = conn_down};
static const struct redis_events in_events = {.ready = in_ready, .down = conn_down};

struct cluster *cluster_new(uv_loop_t *loop, const char *url, const char *endpoint,
                            const struct cluster_events *ev, void *ctx)
{
    struct clustermsg_addr addr;
    struct cluster *cl;
    const char *why = clustermsg_url_parse(url, &addr);

    if (why) {
        log_error(0, "--redis=%s: %s", url, why);
        return NULL;
    }
    instance_init();
    cl = calloc(1, sizeof *cl);
    if (!cl) {
        clustermsg_addr_free(&addr);
        return NULL;
    }
    cl->loop = loop;
    cl->ev = ev;
    cl->ctx = ctx;
    cl->refs = 1;
    cl->endpoint = strdup(endpoint);
    cl->k_owner = clustermsg_key(endpoint, "owner");
    cl->k_run = clustermsg_key(endpoint, "run");
    cl->k_out = clustermsg_key(endpoint, "out");
    cl->k_in = clustermsg_key(endpoint, "in");
    cl->k_clients = clustermsg_key(endpoint, "clients");
    cl->k_inseq = clustermsg_key(endpoint, "inseq");
    cl->k_inseen = clustermsg_key(endpoint, "inseen");
    cl->k_ids = clustermsg_key(endpoint, "ids");
    uv_timer_init(loop, &cl->tick);
    cl->tick.data = cl;
    if (!cl->endpoint || !cl->k_owner || !cl->k_run || !cl->k_out || !cl->k_in || !cl->k_clients ||
        !cl->k_inseq || !cl->k_inseen || !cl->k_ids ||
        !(cl->cmd = redis_new(loop, &addr, "commands", &cmd_events, cl)) ||
        !(cl->rout = redis_new(loop, &addr, "output reader", &out_events, cl)) ||
        !(cl->rin = redis_new(loop, &addr, "input reader", &in_events, cl))) {
        clustermsg_addr_free(&addr);
        cluster_free(cl);
        return NULL;
    }
    clustermsg_addr_free(&addr);
    uv_timer_start(&cl->tick, cluster_tick, CLUSTER_TICK_MS, CLUSTER_TICK_MS);
    return cl;
}

void cluster_free(struct cluster *cl)
{
    if (!cl)
        return;
    if (cl->cmd && redis_ready(cl->cmd)) {
        if (cl->registered) { /* an owner's lock still stands here: release_lua decides */
            char now[24];
            const char *argv[] = {"EVAL", leave_lua, "3", cl->k_owner, cl->k_run, cl->k_clients,
                                  instance, now};

            snprintf(now, sizeof now, "%llu", (unsigned long long)wall_ms());
            cl_command(cl, cl->cmd, on_done, cl, 8, argv);
        }
        cluster_release(cl, false); /* a run that goes on elsewhere is a restart there */
        cluster_pump(cl);
    }
    cl->dead = true;
    uv_timer_stop(&cl->tick);
    redis_close(cl->cmd, true);
    redis_close(cl->rout, false);
    redis_close(cl->rin, false);
    /* what was never sent goes now; what is in flight goes in its callback */
    while (cl->send) {
        struct cl_item *it = cl->send, **p = &cl->head;
        while (*p != it)
            p = &(*p)->next;
        *p = it->next;
        cl->send = it->next;
        item_free(cl, it);
    }
    cluster_unref(cl);
}
