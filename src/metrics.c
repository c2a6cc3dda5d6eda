/*
 * metrics: counters, their exposition and the --metrics endpoint (see metrics.h).
 */
#include "build-config.h"

#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "handshake.h"
#include "log.h"
#include "netsock.h"

/* Process-wide by nature, as forks.c's count: every layer counts into this process's slot,
 * and threading a pointer through each would buy nothing. */
static struct metrics_slot local_slot;
struct metrics_slot *metrics_mine = &local_slot;
static struct metrics_slot *slots = &local_slot;
static unsigned nslots = 1;
static int listen_fd = -1;

/* ---------------------------------------------------------------- counting */

static const uint64_t hs_le_us[METRICS_HS_BUCKETS] = {500,     1000,    2500,    5000,    10000,
                                                      25000,   50000,   100000,  250000,  500000,
                                                      1000000, 2500000, 5000000, 10000000};
const char *const metrics_hs_le[METRICS_HS_BUCKETS] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                                       "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                                       "1",      "2.5",   "5",      "10"};

void metrics_handshake(uint64_t us)
{
    for (unsigned i = 0; i < METRICS_HS_BUCKETS; i++)
        if (us <= hs_le_us[i]) {
            metrics_bump(&metrics_mine->hs_bucket[i], 1);
            break;
        }
    metrics_add(METRICS_HS_COUNT, 1);
    metrics_add(METRICS_HS_SUM_US, us);
}

/* ---------------------------------------------------------------- exposition */

/* The text being built; on out of memory it stays failed. */
struct out {
    char *p;
    size_t n, cap;
    bool failed;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int r;

    for (int tries = 0; tries < 2 && !o->failed; tries++) {
        va_start(ap, fmt);
        r = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (r < 0) {
            o->failed = true;
        } else if ((size_t)r < o->cap - o->n) {
            o->n += (size_t)r;
            return;
        } else {
            size_t cap = (o->cap + (size_t)r + 1) * 2;
            char *p = realloc(o->p, cap);
            if (!p)
                o->failed = true;
            else
                o->p = p, o->cap = cap;
        }
    }
}

/* One view of the counters: the sums (worker NULL) or one worker's. */
struct view {
    const struct metrics_slot *s;
    const char *prefix; /* "wsbridge_" or "wsbridge_worker_" */
    char label[24];     /* "" or "worker=\"N\"" */
};

/* name{view's label,extra} value */
static void series(struct out *o, const struct view *v, const char *name, const char *extra,
                   uint64_t value)
{
    bool any = v->label[0] || (extra && extra[0]);

    out_printf(o, "%s%s%s%s%s%s%s %" PRIu64 "\n", v->prefix, name, any ? "{" : "", v->label,
               v->label[0] && extra && extra[0] ? "," : "", extra ? extra : "", any ? "}" : "",
               value);
}

static void emit_connections(struct out *o, const struct view *v, const char *name)
{
    series(o, v, name, NULL, v->s->c[METRICS_CONNECTIONS]);
}

static uint64_t open_of(const struct metrics_slot *s, enum metrics_counter opened)
{
    uint64_t a = s->c[opened], b = s->c[opened + 1]; /* the _CLOSED counter follows */
    return a > b ? a - b : 0;
}

static void emit_connections_open(struct out *o, const struct view *v, const char *name)
{
    series(o, v, name, NULL, open_of(v->s, METRICS_CONNECTIONS));
}

static void emit_sessions(struct out *o, const struct view *v, const char *name)
{
    series(o, v, name, NULL, v->s->c[METRICS_SESSIONS]);
}

static void emit_sessions_open(struct out *o, const struct view *v, const char *name)
{
    series(o, v, name, NULL, open_of(v->s, METRICS_SESSIONS));
}

static void emit_spawn_failures(struct out *o, const struct view *v, const char *name)
{
    series(o, v, name, NULL, v->s->c[METRICS_SPAWN_FAILURES]);
}

/* The non-zero entries of an array, labelled key="index" (index 0: key="other" when
 * zero_other). */
static void emit_array(struct out *o, const struct view *v, const char *name, const char *key,
                       const uint64_t *a, size_t n, bool zero_other)
{
    char extra[48];

    for (size_t i = 0; i < n; i++) {
        if (!a[i])
            continue;
        if (i == 0 && zero_other)
            snprintf(extra, sizeof extra, "%s=\"other\"", key);
        else
            snprintf(extra, sizeof extra, "%s=\"%zu\"", key, i);
        series(o, v, name, extra, a[i]);
    }
}

