/*
 * transport_mem: the transport on memory, for the shell's tests and its fuzz target
 * (transport.h). One uv_idle handle does all the delivering, so nothing is ever called back
 * from inside the call that caused it; it runs only while there is something to do.
 */
#include "build-config.h"

#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct transport_mem_seg {
    struct transport_mem_seg *next;
    int end; /* 0: data; else the hangup status to report */
    size_t len;
    uint8_t data[];
};

struct mem_write {
    struct mem_write *next;
    struct transport_write *w;
    size_t len;
    uint8_t data[];
};

struct transport_mem {
    struct transport base; /* first: peer->t points here */
    uv_idle_t idle;
    struct transport_mem_peer *peer;
    struct mem_write *wq_head, *wq_tail;
    size_t queued; /* bytes in wq */
    transport_done_cb shutdown_cb, close_cb;
    bool shutdown_pending;
    bool reading;
    bool ever_read; /* read_start was called: a hangup is reported even while stopped */
    bool closing;
    bool close_started; /* the idle handle is closing */
};

#define MEM_OF(t) ((struct transport_mem *)(t))

static bool peer_has_end(const struct transport_mem_peer *p)
{
    for (const struct transport_mem_seg *g = p->in_head; g; g = g->next)
        if (g->end)
            return true;
    return false;
}

static bool has_work(const struct transport_mem *m)
{
    const struct transport_mem_peer *p = m->peer;

    if (m->close_started)
        return false;
    if (m->closing)
        return true;
    if (m->wq_head && !p->hold)
        return true;
    if (m->shutdown_pending && !m->wq_head)
        return true;
    if (p->in_head && !p->end_reported && (m->reading || (m->ever_read && peer_has_end(p))))
        return true;
    return false;
}

static void on_idle(uv_idle_t *h);

static void kick(struct transport_mem *m)
{
    if (m->close_started)
        return;
    if (has_work(m))
        uv_idle_start(&m->idle, on_idle);
    else
        uv_idle_stop(&m->idle);
}

static void idle_closed(uv_handle_t *h)
{
    struct transport_mem *m = h->data;
    struct transport_mem_peer *p = m->peer;
    transport_done_cb cb = m->close_cb;

    if (cb)
        cb(&m->base);
    p->t = NULL;
    p->freed = true;
    free(m);
}

/* close(): pending writes complete with UV_ECANCELED, a pending shutdown reports, then the
 * handle closes and close_cb runs. */
static void finish_close(struct transport_mem *m)
{
    m->close_started = true;
    uv_idle_stop(&m->idle);
    while (m->wq_head) {
        struct mem_write *q = m->wq_head;
        m->wq_head = q->next;
        if (!m->wq_head)
            m->wq_tail = NULL;
        m->queued -= q->len;
        q->w->cb(q->w, UV_ECANCELED);
        free(q);
    }
    if (m->shutdown_pending) {
        m->shutdown_pending = false;
        if (m->shutdown_cb)
            m->shutdown_cb(&m->base);
    }
    uv_close((uv_handle_t *)&m->idle, idle_closed);
}

static int out_append(struct transport_mem_peer *p, const uint8_t *data, size_t len)
{
    if (p->out_len + len > p->out_cap) {
        size_t cap = p->out_cap ? p->out_cap : 4096;
        while (cap < p->out_len + len)
            cap *= 2;
        uint8_t *n = realloc(p->out, cap);
        if (!n)
            return UV_ENOMEM;
        p->out = n;
        p->out_cap = cap;
    }
    memcpy(p->out + p->out_len, data, len);
    p->out_len += len;
    return 0;
}

/* Writes queued before this tick complete (a write queued by a callback waits for the next). */
static void complete_writes(struct transport_mem *m)
{
    struct mem_write *last = m->wq_tail;

    while (last && m->wq_head && !m->closing && !m->peer->hold) {
        struct mem_write *q = m->wq_head;
        m->wq_head = q->next;
        if (!m->wq_head)
            m->wq_tail = NULL;
        m->queued -= q->len;
        bool was_last = q == last;
        int st = out_append(m->peer, q->data, q->len);
        q->w->cb(q->w, st);
        free(q);
        if (was_last)
            break;
    }
}

static void deliver_one(struct transport_mem *m)
{
    struct transport_mem_peer *p = m->peer;
    struct transport_mem_seg *g = p->in_head;

    if (!g || p->end_reported)
        return;
    if (!m->reading) {
        /* stopped: only a hangup is reported, and what came before it is lost */
        if (!m->ever_read || !peer_has_end(p))
            return;
        while (!p->in_head->end) {
            g = p->in_head;
            p->in_head = g->next;
            free(g);
        }
        g = p->in_head;
    }
    p->in_head = g->next;
    if (!p->in_head)
        p->in_tail = NULL;
    if (g->end) {
        int st = g->end;
        free(g);
        p->end_reported = true;
        m->base.read_cb(&m->base, st, NULL);
        return;
    }
    struct buf *b = m->base.alloc_cb(&m->base);
    if (!b) {
        free(g);
        m->base.read_cb(&m->base, UV_ENOBUFS, NULL);
        return;
    }
    memcpy(b->data, g->data, g->len);
    ssize_t n = (ssize_t)g->len;
    free(g);
    p->reads++;
    m->base.read_cb(&m->base, n, b);
}

