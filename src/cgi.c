/*
 * cgi: CGI/1.1 scripts for plain HTTP requests (cgi.h).
 */
#include "build-config.h"

#include "cgi.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "child.h"
#include "config.h"
#include "forks.h"
#include "handshake.h"
#include "http_serve.h"
#include "httpmsg.h"
#include "log.h"
#include "proxy.h"
#include "route.h"
#include "conn.h"
#include "child_env.h"
#include "transport.h"

struct cgi {
    struct http_resp *r;
    uint64_t out_left;      /* body bytes still allowed by the script's Content-Length */
    uint64_t body_deadline; /* loop time by which the request body must be whole */
    bool head_sent;         /* the script's head is out: no error page any more */
    bool errored;           /* an error page replaced the script's response */
    bool body_complete;     /* the request body has been read whole */
    bool reading_out;
    bool stdout_eof;
    struct cgi_head head; /* last: 16 KiB */
};

struct stdin_write {
    struct child_write w;
    struct session *s;
    char data[];
};

static const struct http_source_ops cgi_source;

/* r's CGI state, or NULL when r is not a CGI response (any more). */
static struct cgi *cgi_of_resp(const struct http_resp *r)
{
    return r && r->source == &cgi_source ? r->source_data : NULL;
}

static struct cgi *cgi_of(struct session *s)
{
    return cgi_of_resp(s->resp);
}

/* (Re)starts the progress timer: --cgi-timeout without progress, and never past the request
 * body's deadline while the body is not whole (a body trickled just fast enough to count as
 * progress would otherwise hold the script and its --maxforks slot for ever). */
static void arm(struct cgi *c)
{
    struct session *s = c->r->s;
    uint64_t ms = c->r->timeout_ms, now = uv_now(s->host->loop);
    uint64_t left = c->body_deadline > now ? c->body_deadline - now : 0;

    s->ops->timer(s, SESSION_T_SEND, !c->body_complete && left < ms ? left : ms);
}

/* Replaces the script's response by an error page (only before its head went out). */
static void fail(struct cgi *c, int status, const char *why)
{
    struct http_resp *r = c->r;
    struct session *s = r->s;

    log_error(s->id, "CGI %s: %d (%s)", s->path ? s->path : "-", status, why);
    if (s->has_child)
        child_stop(s->child);
    if (c->errored)
        return;
    c->errored = true;
    if (c->head_sent) {
        /* The client sees a short body. Not http_resp_done() here: callers go on using c. */
        r->failed = true;
        r->finished = true;
        s->ops->peer_gone(s, false);
        return;
    }
    r->keep_alive = false;
    http_reply_status(r, status, "");
}

/* ---------------------------------------------------------------- request body -> stdin */

/* EOF once the body is whole (child.c sends it after the pending writes). */
static void maybe_close_stdin(struct session *s, struct cgi *c)
{
    if (c->body_complete && s->has_child)
        child_close_stdin(s->child);
}

static void stdin_done(struct child_write *cw, int status)
{
    struct stdin_write *w = cw->data;
    struct session *s = w->s;
    struct cgi *c = cgi_of(s);

    if (c) {
        if (status < 0)
            log_debug(s->id, "CGI stdin: %s", uv_strerror(status)); /* it stopped reading */
        if ((s->pause & SESSION_PAUSE_BODY) && child_stdin_queued(s->child) <= CHILD_LOW_WATER &&
            !c->body_complete)
            s->ops->pause(s, SESSION_PAUSE_BODY, false);
    }
    free(w);
    s->ops->unref(s);
}

static void body_piece(void *ctx, const char *data, size_t len)
{
    struct cgi *c = ctx;
    struct session *s = c->r->s;
    struct stdin_write *w;
    uv_buf_t b;

    if (!s->has_child || !child_stdin_open(s->child) || c->errored || len == 0)
        return; /* the script is gone: the body is dropped */
    w = malloc(sizeof *w + len);
    if (!w) {
        fail(c, 500, "out of memory");
        return;
    }
    memcpy(w->data, data, len);
    w->s = s;
    w->w.data = w;
    b = uv_buf_init(w->data, (unsigned)len);
    if (child_write(s->child, &w->w, &b, 1, stdin_done) != 0) {
        free(w);
        return;
    }
    s->ops->ref(s);
}

static void feed_body(struct cgi *c, const uint8_t *data, size_t len)
{
    struct session *s = c->r->s;
    size_t consumed;
    int rc;

    if (c->body_complete)
        return; /* anything after the body: ignored, the connection closes after CGI */
    rc = handshake_body(s->hs, (const char *)data, len, &consumed, body_piece, c);
    if (rc < 0) {
        s->ops->pause(s, SESSION_PAUSE_BODY, true);
        c->body_complete = true;
        fail(c, s->hs->status ? s->hs->status : 400,
             s->hs->reason ? s->hs->reason : "malformed body");
        return;
    }
    if (rc == 1) {
        /* Reads go on, so a client that leaves is noticed (the script is stopped); what it sends
         * after the body is dropped: the connection closes after a CGI response. */
        c->body_complete = true;
        maybe_close_stdin(s, c);
    } else if (child_stdin_queued(s->child) > CHILD_HIGH_WATER) {
        s->ops->pause(s, SESSION_PAUSE_BODY, true);
    }
}

