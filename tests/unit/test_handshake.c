/* Unit tests of handshake: requests fed every way, each failure status, responses. */
#include "feed.h"
#include "handshake.h"
#include "tap.h"
#include "ws_error.h"

#include <stdlib.h>

struct hs {
    struct handshake h;
    enum handshake_status st;
    size_t consumed; /* bytes of the request, across calls */
    size_t offered;
};

static size_t feed_hs(void *ctx, uint8_t *data, size_t len)
{
    struct hs *x = ctx;
    size_t c = 0;
    if (x->st != HANDSHAKE_NEED_MORE)
        return 0;
    x->st = handshake_execute(&x->h, (const char *)data, len, &c);
    x->consumed += c;
    return c;
}

enum { WHOLE, BYTEWISE, SPLIT };

static void run(struct hs *x, const char *req, size_t len, int how, size_t at,
                const struct handshake_limits *lim)
{
    memset(x, 0, sizeof *x);
    handshake_init(&x->h, lim);
    if (how == WHOLE)
        feed_whole(feed_hs, x, (const uint8_t *)req, len);
    else if (how == BYTEWISE)
        feed_bytewise(feed_hs, x, (const uint8_t *)req, len);
    else
        feed_split(feed_hs, x, (const uint8_t *)req, len, at);
}

#define GOOD                                                                                       \
    "GET /chat/room?x=1&y=%20 HTTP/1.1\r\n"                                                        \
    "Host: server.example.com\r\n"                                                                 \
    "Upgrade: websocket\r\n"                                                                       \
    "Connection: Upgrade\r\n"                                                                      \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                                              \
    "Origin: http://example.com\r\n"                                                               \
    "Sec-WebSocket-Version: 13\r\n"                                                                \
    "\r\n"

/*
 * Feeds req every way; with `tail` bytes appended (pipelined frames) the
 * consumed count must still be exactly the request. Then checks status.
 */
