/*
 * http_serve: plain HTTP requests -- dispatch, static files, simple replies
 * (http_serve.h). CGI is cgi.c, a source this file never names.
 */
#include "build-config.h"

#include "http_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "devconsole.h"
#include "handshake.h"
#include "httpmsg.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "conn.h"
#include "transport.h"
#include "upgrade.h"

struct resp_write {
    struct transport_write w;
    struct http_resp *r;
    struct buf *buf; /* file data, or NULL */
    char *head;      /* malloc'd head (or a whole small response), or NULL */
    size_t len;
};

/* ---------------------------------------------------------------- the response's end */

static void resp_free(struct http_resp *r)
{
    if (r->fd >= 0)
        close(r->fd);
    if (r->source)
        r->source->release(r);
    free(r);
}

/* The request's access line. */
static void resp_log(struct http_resp *r, bool incomplete)
{
    struct session *s = r->s;
    struct log_access a = {.conn = s->id,
                           .remote_addr = s->peer,
                           .remote_port = s->peer_port,
                           .method = r->method,
                           .path = s->path,
                           .status = r->status,
                           .duration_ms = uv_now(s->host->loop) - r->started_ms,
                           .bytes_out = r->body_bytes,
                           .plain_http = true,
                           .incomplete = incomplete};

    log_access_record(&a);
    metrics_status(r->status);
    s->status = 0; /* logged: the session's own line is not needed */
    s->nrequests++;
}

void http_serve_release(struct session *s)
{
    if (s->resp) {
        resp_log(s->resp, true); /* the connection ended before the response did */
        s->resp->s = NULL;
        resp_free(s->resp);
        s->resp = NULL;
    }
}

void http_resp_done(struct http_resp *r)
{
    struct session *s = r->s;
    bool keep = r->keep_alive && !r->failed;

    resp_log(r, r->failed);
    s->resp = NULL;
    resp_free(r);
    s->ops->http_next(s, keep);
}

/* ---------------------------------------------------------------- writing */

static void resp_pump(struct http_resp *r, char *head, size_t hlen);

static void resp_write_done(struct transport_write *w, int status)
{
    struct resp_write *rw = w->data;
    struct http_resp *r = rw->r;
    struct session *s = r->s;

    r->inflight--;
    if (status == 0) {
        s->bytes_out += rw->len;
        if (!r->finished || r->inflight)
            s->ops->timer(s, SESSION_T_SEND, r->timeout_ms);
    } else {
        r->failed = true;
    }
    free(rw->head);
    buf_unref(rw->buf);
    free(rw);
    if (s->resp == r) {
        if (r->source)
            r->source->written(r);
        else
            resp_pump(r, NULL, 0);
    }
    s->ops->unref(s);
}

int http_resp_write(struct http_resp *r, char *head, size_t head_len, struct buf *buf,
                    const uint8_t *data, size_t len)
{
    struct session *s = r->s;
    struct resp_write *rw = malloc(sizeof *rw);
    uv_buf_t bufs[2];
    unsigned n = 0;
    int rc;

    if (!rw) {
        free(head);
        buf_unref(buf);
        return UV_ENOMEM;
    }
    rw->r = r;
    rw->buf = buf;
    rw->head = head;
    rw->len = head_len + len;
    rw->w.cb = resp_write_done;
    rw->w.data = rw;
    if (head_len)
        bufs[n++] = uv_buf_init(head, (unsigned)head_len);
    if (len)
        bufs[n++] = uv_buf_init((char *)data, (unsigned)len);
    rc = s->t->ops->write(s->t, &rw->w, bufs, n);
    if (rc) {
        free(head);
        buf_unref(buf);
        free(rw);
        return rc;
    }
    r->inflight++;
    s->ops->ref(s);
    return 0;
}

/*
 * The response head: status line, Server, Date, fields (each "Name: v\r\n"), Connection, the
 * --header/--header-http lines. malloc'd, length in *len; NULL when out of memory.
 */