static void cgi_body(struct http_resp *r, struct buf *b, uint8_t *data, size_t len)
{
    struct cgi *c = cgi_of_resp(r);

    (void)b; /* body pieces are copied into the stdin writes */
    if (!c || c->body_complete)
        return; /* bytes after the body: dropped, and no progress */
    feed_body(c, data, len);
    if ((c = cgi_of_resp(r)) && !c->errored) /* feeding may have ended the response */
        arm(c);
}

/* ---------------------------------------------------------------- stdout -> response */

/* A pool buffer per read of stdout (stderr goes to child.c's logger). */
static struct buf *out_alloc(struct child *ch, enum child_stream st, size_t *off)
{
    (void)ch;
    (void)st;
    *off = 0;
    return buf_get();
}

static void finish(struct cgi *c)
{
    struct http_resp *r = c->r;
    struct session *s = r->s;

    r->finished = true;
    /* The script closed stdout; whatever still runs in its group is stopped. */
    if (s->has_child && !s->child->exited)
        child_stop(s->child);
    if (r->inflight == 0)
        http_resp_done(r);
}

static void send_head(struct cgi *c)
{
    struct http_resp *r = c->r;
    char *head;
    size_t hlen;

    c->head_sent = true;
    c->out_left = c->head.no_body ? 0 : c->head.has_length ? c->head.content_length : UINT64_MAX;
    head = http_resp_head(r, c->head.status, c->head.reason, c->head.out ? c->head.out : "", &hlen);
    if (!head || http_resp_write(r, head, hlen, NULL, NULL, 0) != 0) {
        r->failed = true;
        c->errored = true;
        r->s->ops->peer_gone(r->s, false); /* the session's end releases r */
    }
}

static void send_body(struct cgi *c, struct buf *b, const uint8_t *data, size_t len)
{
    struct http_resp *r = c->r;
    struct session *s = r->s;

    if (r->head_only || len == 0 || c->out_left == 0)
        return;
    if (len > c->out_left)
        len = (size_t)c->out_left; /* past the script's own Content-Length: dropped */
    c->out_left -= len;
    r->body_bytes += len;
    buf_ref(b);
    if (http_resp_write(r, NULL, 0, b, data, len) != 0) {
        fail(c, 500, "write failed");
        return;
    }
    if (s->t->ops->write_queue_size(s->t) > CHILD_HIGH_WATER && c->reading_out) {
        child_read_stop(s->child, CHILD_STDOUT);
        c->reading_out = false;
    }
}

static void out_read(struct child *ch, enum child_stream st, ssize_t nread, struct buf *b,
                     size_t off)
{
    struct session *s = ch->data;
    struct cgi *c = cgi_of(s); /* b: out_alloc's, ours now */

    (void)st;
    if (!c || c->errored || s->t_closing) {
        /* Nobody takes its output any more: stop the script instead of draining it. */
        child_stop(ch);
        if (nread < 0)
            child_close_stdout(ch);
    } else if (nread < 0) {
        c->stdout_eof = true;
        c->reading_out = false;
        child_close_stdout(ch);
        if (!c->head_sent)
            fail(c, 502, c->head.len ? "header block not complete" : "no output");
        else
            finish(c);
    } else if (nread > 0) {
        const uint8_t *data = b->data + off;
        size_t len = (size_t)nread;
        arm(c);
        if (!c->head_sent) {
            size_t used;
            enum cgi_head_state hs = cgi_head_feed(&c->head, (const char *)data, len, &used);
            if (hs == CGI_HEAD_ERROR)
                fail(c, 502, c->head.why);
            else if (hs == CGI_HEAD_DONE)
                send_head(c);
            data += used;
            len -= used;
        }
        if (c->head_sent && !c->errored)
            send_body(c, b, data, len);
    }
    buf_unref(b);
}

static void cgi_written(struct http_resp *r)
{
    struct cgi *c = cgi_of_resp(r);
    struct session *s = r->s;

    if (r->finished || c->errored || r->failed) {
        if (r->inflight == 0)
            http_resp_done(r);
        return;
    }
    if (!c->reading_out && !c->stdout_eof && child_stream_open(s->child, CHILD_STDOUT) &&
        s->t->ops->write_queue_size(s->t) <= CHILD_LOW_WATER) {
        if (child_read_start(s->child, CHILD_STDOUT) == 0)
            c->reading_out = true;
    }
    if (!c->body_complete)
        arm(c); /* the write's progress does not move the body's deadline */
}

/* ---------------------------------------------------------------- start, end */

static const struct child_io_settings cgi_io = {.on_alloc = out_alloc, .on_read = out_read};

static void on_exit_cb(struct child *ch)
{
    struct session *s = ch->data;
    char st[64];

    log_debug(s->id, "CGI script %d: %s", ch->pid, child_status_string(ch, st, sizeof st));
    s->ops->child_exited(s);
}

