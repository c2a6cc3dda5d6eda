/*
 * redirect: the --redirport responder (see redirect.h).
 */
#include "build-config.h"

#include "redirect.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handshake.h"
#include "log.h"
#include "config.h"
#include "transport.h"
#include "transport.h"

#define REDIRECT_TIMEOUT_MS 10000u

struct redirect {
    struct redirect *prev, *next; /* host->open, while open */
    struct redirect_host *host;
    struct transport *t;
    uv_timer_t timer;
    struct transport_write w;
    struct handshake hs;
    char *out;     /* the answer, until the transport is gone */
    unsigned refs; /* the transport and the timer */
    bool closing;
    char peer[48];
    int peer_port;
};

static void release(struct redirect *r)
{
    if (--r->refs)
        return;
    handshake_free(&r->hs);
    free(r->out);
    free(r);
}

static void transport_closed(struct transport *t)
{
    release(t->data);
}

static void timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void close_now(struct redirect *r)
{
    if (r->closing)
        return;
    r->closing = true;
    if (r->prev)
        r->prev->next = r->next;
    else
        r->host->open = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->t->ops->close(r->t, transport_closed);
    uv_close((uv_handle_t *)&r->timer, timer_closed);
}

static void on_timeout(uv_timer_t *h)
{
    struct redirect *r = h->data;

    log_debug(0, "redirect: %s:%d sent no complete request in time", r->peer, r->peer_port);
    close_now(r);
}

static void shutdown_done(struct transport *t)
{
    close_now(t->data);
}

static void write_done(struct transport_write *w, int status)
{
    (void)w;
    (void)status; /* the shutdown (or the timer) closes the connection either way */
}

/* host[:port] / [v6][:port] -> the host part's length; 0 when empty or not a plain name. */
static size_t host_part(const char *h)
{
    size_t n;

    if (h[0] == '[') {
        const char *end = strchr(h, ']');
        if (!end)
            return 0;
        n = (size_t)(end - h) + 1;
    } else {
        n = strcspn(h, ":");
    }
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && !strchr(".-_[]:", h[i]))
            return 0; /* it goes into a Location header: nothing else passes */
    return n == 0 || (h[0] == '[' && n < 3) ? 0 : n;
}

/* The extra header lines, "N: V\r\n" each, or "" ; NULL when out of memory. */
static char *extra_lines(const struct config *cfg)
{
    const char **lists[2] = {cfg->headers, cfg->headers_http};
    size_t n = 1;
    char *out, *p;

    for (int k = 0; k < 2; k++)
        for (const char **l = lists[k]; l && *l; l++)
            n += strlen(*l) + 2;
    out = p = malloc(n);
    if (!out)
        return NULL;
    *p = '\0';
    for (int k = 0; k < 2; k++)
        for (const char **l = lists[k]; l && *l; l++)
            p += sprintf(p, "%s\r\n", *l);
    return out;
}

static void answer(struct redirect *r, enum handshake_status st)
{
    const struct config *cfg = r->host->cfg;
    const struct handshake_header *host = NULL;
    const char *target = "/";
    char *extra = extra_lines(cfg);
    size_t hn = 0, cap;
    int status = 301, n = -1;
    int port = r->host->port ? r->host->port : cfg->port;
    char portstr[16] = "";

    if (st == HANDSHAKE_ERROR) {
        status = r->hs.status ? r->hs.status : 400;
    } else {
        unsigned nhost = 0;
        for (unsigned i = 0; i < r->hs.nheaders; i++)
            nhost += strcasecmp(r->hs.headers[i].name, "Host") == 0;
        host = handshake_find(&r->hs, "Host");
        hn = host && nhost == 1 ? host_part(host->value) : 0;
        if (hn == 0)
            status = 400;
        if (r->hs.url && r->hs.url[0] == '/')
            target = r->hs.url;
    }
    cap = 512 + hn + strlen(target) + (extra ? strlen(extra) : 0);
    r->out = malloc(cap);
    if (!extra || !r->out) {
        log_error(0, "redirect: out of memory");
        free(extra);
        close_now(r);
        return;
    }
    if (port != (cfg->ssl ? 443 : 80))
        snprintf(portstr, sizeof portstr, ":%d", port);
    if (status == 301)
        n = snprintf(r->out, cap,
                     "HTTP/1.1 301 Moved Permanently\r\n"
                     "Location: %s://%.*s%s%s\r\n"
                     "Content-Length: 0\r\n"
                     "Connection: close\r\n"
                     "%s\r\n",
                     cfg->ssl ? "https" : "http", (int)hn, host->value, portstr, target, extra);
    else
        n = handshake_write_error(status, extra, r->out, cap);
    free(extra);
    log_access(0, "%s:%d redirect \"%s\" %d", r->peer, r->peer_port, r->hs.url ? r->hs.url : "-",
               status);
    if (n <= 0 || (size_t)n >= cap) {
        close_now(r);
        return;
    }
    uv_buf_t b = uv_buf_init(r->out, (unsigned)n);
    r->w.cb = write_done;
    r->w.data = r;
    r->t->ops->read_stop(r->t);
    if (r->t->ops->write(r->t, &r->w, &b, 1) != 0 || r->t->ops->shutdown(r->t, shutdown_done) != 0)
        close_now(r);
}

static struct buf *on_alloc(struct transport *t)
{
    (void)t;
    return buf_get();
}

static void on_read(struct transport *t, ssize_t nread, struct buf *b)
{
    struct redirect *r = t->data;
    enum handshake_status st;
    size_t consumed;

    if (r->closing || r->out || nread == 0) {
        buf_unref(b);
        return;
    }
    if (nread < 0) {
        buf_unref(b);
        close_now(r);
        return;
    }
    st = handshake_execute(&r->hs, (const char *)b->data, (size_t)nread, &consumed);
    buf_unref(b); /* the handshake copies what it keeps */
    if (st != HANDSHAKE_NEED_MORE)
        answer(r, st);
}

void redirect_accept(struct redirect_host *h, struct transport *t)
{
    const struct config *cfg = h->cfg;
    struct handshake_limits lim = {cfg->max_header_bytes, cfg->max_headers};
    struct redirect *r;
    int rc;

    r = calloc(1, sizeof *r);
    if (!r || handshake_init(&r->hs, &lim) != 0) {
        log_error(0, "redirect: out of memory");
        free(r);
        t->ops->close(t, NULL);
        return;
    }
    r->host = h;
    r->t = t;
    r->refs = 2;
    t->data = r;
    t->alloc_cb = on_alloc;
    t->read_cb = on_read;
    if (t->ops->peer(t, r->peer, sizeof r->peer, &r->peer_port) != 0)
        snprintf(r->peer, sizeof r->peer, "unknown");
    r->next = h->open;
    if (r->next)
        r->next->prev = r;
    h->open = r;
    uv_timer_init(h->loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_timeout,
                   cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : REDIRECT_TIMEOUT_MS, 0);
    rc = t->ops->read_start(t);
    if (rc) {
        log_error(0, "redirect: read: %s", uv_strerror(rc));
        close_now(r);
    }
}

void redirect_close_all(struct redirect_host *h)
{
    while (h->open)
        close_now(h->open);
}
