/*
 * Unit tests of httpmsg: content types, HTTP dates (the three forms and a
 * round trip), Range values, and the CGI header block parser fed whole, one
 * byte at a time and split at every offset (each piece ending at a guard
 * page), with a body behind the block that must not be taken as header.
 */
#include "feed.h"
#include "httpmsg.h"
#include "tap.h"

#include <stdlib.h>

/* ---------------------------------------------------------------- content types */

static void test_mime(void)
{
    static const struct {
        const char *name, *type;
    } cases[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"INDEX.HTML", "text/html; charset=utf-8"},
        {"a.htm", "text/html; charset=utf-8"},
        {"/srv/www/style.css", "text/css; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"mod.mjs", "text/javascript; charset=utf-8"},
        {"data.Json", "application/json"},
        {"notes.txt", "text/plain; charset=utf-8"},
        {"pic.png", "image/png"},
        {"pic.JPG", "image/jpeg"},
        {"pic.jpeg", "image/jpeg"},
        {"logo.svg", "image/svg+xml"},
        {"code.wasm", "application/wasm"},
        {"doc.pdf", "application/pdf"},
        {"archive.tar.gz", "application/gzip"},
        {"archive.tar", "application/x-tar"},
        {"font.woff2", "font/woff2"},
        {"noext", "application/octet-stream"},
        {"trailing.", "application/octet-stream"},
        {".html", "application/octet-stream"},        /* a hidden name, not an extension */
        {"/a/.html", "application/octet-stream"},     /* same, after a directory */
        {"/a.html/file", "application/octet-stream"}, /* the dot is in a directory's name */
        {"x.unknownext", "application/octet-stream"},
        {"x.htmlx", "application/octet-stream"},
        {"", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = http_mime_type(cases[i].name);
        if (!ok(strcmp(got, cases[i].type) == 0, "mime [%s] = %s", cases[i].name, cases[i].type))
            diag("  got %s", got);
    }
}

/* ---------------------------------------------------------------- dates */

static void test_dates(void)
{
    char out[HTTP_DATE_LEN + 1];
    time_t t;

    http_date(784111777, out);
    ok(strcmp(out, "Sun, 06 Nov 1994 08:49:37 GMT") == 0, "http_date: RFC 9110's example");
    is_int(strlen(out), HTTP_DATE_LEN, "http_date: HTTP_DATE_LEN bytes");
    http_date(0, out);
    ok(strcmp(out, "Thu, 01 Jan 1970 00:00:00 GMT") == 0, "http_date: the epoch");
    http_date(951782400, out);
    ok(strcmp(out, "Tue, 29 Feb 2000 00:00:00 GMT") == 0, "http_date: a leap day (%s)", out);

    static const char *const forms[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT",  /* IMF-fixdate */
        "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
        "Sun Nov  6 08:49:37 1994",       /* asctime */
    };
    for (size_t i = 0; i < 3; i++) {
        t = 0;
        ok(http_date_parse(forms[i], strlen(forms[i]), &t) && t == 784111777, "parse [%s]",
           forms[i]);
    }
    /* only len bytes are read */
    const char *longer = "Sun, 06 Nov 1994 08:49:37 GMTgarbage";
    ok(http_date_parse(longer, HTTP_DATE_LEN, &t) && t == 784111777, "parse: only len bytes");
    ok(!http_date_parse(longer, strlen(longer), &t), "parse: trailing garbage refused");

    static const char *const bad[] = {
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37",     /* no zone */
        "Sun, 06 Nov 1994 08:49:37 UTC", /* not GMT */
        "Sun, 06 Nov 1994 25:49:37 GMT", /* hour */
        "Sun, 06 Nov 1994 08:61:37 GMT", /* minute */
        "Sun, 32 Nov 1994 08:49:37 GMT", /* day */
        "Sun, 06 Foo 1994 08:49:37 GMT", /* month */
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "1994-11-06T08:49:37Z",
        "Sun, 06 Nov 1994 08:49:37 GMT Sun, 06 Nov 1994 08:49:37 GMT Sun, 06 Nov", /* > 63 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ok(!http_date_parse(bad[i], strlen(bad[i]), &t), "parse refuses [%s]", bad[i]);

    /* round trip: what we send parses back to the same second */
    static const time_t times[] = {0,          1,          784111777,  951782400,
                                   1700000000, 2147483647, 2147483648, 4102444799};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        http_date(times[i], out);
        t = -5;
        if (!ok(http_date_parse(out, strlen(out), &t) && t == times[i], "round trip %lld",
                (long long)times[i]))
            diag("  %s -> %lld", out, (long long)t);
    }
}

/* ---------------------------------------------------------------- ranges */

struct rcase {
    const char *value;
    uint64_t size;
    enum http_range want;
    uint64_t first, last;
};

static void test_ranges(void)
{
    static const struct rcase cases[] = {
        /* a-b, a-, -n */
        {"bytes=0-499", 1000, HTTP_RANGE_OK, 0, 499},
        {"bytes=500-999", 1000, HTTP_RANGE_OK, 500, 999},
        {"bytes=0-0", 1000, HTTP_RANGE_OK, 0, 0},
        {"bytes=999-999", 1000, HTTP_RANGE_OK, 999, 999},
        {"bytes=500-", 1000, HTTP_RANGE_OK, 500, 999},
        {"bytes=999-", 1000, HTTP_RANGE_OK, 999, 999},
        {"bytes=-100", 1000, HTTP_RANGE_OK, 900, 999},
        {"bytes=-1", 1000, HTTP_RANGE_OK, 999, 999},
        {"bytes=-1000", 1000, HTTP_RANGE_OK, 0, 999},
        {"bytes=-2000", 1000, HTTP_RANGE_OK, 0, 999},  /* longer suffix: all */
        {"bytes=0-5000", 1000, HTTP_RANGE_OK, 0, 999}, /* last clamped */
        {"BYTES=1-2", 1000, HTTP_RANGE_OK, 1, 2},      /* the unit is case-insensitive */
        {"bytes= 1-2", 1000, HTTP_RANGE_OK, 1, 2},
        {"bytes=1-2 \t", 1000, HTTP_RANGE_OK, 1, 2},
        {"bytes=0-", 1, HTTP_RANGE_OK, 0, 0},
        /* several ranges, other units, malformed: the whole file */
        {"bytes=0-1,5-6", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=0-1, 5-6", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=-5,0-1", 1000, HTTP_RANGE_NONE, 0, 0},
        {"items=0-1", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes 0-1", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes0-1", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=-", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=a-b", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=1-2x", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=1 - 2", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=+1-2", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=1--2", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=--2", 1000, HTTP_RANGE_NONE, 0, 0},
        {"", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes", 1000, HTTP_RANGE_NONE, 0, 0},
        /* a > b: invalid, ignored */
        {"bytes=5-1", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=2000-1000", 1000, HTTP_RANGE_NONE, 0, 0},
        /* beyond the size */
        {"bytes=1000-", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=1000-1001", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=5000-6000", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        /* size 0: nothing is satisfiable */
        {"bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-0", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-5", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        /* overflow: numbers past 2^64 saturate, never wrap */
        {"bytes=0-18446744073709551616", 1000, HTTP_RANGE_OK, 0, 999},
        {"bytes=0-99999999999999999999999999", 1000, HTTP_RANGE_OK, 0, 999},
        {"bytes=18446744073709551615-", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=18446744073709551617-", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-99999999999999999999999999", 1000, HTTP_RANGE_OK, 0, 999},
        {"bytes=18446744073709551616-1", 1000, HTTP_RANGE_NONE, 0, 0},
        {"bytes=-1", UINT64_MAX, HTTP_RANGE_OK, UINT64_MAX - 1, UINT64_MAX - 1},
        {"bytes=0-", UINT64_MAX, HTTP_RANGE_OK, 0, UINT64_MAX - 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct rcase *c = &cases[i];
        uint64_t first = 77, last = 77;
        enum http_range got = http_range_parse(c->value, strlen(c->value), c->size, &first, &last);
        bool good =
            got == c->want && (got != HTTP_RANGE_OK || (first == c->first && last == c->last));
        if (!ok(good, "range [%s] of %" PRIu64 ": %d %" PRIu64 "-%" PRIu64, c->value, c->size,
                (int)c->want, c->first, c->last))
            diag("  got %d %" PRIu64 "-%" PRIu64, (int)got, first, last);
    }
    /* only len bytes are read */
    uint64_t f = 0, l = 0;
    ok(http_range_parse("bytes=0-12345", 9, 1000, &f, &l) == HTTP_RANGE_OK && f == 0 && l == 1,
       "range: only len bytes");
    ok(http_range_parse("bytes=0-1,2-3", 9, 1000, &f, &l) == HTTP_RANGE_OK && f == 0 && l == 1,
       "range: a ',' past len is not seen");
}

/* ---------------------------------------------------------------- CGI header block */

struct hx {
    struct cgi_head h;
    enum cgi_head_state st;
    size_t consumed;   /* header bytes, across calls */
    size_t calls;      /* calls that returned MORE */
    int sticky_broken; /* a call after the result changed it or consumed bytes */
    char body[256];
    size_t body_len;
};

static size_t feed_head(void *ctx, uint8_t *data, size_t len)
{
    struct hx *x = ctx;
    size_t c = 99999;

    if (x->st != CGI_HEAD_MORE) {
        /* the result is sticky and consumes nothing; the rest is body */
        enum cgi_head_state again = cgi_head_feed(&x->h, (const char *)data, len, &c);
        if (again != x->st || c != 0)
            x->sticky_broken = 1;
        if (x->st == CGI_HEAD_DONE && x->body_len + len <= sizeof x->body) {
            memcpy(x->body + x->body_len, data, len);
            x->body_len += len;
        }
        return len;
    }
    x->st = cgi_head_feed(&x->h, (const char *)data, len, &c);
    if (x->st == CGI_HEAD_MORE) {
        x->calls++;
        if (c != len)
            x->sticky_broken = 1; /* MORE takes everything */
    }
    if (x->st == CGI_HEAD_ERROR)
        return len;
    if (c > len)
        abort();
    x->consumed += c;
    if (x->st == CGI_HEAD_DONE && x->body_len + (len - c) <= sizeof x->body) {
        memcpy(x->body + x->body_len, data + c, len - c);
        x->body_len += len - c;
    }
    return len;
}

/* mode 0: whole; 1: bytewise; 2 + k: split at k */
static void run_head(struct hx *x, const char *data, size_t len, size_t mode)
{
    memset(x, 0, sizeof *x);
    cgi_head_init(&x->h);
    if (mode == 0)
        feed_whole(feed_head, x, (const uint8_t *)data, len);
    else if (mode == 1)
        feed_bytewise(feed_head, x, (const uint8_t *)data, len);
    else
        feed_split(feed_head, x, (const uint8_t *)data, len, mode - 2);
}

struct hcase {
    const char *name, *in;
    enum cgi_head_state st;
    int status;
    const char *reason; /* NULL: none */
    const char *out;    /* the lines passed on */
    const char *body;
    int ctype, location, has_length;
    uint64_t length;
};

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Runs c whole, bytewise and split everywhere; one test point per mode kind. */
static void check_head(const struct hcase *c)
{
    size_t len = strlen(c->in), hlen = c->st == CGI_HEAD_DONE ? len - strlen(c->body) : 0;
    int bad[3] = {0, 0, 0};
    struct hx *x = malloc(sizeof *x);
    char first_why[128] = "";

    if (!x)
        abort();
    for (size_t mode = 0; mode < len + 2; mode++) {
        int kind = mode < 2 ? (int)mode : 2;
        run_head(x, c->in, len, mode);
        bool good = x->st == c->st && !x->sticky_broken;
        if (good && c->st == CGI_HEAD_DONE) {
            good = x->consumed == hlen && x->body_len == strlen(c->body) &&
                   memcmp(x->body, c->body, x->body_len) == 0 && x->h.status == c->status &&
                   same(x->h.reason, c->reason) && x->h.out_len == strlen(c->out) &&
                   (x->h.out_len == 0 || (x->h.out && strcmp(x->h.out, c->out) == 0)) &&
                   x->h.has_content_type == !!c->ctype && x->h.has_location == !!c->location &&
                   x->h.has_length == !!c->has_length &&
                   (!c->has_length || x->h.content_length == c->length);
        }
        if (good && c->st == CGI_HEAD_ERROR)
            good = x->h.why != NULL;
        if (!good && !bad[kind]++) {
            char esc[64] = "";
            for (size_t i = 0, o = 0; x->h.out && i < x->h.out_len && o + 3 < sizeof esc; i++) {
                char ch = x->h.out[i];
                if (ch == '\r' || ch == '\n')
                    esc[o++] = '\\', esc[o++] = ch == '\r' ? 'r' : 'n';
                else
                    esc[o++] = ch;
                esc[o] = '\0';
            }
            snprintf(first_why, sizeof first_why,
                     "mode %zu: state %d status %d consumed %zu/%zu body %zu out [%s] why %s", mode,
                     (int)x->st, x->h.status, x->consumed, hlen, x->body_len, esc,
                     x->h.why ? x->h.why : "-");
        }
        cgi_head_free(&x->h);
    }
    ok(!bad[0], "cgi head %s: whole", c->name);
    ok(!bad[1], "cgi head %s: bytewise", c->name);
    ok(!bad[2], "cgi head %s: split at every offset", c->name);
    if (bad[0] || bad[1] || bad[2]) {
        diag("  %s", first_why);
    }
    free(x);
}

#define DONE_ CGI_HEAD_DONE
#define ERR_ CGI_HEAD_ERROR

static void test_cgi_head(void)
{
    static const struct hcase cases[] = {
        {"LF only", "Content-Type: text/plain\n\nbody", DONE_, 200, NULL,
         "Content-Type: text/plain\r\n", "body", 1, 0, 0, 0},
        {"CRLF", "Content-Type: text/html\r\nX-A: 1\r\n\r\nhello", DONE_, 200, NULL,
         "Content-Type: text/html\r\nX-A: 1\r\n", "hello", 1, 0, 0, 0},
        {"mixed line ends", "Content-Type: a/b\nX-A: 1\r\n\nB", DONE_, 200, NULL,
         "Content-Type: a/b\r\nX-A: 1\r\n", "B", 1, 0, 0, 0},
        {"no body", "Content-Type: a/b\r\n\r\n", DONE_, 200, NULL, "Content-Type: a/b\r\n", "", 1,
         0, 0, 0},
        {"body that looks like headers", "Content-Type: a/b\r\n\r\nX: y\r\n\r\n\nZ", DONE_, 200,
         NULL, "Content-Type: a/b\r\n", "X: y\r\n\r\n\nZ", 1, 0, 0, 0},
        {"values trimmed", "Content-Type: \t text/plain \t\r\nX-E:\r\n\r\n", DONE_, 200, NULL,
         "Content-Type: text/plain\r\nX-E: \r\n", "", 1, 0, 0, 0},
        {"name case kept, field case-insensitive", "content-TYPE: a/b\r\n\r\n", DONE_, 200, NULL,
         "content-TYPE: a/b\r\n", "", 1, 0, 0, 0},
        {"Status with reason", "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnf", DONE_,
         404, "Not Found", "Content-Type: text/plain\r\n", "nf", 1, 0, 0, 0},
        {"Status without reason or type", "Status: 404\r\n\r\n", DONE_, 404, NULL, "", "", 0, 0, 0,
         0},
        {"Status 599", "Status: 599 Odd\nContent-Type: a/b\n\n", DONE_, 599, "Odd",
         "Content-Type: a/b\r\n", "", 1, 0, 0, 0},
        {"Status 204 after the type", "Content-Type: a/b\nStatus: 204 No Content\n\n", DONE_, 204,
         "No Content", "Content-Type: a/b\r\n", "", 1, 0, 0, 0},
        {"Location is 302", "Location: /elsewhere\r\n\r\n", DONE_, 302, NULL,
         "Location: /elsewhere\r\n", "", 0, 1, 0, 0},
        {"Location with a type and body", "Location: http://x/\r\nContent-Type: a/b\r\n\r\nmoved",
         DONE_, 302, NULL, "Location: http://x/\r\nContent-Type: a/b\r\n", "moved", 1, 1, 0, 0},
        {"Location with Status 301", "Status: 301 Moved\r\nLocation: /x\r\n\r\n", DONE_, 301,
         "Moved", "Location: /x\r\n", "", 0, 1, 0, 0},
        {"framing fields dropped",
         "Content-Type: a/b\r\nConnection: close\r\nKeep-Alive: timeout=5\r\n"
         "Transfer-Encoding: chunked\r\nX: y\r\n\r\nb",
         DONE_, 200, NULL, "Content-Type: a/b\r\nX: y\r\n", "b", 1, 0, 0, 0},
        {"Content-Length passed on", "Content-Type: a/b\r\nContent-Length: 5\r\n\r\nhello", DONE_,
         200, NULL, "Content-Type: a/b\r\nContent-Length: 5\r\n", "hello", 1, 0, 1, 5},
        {"Content-Length 0", "Content-Type: a/b\r\nContent-Length: 0\r\n\r\n", DONE_, 200, NULL,
         "Content-Type: a/b\r\nContent-Length: 0\r\n", "", 1, 0, 1, 0},

        {"folded line", "Content-Type: a/b\r\n folded\r\n\r\n", ERR_},
        {"folded with a tab", "Content-Type: a/b\r\n\tfolded\r\n\r\n", ERR_},
        {"bare CR in a value", "Content-Type: a\rb\r\n\r\n", ERR_},
        {"CR CR LF", "Content-Type: a/b\r\r\n\r\n", ERR_},
        {"bare CR line end", "Content-Type: a/b\r\rX: y\n\n", ERR_},
        {"no Content-Type", "X-A: 1\r\n\r\nbody", ERR_},
        {"an empty block", "\r\nbody", ERR_},
        {"an empty LF block", "\nbody", ERR_},
        {"Status 200 without a type", "Status: 200 OK\r\n\r\n", ERR_},
        {"Status two digits", "Status: 99 x\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"Status four digits", "Status: 2000\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"Status no space", "Status: 200OK\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"Status letters", "Status: abc\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"Status empty", "Status:\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"Status 100", "Status: 100 Continue\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"Status 199", "Status: 199 x\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"Status 600", "Status: 600 x\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"Status 099", "Status: 099 x\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"a line without a colon", "Content-Type: a/b\r\nnocolon\r\n\r\n", ERR_},
        {"an empty name", ": v\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"a name with a space", "Content Type: a/b\r\n\r\n", ERR_},
        {"a space before the colon", "Content-Type : a/b\r\n\r\n", ERR_},
        {"a name with a non-ASCII byte", "X\xc3\xa9: v\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"a control byte in a value", "Content-Type: a\x01/b\r\n\r\n", ERR_},
        {"an ESC byte in a value", "X: a\x1b\r\nContent-Type: a/b\r\n\r\n", ERR_},
        {"an empty Location", "Location:\r\n\r\n", ERR_},
        {"Content-Length letters", "Content-Type: a/b\r\nContent-Length: 5x\r\n\r\n", ERR_},
        {"Content-Length list", "Content-Type: a/b\r\nContent-Length: 5, 5\r\n\r\n", ERR_},
        {"Content-Length twice",
         "Content-Type: a/b\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", ERR_},
        {"Content-Length negative", "Content-Type: a/b\r\nContent-Length: -1\r\n\r\n", ERR_},
        {"Content-Length huge",
         "Content-Type: a/b\r\nContent-Length: 99999999999999999999999\r\n\r\n", ERR_},
        {"Content-Length empty", "Content-Type: a/b\r\nContent-Length:\r\n\r\n", ERR_},
        {"HTTP status line instead of Status", "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\n\r\n",
         ERR_},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_head(&cases[i]);
}

/*
 * httpmsg.h: "302 with a Location and no Status". With "Status: 200 OK" and a Location the
 * Status stands: never "302 OK" on the status line (B1).
 */
static void test_cgi_head_location_status(void)
{
    static const char in[] = "Status: 200 OK\r\nLocation: /x\r\n\r\n";
    struct hx *x = malloc(sizeof *x);
    if (!x)
        abort();
    run_head(x, in, sizeof in - 1, 0);
    bool kept = x->h.status == 200 && same(x->h.reason, "OK");
    if (!ok(x->st == CGI_HEAD_DONE && kept && x->h.has_location,
            "cgi head: Status 200 OK with a Location stays 200 OK (302 only without a Status)"))
        diag("  got %d %s", x->h.status, x->h.reason ? x->h.reason : "(no reason)");
    cgi_head_free(&x->h);
    free(x);
}

/* NUL bytes (not expressible in the table's strings) */
static void test_cgi_head_nul(void)
{
    static const char in1[] = "Content-Type: a\0b\r\n\r\n";
    static const char in2[] = "X\0: v\r\nContent-Type: a/b\r\n\r\n";
    struct hx *x = malloc(sizeof *x);
    if (!x)
        abort();
    run_head(x, in1, sizeof in1 - 1, 0);
    is_int(x->st, CGI_HEAD_ERROR, "cgi head: a NUL in a value");
    cgi_head_free(&x->h);
    run_head(x, in2, sizeof in2 - 1, 1);
    is_int(x->st, CGI_HEAD_ERROR, "cgi head: a NUL in a name");
    cgi_head_free(&x->h);
    free(x);
}

/* The 16 KiB limit: a block of exactly CGI_HEAD_MAX bytes passes, one more byte does not. */
static void test_cgi_head_size(void)
{
    size_t cap = CGI_HEAD_MAX + 64;
    char *in = malloc(cap);
    struct hx *x = malloc(sizeof *x);
    if (!in || !x)
        abort();

    for (size_t extra = 0; extra < 2; extra++) {
        size_t target = CGI_HEAD_MAX + extra, n;
        /* "Content-Type: a/b\r\n" + "X: aaaa...\r\n" + "\r\n" = target bytes, then a body */
        n = (size_t)snprintf(in, cap, "Content-Type: a/b\r\nX: ");
        size_t fill = target - n - 4;
        memset(in + n, 'a', fill);
        n += fill;
        memcpy(in + n, "\r\n\r\nBODY", 8);
        n += 8;
        for (size_t mode = 0; mode < 3; mode++) {
            size_t m = mode < 2 ? mode : 2 + target - 1; /* split just before the last LF */
            run_head(x, in, n, m);
            if (extra == 0)
                ok(x->st == CGI_HEAD_DONE && x->consumed == target && x->body_len == 4 &&
                       memcmp(x->body, "BODY", 4) == 0,
                   "cgi head: exactly %u bytes is accepted (mode %zu)", CGI_HEAD_MAX, m);
            else
                ok(x->st == CGI_HEAD_ERROR && x->h.why != NULL,
                   "cgi head: %u bytes is too large (mode %zu)", CGI_HEAD_MAX + 1, m);
            cgi_head_free(&x->h);
        }
    }

    /* one endless line; many short lines; each fed in 4 KiB pieces */
    memset(in, 'a', cap);
    memcpy(in, "X: ", 3);
    memset(x, 0, sizeof *x);
    cgi_head_init(&x->h);
    feed_chunks(feed_head, x, (const uint8_t *)in, cap, 4096);
    ok(x->st == CGI_HEAD_ERROR, "cgi head: one line over 16 KiB");
    cgi_head_free(&x->h);
    for (size_t i = 0; i + 6 <= cap; i += 6)
        memcpy(in + i, "X: y\r\n", 6);
    memset(x, 0, sizeof *x);
    cgi_head_init(&x->h);
    feed_chunks(feed_head, x, (const uint8_t *)in, cap - cap % 6, 4096);
    ok(x->st == CGI_HEAD_ERROR, "cgi head: many lines over 16 KiB");
    cgi_head_free(&x->h);
    free(in);
    free(x);
}

/* After DONE or ERROR: nothing more is consumed, the result stays. */
static void test_cgi_head_sticky(void)
{
    struct cgi_head *h = malloc(sizeof *h);
    size_t c = 7;
    if (!h)
        abort();
    cgi_head_init(h);
    is_int(cgi_head_feed(h, "Content-Type: a/b\n\nrest", 23, &c), CGI_HEAD_DONE, "done");
    is_int(c, 19, "consumed: the block only");
    is_int(cgi_head_feed(h, "Status: 500 x\n\n", 15, &c), CGI_HEAD_DONE, "done stays done");
    is_int(c, 0, "nothing consumed after done");
    is_int(h->status, 200, "status unchanged after done");
    cgi_head_free(h);
    ok(h->out == NULL, "cgi_head_free clears out");
    cgi_head_free(h); /* twice is harmless */

    cgi_head_init(h);
    is_int(cgi_head_feed(h, "junk\n", 5, &c), CGI_HEAD_ERROR, "error");
    is_int(cgi_head_feed(h, "Content-Type: a/b\n\n", 19, &c), CGI_HEAD_ERROR, "error stays");
    is_int(c, 0, "nothing consumed after an error");
    cgi_head_free(h);

    cgi_head_init(h);
    is_int(cgi_head_feed(h, "", 0, &c), CGI_HEAD_MORE, "an empty feed: more");
    is_int(c, 0, "an empty feed consumes nothing");
    cgi_head_free(h);
    free(h);
}

int main(void)
{
    test_mime();
    test_dates();
    test_ranges();
    test_cgi_head();
    test_cgi_head_location_status();
    test_cgi_head_nul();
    test_cgi_head_size();
    test_cgi_head_sticky();
    return tap_done();
}