void cgi_start(struct http_resp *r, struct route *rt)
{
    struct session *s = r->s;
    const struct config *cfg = s->host->cfg;
    struct handshake *hs = s->hs;
    struct child_env_request req;
    const struct handshake_header *ctype = handshake_find(hs, "Content-Type");
    char clen[24] = "", client[PROXY_ADDR_MAX];
    char *argv[2] = {rt->file, NULL};
    char **env;
    struct cgi *c;
    int rc;

    r->keep_alive = false; /* the response is delimited by closing, or the script's length */
    r->timeout_ms = cfg->cgi_timeout_ms;
    s->ops->timer(s, SESSION_T_SEND, r->timeout_ms);
    if (!forks_acquire(cfg->maxforks)) {
        log_info(s->id, "--maxforks=%u reached: 429", cfg->maxforks);
        route_free(rt);
        http_reply_status(r, 429, "");
        return;
    }
    s->counted = true; /* released when the session ends */
    c = calloc(1, sizeof *c);
    if (!c) {
        route_free(rt);
        http_reply_status(r, 500, "");
        return;
    }
    c->r = r;
    c->body_deadline = r->started_ms + cfg->cgi_timeout_ms;
    cgi_head_init(&c->head);
    r->source = &cgi_source;
    r->source_data = c;

    if (hs->content_length)
        snprintf(clen, sizeof clen, "%" PRIu64, hs->content_length);
    s->ops->env_request(s, &req, client, sizeof client);
    req.method = r->method;
    req.script_name = hs->path;
    req.script_name_len = rt->script_len;
    req.path_info = rt->path_info;
    req.path_info_len = rt->path_info_len;
    req.script_filename = rt->file;
    req.content_length = clen;
    req.content_type = ctype ? ctype->value : "";
    env = child_env_build(&req);
    rc = env && s->ops->child(s) ? 0 : UV_ENOMEM;
    if (rc == 0) {
        child_exec_checked(s->child, rt); /* run the file checked, not rt->file again (B4) */
        rc = s->ops->spawn(s, rt->file, argv, env, on_exit_cb);
    }
    free(env);
    if (rc) {
        log_error(s->id, "cannot start %s: %s", rt->file, child_strerror(rc));
        route_free(rt);
        c->errored = true;
        http_reply_status(r, 500, "");
        return;
    }
    log_debug(s->id, "CGI %s, pid %d", rt->file, s->child->pid);
    route_free(rt);

    s->child->io = &cgi_io;
    if (child_read_start(s->child, CHILD_STDOUT) == 0)
        c->reading_out = true;
    child_log_stderr(s->child, s->id, "CGI stderr");

    /* The bytes behind the header block are the body's start. */
    uint8_t *data;
    size_t len;
    struct buf *b = s->ops->take_pending(s, &data, &len);
    if (hs->content_length == 0 && !hs->chunked) {
        c->body_complete = true;
        maybe_close_stdin(s, c);
    } else if (len) {
        feed_body(c, data, len);
    }
    /* Read on: the body, then only to notice a client that leaves (cgi_body drops the rest). */
    if (!c->errored)
        arm(c);
    buf_unref(b);
}

static bool cgi_timeout(struct http_resp *r)
{
    struct cgi *c = cgi_of_resp(r);

    if (!c)
        return false;
    if (!c->body_complete && !c->errored && uv_now(r->s->host->loop) >= c->body_deadline) {
        /* Reads go on (what comes is dropped), so the client is not reset before it reads the
         * 408; the connection closes after it. */
        c->body_complete = true;
        fail(c, 408, "request body not complete within --cgi-timeout");
        return true;
    }
    if (c->head_sent || c->errored)
        return false;
    fail(c, 504, "no response in time");
    return true;
}

static bool cgi_peer_eof(struct http_resp *r)
{
    struct cgi *c = cgi_of_resp(r);
    struct session *s = r->s;

    /* A half-close after a whole body is how some clients say "that was all": the response
     * goes on (a client that is really gone makes a write fail, or the timeout fires). */
    if (!c || c->errored || r->failed || !c->body_complete)
        return false;
    log_debug(s->id, "CGI: the client closed its side after the request: answering still");
    maybe_close_stdin(s, c);
    return true;
}

static void cgi_release(struct http_resp *r)
{
    struct cgi *c = cgi_of_resp(r);
    struct session *s = r->s;

    if (s && s->has_child) {
        /* The response is over (done, failed, or the client left): the script must not outlive
         * it, blocked on a pipe nobody reads. */
        child_stop(s->child);
        child_read_stop(s->child, CHILD_STDOUT);
        child_read_stop(s->child, CHILD_STDERR);
    }
    cgi_head_free(&c->head);
    free(c);
    r->source = NULL;
    r->source_data = NULL;
}

static const struct http_source_ops cgi_source = {
    .body = cgi_body,
    .written = cgi_written,
    .timeout = cgi_timeout,
    .peer_eof = cgi_peer_eof,
    .release = cgi_release,
};
