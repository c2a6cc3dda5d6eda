/*
 * Fuzz target: httpmsg. The first byte picks the function (bits 0-1) and,
 * for the CGI header block, the size of the pieces the rest is fed in
 * (bits 2-7), so splitting is fuzzed too.
 *   0, 1: cgi_head_feed. Never consumes more than given, takes all on MORE,
 *         the block is at most CGI_HEAD_MAX bytes, a result is sticky; once
 *         DONE the lines passed on are well-formed "Name: value\r\n" (token
 *         name, no control bytes but tab in the value, no framing fields),
 *         out_len matches, the status is 200-599.
 *   2:    http_range_parse against a size taken from the next 8 bytes: a
 *         range served lies inside the size.
 *   3:    http_date_parse; whatever http_date prints parses back exactly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_name(const char *n, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(n, want, len) == 0;
}

/* Every line of out: a token, ": ", a value without CR, LF or other controls but tab, CRLF. */
static void check_out(const struct cgi_head *h)
{
    const char *p = h->out, *end = h->out + h->out_len;

    if (!h->out) {
        if (h->out_len != 0)
            abort();
        return;
    }
    if (strlen(h->out) != h->out_len)
        abort();
    while (p < end) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (!colon || colon == p)
            abort();
        for (const char *q = p; q < colon; q++)
            if (!tchar((unsigned char)*q))
                abort();
        if (is_name(p, (size_t)(colon - p), "Status") ||
            is_name(p, (size_t)(colon - p), "Connection") ||
            is_name(p, (size_t)(colon - p), "Transfer-Encoding") ||
            is_name(p, (size_t)(colon - p), "Keep-Alive"))
            abort(); /* the server's own fields are never passed on */
        if (colon + 1 >= end || colon[1] != ' ')
            abort();
        const char *v = colon + 2;
        while (v < end && *v != '\r') {
            if ((unsigned char)*v < 0x20 && *v != '\t')
                abort();
            v++;
        }
        if (v + 1 >= end || v[1] != '\n')
            abort();
        p = v + 2;
    }
}

static void fuzz_head(uint8_t ctl, const uint8_t *data, size_t size)
{
    struct cgi_head *h = malloc(sizeof *h);
    size_t piece = (size_t)(ctl >> 2) * 37 + 1, off = 0, total = 0;
    enum cgi_head_state st = CGI_HEAD_MORE;

    if (!h)
        abort();
    cgi_head_init(h);
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece, used = (size_t)-1;
        /* an exact-size copy: a read past the piece is an ASan report */
        char *copy = malloc(n);
        if (!copy)
            abort();
        memcpy(copy, data + off, n);
        enum cgi_head_state prev = st;
        st = cgi_head_feed(h, copy, n, &used);
        free(copy);
        if (used > n)
            abort();
        if (prev != CGI_HEAD_MORE && (st != prev || used != 0))
            abort(); /* sticky */
        if (st == CGI_HEAD_MORE && used != n)
            abort();
        total += used;
        off += n;
    }
    if (total > CGI_HEAD_MAX)
        abort();
    if (st == CGI_HEAD_DONE) {
        if (h->status < 200 || h->status > 599)
            abort();
        if (!h->has_content_type && !h->has_location && h->status < 300)
            abort();
        check_out(h);
    }
    if (st == CGI_HEAD_ERROR && !h->why)
        abort();
    cgi_head_free(h);
    free(h);
}

static void fuzz_range(const uint8_t *data, size_t size)
{
    uint64_t fsize = 0, first = 0, last = 0;

    for (size_t i = 0; i < 8 && i < size; i++)
        fsize = fsize << 8 | data[i];
    data += size < 8 ? size : 8;
    size -= size < 8 ? size : 8;
    char *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    enum http_range r = http_range_parse(copy, size, fsize, &first, &last);
    free(copy);
    if (r == HTTP_RANGE_OK && (fsize == 0 || first > last || last >= fsize))
        abort();
    if (r != HTTP_RANGE_OK && r != HTTP_RANGE_NONE && r != HTTP_RANGE_UNSATISFIABLE)
        abort();
}

static void fuzz_date(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    char out[HTTP_DATE_LEN + 1];
    time_t t, back;

    if (!copy)
        abort();
    memcpy(copy, data, size);
    if (http_date_parse(copy, size, &t) && t >= 0 && t < 253402300800) { /* years 1970-9999 */
        http_date(t, out);
        if (strlen(out) != HTTP_DATE_LEN || !http_date_parse(out, HTTP_DATE_LEN, &back) ||
            back != t)
            abort();
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    data++, size--;
    switch (ctl & 3) {
    case 0:
    case 1:
        fuzz_head(ctl, data, size);
        break;
    case 2:
        fuzz_range(data, size);
        break;
    default:
        fuzz_date(data, size);
        break;
    }
    return 0;
}