char *http_resp_head(struct http_resp *r, int status, const char *reason, const char *fields,
                     size_t *len)
{
    struct session *s = r->s;
    char date[HTTP_DATE_LEN + 1];
    char *extra = upgrade_header_lines(s->host->cfg->headers, s->host->cfg->headers_http);
    const char *conn = !r->keep_alive ? "Connection: close\r\n"
                       : r->http10    ? "Connection: keep-alive\r\n"
                                      : "";
    size_t cap = 256 + strlen(fields) + (extra ? strlen(extra) : 0) + (reason ? strlen(reason) : 0);
    char *out = malloc(cap);
    int n;

    http_date(time(NULL), date);
    if (out) {
        n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n%s%s%s\r\n", status,
                     reason ? reason : handshake_status_text(status), s->host->software, date,
                     fields, conn, extra ? extra : "");
        if (n < 0 || (size_t)n >= cap) {
            free(out);
            out = NULL;
        } else {
            *len = (size_t)n;
        }
    }
    free(extra);
    r->status = status;
    return out;
}

/* A whole small response (head + body copied); HEAD sends the head only. */
static void reply(struct http_resp *r, int status, const char *fields, const char *ctype,
                  const char *body, size_t body_len)
{
    size_t hlen;
    char *head, *f;

    /* fields may hold a Location as long as the request target */
    if (asprintf(&f, "%sContent-Type: %s\r\nContent-Length: %zu\r\n", fields, ctype, body_len) < 0)
        f = NULL;
    head = f ? http_resp_head(r, status, NULL, f, &hlen) : NULL;
    free(f);
    if (head && !r->head_only && body_len) {
        char *all = realloc(head, hlen + body_len);
        if (!all) {
            free(head);
            head = NULL;
        } else {
            head = all;
            memcpy(head + hlen, body, body_len);
            hlen += body_len;
            r->body_bytes = body_len;
        }
    }
    r->finished = true;
    if (!head || http_resp_write(r, head, hlen, NULL, NULL, 0) != 0) {
        /* Never freed from here (callers go on using r): the session's end releases it. */
        r->failed = true;
        r->s->ops->peer_gone(r->s, false);
    }
}

/* An error page (text/plain "404 Not Found\n"); the connection may stay open. */
void http_reply_status(struct http_resp *r, int status, const char *fields)
{
    char body[96];
    int n = snprintf(body, sizeof body, "%d %s\n", status, handshake_status_text(status));
    reply(r, status, fields, "text/plain; charset=utf-8", body, (size_t)n);
}

/* ---------------------------------------------------------------- static files */

/*
 * After the head, on a transport that offers it, the file goes from the page cache to the
 * socket (sendfile) for as long as the socket takes it: false when it is full (or the
 * transport cannot), and the caller's copied piece then waits for it to drain.
 */
/* The file shrank or failed under us (why == NULL): the promised length cannot be kept. */
static void file_failed(struct http_resp *r, const char *doing, const char *why)
{
    log_error(r->s->id, "%s %s: %s", doing, r->s->path ? r->s->path : "-",
              why ? why : "file shrank");
    r->failed = true;
}

/* n more bytes of the file are on their way (r->off already moved past them). */
static void file_advanced(struct http_resp *r, size_t n)
{
    r->remaining -= (uint64_t)n;
    r->body_bytes += (uint64_t)n;
    if (r->remaining == 0)
        r->finished = true;
}

static bool resp_sendfile(struct http_resp *r)
{
    struct session *s = r->s;
    struct transport *t = s->t;

    while (r->remaining > 0 && !r->failed) {
        ssize_t n = t->ops->sendfile(t, r->fd, &r->off, (size_t)r->remaining);
        if (n == UV_EAGAIN)
            return false;
        if (n <= 0) {
            file_failed(r, "sending", n < 0 ? uv_strerror((int)n) : NULL);
            break;
        }
        file_advanced(r, (size_t)n);
        s->bytes_out += (uint64_t)n;
        if (!r->finished)
            s->ops->timer(s, SESSION_T_SEND, r->timeout_ms);
    }
    return true;
}

/*
 * Sends the file's next chunks. head (malloc'd, taken; NULL after the first call) goes out
 * with the first chunk, so a small file is one write; with nothing to send (HEAD, 304, an
 * empty file) it goes alone. The rest goes by sendfile where the transport offers it, with a
 * copied chunk as the wait for a full socket; elsewhere (TLS) in copied chunks, at most two
 * in flight.
 */