static void emit_statuses(struct out *o, const struct view *v, const char *name)
{
    emit_array(o, v, name, "status", v->s->status, METRICS_STATUS_MAX, true);
}

static void emit_exits(struct out *o, const struct view *v, const char *name)
{
    emit_array(o, v, name, "code", v->s->exit_code, 256, false);
}

static void emit_signals(struct out *o, const struct view *v, const char *name)
{
    char extra[48];

    for (int i = 0; i < (int)METRICS_SIGNAL_MAX; i++) {
        if (!v->s->signal[i])
            continue;
        if (i == 0)
            snprintf(extra, sizeof extra, "signal=\"other\"");
        else if (sigabbrev_np(i))
            snprintf(extra, sizeof extra, "signal=\"SIG%s\"", sigabbrev_np(i));
        else
            snprintf(extra, sizeof extra, "signal=\"%d\"", i); /* a real-time signal */
        series(o, v, name, extra, v->s->signal[i]);
    }
}

static void emit_close_codes(struct out *o, const struct view *v, const char *name)
{
    emit_array(o, v, name, "code", v->s->close_code, METRICS_CLOSE_MAX, true);
}

static void emit_ws_bytes(struct out *o, const struct view *v, const char *name)
{
    series(o, v, name, "direction=\"in\"", v->s->c[METRICS_WS_BYTES_IN]);
    series(o, v, name, "direction=\"out\"", v->s->c[METRICS_WS_BYTES_OUT]);
}

static void emit_ws_messages(struct out *o, const struct view *v, const char *name)
{
    series(o, v, name, "direction=\"in\"", v->s->c[METRICS_WS_MSGS_IN]);
    series(o, v, name, "direction=\"out\"", v->s->c[METRICS_WS_MSGS_OUT]);
}

static void emit_handshakes(struct out *o, const struct view *v, const char *name)
{
    char bucket[80], extra[48];
    uint64_t cum = 0, sum = v->s->c[METRICS_HS_SUM_US];

    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    for (unsigned i = 0; i < METRICS_HS_BUCKETS; i++) {
        cum += v->s->hs_bucket[i];
        snprintf(extra, sizeof extra, "le=\"%s\"", metrics_hs_le[i]);
        series(o, v, bucket, extra, cum);
    }
    series(o, v, bucket, "le=\"+Inf\"", v->s->c[METRICS_HS_COUNT]);
    out_printf(o, "%s%s_sum%s%s%s %" PRIu64 ".%06" PRIu64 "\n", v->prefix, name,
               v->label[0] ? "{" : "", v->label, v->label[0] ? "}" : "", sum / 1000000,
               sum % 1000000);
    snprintf(bucket, sizeof bucket, "%s_count", name);
    series(o, v, bucket, NULL, v->s->c[METRICS_HS_COUNT]);
}

static const struct family {
    const char *name, *type, *help;
    void (*emit)(struct out *o, const struct view *v, const char *name);
} families[] = {
    {"connections_total", "counter", "Connections accepted.", emit_connections},
    {"connections_open", "gauge", "Connections open now.", emit_connections_open},
    {"sessions_total", "counter", "WebSocket sessions started (101 answered).", emit_sessions},
    {"sessions_open", "gauge", "WebSocket sessions open now.", emit_sessions_open},
    {"http_responses_total", "counter",
     "HTTP responses by status: 101 for an upgrade, a refused handshake's status, plain HTTP.",
     emit_statuses},
    {"spawn_failures_total", "counter", "Programs (WebSocket and CGI) that could not start.",
     emit_spawn_failures},
    {"program_exits_total", "counter", "Programs (WebSocket and CGI) that exited, by exit status.",
     emit_exits},
    {"program_signals_total", "counter", "Programs (WebSocket and CGI) killed by a signal.",
     emit_signals},
    {"close_codes_total", "counter",
     "WebSocket sessions ended, by close code (ours, else the client's; 1006: none).",
     emit_close_codes},
    {"websocket_bytes_total", "counter", "Bytes of WebSocket connections after the 101.",
     emit_ws_bytes},
    {"websocket_messages_total", "counter", "WebSocket data messages.", emit_ws_messages},
    {"handshake_duration_seconds", "histogram",
     "From a WebSocket request's first byte read to its 101 response written.", emit_handshakes},
};

/* views[0..nviews) under one name each family. */
static void emit_all(struct out *o, const struct view *views, unsigned nviews)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        out_printf(o, "# HELP %s%s %s\n# TYPE %s%s %s\n", views[0].prefix, families[f].name,
                   families[f].help, views[0].prefix, families[f].name, families[f].type);
        for (unsigned i = 0; i < nviews; i++)
            families[f].emit(o, &views[i], families[f].name);
    }
}