static void on_idle(uv_idle_t *h)
{
    struct transport_mem *m = h->data;

    if (m->closing) {
        finish_close(m);
        return;
    }
    complete_writes(m);
    if (!m->closing && m->shutdown_pending && !m->wq_head) {
        m->shutdown_pending = false;
        if (m->shutdown_cb)
            m->shutdown_cb(&m->base);
    }
    if (!m->closing)
        deliver_one(m);
    kick(m);
}

static int mem_read_start(struct transport *t)
{
    struct transport_mem *m = MEM_OF(t);

    if (m->closing)
        return UV_EINVAL;
    m->reading = m->ever_read = true;
    m->peer->reading = true;
    kick(m);
    return 0;
}

static void mem_read_stop(struct transport *t)
{
    struct transport_mem *m = MEM_OF(t);

    m->reading = false;
    m->peer->reading = false;
    kick(m);
}

static int mem_write(struct transport *t, struct transport_write *w, const uv_buf_t *bufs,
                     unsigned nbufs)
{
    struct transport_mem *m = MEM_OF(t);
    size_t len = 0, off = 0;
    struct mem_write *q;

    if (m->closing || m->peer->shutdown)
        return UV_EPIPE;
    for (unsigned i = 0; i < nbufs; i++)
        len += bufs[i].len;
    q = malloc(sizeof *q + len);
    if (!q)
        return UV_ENOMEM;
    for (unsigned i = 0; i < nbufs; i++) {
        if (bufs[i].len)
            memcpy(q->data + off, bufs[i].base, bufs[i].len);
        off += bufs[i].len;
    }
    q->len = len;
    q->w = w;
    q->next = NULL;
    if (m->wq_tail)
        m->wq_tail->next = q;
    else
        m->wq_head = q;
    m->wq_tail = q;
    m->queued += len;
    kick(m);
    return 0;
}

static size_t mem_write_queue_size(const struct transport *t)
{
    const struct transport_mem *m = (const struct transport_mem *)t;

    return m->queued + m->peer->queue_extra;
}

static int mem_shutdown(struct transport *t, transport_done_cb cb)
{
    struct transport_mem *m = MEM_OF(t);

    if (m->closing || m->peer->shutdown)
        return UV_EPIPE;
    m->peer->shutdown = true;
    m->shutdown_pending = true;
    m->shutdown_cb = cb;
    kick(m);
    return 0;
}

static void mem_close(struct transport *t, transport_done_cb cb)
{
    struct transport_mem *m = MEM_OF(t);

    if (m->closing)
        return;
    m->closing = true;
    m->close_cb = cb;
    m->reading = false;
    m->peer->reading = false;
    m->peer->closed = true;
    kick(m);
}

static int mem_peer(const struct transport *t, char *host, size_t hostlen, int *port)
{
    const struct transport_mem *m = (const struct transport_mem *)t;

    snprintf(host, hostlen, "%s", m->peer->host[0] ? m->peer->host : "memory");
    *port = m->peer->port;
    return 0;
}

static const struct transport_ops mem_ops = {
    .read_start = mem_read_start,
    .read_stop = mem_read_stop,
    .write = mem_write,
    .write_queue_size = mem_write_queue_size,
    .shutdown = mem_shutdown,
    .close = mem_close,
    .peer = mem_peer,
    .sendfile = NULL,
    .tls_subject = NULL,
};

int transport_mem_new(uv_loop_t *loop, struct transport_mem_peer *peer, struct transport **out)
{
    struct transport_mem *m = calloc(1, sizeof *m);

    *out = NULL;
    if (!m)
        return UV_ENOMEM;
    m->base.ops = &mem_ops;
    m->peer = peer;
    uv_idle_init(loop, &m->idle);
    m->idle.data = m;
    peer->t = &m->base;
    peer->freed = false;
    *out = &m->base;
    return 0;
}

static int push_seg(struct transport_mem_peer *p, int end, const uint8_t *data, size_t len)
{
    struct transport_mem_seg *g = malloc(sizeof *g + len);

    if (!g)
        return UV_ENOMEM;
    g->next = NULL;
    g->end = end;
    g->len = len;
    if (len)
        memcpy(g->data, data, len);
    if (p->in_tail)
        p->in_tail->next = g;
    else
        p->in_head = g;
    p->in_tail = g;
    return 0;
}

int transport_mem_push(struct transport_mem_peer *peer, const void *data, size_t len)
{
    const uint8_t *d = data;
    int r = 0;

    if (peer->in_tail && peer->in_tail->end)
        return UV_EPIPE;
    while (len && r == 0) {
        size_t n = len < BUF_SIZE ? len : BUF_SIZE;
        r = push_seg(peer, 0, d, n);
        d += n;
        len -= n;
    }
    transport_mem_kick(peer);
    return r;
}

int transport_mem_push_end(struct transport_mem_peer *peer, int status)
{
    int r;

    if (peer->in_tail && peer->in_tail->end)
        return UV_EPIPE;
    r = push_seg(peer, status ? status : UV_EOF, NULL, 0);
    transport_mem_kick(peer);
    return r;
}

void transport_mem_kick(struct transport_mem_peer *peer)
{
    if (peer->t)
        kick(MEM_OF(peer->t));
}

void transport_mem_peer_free(struct transport_mem_peer *peer)
{
    while (peer->in_head) {
        struct transport_mem_seg *g = peer->in_head;
        peer->in_head = g->next;
        free(g);
    }
    peer->in_tail = NULL;
    free(peer->out);
    peer->out = NULL;
    peer->out_len = peer->out_cap = 0;
}