static void resp_pump(struct http_resp *r, char *head, size_t hlen)
{
    bool zero_copy = r->s->t->ops->sendfile != NULL;

    if (head && r->remaining == 0) {
        r->finished = true;
        if (http_resp_write(r, head, hlen, NULL, NULL, 0) != 0)
            r->failed = true;
        head = NULL; /* taken by http_resp_write, sent or not */
    }
    while (!r->failed && r->remaining > 0 && r->inflight < (zero_copy ? 1u : 2u)) {
        if (zero_copy && !head && resp_sendfile(r))
            break;
        struct buf *b = buf_get();
        size_t want = r->remaining < BUF_SIZE ? (size_t)r->remaining : BUF_SIZE;
        ssize_t got;

        if (!b) {
            r->failed = true;
            break;
        }
        do
            got = pread(r->fd, b->data, want, (off_t)r->off);
        while (got < 0 && errno == EINTR);
        if (got <= 0) {
            file_failed(r, "reading", got < 0 ? strerror(errno) : NULL);
            buf_unref(b);
            break;
        }
        r->off += (uint64_t)got;
        file_advanced(r, (size_t)got);
        if (http_resp_write(r, head, head ? hlen : 0, b, b->data, (size_t)got) != 0)
            r->failed = true;
        head = NULL;
    }
    free(head); /* the first chunk could not be read */
    if (r->inflight == 0 && (r->failed || r->remaining == 0))
        http_resp_done(r);
}