/* A copy of s read with relaxed loads (its writer runs in another process), added to sum. */
static void slot_add(struct metrics_slot *sum, struct metrics_slot *copy,
                     const struct metrics_slot *s)
{
    const uint64_t *src = (const uint64_t *)s;
    uint64_t *c = (uint64_t *)copy, *d = (uint64_t *)sum;

    for (size_t i = 0; i < sizeof *s / sizeof(uint64_t); i++) {
        c[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
        d[i] += c[i];
    }
}

char *metrics_render(const struct metrics_slot *in, unsigned n, size_t *len)
{
    struct out o = {NULL, 0, 0, false};
    struct metrics_slot *copies = calloc((size_t)n + 1, sizeof *copies);
    struct view *views = calloc(n, sizeof *views);
    struct view total = {NULL, "wsbridge_", ""};

    if (!copies || !views) {
        free(copies);
        free(views);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        slot_add(&copies[n], &copies[i], &in[i]);
        views[i].s = &copies[i];
        views[i].prefix = "wsbridge_worker_";
        snprintf(views[i].label, sizeof views[i].label, "worker=\"%u\"", i);
    }
    total.s = &copies[n];
    emit_all(&o, &total, 1);
    if (n > 1)
        emit_all(&o, views, n);
    free(copies);
    free(views);
    if (o.failed || !o.p) {
        free(o.p);
        return NULL;
    }
    *len = o.n;
    return o.p;
}

/* ---------------------------------------------------------------- shared slots */

int metrics_share(unsigned n)
{
    struct metrics_slot *s;

    if (listen_fd < 0 || n < 2)
        return 0; /* nobody reads another process's counters */
    s = mmap(NULL, n * sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        return -errno;
    slots = s;
    nslots = n;
    return 0;
}

void metrics_set_worker(unsigned index)
{
    if (index < nslots)
        metrics_mine = &slots[index];
    if (index != 0 && listen_fd >= 0) {
        close(listen_fd); /* worker 0's */
        listen_fd = -1;
    }
}

void metrics_worker_gone(unsigned index)
{
    struct metrics_slot *s;

    if (index >= nslots || slots == &local_slot)
        return;
    s = &slots[index];
    /* its connections died with it */
    __atomic_store_n(&s->c[METRICS_CONNECTIONS_CLOSED],
                     __atomic_load_n(&s->c[METRICS_CONNECTIONS], __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&s->c[METRICS_SESSIONS_CLOSED],
                     __atomic_load_n(&s->c[METRICS_SESSIONS], __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- the endpoint */

struct mconn {
    struct mconn *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    uv_shutdown_t sd;
    struct handshake hs;
    char *resp;
    unsigned handles; /* open handles: freed when the last one's close is done */
    bool answered, closing;
    char rbuf[2048];
};

static uv_tcp_t listener;
static bool serving;
static struct mconn *conns;
static unsigned nconns;

static void mconn_closed(uv_handle_t *h)
{
    struct mconn *c = h->data;

    if (--c->handles)
        return;
    handshake_free(&c->hs);
    free(c->resp);
    free(c);
}

static void mconn_close(struct mconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    nconns--;
    uv_close((uv_handle_t *)&c->tcp, mconn_closed);
    uv_close((uv_handle_t *)&c->timer, mconn_closed);
}

static void mconn_shut(uv_shutdown_t *req, int status)
{
    (void)status;
    mconn_close(req->data);
}

static void mconn_written(uv_write_t *req, int status)
{
    struct mconn *c = req->data;

    c->sd.data = c;
    if (status != 0 || c->closing || uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, mconn_shut) != 0)
        mconn_close(c);
}

/* The answer: 200 with the exposition, or an error status; then the connection ends. */
static void mconn_answer(struct mconn *c, int status, bool head)
{
    static const char hdr[] = "HTTP/1.1 200 OK\r\n"
                              "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                              "Cache-Control: no-store\r\n"
                              "Content-Length: %zu\r\n"
                              "Connection: close\r\n\r\n";
    size_t blen = 0, n = 0;
    char *body = NULL;
    uv_buf_t b;

    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    if (status == 200 && !(body = metrics_render(slots, nslots, &blen)))
        status = 500;
    c->resp = malloc(256 + (head ? 0 : blen));
    if (c->resp && status == 200) {
        n = (size_t)snprintf(c->resp, 256, hdr, blen);
        if (!head)
            memcpy(c->resp + n, body, blen), n += blen;
    } else if (c->resp) {
        int r = handshake_write_error(status, NULL, c->resp, 256);
        n = r > 0 ? (size_t)r : 0;
    }
    free(body);
    b = uv_buf_init(c->resp, (unsigned)n);
    c->wr.data = c;
    if (!c->resp || n == 0 || uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, mconn_written) != 0)
        mconn_close(c);
}

static void mconn_request(struct mconn *c)
{
    const struct handshake *h = &c->hs;
    bool get = strcmp(h->method, "GET") == 0, head = strcmp(h->method, "HEAD") == 0;

    if (!get && !head)
        mconn_answer(c, 405, false);
    else if (h->path_len != 8 || memcmp(h->path, "/metrics", 8) != 0)
        mconn_answer(c, 404, head);
    else
        mconn_answer(c, 200, head);
}

static void mconn_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    struct mconn *c = h->data;

    (void)size;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void mconn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct mconn *c = s->data;
    size_t used;

    if (nread < 0) {
        mconn_close(c);
        return;
    }
    if (nread == 0 || c->answered)
        return;
    switch (handshake_execute(&c->hs, buf->base, (size_t)nread, &used)) {
    case HANDSHAKE_NEED_MORE:
        break;
    case HANDSHAKE_COMPLETE:
        mconn_request(c);
        break;
    case HANDSHAKE_ERROR:
        mconn_answer(c, c->hs.status ? c->hs.status : 400, false);
        break;
    }
}

static void mconn_timeout(uv_timer_t *t)
{
    struct mconn *c = t->data;

    if (!c->answered)
        mconn_answer(c, 408, false);
}

static void on_metrics_connection(uv_stream_t *l, int status)
{
    const struct handshake_limits lim = {.max_header_bytes = 8192, .max_headers = 64};
    struct mconn *c;

    if (status != 0)
        return;
    c = calloc(1, sizeof *c);
    if (!c || handshake_init(&c->hs, &lim) != 0) {
        free(c);
        uv_tcp_t *drop = malloc(sizeof *drop); /* accepted and closed: not left in the queue */
        if (drop && uv_tcp_init(l->loop, drop) == 0 && uv_accept(l, (uv_stream_t *)drop) == 0)
            uv_close((uv_handle_t *)drop, (uv_close_cb)free);
        else
            free(drop);
        return;
    }
    uv_tcp_init(l->loop, &c->tcp);
    uv_timer_init(l->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 || nconns > METRICS_CONNS_MAX) {
        mconn_close(c);
        return;
    }
    uv_timer_start(&c->timer, mconn_timeout, METRICS_REQUEST_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, mconn_alloc, mconn_read) != 0)
        mconn_close(c);
}

int metrics_open(const struct config *cfg)
{
    int fd, port;

    if (!cfg->metrics)
        return 0;
    fd = netsock_bind_tcp(cfg->metrics_host, cfg->metrics_port, false, true);
    if (fd < 0) {
        log_fatal(0, "--metrics=%s: cannot listen: %s", cfg->metrics, strerror(-fd));
        return CONFIG_EXIT_LISTEN;
    }
    listen_fd = fd;
    port = netsock_port(fd);
    log_info(0, "metrics on http://%s%s%s:%d/metrics", strchr(cfg->metrics_host, ':') ? "[" : "",
             cfg->metrics_host, strchr(cfg->metrics_host, ':') ? "]" : "", port);
    return 0;
}

int metrics_serve(uv_loop_t *loop)
{
    int r;

    if (listen_fd < 0)
        return 0;
    uv_tcp_init(loop, &listener);
    r = uv_tcp_open(&listener, listen_fd);
    if (r == 0) {
        listen_fd = -1; /* the handle's now */
        r = uv_listen((uv_stream_t *)&listener, 64, on_metrics_connection);
    }
    serving = true;
    if (r != 0) {
        log_fatal(0, "--metrics: cannot listen: %s", uv_strerror(r));
        metrics_stop();
    }
    return r;
}

void metrics_stop(void)
{
    if (!serving)
        return;
    serving = false;
    uv_close((uv_handle_t *)&listener, NULL);
    while (conns)
        mconn_close(conns);
}

void metrics_close(void)
{
    if (listen_fd >= 0)
        close(listen_fd);
    listen_fd = -1;
    if (slots != &local_slot)
        munmap(slots, nslots * sizeof *slots);
    slots = metrics_mine = &local_slot;
    nslots = 1;
}
