/*
 * Fuzz target: the handshake. The first byte is control: its value is
 * where the request is split in two reads, its two low bits pick the
 * limits (0: defaults, odd: 512 bytes / 8 fields / 64 body bytes, 2: 80
 * bytes / 3 fields / 16 body bytes). A complete request with a body has
 * what follows its header block decoded by handshake_body, in the same two
 * reads.
 * Each read is its own allocation of exactly its length, so reading past
 * what was given is an ASan report.
 *
 * Invariants: consumed <= len, and on COMPLETE the header block ends in
 * LF; the result is sticky; a split parse and a whole parse agree on
 * completion and, when complete, on everything parsed; statuses are the
 * documented ones; check and the writers run on any complete request and
 * write well-formed responses; the body decoder consumes no more than it is
 * given, hands out no more than max_body_bytes, and refuses with a
 * documented status.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "ws_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds the pieces, each in a buffer of its exact size; returns total consumed. */
static enum handshake_status feed(struct handshake *h, const uint8_t *data, const size_t *pieces,
                                  int npieces, size_t *total)
{
    enum handshake_status st = HANDSHAKE_NEED_MORE;
    size_t off = 0;

    *total = 0;
    for (int i = 0; i < npieces && st == HANDSHAKE_NEED_MORE; i++) {
        size_t used = 0, len = pieces[i];
        char *buf = malloc(len ? len : 1);
        memcpy(buf, data + off, len);
        st = handshake_execute(h, buf, len, &used);
        if (used > len || (st == HANDSHAKE_NEED_MORE && used != len) ||
            (st == HANDSHAKE_ERROR && used != 0))
            abort();
        if (st == HANDSHAKE_COMPLETE && (used == 0 || buf[used - 1] != '\n'))
            abort();
        free(buf);
        off += used;
        *total += used;
    }
    size_t again = 1;
    if (st != HANDSHAKE_NEED_MORE && (handshake_execute(h, "x", 1, &again) != st || again != 0))
        abort(); /* sticky, consumes nothing */
    return st;
}

static void check_header(const struct handshake_header *x)
{
    if (!x->name || !x->value || strlen(x->name) != x->name_len ||
        strlen(x->value) != x->value_len || x->name_len == 0)
        abort();
    if (x->value_len && (strchr(" \t", x->value[0]) || strchr(" \t", x->value[x->value_len - 1])))
        abort(); /* trimmed */
}

static void check_complete(struct handshake *h)
{
    char out[1024];

    if (!h->method || !h->url || !h->path || !h->query || h->status != 0)
        abort();
    /* the path is the url's start (origin-form), what follows the authority (absolute-form), or
     * "/" (an absolute-form target without a path); the query is the url's end after a '?' */
    bool path_in_url = h->path >= h->url && h->path + h->path_len <= h->url + h->url_len;
    if (strlen(h->url) != h->url_len || h->path_len > h->url_len ||
        !(path_in_url || (h->path_len == 1 && h->path[0] == '/')))
        abort();
    if (h->query_len && (h->query[-1] != '?' || h->query + h->query_len != h->url + h->url_len ||
                         (path_in_url && h->query < h->path + h->path_len)))
        abort();
    for (unsigned i = 0; i < h->nheaders; i++)
        check_header(&h->headers[i]);
    if (h->nheaders && handshake_find(h, h->headers[0].name) != &h->headers[0])
        abort();

    bool ws = handshake_wants_websocket(h);
    int status = handshake_check(h);
    if (status == 0) {
        if (!ws)
            abort();
        int n = handshake_write_101(h, "X: y\r\n", out, sizeof out);
        if (n <= 0 || strncmp(out, "HTTP/1.1 101 ", 13) != 0 || strcmp(out + n - 4, "\r\n\r\n"))
            abort();
        if (handshake_write_101(h, NULL, out, 20) != WS_E_TOOBIG)
            abort();
        return;
    }
    if ((status != 400 && status != 405 && status != 426) || h->status != status || !h->reason)
        abort();
    int n = handshake_write_error(status, NULL, out, sizeof out);
    char head[32];
    snprintf(head, sizeof head, "HTTP/1.1 %d ", status);
    if (n <= 0 || strncmp(out, head, strlen(head)) != 0)
        abort();
    const char *body = strstr(out, "\r\n\r\n");
    const char *cl = strstr(out, "Content-Length: ");
    if (!body || !cl || strtoul(cl + 16, NULL, 10) != strlen(body + 4))
        abort();
}