/* Does an If-None-Match list hold etag (weak comparison, RFC 9110 §13.1.2)? */
static bool etag_listed(const char *list, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = list;

    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (strncmp(p, etag, elen) == 0 &&
            (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' || p[elen] == '\t'))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

/* file: the real path (MIME type, log); fd: that file as route_resolve(ROUTE_OPEN) checked and
 * opened it, taken over here: never opened again by path (B4). */
static void serve_file(struct http_resp *r, const char *file, int fd)
{
    struct session *s = r->s;
    struct handshake *hs = s->hs;
    const struct handshake_header *h;
    struct stat st;
    char etag[64], lastmod[HTTP_DATE_LEN + 1], fields[768], crange[96] = "";
    uint64_t first = 0, last = 0;
    enum http_range range = HTTP_RANGE_NONE;
    int status = 200;
    char *head;
    size_t hlen;

    r->fd = fd;
    if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_info(s->id, "cannot stat %s: %s", file, strerror(errno));
        http_reply_status(r, 404, "");
        return;
    }
    snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "\"",
             (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec,
             (uint64_t)st.st_size);
    http_date(st.st_mtime, lastmod);

    /* conditional requests (RFC 9110 §13.2.2): If-None-Match wins over If-Modified-Since */
    if ((h = handshake_find(hs, "If-None-Match")) != NULL) {
        if (etag_listed(h->value, etag))
            status = 304;
    } else if ((h = handshake_find(hs, "If-Modified-Since")) != NULL) {
        time_t since;
        if (http_date_parse(h->value, h->value_len, &since) && st.st_mtime <= since)
            status = 304;
    }
    if (status == 304) {
        snprintf(fields, sizeof fields, "ETag: %s\r\nLast-Modified: %s\r\n", etag, lastmod);
        r->remaining = 0;
        head = http_resp_head(r, 304, NULL, fields, &hlen);
        goto send;
    }

    if ((h = handshake_find(hs, "Range")) != NULL) {
        const struct handshake_header *ifr = handshake_find(hs, "If-Range");
        if (!ifr || strcmp(ifr->value, etag) == 0 || strcmp(ifr->value, lastmod) == 0)
            range = http_range_parse(h->value, h->value_len, (uint64_t)st.st_size, &first, &last);
    }
    if (range == HTTP_RANGE_UNSATISFIABLE) {
        snprintf(fields, sizeof fields, "Content-Range: bytes */%" PRIu64 "\r\n",
                 (uint64_t)st.st_size);
        http_reply_status(r, 416, fields);
        return;
    }
    if (range == HTTP_RANGE_OK) {
        status = 206;
        snprintf(crange, sizeof crange,
                 "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", first, last,
                 (uint64_t)st.st_size);
    } else {
        first = 0;
        last = st.st_size ? (uint64_t)st.st_size - 1 : 0;
    }
    r->off = first;
    r->remaining = st.st_size ? last - first + 1 : 0;
    snprintf(fields, sizeof fields,
             "Content-Type: %s\r\nContent-Length: %" PRIu64 "\r\nLast-Modified: %s\r\nETag: "
             "%s\r\nAccept-Ranges: bytes\r\n%s",
             http_mime_type(file), r->remaining, lastmod, etag, crange);
    head = http_resp_head(r, status, NULL, fields, &hlen);
    if (r->head_only)
        r->remaining = 0;
send:
    if (!head) {
        r->failed = true;
        http_resp_done(r);
        return;
    }
    resp_pump(r, head, hlen);
}

/* Directory URL: with a trailing '/', its index.html; without, a redirect to it. */
static void serve_directory(struct http_resp *r)
{
    struct session *s = r->s;
    struct handshake *hs = s->hs;
    char *index;
    struct route rt;

    if (hs->path_len == 0 || hs->path[hs->path_len - 1] != '/') {
        /* One leading '/' only: "//host/" would be a redirect off-site. */
        const char *p = hs->path;
        size_t n = hs->path_len;
        while (n && *p == '/')
            p++, n--;
        size_t cap = n + hs->query_len + 32;
        char *f = malloc(cap);
        if (!f) {
            r->failed = true;
            http_resp_done(r);
            return;
        }
        snprintf(f, cap, "Location: /%.*s/%s%.*s\r\n", (int)n, p, hs->query_len ? "?" : "",
                 (int)hs->query_len, hs->query);
        http_reply_status(r, 301, f);
        free(f);
        return;
    }
    /* the URL + index.html through the route again: a symlink must stay inside too, and the
     * file served is the one checked */
    if (asprintf(&index, "%.*sindex.html", (int)hs->path_len, hs->path) < 0) {
        r->failed = true;
        http_resp_done(r);
        return;
    }
    enum route_status rs =
        route_resolve(s->host->cfg->staticdir, index, strlen(index), ROUTE_OPEN, &rt);
    free(index);
    if (rs != ROUTE_FILE || (s->host->cfg->cgidir && route_inside(s->host->cfg->cgidir, rt.file))) {
        route_free(&rt);
        http_reply_status(r, 404, ""); /* no listings */
        return;
    }
    serve_file(r, rt.file, rt.fd);
    rt.fd = -1; /* serve_file took it */
    route_free(&rt);
}

static void serve_static(struct http_resp *r)
{
    struct session *s = r->s;
    const struct config *cfg = s->host->cfg;
    struct route rt;
    enum route_status rs;

    if (!r->get_or_head) {
        http_reply_status(r, 405, "Allow: GET, HEAD\r\n");
        return;
    }
    rs = route_resolve(cfg->staticdir, s->hs->path, s->hs->path_len, ROUTE_OPEN, &rt);
    if (rs == ROUTE_FILE && cfg->cgidir && route_inside(cfg->cgidir, rt.file)) {
        rs = ROUTE_FORBIDDEN; /* a script's source is never served */
        rt.why = "inside --cgidir";
    }
    switch (rs) {
    case ROUTE_FILE:
        serve_file(r, rt.file, rt.fd);
        rt.fd = -1; /* serve_file took it */
        break;
    case ROUTE_DIRECTORY:
        serve_directory(r);
        break;
    default:
        log_info(s->id, "%s: %d (%s)", s->path ? s->path : "-", (int)rs, rt.why ? rt.why : "");
        http_reply_status(r, (int)rs, "");
        break;
    }
    route_free(&rt);
}

/* ---------------------------------------------------------------- dispatch */

static void serve_console(struct http_resp *r)
{
    struct session *s = r->s;
    const struct handshake_header *host = handshake_find(s->hs, "Host");
    size_t len;
    char *page;

    if (!r->get_or_head) {
        http_reply_status(r, 405, "Allow: GET, HEAD\r\n");
        return;
    }
    page = devconsole_page(s->host->cfg->ssl ? "wss" : "ws", host ? host->value : NULL, s->hs->url,
                           s->hs->url_len, &len);
    if (!page) {
        http_reply_status(r, 500, "");
        return;
    }
    reply(r, 200, "Cache-Control: no-store\r\n" DEVCONSOLE_HEADERS, "text/html; charset=utf-8",
          page, len);
    free(page);
}

void http_serve(struct session *s, struct buf *owner, uint8_t *rest, size_t rest_len,
                http_script_fn run_script)
{
    const struct config *cfg = s->host->cfg;
    struct handshake *hs = s->hs;
    struct http_resp *r = calloc(1, sizeof *r);
    bool has_body = hs->content_length > 0 || hs->chunked;

    if (!r) {
        s->ops->http_error(s, 500, "out of memory");
        return;
    }
    r->s = s;
    r->fd = -1;
    r->started_ms = uv_now(s->host->loop);
    snprintf(r->method, sizeof r->method, "%s", hs->method ? hs->method : "-");
    r->get_or_head = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    r->head_only = strcmp(r->method, "HEAD") == 0;
    r->http10 = hs->http_major == 1 && hs->http_minor == 0;
    /* A body we do not read (anything but CGI) ends the connection after the response. */
    r->keep_alive = hs->keep_alive && s->nrequests + 1 < HTTP_MAX_KEEPALIVE_REQUESTS;
    r->timeout_ms = HTTP_SEND_TIMEOUT_MS;
    s->resp = r;
    s->ops->timer(s, SESSION_T_SEND, r->timeout_ms);

    if (rest_len) { /* pipelined: kept (not copied) for after this response */
        buf_ref(owner);
        s->pending_buf = owner;
        s->pending = rest;
        s->pending_len = rest_len;
        s->ops->pause(s, SESSION_PAUSE_HELD, true); /* one buffer held at most (CGI reads the
                                                      body itself) */
    }

    if (cfg->cgidir && run_script) {
        struct route rt;
        enum route_status rs =
            route_resolve(cfg->cgidir, hs->path, hs->path_len, ROUTE_WALK | ROUTE_EXEC, &rt);
        if (rs == ROUTE_FILE) {
            run_script(r, &rt); /* takes the route, reads the body */
            return;
        }
        if (rs == ROUTE_FORBIDDEN || (rs != ROUTE_NOT_FOUND && !cfg->staticdir)) {
            log_info(s->id, "%s: %d (%s)", s->path ? s->path : "-",
                     rs == ROUTE_DIRECTORY ? 404 : (int)rs,
                     rs == ROUTE_DIRECTORY ? "a directory" : rt.why);
            route_free(&rt);
            r->keep_alive = r->keep_alive && !has_body;
            http_reply_status(r, rs == ROUTE_DIRECTORY ? 404 : (int)rs, "");
            return;
        }
        route_free(&rt);
    }
    if (has_body)
        r->keep_alive = false;
    if (cfg->devconsole)
        serve_console(r);
    else if (cfg->staticdir)
        serve_static(r);
    else
        http_reply_status(r, 404, "");
}

void http_serve_timeout(struct session *s)
{
    struct http_resp *r = s->resp;

    if (r && r->source && r->source->timeout(r))
        return; /* a 504 is on its way */
    log_info(s->id, "response made no progress for %u ms: closing", r ? r->timeout_ms : 0);
    s->ops->peer_gone(s, false);
}

bool http_serve_peer_eof(struct session *s)
{
    struct http_resp *r = s->resp;

    /* only a CGI response reads the request body; a static one has it whole already */
    return r && r->source && r->source->peer_eof(r);
}

void http_serve_body(struct session *s, struct buf *b, uint8_t *data, size_t len)
{
    struct http_resp *r = s->resp;

    if (r && r->source) {
        r->source->body(r, b, data, len);
        return;
    }
    /* The next request(s), sent before this response is out: kept for after it, and reading
     * stops until then (one buffer per connection at most). */
    s->ops->pause(s, SESSION_PAUSE_HELD, true);
    if (!s->pending_buf) {
        buf_ref(b);
        s->pending_buf = b;
        s->pending = data;
        s->pending_len = len;
    } else if (s->pending_len + len <= BUF_SIZE) {
        /* a transport that delivered once more after read_stop: both go into one buffer */
        struct buf *nb = buf_get();
        if (nb) {
            memcpy(nb->data, s->pending, s->pending_len);
            memcpy(nb->data + s->pending_len, data, len);
            buf_unref(s->pending_buf);
            s->pending_buf = nb;
            s->pending = nb->data;
            s->pending_len += len;
        } else {
            s->ops->peer_gone(s, false);
        }
    } else {
        log_info(s->id, "more than %u bytes of pipelined requests: closing", BUF_SIZE);
        s->ops->peer_gone(s, false);
    }
}
