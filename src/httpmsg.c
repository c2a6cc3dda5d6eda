/*
 * httpmsg: content types, dates, ranges and the CGI header block (httpmsg.h).
 */
#include "build-config.h"

#include "httpmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- content types */

static const struct {
    const char *ext, *type;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
};

const char *http_mime_type(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');

    if (dot && dot != base)
        for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
    return "application/octet-stream";
}

/* ---------------------------------------------------------------- dates */

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void http_date(time_t t, char out[HTTP_DATE_LEN + 1])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, HTTP_DATE_LEN + 1, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
             tm.tm_mday % 100, months[tm.tm_mon % 12], tm.tm_year % 10000 + 1900, tm.tm_hour % 100,
             tm.tm_min % 100, tm.tm_sec % 100);
}

bool http_date_parse(const char *s, size_t len, time_t *out)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* asctime */
    };
    char buf[64];

    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(buf, formats[i], &tm);
        if (end && *end == '\0') {
            *out = timegm(&tm);
            return *out != (time_t)-1;
        }
    }
    return false;
}

/* ---------------------------------------------------------------- ranges */

/* Digits at *p (at least one); saturates at UINT64_MAX. */
static bool digits(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;

    *v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        unsigned d = (unsigned)(**p - '0');
        *v = *v > (UINT64_MAX - d) / 10 ? UINT64_MAX : *v * 10 + d;
        (*p)++;
    }
    return *p > s;
}

enum http_range http_range_parse(const char *value, size_t len, uint64_t size, uint64_t *first,
                                 uint64_t *last)
{
    const char *p = value, *end = value + len;
    uint64_t a = 0, b = 0;
    bool has_a, has_b;

    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if ((size_t)(end - p) < 6 || strncasecmp(p, "bytes=", 6) != 0)
        return HTTP_RANGE_NONE;
    p += 6;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    for (const char *q = p; q < end; q++)
        if (*q == ',')
            return HTTP_RANGE_NONE; /* several ranges: the whole file instead */
    has_a = digits(&p, end, &a);
    if (p == end || *p != '-')
        return HTTP_RANGE_NONE;
    p++;
    has_b = digits(&p, end, &b);
    if (p != end || (!has_a && !has_b))
        return HTTP_RANGE_NONE;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return HTTP_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return HTTP_RANGE_OK;
    }
    if (has_b && b < a)
        return HTTP_RANGE_NONE; /* invalid: ignored */
    if (a >= size)
        return HTTP_RANGE_UNSATISFIABLE;
    *first = a;
    *last = !has_b || b >= size ? size - 1 : b;
    return HTTP_RANGE_OK;
}

/* ---------------------------------------------------------------- CGI header block */

void cgi_head_init(struct cgi_head *h)
{
    memset(h, 0, offsetof(struct cgi_head, buf));
    h->len = h->scanned = 0;
    h->state = CGI_HEAD_MORE;
    h->status = 200;
}