static void count_body(void *ctx, const char *data, size_t len)
{
    (void)data;
    *(uint64_t *)ctx += len;
}

/* The rest after a complete header block, in pieces of its exact size, through handshake_body. */
static void body(struct handshake *h, const uint8_t *data, size_t len, size_t at)
{
    uint64_t got = 0;
    size_t pieces[2] = {at < len ? at : len, len - (at < len ? at : len)}, off = 0;
    int rc = 0;

    if (h->content_length == 0 && !h->chunked)
        return;
    for (int i = 0; i < 2 && rc == 0; i++) {
        size_t used = 0;
        char *buf = malloc(pieces[i] ? pieces[i] : 1);
        memcpy(buf, data + off, pieces[i]);
        rc = handshake_body(h, buf, pieces[i], &used, count_body, &got);
        if (used > pieces[i] || (rc == 0 && used != pieces[i]) || (rc < 0 && !h->reason))
            abort();
        free(buf);
        off += used;
    }
    if (got > h->limits.max_body_bytes || (rc == 1 && !h->chunked && got != h->content_length))
        abort();
    if (rc < 0 && h->status != 400 && h->status != 413 && h->status != 431)
        abort();
    size_t again = 1;
    if (rc != 0 && (handshake_body(h, "x", 1, &again, count_body, &got) != rc || again != 0))
        abort(); /* sticky */
}

/* A split parse and a whole parse of the same bytes must agree. */
static void compare(const struct handshake *a, size_t ca, const struct handshake *b, size_t cb)
{
    if (ca != cb || a->nheaders != b->nheaders || strcmp(a->url, b->url) != 0 ||
        strcmp(a->method, b->method) != 0 || a->http_major != b->http_major ||
        a->http_minor != b->http_minor || a->content_length != b->content_length ||
        a->chunked != b->chunked || a->keep_alive != b->keep_alive)
        abort();
    for (unsigned i = 0; i < a->nheaders; i++)
        if (strcmp(a->headers[i].name, b->headers[i].name) != 0 ||
            strcmp(a->headers[i].value, b->headers[i].value) != 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct handshake_limits limits[4] = {
        {0, 0, 0}, {512, 8, 64}, {80, 3, 16}, {512, 8, 64}};
    struct handshake split, whole;
    size_t csplit, cwhole;

    if (size < 1)
        return 0;
    const struct handshake_limits *lim = &limits[data[0] & 3];
    size_t at = data[0];
    data++, size--;
    if (at > size)
        at = size;

    if (handshake_init(&split, lim) != 0 || handshake_init(&whole, lim) != 0)
        abort();
    size_t pieces[2] = {at, size - at};
    enum handshake_status s1 = feed(&split, data, pieces, 2, &csplit);
    enum handshake_status s2 = feed(&whole, data, &size, 1, &cwhole);

    if (s1 != s2)
        abort();
    if (s1 == HANDSHAKE_COMPLETE) {
        compare(&split, csplit, &whole, cwhole);
        check_complete(&split);
        body(&whole, data + cwhole, size - cwhole, at > cwhole ? at - cwhole : 0);
    } else if (s1 == HANDSHAKE_ERROR) {
        /* the status may differ: which limit or syntax error is met first can depend on the split
         */
        if (split.status != 400 && split.status != 413 && split.status != 414 &&
            split.status != 431 && split.status != 505)
            abort();
        if (!split.reason || (split.url && strlen(split.url) != split.url_len))
            abort();
    }
    handshake_free(&split);
    handshake_free(&whole);
    return 0;
}
