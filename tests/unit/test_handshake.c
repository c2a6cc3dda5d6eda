/*
 * Unit tests of handshake: every request is fed whole, one byte at a time
 * and split in two at every offset, ending at a guard page, with bytes
 * appended behind it (pipelined frames or a body) that must not be consumed.
 */
#include "feed.h"
#include "handshake.h"
#include "tap.h"
#include "ws_error.h"

#include <stdlib.h>

struct hs {
    struct handshake h;
    enum handshake_status st;
    size_t consumed; /* bytes of the request, across calls */
    int calls_after; /* calls made after the result was known */
};

static size_t feed_hs(void *ctx, uint8_t *data, size_t len)
{
    struct hs *x = ctx;
    size_t c = 0;
    if (x->st != HANDSHAKE_NEED_MORE) {
        /* the result is sticky and consumes nothing */
        enum handshake_status again = handshake_execute(&x->h, (const char *)data, len, &c);
        if (again != x->st || c != 0)
            x->calls_after = -1000;
        x->calls_after++;
        return 0;
    }
    x->st = handshake_execute(&x->h, (const char *)data, len, &c);
    if (c > len)
        abort();
    x->consumed += c;
    return c;
}

/* mode 0: whole; 1: bytewise; 2 + k: split at k */
static void run(struct hs *x, const char *req, size_t len, size_t mode,
                const struct handshake_limits *lim)
{
    memset(x, 0, sizeof *x);
    if (handshake_init(&x->h, lim) != 0)
        abort();
    if (mode == 0)
        feed_whole(feed_hs, x, (const uint8_t *)req, len);
    else if (mode == 1)
        feed_bytewise(feed_hs, x, (const uint8_t *)req, len);
    else
        feed_split(feed_hs, x, (const uint8_t *)req, len, mode - 2);
}

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define UPGRADE_HEADERS                                                                            \
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"                  \
    "Sec-WebSocket-Version: 13\r\n"

#define GOOD                                                                                       \
    "GET /chat/room?x=1&y=%20 HTTP/1.1\r\n"                                                        \
    "Host: server.example.com\r\n"                                                                 \
    "Upgrade: websocket\r\n"                                                                       \
    "Connection: Upgrade\r\n"                                                                      \
    "Sec-WebSocket-Key: " KEY "\r\n"                                                               \
    "Origin: http://example.com\r\n"                                                               \
    "Sec-WebSocket-Version: 13\r\n"                                                                \
    "\r\n"