void cgi_head_free(struct cgi_head *h)
{
    free(h->out);
    h->out = NULL;
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static enum cgi_head_state head_fail(struct cgi_head *h, const char *why)
{
    h->why = why;
    h->state = CGI_HEAD_ERROR;
    return h->state;
}

static bool out_append(struct cgi_head *h, const char *name, size_t nlen, const char *v,
                       size_t vlen)
{
    char *o = realloc(h->out, h->out_len + nlen + vlen + 5);
    if (!o)
        return false;
    h->out = o;
    memcpy(o + h->out_len, name, nlen);
    memcpy(o + h->out_len + nlen, ": ", 2);
    memcpy(o + h->out_len + nlen + 2, v, vlen);
    memcpy(o + h->out_len + nlen + 2 + vlen, "\r\n", 2);
    h->out_len += nlen + vlen + 4;
    h->out[h->out_len] = '\0';
    return true;
}

/* One header line (no line end). */
static enum cgi_head_state head_line(struct cgi_head *h, char *line, size_t len)
{
    char *colon = memchr(line, ':', len);
    size_t nlen;
    char *v;
    size_t vlen;

    if (!colon || colon == line)
        return head_fail(h, "a header line without a name");
    nlen = (size_t)(colon - line);
    for (size_t i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)line[i]))
            return head_fail(h, "a header name that is not a token");
    v = colon + 1;
    vlen = len - nlen - 1;
    while (vlen && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    for (size_t i = 0; i < vlen; i++)
        if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
            return head_fail(h, "a control character in a header value");
    v[vlen] = '\0';

    if (nlen == 6 && strncasecmp(line, "Status", 6) == 0) {
        if (vlen < 3 || v[0] < '1' || v[0] > '5' || v[1] < '0' || v[1] > '9' || v[2] < '0' ||
            v[2] > '9' || (vlen > 3 && v[3] != ' '))
            return head_fail(h, "a bad Status line");
        h->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
        if (h->status < 200)
            return head_fail(h, "Status 1xx from a script");
        h->reason = vlen > 4 ? v + 4 : NULL;
        h->has_status = true;
        return CGI_HEAD_MORE;
    }
    if (nlen == 8 && strncasecmp(line, "Location", 8) == 0) {
        if (vlen == 0)
            return head_fail(h, "an empty Location");
        h->has_location = true;
    } else if (nlen == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
        h->has_content_type = true;
    } else if (nlen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
        const char *p = v;
        if (h->has_length || !digits(&p, v + vlen, &h->content_length) || p != v + vlen ||
            h->content_length == UINT64_MAX)
            return head_fail(h, "a bad Content-Length");
        h->has_length = true;
    } else if ((nlen == 10 && strncasecmp(line, "Connection", 10) == 0) ||
               (nlen == 10 && strncasecmp(line, "Keep-Alive", 10) == 0) ||
               (nlen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0)) {
        return CGI_HEAD_MORE; /* framing is ours */
    }
    if (!out_append(h, line, nlen, v, vlen))
        return head_fail(h, "out of memory");
    return CGI_HEAD_MORE;
}

enum cgi_head_state cgi_head_feed(struct cgi_head *h, const char *data, size_t len,
                                  size_t *consumed)
{
    size_t take;

    *consumed = 0;
    if (h->state != CGI_HEAD_MORE)
        return h->state;
    take = len < CGI_HEAD_MAX - h->len ? len : CGI_HEAD_MAX - h->len;
    memcpy(h->buf + h->len, data, take);
    h->len += take;

    while (h->state == CGI_HEAD_MORE) {
        char *start = h->buf + h->scanned;
        char *nl = memchr(start, '\n', h->len - h->scanned);
        if (!nl) {
            if (h->len == CGI_HEAD_MAX)
                return head_fail(h, "header block larger than 16 KiB");
            *consumed = take;
            return CGI_HEAD_MORE;
        }
        size_t llen = (size_t)(nl - start);
        size_t next = h->scanned + llen + 1;
        if (llen && start[llen - 1] == '\r')
            llen--;
        if (memchr(start, '\r', llen))
            return head_fail(h, "a bare CR in the header block");
        if (llen == 0) {
            /* Bytes fed before this call: h->len - take. The block ends at next. */
            *consumed = next - (h->len - take);
            h->scanned = next;
            if (!h->has_content_type && !h->has_location && h->status < 300 && h->status != 204)
                return head_fail(h, "no Content-Type, Location or Status");
            if (h->has_location && !h->has_status)
                h->status = 302; /* RFC 3875 6.2.3: a client redirect */
            h->no_body = h->status == 204 || h->status == 304;
            h->state = CGI_HEAD_DONE;
            return h->state;
        }
        if (start[0] == ' ' || start[0] == '\t')
            return head_fail(h, "a folded header line");
        if (head_line(h, start, llen) != CGI_HEAD_MORE)
            return h->state;
        h->scanned = next;
    }
    return h->state;
}