static void check(const char *name, const char *req, int want_status, int want_ws,
                  const struct handshake_limits *lim)
{
    static const char tail[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    size_t rlen = strlen(req), len = rlen + sizeof tail - 1;
    char *buf = malloc(len);
    int bad = 0;
    memcpy(buf, req, rlen);
    memcpy(buf + rlen, tail, sizeof tail - 1);
    for (size_t mode = 0; mode < len + 2; mode++) {
        struct hs x;
        run(&x, buf, len, mode == 0 ? WHOLE : mode == 1 ? BYTEWISE : SPLIT, mode - 2, lim);
        int status = -1, ws = -1;
        if (x.st == HANDSHAKE_COMPLETE) {
            ws = handshake_wants_websocket(&x.h);
            status = handshake_check(&x.h);
            if (x.consumed != rlen) {
                if (!bad)
                    diag("%s: mode %zu consumed %zu, request is %zu", name, mode, x.consumed, rlen);
                bad = 1;
            }
        } else if (x.st == HANDSHAKE_ERROR) {
            status = x.h.status;
        }
        if (status != want_status || (want_ws >= 0 && x.st == HANDSHAKE_COMPLETE && ws != want_ws)) {
            if (!bad)
                diag("%s: mode %zu: state %d status %d (%s) ws %d", name, mode, x.st, status,
                     x.h.reason ? x.h.reason : "", ws);
            bad = 1;
        }
        handshake_free(&x.h);
    }
    ok(!bad, "%s -> %d, fed whole, bytewise and every split", name, want_status);
    free(buf);
}

static void test_good(void)
{
    check("RFC 6455 1.3 request", GOOD, 0, 1, NULL);
    check("Connection as a token list, mixed case", 
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\n"
          "Connection: keep-alive, UpGrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          0, 1, NULL);
    check("Upgrade as a list", 
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: foo/2, websocket\r\n"
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          0, 1, NULL);
    check("plain GET is complete and not a websocket", "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n",
          400, 0, NULL);

    struct hs x;
    run(&x, GOOD, strlen(GOOD), WHOLE, 0, NULL);
    ok(x.st == HANDSHAKE_COMPLETE && strcmp(x.h.method, "GET") == 0 &&
           strcmp(x.h.url, "/chat/room?x=1&y=%20") == 0 && x.h.path_len == 10 &&
           strncmp(x.h.path, "/chat/room", 10) == 0 && strcmp(x.h.query, "x=1&y=%20") == 0 &&
           x.h.http_major == 1 && x.h.http_minor == 1 && x.h.nheaders == 6,
       "method, url, path, raw query, version and header count");
    const struct handshake_header *o = handshake_find(&x.h, "origin");
    ok(o && strcmp(o->name, "Origin") == 0 && strcmp(o->value, "http://example.com") == 0 &&
           o->value_len == 18,
       "handshake_find is case-insensitive and keeps the name's case");
    char out[512];
    int n = handshake_write_101(&x.h, "X-Extra: 1\r\n", out, sizeof out);
    ok(n > 0 && strstr(out, "HTTP/1.1 101 Switching Protocols\r\n") == out &&
           strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") &&
           strstr(out, "Upgrade: websocket\r\n") && strstr(out, "Connection: Upgrade\r\n") &&
           strstr(out, "X-Extra: 1\r\n\r\n") && (size_t)n == strlen(out),
       "101 response with the RFC's accept key and extra headers");
    ok(handshake_write_101(&x.h, NULL, out, 50) == WS_E_TOOBIG, "101 into a small buffer: TOOBIG");
    handshake_free(&x.h);

    char acc[29];
    ok(handshake_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, acc) == 0 &&
           strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
       "accept key of RFC 6455 1.3");

    /* repeated headers kept in order, empty values, whitespace trimmed */
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: one\r\nX-Empty:\r\nX-Dup:  two \t\r\n\r\n";
    run(&x, req, strlen(req), BYTEWISE, 0, NULL);
    ok(x.st == HANDSHAKE_COMPLETE && x.h.nheaders == 4 && strcmp(x.h.headers[1].value, "one") == 0 &&
           strcmp(x.h.headers[2].name, "X-Empty") == 0 && x.h.headers[2].value_len == 0 &&
           strcmp(x.h.headers[3].value, "two") == 0,
       "repeated headers in order, an empty value, values trimmed");
    handshake_free(&x.h);

    req = "POST /cgi HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    run(&x, req, strlen(req), WHOLE, 0, NULL);
    ok(x.st == HANDSHAKE_COMPLETE && x.consumed == strlen(req) - 5 && x.h.content_length == 5 &&
           !handshake_wants_websocket(&x.h),
       "a request with a body stops at the end of the header block");
    handshake_free(&x.h);
}

static void test_failures(void)
{
    check("POST upgrade", 
          "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          405, 1, NULL);
    check("HTTP/1.0 upgrade", 
          "GET / HTTP/1.0\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("no Host", 
          "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("two Hosts", 
          "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("no Connection: Upgrade", 
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("no key", 
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("key of 15 bytes", 
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("key not base64", 
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, 1, NULL);
    check("no version", 
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
          400, 1, NULL);
    check("version 8", 
          "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
          426, 1, NULL);
    check("garbage request line", "\x16\x03\x01\x02\x00 hello\r\n\r\n", 400, -1, NULL);
    check("bad header syntax", "GET / HTTP/1.1\r\nHo st: a\r\n\r\n", 400, -1, NULL);

    struct handshake_limits small = {256, 4};
    char big[1024];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: %0300d\r\n\r\n", 7);
    check("header block over max_header_bytes", big, 431, -1, &small);
    check("more than max_headers fields",
          "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431, -1, &small);
    snprintf(big, sizeof big, "GET /%0400d HTTP/1.1\r\nHost: a\r\n\r\n", 7);
    check("request target over the limit", big, 414, -1, &small);
}

static void test_errors_written(void)
{
    char out[512];
    int n = handshake_write_error(426, NULL, out, sizeof out);
    ok(n > 0 && strncmp(out, "HTTP/1.1 426 Upgrade Required\r\n", 31) == 0 &&
           strstr(out, "\r\nSec-WebSocket-Version: 13\r\n") && strstr(out, "Connection: close\r\n"),
       "426 carries Sec-WebSocket-Version: 13");
    n = handshake_write_error(405, "X-A: b\r\n", out, sizeof out);
    ok(n > 0 && strstr(out, "\r\nAllow: GET\r\n") && strstr(out, "X-A: b\r\n\r\n405 Method Not Allowed\n"),
       "405 carries Allow: GET, extra headers, a body");
    const char *body = strstr(out, "\r\n\r\n") + 4;
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
    ok(strstr(out, cl) != NULL, "Content-Length matches the body");
    ok(handshake_write_error(431, NULL, out, 20) == WS_E_TOOBIG, "error into a small buffer: TOOBIG");
    static const int statuses[] = {400, 403, 404, 408, 429, 431, 500, 503};
    int all = 1;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        all &= strcmp(handshake_status_text(statuses[i]), "Unknown") != 0;
    ok(all, "status texts exist for the statuses the server answers");
}

int main(void)
{
    test_good();
    test_failures();
    test_errors_written();
    return tap_done();
}