static const char frames[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"; /* RFC 6455 5.7 */

/* The exact response handshake_write_error gives for each status the handshake answers. */
static const char *expected_error(int status)
{
    switch (status) {
    case 400:
        return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: 16\r\nConnection: close\r\n\r\n400 Bad Request\n";
    case 405:
        return "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: 23\r\nConnection: close\r\nAllow: GET\r\n\r\n"
               "405 Method Not Allowed\n";
    case 414:
        return "HTTP/1.1 414 URI Too Long\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: 17\r\nConnection: close\r\n\r\n414 URI Too Long\n";
    case 426:
        return "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: 21\r\nConnection: close\r\nSec-WebSocket-Version: 13\r\n\r\n"
               "426 Upgrade Required\n";
    case 413:
        return "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: 22\r\nConnection: close\r\n\r\n413 Content Too Large\n";
    case 431:
        return "HTTP/1.1 431 Request Header Fields Too Large\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 36\r\n"
               "Connection: close\r\n\r\n431 Request Header Fields Too Large\n";
    case 505:
        return "HTTP/1.1 505 HTTP Version Not Supported\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 31\r\n"
               "Connection: close\r\n\r\n505 HTTP Version Not Supported\n";
    default:
        return NULL;
    }
}

/*
 * Feeds req + tail every way. want_status: the final status (0: a valid
 * upgrade, else the HTTP status from handshake_execute or handshake_check);
 * want_ws: handshake_wants_websocket on COMPLETE (-1: handshake_execute must
 * fail, the request never completes). When the
 * header block completes, consumed must be exactly strlen(req). The error
 * response for the status must be the exact expected bytes.
 */
static void check_tail(const char *name, const char *req, const char *tail, size_t tlen,
                       int want_status, int want_ws, const struct handshake_limits *lim)
{
    size_t rlen = strlen(req), len = rlen + tlen;
    char *buf = malloc(len + 1);
    int bad = 0;
    memcpy(buf, req, rlen);
    memcpy(buf + rlen, tail, tlen);
    for (size_t mode = 0; mode < len + 2 && !bad; mode++) {
        struct hs x;
        run(&x, buf, len, mode, lim);
        int status = -1, ws = -1;
        if (x.st == HANDSHAKE_COMPLETE) {
            ws = handshake_wants_websocket(&x.h);
            status = handshake_check(&x.h);
            if (x.consumed != rlen) {
                diag("%s: mode %zu consumed %zu, request is %zu", name, mode, x.consumed, rlen);
                bad = 1;
            }
        } else if (x.st == HANDSHAKE_ERROR) {
            status = x.h.status;
            if (!x.h.reason || !*x.h.reason) {
                diag("%s: mode %zu: error without a reason", name, mode);
                bad = 1;
            }
        }
        if (status != want_status ||
            (want_ws >= 0 && x.st == HANDSHAKE_COMPLETE && ws != want_ws) ||
            (want_ws == -1 && x.st != HANDSHAKE_ERROR) || x.calls_after < 0) {
            diag("%s: mode %zu: state %d status %d (%s) ws %d", name, mode, x.st, status,
                 x.h.reason ? x.h.reason : "", ws);
            bad = 1;
        }
        if (status > 0 && !bad) {
            char out[512];
            const char *want = expected_error(status);
            int n = handshake_write_error(status, NULL, out, sizeof out);
            if (!want || n != (int)strlen(want) || memcmp(out, want, (size_t)n) != 0) {
                diag("%s: the %d response is not the expected one", name, status);
                bad = 1;
            }
        }
        handshake_free(&x.h);
    }
    ok(!bad, "%s -> %d, whole, bytewise and every split", name, want_status);
    free(buf);
}

static void check(const char *name, const char *req, int want_status, int want_ws,
                  const struct handshake_limits *lim)
{
    check_tail(name, req, frames, sizeof frames - 1, want_status, want_ws, lim);
}

static void test_valid(void)
{
    check("RFC 6455 1.3 request, frames pipelined", GOOD, 0, 1, NULL);
    check("Connection as a token list, mixed case",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\n"
          "Connection: keep-alive, UpGrade\r\nSec-WebSocket-Key: " KEY "\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          0, 1, NULL);
    check("token lists with odd separators",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: foo/2 ,\t, websocket ,\r\n"
          "Connection: ,keep-alive,upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          0, 1, NULL);
    check("Upgrade and Connection tokens in repeated headers",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: keep-alive\r\n"
          "Upgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          0, 1, NULL);
    check("key and version with surrounding whitespace",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: \t" KEY " \r\nSec-WebSocket-Version:13\t\r\n\r\n",
          0, 1, NULL);
    check("key with nonzero pad bits (Go decodes it to 16 bytes too)",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          0, 1, NULL);
    check("absolute-form target, HTTP/1.1 with an empty Host",
          "GET http://a/b?c HTTP/1.1\r\nHost:\r\n" UPGRADE_HEADERS "\r\n", 0, 1, NULL);
    {
        /* absolute-form: routed by the path after the authority, REQUEST_URI as sent */
        static const char *const forms[][3] = {
            {"GET http://a:8/b/c?q=1 HTTP/1.1\r\nHost: a\r\n\r\n", "/b/c", "q=1"},
            {"GET https://a HTTP/1.1\r\nHost: a\r\n\r\n", "/", ""},
            {"GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n", "/", "x"},
            {"GET /p://x HTTP/1.1\r\nHost: a\r\n\r\n", "/p://x", ""},
        };
        for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
            struct handshake h;
            size_t used;
            handshake_init(&h, NULL);
            int st = handshake_execute(&h, forms[i][0], strlen(forms[i][0]), &used);
            ok(st == HANDSHAKE_COMPLETE && h.path_len == strlen(forms[i][1]) &&
                   memcmp(h.path, forms[i][1], h.path_len) == 0 &&
                   strcmp(h.query, forms[i][2]) == 0 && strncmp(h.url, forms[i][0] + 4, 4) == 0,
               "target %.*s: path %s, query '%s'",
               (int)(strchr(forms[i][0] + 4, ' ') - forms[i][0] - 4), forms[i][0] + 4, forms[i][1],
               forms[i][2]);
            handshake_free(&h);
        }
    }
    check("plain GET completes, not a websocket (check says 400)",
          "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0, NULL);
    check_tail("plain GET, pipelined second request not consumed",
               "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n", 28, 400,
               0, NULL);
}

static void test_fields(void)
{
    struct hs x;
    run(&x, GOOD, strlen(GOOD), 0, NULL);
    ok(x.st == HANDSHAKE_COMPLETE && strcmp(x.h.method, "GET") == 0 &&
           strcmp(x.h.url, "/chat/room?x=1&y=%20") == 0 && x.h.url_len == 20 &&
           x.h.path_len == 10 && strncmp(x.h.path, "/chat/room", 10) == 0 &&
           strcmp(x.h.query, "x=1&y=%20") == 0 && x.h.query_len == 9 && x.h.http_major == 1 &&
           x.h.http_minor == 1 && x.h.nheaders == 6 && x.h.keep_alive && !x.h.chunked &&
           x.h.content_length == 0 && x.h.status == 0,
       "method, url, path, raw query, version, header count");
    const struct handshake_header *o = handshake_find(&x.h, "origin");
    ok(o && strcmp(o->name, "Origin") == 0 && strcmp(o->value, "http://example.com") == 0 &&
           o->value_len == 18 && o->name_len == 6,
       "handshake_find is case-insensitive and keeps the name's case");
    ok(handshake_find(&x.h, "ORIGIN") == o && handshake_find(&x.h, "Origi") == NULL &&
           handshake_find(&x.h, "Cookie") == NULL,
       "handshake_find: other case, a prefix, a missing header");
    ok(handshake_wants_websocket(&x.h) && handshake_check(&x.h) == 0 && x.h.status == 0,
       "the RFC request is a valid upgrade");
    size_t c = 99;
    ok(handshake_execute(&x.h, "GET", 3, &c) == HANDSHAKE_COMPLETE && c == 0,
       "after COMPLETE: COMPLETE again, nothing consumed");
    handshake_free(&x.h);
    ok(x.h.url == NULL && x.h.headers == NULL && x.h.nheaders == 0 &&
           handshake_find(&x.h, "Origin") == NULL,
       "handshake_free leaves no pointer behind");
    handshake_free(&x.h);
    ok(1, "handshake_free twice / on a zeroed struct");

    /* header values are whole, whatever the split */
    int bad = 0;
    for (size_t mode = 0; mode < strlen(GOOD) + 2; mode++) {
        run(&x, GOOD, strlen(GOOD), mode, NULL);
        const struct handshake_header *k = handshake_find(&x.h, "sec-websocket-key");
        const struct handshake_header *hst = handshake_find(&x.h, "HOST");
        if (x.st != HANDSHAKE_COMPLETE || !k || strcmp(k->value, KEY) != 0 || !hst ||
            strcmp(hst->value, "server.example.com") != 0 ||
            strcmp(x.h.url, "/chat/room?x=1&y=%20") != 0 || x.h.nheaders != 6)
            bad = 1;
        handshake_free(&x.h);
    }
    ok(!bad, "url and header values intact across every split");

    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: one\r\nX-Empty:\r\nx-dup:  two \t\r\n"
                      "X-Inner:  a  b \r\n\r\n";
    run(&x, req, strlen(req), 1, NULL);
    ok(x.st == HANDSHAKE_COMPLETE && x.h.nheaders == 5 &&
           strcmp(x.h.headers[1].value, "one") == 0 &&
           strcmp(x.h.headers[2].name, "X-Empty") == 0 && x.h.headers[2].value_len == 0 &&
           strcmp(x.h.headers[2].value, "") == 0 && strcmp(x.h.headers[3].name, "x-dup") == 0 &&
           strcmp(x.h.headers[3].value, "two") == 0 && x.h.headers[3].value_len == 3 &&
           strcmp(x.h.headers[4].value, "a  b") == 0,
       "repeated headers in order, an empty value, values trimmed outside only");
    ok(handshake_find(&x.h, "X-DUP") == &x.h.headers[1], "handshake_find returns the first");
    handshake_free(&x.h);

    static const struct {
        const char *target, *path, *query;
    } targets[] = {
        {"/", "/", ""},
        {"/a?", "/a", ""},
        {"/a?b?c", "/a", "b?c"},
        {"/?x", "/", "x"},
        {"/%3F?q=%3F", "/%3F", "q=%3F"},
    };
    bad = 0;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char r[256];
        snprintf(r, sizeof r, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", targets[i].target);
        run(&x, r, strlen(r), 0, NULL);
        if (x.st != HANDSHAKE_COMPLETE || strcmp(x.h.url, targets[i].target) != 0 ||
            x.h.path_len != strlen(targets[i].path) ||
            strncmp(x.h.path, targets[i].path, x.h.path_len) != 0 ||
            strcmp(x.h.query, targets[i].query) != 0 || x.h.query_len != strlen(targets[i].query)) {
            diag("target %s: path %.*s query %s", targets[i].target, (int)x.h.path_len,
                 x.h.path ? x.h.path : "", x.h.query ? x.h.query : "(null)");
            bad = 1;
        }
        handshake_free(&x.h);
    }
    ok(!bad, "path and query split at the first '?', raw");

    req = "GET / HTTP/1.0\r\nHost: a\r\n\r\n";
    run(&x, req, strlen(req), 0, NULL);
    ok(x.st == HANDSHAKE_COMPLETE && x.h.http_minor == 0 && !x.h.keep_alive,
       "HTTP/1.0 is not keep-alive");
    handshake_free(&x.h);
    req = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    run(&x, req, strlen(req), 0, NULL);
    ok(x.st == HANDSHAKE_COMPLETE && !x.h.keep_alive, "Connection: close is not keep-alive");
    handshake_free(&x.h);
}

/* A request with a body: complete at the end of the header block, every split. */
static void check_body(const char *name, const char *head, const char *body, uint64_t want_cl,
                       bool want_chunked)
{
    size_t hlen = strlen(head), len = hlen + strlen(body);
    char *buf = malloc(len + 1);
    int bad = 0;
    snprintf(buf, len + 1, "%s%s", head, body);
    for (size_t mode = 0; mode < len + 2 && !bad; mode++) {
        struct hs x;
        run(&x, buf, len, mode, NULL);
        if (x.st != HANDSHAKE_COMPLETE || x.consumed != hlen || x.h.content_length != want_cl ||
            x.h.chunked != want_chunked || handshake_wants_websocket(&x.h) ||
            strcmp(x.h.method, "POST") != 0) {
            diag("%s: mode %zu: state %d consumed %zu of %zu, length %llu", name, mode, x.st,
                 x.consumed, hlen, (unsigned long long)x.h.content_length);
            bad = 1;
        }
        handshake_free(&x.h);
    }
    ok(!bad, "%s: stops at the end of the header block, every split", name);
    free(buf);
}

static void test_bodies(void)
{
    check_body("Content-Length body", "POST /cgi HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
               "hello", 5, false);
    check_body("chunked body",
               "POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
               "5\r\nhello\r\n0\r\n\r\n", 0, true);
    check_body("empty body, next request pipelined",
               "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
               "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, false);
}

static void test_failures(void)
{
    check("POST upgrade", "POST / HTTP/1.1\r\nHost: a\r\n" UPGRADE_HEADERS "\r\n", 405, 1, NULL);
    check("PUT upgrade", "PUT / HTTP/1.1\r\nHost: a\r\n" UPGRADE_HEADERS "\r\n", 405, 1, NULL);
    check("HTTP/1.0 upgrade", "GET / HTTP/1.0\r\nHost: a\r\n" UPGRADE_HEADERS "\r\n", 400, 1, NULL);
    check("no Host", "GET / HTTP/1.1\r\n" UPGRADE_HEADERS "\r\n", 400, 1, NULL);
    check("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n" UPGRADE_HEADERS "\r\n", 400, 1,
          NULL);
    check("no Upgrade header",
          "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          400, 0, NULL);
    check("Upgrade: websocketx is not a websocket",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocketx\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 0, NULL);
    check("Upgrade: web socket is not a websocket",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: web socket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 0, NULL);
    check("Connection: keep-alive only",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
          "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("Connection: Upgraded is not Upgrade",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgraded\r\n"
          "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("no Connection header",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
          "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);

    static const struct {
        const char *name, *key;
    } bad_keys[] = {
        {"key of 15 bytes", "dGhlIHNhbXBsZSBub25jZQ="},
        {"key of 17 bytes", "dGhlIHNhbXBsZSBub25jZQAA"},
        {"key of 16 bytes, unpadded", "dGhlIHNhbXBsZSBub25jZQ"},
        {"key with '=' inside (EVP_DecodeBlock skips it)", "dGhlIHNhbXBsZSBu=25jZQ=="},
        {"key ending in ===", "dGhlIHNhbXBsZSBub25jZ==="},
        {"key with a char outside base64", "dGhlIHNhbXBsZSBub25j*Q=="},
        {"key in base64url", "dGhlIHNhbXBsZSBub25j_Q=="},
        {"key with a space inside", "dGhlIHNhbXBs ZSBub25jZQ=="},
        {"key of 24 bytes", "dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ=="},
        {"empty key", ""},
    };
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        char r[512];
        snprintf(r, sizeof r,
                 "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 bad_keys[i].key);
        check(bad_keys[i].name, r, 400, 1, NULL);
    }
    check("no key",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("two keys",
          "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: " KEY "\r\n" UPGRADE_HEADERS "\r\n", 400,
          1, NULL);
    check("no version",
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: " KEY "\r\n\r\n",
          400, 1, NULL);
    check("two versions",
          "GET / HTTP/1.1\r\nHost: a\r\n" UPGRADE_HEADERS "Sec-WebSocket-Version: 13\r\n\r\n", 400,
          1, NULL);
    static const char *const versions[] = {"8", "130", "13, 8", "0x0d", ""};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        char r[512], name[64];
        snprintf(r, sizeof r,
                 "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: %s\r\n\r\n",
                 versions[i]);
        snprintf(name, sizeof name, "version \"%s\"", versions[i]);
        check(name, r, 426, 1, NULL);
    }

    /* malformed HTTP: an execute error, 400 with llhttp's reason or ours */
    check("TLS hello instead of HTTP", "\x16\x03\x01\x02\x00 hello\r\n\r\n", 400, -1, NULL);
    check("unknown method", "BREW / HTTP/1.1\r\nHost: a\r\n" UPGRADE_HEADERS "\r\n", 400, -1, NULL);
    check("bad version", "GET / HTTP/1.x\r\nHost: a\r\n" UPGRADE_HEADERS "\r\n", 400, -1, NULL);
    check("HTTP/9.9", "GET / HTTP/9.9\r\nHost: a\r\n" UPGRADE_HEADERS "\r\n", 505, -1, NULL);
    check_tail("NUL in a value", "GET / HTTP/1.1\r\nHost: a", "\0b\r\n\r\n", 6, 400, -1, NULL);
    check("control char in a value", "GET / HTTP/1.1\r\nHost: a\x01\r\n" UPGRADE_HEADERS "\r\n",
          400, -1, NULL);
    check("CR alone inside the header block",
          "GET / HTTP/1.1\r\nHost: a\rX: b\r\n" UPGRADE_HEADERS "\r\n", 400, -1, NULL);
    /* llhttp 8.1 accepts these; handshake.c rejects them */
    check("space in a header name",
          "GET / HTTP/1.1\r\nHost: a\r\nX Y: 1\r\n" UPGRADE_HEADERS "\r\n", 400, -1, NULL);
    check("space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n" UPGRADE_HEADERS "\r\n", 400,
          -1, NULL);
    check("empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n" UPGRADE_HEADERS "\r\n", 400,
          -1, NULL);
    check("header line starting with a colon",
          "GET / HTTP/1.1\r\nHost: a\r\n:Origin: b\r\n" UPGRADE_HEADERS "\r\n", 400, -1, NULL);
    check("header block ended by CR and a frame byte (llhttp 8.1 takes it for LF)",
          "GET / HTTP/1.1\r\nHost: a\r\n" UPGRADE_HEADERS "\r\x81", 400, -1, NULL);
    check("header block ended by CR CR", "GET / HTTP/1.1\r\nHost: a\r\n" UPGRADE_HEADERS "\r\r",
          400, -1, NULL);
    /* tolerated, as RFC 9112 allows */
    check("bare LF after the request line and as the blank line",
          "GET / HTTP/1.1\nHost: a\r\n" UPGRADE_HEADERS "\n", 0, 1, NULL);
    check("Content-Length and chunked",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
          "Transfer-Encoding: chunked\r\n\r\n",
          400, -1, NULL);
}

static void test_limits(void)
{
    struct handshake_limits small = {256, 4};
    char big[1024];
    struct hs x;

    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: %0300d\r\n\r\n", 7);
    check("a value over max_header_bytes", big, 431, -1, &small);
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX-%0300d: 1\r\n\r\n", 7);
    check("a name over max_header_bytes", big, 431, -1, &small);
    check("max_headers fields", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 400, 0,
          &small);
    check("more than max_headers fields",
          "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431, -1, &small);
    snprintf(big, sizeof big, "GET /%0400d HTTP/1.1\r\nHost: a\r\n\r\n", 7);
    check("request target over the limit", big, 414, -1, &small);
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX: a%300sb\r\n\r\n", "");
    check("whitespace inside a value counts", big, 431, -1, &small);
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX:%300sb\r\n\r\n", "");
    check("whitespace llhttp skips counts too", big, 431, -1, &small);
    big[0] = '\0';
    for (int i = 0; i < 150; i++)
        strcat(big, "\r\n");
    strcat(big, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    check("blank lines before the request count", big, 431, -1, &small);

    /* exactly at the limit: accepted; one byte more: 431 */
    const char *head = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    memset(big, 0, sizeof big);
    strcpy(big, head);
    memset(big + strlen(head), 'v', 256 - strlen(head) - 4);
    strcat(big, "\r\n\r\n");
    ok(strlen(big) == 256, "a request of exactly max_header_bytes");
    check("request of exactly max_header_bytes", big, 400, 0, &small);
    memset(big, 0, sizeof big);
    strcpy(big, head);
    memset(big + strlen(head), 'v', 256 - strlen(head) - 3);
    strcat(big, "\r\n\r\n");
    check("request one byte over max_header_bytes", big, 431, -1, &small);

    /* on ERROR, method and url are there for the log once the target was read */
    const char *req = "GET /x?y HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    run(&x, req, strlen(req), 1, &small);
    ok(x.st == HANDSHAKE_ERROR && x.h.status == 431 && x.h.method &&
           strcmp(x.h.method, "GET") == 0 && x.h.url && strcmp(x.h.url, "/x?y") == 0 &&
           strcmp(x.h.query, "y") == 0,
       "431 keeps method and url for the log");
    size_t c = 99;
    ok(handshake_execute(&x.h, "x", 1, &c) == HANDSHAKE_ERROR && c == 0,
       "after ERROR: ERROR again, nothing consumed");
    handshake_free(&x.h);
    snprintf(big, sizeof big, "GET /%0400d HTTP/1.1\r\nHost: a\r\n\r\n", 7);
    run(&x, big, strlen(big), 0, &small);
    ok(x.st == HANDSHAKE_ERROR && x.h.status == 414 && x.h.url == NULL && x.h.query == NULL,
       "414 has no url");
    handshake_free(&x.h);

    /* defaults: a realistic browser request passes, 101 headers do not */
    char *many = malloc(4096);
    strcpy(many, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 100; i++)
        sprintf(many + strlen(many), "X%d: %d\r\n", i, i);
    strcat(many, "\r\n");
    run(&x, many, strlen(many), 0, NULL);
    ok(x.st == HANDSHAKE_ERROR && x.h.status == 431, "default max_headers is 100");
    handshake_free(&x.h);
    free(many);
}

static void test_responses(void)
{
    struct hs x;
    char out[512];
    static const char want101[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                  "X-Extra: 1\r\n"
                                  "\r\n";
    run(&x, GOOD, strlen(GOOD), 0, NULL);
    int n = handshake_write_101(&x.h, "X-Extra: 1\r\n", out, sizeof out);
    is_mem(out, n > 0 ? (size_t)n : 0, want101, sizeof want101 - 1,
           "101 response with the RFC's accept key and extra headers");
    int bad = 0;
    for (size_t cap = 0; cap <= sizeof want101 - 1; cap++)
        bad |= handshake_write_101(&x.h, "X-Extra: 1\r\n", out, cap) != WS_E_TOOBIG;
    bad |= handshake_write_101(&x.h, "X-Extra: 1\r\n", out, sizeof want101) != n;
    ok(!bad, "101: TOOBIG below length + 1, fits at length + 1");
    n = handshake_write_101(&x.h, NULL, out, sizeof out);
    ok(n == (int)(sizeof want101 - 1 - strlen("X-Extra: 1\r\n")) &&
           strcmp(out + n - 5, "=\r\n\r\n") == 0,
       "101 without extra headers");
    handshake_free(&x.h);

    char acc[29];
    ok(handshake_accept_key(KEY, 24, acc) == 0 && strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
       "accept key of RFC 6455 1.3");
    ok(handshake_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, acc) == 0 &&
           strcmp(acc, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=") == 0,
       "accept key of a second known pair");

    static const int statuses[] = {400, 405, 413, 414, 426, 431, 505};
    bad = 0;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        const char *want = expected_error(statuses[i]);
        n = handshake_write_error(statuses[i], NULL, out, sizeof out);
        if (n != (int)strlen(want) || strcmp(out, want) != 0) {
            diag("%d: got %s", statuses[i], out);
            bad = 1;
        }
    }
    ok(!bad, "400, 405, 413, 414, 426, 431, 505: exact responses");

    static const char want429[] = "HTTP/1.1 429 Too Many Requests\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Length: 22\r\n"
                                  "Connection: close\r\n"
                                  "Retry-After: 1\r\n"
                                  "\r\n"
                                  "429 Too Many Requests\n";
    n = handshake_write_error(429, "Retry-After: 1\r\n", out, sizeof out);
    is_mem(out, n > 0 ? (size_t)n : 0, want429, sizeof want429 - 1,
           "429 with extra headers after the fixed ones");
    bad = 0;
    for (size_t cap = 0; cap < sizeof want429; cap++)
        bad |= handshake_write_error(429, "Retry-After: 1\r\n", out, cap) != WS_E_TOOBIG;
    ok(!bad, "error response: TOOBIG for every cap up to its length");

    static const char want304[] = "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n";
    n = handshake_write_error(304, NULL, out, sizeof out);
    is_mem(out, n > 0 ? (size_t)n : 0, want304, sizeof want304 - 1, "304: no body, no length");
    n = handshake_write_error(204, NULL, out, sizeof out);
    ok(n > 0 && strstr(out, "Content-Length") == NULL && strcmp(out + n - 4, "\r\n\r\n") == 0,
       "204: no body, no length");

    static const struct {
        int status;
        const char *text;
    } texts[] = {
        {101, "Switching Protocols"},
        {200, "OK"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {416, "Range Not Satisfiable"},
        {426, "Upgrade Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    bad = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (strcmp(handshake_status_text(texts[i].status), texts[i].text) != 0) {
            diag("%d: %s", texts[i].status, handshake_status_text(texts[i].status));
            bad = 1;
        }
    ok(!bad, "status texts of every status the server answers");
    ok(strcmp(handshake_status_text(299), "Unknown") == 0, "Unknown for an unlisted status");
}

/* ---------------------------------------------------------------- request hardening (issue 10) */

#define POST_TE(te) "POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " te "\r\n\r\n"
/* what a desync would answer as a second request */
static const char smuggled[] = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

static void test_framing(void)
{
    /* B3: RFC 9112 6.3, the final coding must be chunked; llhttp 8.1 checks this only after
     * on_headers_complete, which pauses it first */
    static const char *const bad_te[] = {
        POST_TE("gzip"),
        POST_TE("xchunked"),
        POST_TE("chunkedx"),
        POST_TE("chunked, gzip"),
        POST_TE("chunked;q=1"),
        POST_TE("identity"),
        POST_TE(""),
        POST_TE(" , "),
        "POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
        "gzip\r\n\r\n",
        "POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "POST /cgi HTTP/1.1\r\nHost: a\r\ntransfer-encoding: GZIP\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        /* with Content-Length, in either order */
        "POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
        "POST /cgi HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /cgi HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTransfer-Encoding: gzip\r\n\r\n",
        /* in HTTP/1.0 */
        "POST /cgi HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /cgi HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        /* folded, so that one reader sees chunked and another does not */
        "POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
        "POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad_te / sizeof bad_te[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "Transfer-Encoding case %zu refused, body not a request", i);
        check_tail(name, bad_te[i], smuggled, sizeof smuggled - 1, 400, -1, NULL);
    }
    /* what stays valid */
    check_body("chunked in capitals, with whitespace", POST_TE(" CHUNKED "), "0\r\n\r\n", 0, true);
    check_body("gzip then chunked (chunked last)", POST_TE("gzip, chunked"), "0\r\n\r\n", 0, true);
    check_body("codings over two fields",
               "POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
               "Transfer-Encoding: chunked\r\n\r\n",
               "0\r\n\r\n", 0, true);
    check_body("an empty list element", POST_TE(" , chunked"), "0\r\n\r\n", 0, true);
}

static void test_host_and_version(void)
{
    /* RFC 9112 3.2: for every request, not only upgrades */
    check("HTTP/1.1 GET without Host", "GET / HTTP/1.1\r\nX: 1\r\n\r\n", 400, -1, NULL);
    check("HTTP/1.1 GET with two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, -1,
          NULL);
    check("HTTP/1.0 GET with two Hosts", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400, -1,
          NULL);
    check("HTTP/1.0 GET without Host is served", "GET / HTTP/1.0\r\n\r\n", 400, 0, NULL);
    check("POST without Host", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400, -1, NULL);
    static const char *const bad_hosts[] = {
        "evil.com/x", "a b",   "a:b",    "a:1:2",   "a:123456", "a:65536",  "[::1",
        "[]",         "[::g]", "[::1]x", "[::1]:x", "a@b",      "a%zz",     "a%4",
        "a\"b",       "a<b>",  "a\\b",   "a?b",     "a#b",      "\xc3\xa9", "[::1]]",
    };
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        char r[256], name[96];
        snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad_hosts[i]);
        snprintf(name, sizeof name, "invalid Host \"%s\"", bad_hosts[i]);
        check(name, r, 400, -1, NULL);
    }
    static const char *const good_hosts[] = {
        "a",
        "a:80",
        "a:",
        "127.0.0.1:8080",
        "[::1]",
        "[::1]:443",
        "a:0",
        "a:65535",
        "Ex-1.example.",
        "xn--bcher-kva.example",
        "%41b",
        "a_b~c!$&'()*+,;=",
        "[2001:db8::192.0.2.1]",
        "",
        ":80", /* an empty reg-name */
    };
    for (size_t i = 0; i < sizeof good_hosts / sizeof good_hosts[0]; i++) {
        char r[256], name[96];
        snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good_hosts[i]);
        snprintf(name, sizeof name, "valid Host \"%s\" (complete; not an upgrade)", good_hosts[i]);
        check(name, r, 400, 0, NULL);
    }

    check("HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, -1, NULL);
    check("HTTP/2.0 upgrade", "GET / HTTP/2.0\r\nHost: a\r\n" UPGRADE_HEADERS "\r\n", 505, -1,
          NULL);
    check("HTTP/3.0 request line", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505, -1, NULL);
    check("HTTP/2 preface (llhttp: 400)", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, -1, NULL);
    check("HTTP/0.9 request line", "GET /\r\n\r\n", 400, -1, NULL);
    check("HTTP/0.9 request line with a header", "GET /\r\nHost: a\r\n\r\n", 400, -1, NULL);
    check("HTTP/0.9 as a version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 400, -1, NULL);
    check("HTTP/1.2 (not a version llhttp knows)", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 400, -1,
          NULL);
}

static void test_whitespace(void)
{
    check("TAB in the target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, -1, NULL);
    check("TAB before the version", "GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400, -1, NULL);
    check("TAB after the method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, -1, NULL);
    check("TAB in the request line after blank lines",
          "\r\n\r\nGET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400, -1, NULL);
    check("obs-fold continuation (SP)",
          "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n" UPGRADE_HEADERS "\r\n", 400, -1, NULL);
    check("obs-fold continuation (HTAB)",
          "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n" UPGRADE_HEADERS "\r\n", 400, -1, NULL);
    check("obs-fold of the last field", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400, -1,
          NULL);
    check("obs-fold, bare LF", "GET / HTTP/1.1\nHost: a\nX: 1\n 2\n\n", 400, -1, NULL);
    check("a line of whitespace in the header block", "GET / HTTP/1.1\r\nHost: a\r\n \r\n\r\n", 400,
          -1, NULL);
    check("folded Host", "GET / HTTP/1.1\r\nHost:\r\n a\r\n\r\n", 400, -1, NULL);
    /* RFC 9110 5.5: HTAB is allowed inside and around a field value */
    check("TAB inside and around a value",
          "GET / HTTP/1.1\r\nHost:\ta\t\r\nX: 1\t2\r\n" UPGRADE_HEADERS "\r\n", 0, 1, NULL);
}

static void test_body_limit(void)
{
    struct handshake_limits lim = {0, 0, 100};
    check("Content-Length at max_body_bytes (complete; not an upgrade: 405)",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", 405, 0, &lim);
    check("Content-Length over max_body_bytes",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", 413, -1, &lim);
    check("Content-Length 2^64-1 (default limit)",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", 413, -1,
          NULL);
    check("Content-Length 2^64 (llhttp: overflow)",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400, -1,
          NULL);
    check("Content-Length of 1 GiB + 1 (default limit)",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1073741825\r\n\r\n", 413, -1, NULL);
    check("Content-Length of 1 GiB (default limit; complete)",
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1073741824\r\n\r\n", 405, 0, NULL);
}

/* ---------------------------------------------------------------- handshake_body, split every way
 */

struct hb {
    struct handshake h;
    enum handshake_status st;
    int rc;         /* handshake_body's result */
    size_t used;    /* bytes consumed, header block and body */
    char got[8192]; /* the decoded body */
    size_t got_len;
    int calls_after;
};

static void hb_piece(void *ctx, const char *data, size_t len)
{
    struct hb *x = ctx;
    if (x->got_len + len > sizeof x->got)
        abort();
    memcpy(x->got + x->got_len, data, len);
    x->got_len += len;
}

static size_t feed_hb(void *ctx, uint8_t *data, size_t len)
{
    struct hb *x = ctx;
    size_t c = 0, u = 0;
    if (x->st == HANDSHAKE_NEED_MORE) {
        x->st = handshake_execute(&x->h, (const char *)data, len, &c);
        x->used += c;
        if (x->st != HANDSHAKE_COMPLETE)
            return c;
    } else if (x->rc != 0 || x->st == HANDSHAKE_ERROR) {
        /* the result is sticky and consumes nothing */
        if (x->st == HANDSHAKE_COMPLETE &&
            (handshake_body(&x->h, (const char *)data, len, &u, hb_piece, x) != x->rc || u))
            x->calls_after = -1000;
        return 0;
    }
    x->rc = handshake_body(&x->h, (const char *)data + c, len - c, &u, hb_piece, x);
    if (u > len - c)
        abort();
    x->used += u;
    return c + u;
}

/*
 * Feeds head + body + tail every way. want_rc: handshake_body's result (1: complete, with
 * want_body decoded and tail not consumed; -1: refused with want_status).
 */
static void check_hb(const char *name, const char *head, const char *body, size_t blen, int want_rc,
                     int want_status, const char *want_body, const struct handshake_limits *lim)
{
    size_t hlen = strlen(head), tlen = sizeof smuggled - 1, len = hlen + blen + tlen;
    char *buf = malloc(len);
    int bad = 0;
    memcpy(buf, head, hlen);
    memcpy(buf + hlen, body, blen);
    memcpy(buf + hlen + blen, smuggled, tlen);
    for (size_t mode = 0; mode < len + 2 && !bad; mode++) {
        /* inputs of kilobytes: every split near either end and near the chunk-line bound, every
         * 13th elsewhere (all of them costs seconds) */
        size_t at = mode - 2, lim_at = hlen + HANDSHAKE_MAX_CHUNK_LINE_BYTES;
        if (len > 2048 && mode >= 2 + 64 && at + 64 < len && at % 13 &&
            (at + 64 < lim_at || at > lim_at + 64))
            continue;
        struct hb *x = calloc(1, sizeof *x);
        if (handshake_init(&x->h, lim) != 0)
            abort();
        if (mode == 0)
            feed_whole(feed_hb, x, (const uint8_t *)buf, len);
        else if (mode == 1)
            feed_bytewise(feed_hb, x, (const uint8_t *)buf, len);
        else
            feed_split(feed_hb, x, (const uint8_t *)buf, len, mode - 2);
        if (x->st != HANDSHAKE_COMPLETE || x->rc != want_rc || x->calls_after < 0 ||
            (want_rc == 1 && (x->used != hlen + blen || x->got_len != strlen(want_body) ||
                              memcmp(x->got, want_body, x->got_len) != 0)) ||
            (want_rc == -1 && (x->h.status != want_status || !x->h.reason))) {
            diag("%s: mode %zu: state %d rc %d status %d (%s) used %zu of %zu, body %zu bytes",
                 name, mode, x->st, x->rc, x->h.status, x->h.reason ? x->h.reason : "", x->used,
                 hlen + blen, x->got_len);
            bad = 1;
        }
        handshake_free(&x->h);
        free(x);
    }
    ok(!bad, "%s -> %s %d, whole, bytewise and every split", name,
       want_rc == 1 ? "complete" : "refused", want_rc == 1 ? 0 : want_status);
    free(buf);
}

static void check_hb_str(const char *name, const char *head, const char *body, int want_rc,
                         int want_status, const char *want_body, const struct handshake_limits *lim)
{
    check_hb(name, head, body, strlen(body), want_rc, want_status, want_body, lim);
}

#define CHUNKED_HEAD "POST /cgi HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

static void test_chunked_limits(void)
{
    struct handshake_limits small = {256, 4, 10};
    char *body = malloc(16384);

    check_hb_str("Content-Length body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
                 "hello", 1, 0, "hello", NULL);
    check_hb_str("chunked body with extensions and trailers", CHUNKED_HEAD,
                 "5;a;c=b\r\nhello\r\n6;x=\"y\"\r\n world\r\n0;z=1\r\nT: 1\r\nT2: 2\r\n\r\n", 1, 0,
                 "hello world", NULL);
    check_hb_str("chunk sizes adding up to max_body_bytes", CHUNKED_HEAD,
                 "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 1, 0, "helloworld", &small);
    check_hb_str("chunk sizes adding up to more than max_body_bytes", CHUNKED_HEAD,
                 "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", -1, 413, NULL, &small);
    check_hb_str("one chunk over max_body_bytes, refused before its data", CHUNKED_HEAD,
                 "ffffffffffffffff\r\nx", -1, 413, NULL, NULL);
    check_hb_str("malformed chunk size", CHUNKED_HEAD, "5x\r\nhello\r\n0\r\n\r\n", -1, 400, NULL,
                 NULL);
    check_hb_str("trailer name with a space", CHUNKED_HEAD, "0\r\nA B: 1\r\n\r\n", -1, 400, NULL,
                 NULL);

    /* chunk extensions: at most HANDSHAKE_MAX_CHUNK_LINE_BYTES of framing between two data pieces
     */
    size_t ext = HANDSHAKE_MAX_CHUNK_LINE_BYTES - strlen("\r\n5;x=\r\n");
    snprintf(body, 16384, "1\r\nh\r\n4;x=%0*d\r\nello\r\n0\r\n\r\n", (int)ext, 0);
    check_hb_str("chunk line of exactly HANDSHAKE_MAX_CHUNK_LINE_BYTES", CHUNKED_HEAD, body, 1, 0,
                 "hello", NULL);
    snprintf(body, 16384, "1\r\nh\r\n4;x=%0*d\r\nello\r\n0\r\n\r\n", (int)ext + 1, 0);
    check_hb_str("chunk line one byte longer", CHUNKED_HEAD, body, -1, 413, NULL, NULL);
    snprintf(body, 16384, "5;x=%04100d\r\nhello\r\n0\r\n\r\n", 0);
    check_hb_str("an extension of 4100 bytes on the first chunk", CHUNKED_HEAD, body, -1, 413, NULL,
                 NULL);
    strcpy(body, "5");
    for (int i = 0; i < 1400; i++) /* names only: llhttp 8.1 takes no extension after a value */
        strcat(body, ";ab");
    strcat(body, "\r\nhello\r\n0\r\n\r\n");
    check_hb_str("1400 small extensions", CHUNKED_HEAD, body, -1, 413, NULL, NULL);
    snprintf(body, 16384, "0;x=%04100d\r\n\r\n", 0);
    check_hb_str("an extension of 4100 bytes on the last chunk", CHUNKED_HEAD, body, -1, 413, NULL,
                 NULL);

    /* trailers: bounded as the header block is (431) */
    snprintf(body, 16384, "1\r\nx\r\n0\r\nT: %0240d\r\n\r\n", 0);
    check_hb_str("trailer section under max_header_bytes", CHUNKED_HEAD, body, 1, 0, "x", &small);
    snprintf(body, 16384, "1\r\nx\r\n0\r\nT: %0260d\r\n\r\n", 0);
    check_hb_str("trailer section over max_header_bytes", CHUNKED_HEAD, body, -1, 431, NULL,
                 &small);
    snprintf(body, 16384, "1\r\nx\r\n0\r\nT%0260d: 1\r\n\r\n", 0);
    check_hb_str("trailer name over max_header_bytes", CHUNKED_HEAD, body, -1, 431, NULL, &small);
    check_hb_str("max_headers trailer fields", CHUNKED_HEAD,
                 "1\r\nx\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 1, 0, "x", &small);
    check_hb_str("more than max_headers trailer fields", CHUNKED_HEAD,
                 "1\r\nx\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", -1, 431, NULL,
                 &small);
    snprintf(body, 16384, "0\r\n");
    for (int i = 0; i < 101; i++)
        strcat(body, "X: 1\r\n");
    strcat(body, "\r\n");
    check_hb_str("101 trailer fields (default limits)", CHUNKED_HEAD, body, -1, 431, NULL, NULL);
    free(body);
}

int main(void)
{
    test_valid();
    test_fields();
    test_bodies();
    test_failures();
    test_limits();
    test_framing();
    test_host_and_version();
    test_whitespace();
    test_body_limit();
    test_chunked_limits();
    test_responses();
    return tap_done();
}
