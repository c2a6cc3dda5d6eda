/*
 * redis: a kept-up hiredis connection on the loop (see redis.h).
 */
#include "build-config.h"

#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>

#include "log.h"

#define REDIS_BACKOFF_MIN 100u
#define REDIS_BACKOFF_MAX 5000u
#define REDIS_CLOSE_MS 1000u /* the longest a graceful close waits for replies */

struct redis {
    uv_loop_t *loop;
    struct clustermsg_addr addr;
    char *name;
    const struct redis_events *ev;
    void *data;
    redisAsyncContext *ac;
    uv_timer_t timer;
    unsigned backoff_ms;
    bool ready, closing, logged_down;
};

/*
 * hiredis's event hooks on a uv_poll_t. Not hiredis/adapters/libuv.h: in 0.14 it drops a poll
 * error (libuv reports POLLERR as a status, UV_EBADF, and stops the handle), so a refused
 * connect never completes and a reset connection is never noticed. Here an error is handed to
 * hiredis as an event: its connect check or its read then finds the socket's error.
 */
struct redis_poll {
    uv_poll_t handle;
    redisAsyncContext *ac; /* NULL once hiredis let go (cleanup) */
    int events;
};

static void poll_cb(uv_poll_t *h, int status, int events)
{
    struct redis_poll *p = h->data;

    if (status < 0 && p->ac) {
        if (p->ac->c.flags & REDIS_CONNECTED)
            redisAsyncHandleRead(p->ac);
        else
            redisAsyncHandleWrite(p->ac);
        return;
    }
    if (p->ac && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void poll_update(struct redis_poll *p, int add, int del)
{
    p->events = (p->events | add) & ~del;
    if (p->events)
        uv_poll_start(&p->handle, p->events, poll_cb);
    else
        uv_poll_stop(&p->handle);
}

static void ev_add_read(void *d)
{
    poll_update(d, UV_READABLE, 0);
}

static void ev_del_read(void *d)
{
    poll_update(d, 0, UV_READABLE);
}

static void ev_add_write(void *d)
{
    poll_update(d, UV_WRITABLE, 0);
}

static void ev_del_write(void *d)
{
    poll_update(d, 0, UV_WRITABLE);
}

static void poll_closed(uv_handle_t *h)
{
    free(h->data);
}

static void ev_cleanup(void *d)
{
    struct redis_poll *p = d;

    p->ac = NULL;
    uv_close((uv_handle_t *)&p->handle, poll_closed);
}

static int poll_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct redis_poll *p = calloc(1, sizeof *p);

    if (!p)
        return -1;
    if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
        free(p);
        return -1;
    }
    p->handle.data = p;
    p->ac = ac;
    ac->ev.data = p;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return 0;
}

/* What a command's callback needs (hiredis gives one pointer). */
struct redis_call {
    struct redis *r;
    redis_reply_cb cb;
    void *data;
};

static void redis_connect(struct redis *r);

static void redis_retry(uv_timer_t *t)
{
    redis_connect(t->data);
}

/* A graceful close that took too long: what is still unanswered gets NULL now. */
static void redis_force(uv_timer_t *t)
{
    struct redis *r = t->data;

    if (r->ac)
        redisAsyncFree(r->ac); /* on_disconnect: freed there */
}

static void redis_freed(uv_handle_t *h)
{
    struct redis *r = h->data;

    clustermsg_addr_free(&r->addr);
    free(r->name);
    free(r);
}

/* The context is gone: closed for good, or a reconnect after the backoff. */
static void redis_lost(struct redis *r, const char *why)
{
    bool was_ready = r->ready;

    r->ac = NULL;
    r->ready = false;
    if (r->closing) {
        uv_close((uv_handle_t *)&r->timer, redis_freed);
        return;
    }
    if (!r->logged_down) {
        log_error(0, "redis %s (%s): %s; retrying with backoff", r->name,
                  r->addr.path ? r->addr.path : r->addr.host, why);
        r->logged_down = true;
    } else {
        log_debug(0, "redis %s: %s", r->name, why);
    }
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : REDIS_BACKOFF_MIN;
    if (r->backoff_ms > REDIS_BACKOFF_MAX)
        r->backoff_ms = REDIS_BACKOFF_MAX;
    uv_timer_start(&r->timer, redis_retry, r->backoff_ms, 0);
    if (was_ready && r->ev->down)
        r->ev->down(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct redis *r = ac->data;

    redis_lost(r, status == REDIS_OK ? "connection closed" : ac->errstr);
}

static void on_ready(struct redis *r)
{
    r->ready = true;
    r->backoff_ms = 0;
    if (r->logged_down)
        log_info(0, "redis %s: connected again", r->name);
    else
        log_debug(0, "redis %s: connected", r->name);
    r->logged_down = false;
    r->ev->ready(r);
}

static void on_probe(redisAsyncContext *ac, void *reply, void *priv);

/* The last step before ready: a command Redis refuses with LOADING while it reads its data
 * back after a restart (then everything else would be refused, and an XADD lost). */
static void probe(struct redis *r)
{
    redisAsyncCommand(r->ac, on_probe, NULL, "EXISTS wsbridge:probe");
}

static void probe_again(uv_timer_t *t)
{
    struct redis *r = t->data;

    if (r->ac && !r->closing)
        probe(r);
}

static void on_probe(redisAsyncContext *ac, void *reply, void *priv)
{
    struct redis *r = ac->data;
    redisReply *rep = reply;

    (void)priv;
    if (!rep || r->closing)
        return;
    if (rep->type == REDIS_REPLY_ERROR && rep->str && strncmp(rep->str, "LOADING", 7) == 0) {
        log_debug(0, "redis %s: Redis is loading its data: waiting", r->name);
        uv_timer_start(&r->timer, probe_again, REDIS_BACKOFF_MIN, 0);
        return;
    }
    on_ready(r);
}

/* AUTH's, then SELECT's answer: an error ends the connection (retried with backoff). */
static void on_setup_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct redis *r = ac->data;
    redisReply *rep = reply;
    bool auth = priv != NULL;

    if (!rep || r->closing)
        return;
    if (rep->type == REDIS_REPLY_ERROR &&
        !(rep->str && strncmp(rep->str, "LOADING", 7) == 0)) { /* LOADING: probe() waits */
        if (!r->logged_down)
            log_error(0, "redis %s: %s refused: %.*s", r->name, auth ? "AUTH" : "SELECT",
                      (int)(rep->len > 200 ? 200 : rep->len), rep->str ? rep->str : "");
        r->logged_down = true;
        redisAsyncDisconnect(ac);
        return;
    }
    if (auth && r->addr.db) {
        redisAsyncCommand(ac, on_setup_reply, NULL, "SELECT %u", r->addr.db);
        return;
    }
    probe(r);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct redis *r = ac->data;
    redisAsyncContext *c = (redisAsyncContext *)ac;

    if (status != REDIS_OK) {
        redis_lost(r, ac->errstr); /* hiredis frees the context after this */
        return;
    }
    if (r->closing)
        return;
    if (r->addr.password)
        redisAsyncCommand(c, on_setup_reply, r, "AUTH %s", r->addr.password);
    else if (r->addr.db)
        redisAsyncCommand(c, on_setup_reply, NULL, "SELECT %u", r->addr.db);
    else
        probe(r);
}

static void redis_connect(struct redis *r)
{
    redisAsyncContext *ac = r->addr.path ? redisAsyncConnectUnix(r->addr.path)
                                         : redisAsyncConnect(r->addr.host, r->addr.port);
    char why[160];

    if (!ac) {
        redis_lost(r, "out of memory");
        return;
    }
    if (ac->err || poll_attach(ac, r->loop) != 0) {
        snprintf(why, sizeof why, "%s", ac->err ? ac->errstr : "cannot watch its socket");
        redisAsyncFree(ac);
        redis_lost(r, why);
        return;
    }
    ac->data = r;
    r->ac = ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

struct redis *redis_new(uv_loop_t *loop, const struct clustermsg_addr *addr, const char *name,
                        const struct redis_events *ev, void *data)
{
    struct redis *r = calloc(1, sizeof *r);

    if (!r)
        return NULL;
    r->loop = loop;
    r->ev = ev;
    r->data = data;
    r->name = strdup(name);
    r->addr.port = addr->port;
    r->addr.db = addr->db;
    r->addr.host = addr->host ? strdup(addr->host) : NULL;
    r->addr.path = addr->path ? strdup(addr->path) : NULL;
    r->addr.password = addr->password ? strdup(addr->password) : NULL;
    if (!r->name || (addr->host && !r->addr.host) || (addr->path && !r->addr.path) ||
        (addr->password && !r->addr.password)) {
        clustermsg_addr_free(&r->addr);
        free(r->name);
        free(r);
        return NULL;
    }
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    redis_connect(r);
    return r;
}

void *redis_data(const struct redis *r)
{
    return r->data;
}

bool redis_ready(const struct redis *r)
{
    return r->ready && r->ac && !r->closing;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct redis_call *call = priv;

    (void)ac;
    call->cb(call->r, reply, call->data);
    free(call);
}

int redis_command(struct redis *r, redis_reply_cb cb, void *data, int argc, const char **argv,
                  const size_t *argvlen)
{
    struct redis_call *call;

    if (!redis_ready(r) || !(call = malloc(sizeof *call)))
        return -1;
    call->r = r;
    call->cb = cb;
    call->data = data;
    if (redisAsyncCommandArgv(r->ac, on_reply, call, argc, argv, argvlen) != REDIS_OK) {
        free(call);
        return -1;
    }
    return 0;
}

size_t redis_pending(const struct redis *r)
{
    return r->ac && r->ac->c.obuf ? sdslen(r->ac->c.obuf) : 0;
}

void redis_close(struct redis *r, bool graceful)
{
    bool connected;

    if (!r)
        return;
    r->closing = true;
    uv_timer_stop(&r->timer);
    if (!r->ac) {
        uv_close((uv_handle_t *)&r->timer, redis_freed);
        return;
    }
    connected = (r->ac->c.flags & REDIS_CONNECTED) != 0;
    if (graceful && r->ready) {
        /* on_disconnect, once the replies are in; a Redis that does not answer gets 1 s */
        redisAsyncDisconnect(r->ac);
        uv_timer_start(&r->timer, redis_force, REDIS_CLOSE_MS, 0);
        return;
    }
    redisAsyncFree(r->ac); /* on_disconnect if it was connected (now or after a callback) */
    if (!connected) {
        r->ac = NULL;
        uv_close((uv_handle_t *)&r->timer, redis_freed);
    }
}
