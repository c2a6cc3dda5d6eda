/*
 * handshake: llhttp callbacks copy the request target and header fields
 * into one arena (a field may arrive in many pieces when the request is
 * split across reads); on_headers_complete pauses the parser, so the caller
 * learns exactly where the header block ended.
 */
#include "handshake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ws_error.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { PH_URL, PH_FIELD, PH_VALUE, PH_DONE }; /* PH_URL also: between headers */

static struct handshake *of(llhttp_t *p)
{
    return p->data;
}

static int set_error(struct handshake *h, int status, const char *reason)
{
    if (!h->status) {
        h->status = status;
        h->reason = reason;
    }
    return -1; /* HPE_USER: stops llhttp */
}

/* Appends to the arena; the total is bounded by max_header_bytes. */
static int arena_append(struct handshake *h, const char *at, size_t len, int status)
{
    if (h->arena_len + len + 1 > h->limits.max_header_bytes)
        return set_error(h, status,
                         status == 414 ? "request target too long" : "request header fields too large");
    if (h->arena_len + len + 1 > h->arena_cap) {
        size_t cap = h->arena_cap ? h->arena_cap : 1024;
        while (cap < h->arena_len + len + 1)
            cap *= 2;
        if (cap > h->limits.max_header_bytes)
            cap = h->limits.max_header_bytes;
        char *a = realloc(h->arena, cap);
        if (!a)
            return set_error(h, 500, "out of memory");
        h->arena = a;
        h->arena_cap = cap;
    }
    memcpy(h->arena + h->arena_len, at, len);
    h->arena_len += len;
    return 0;
}

/* Ends the token in progress with a NUL. */
static int arena_terminate(struct handshake *h)
{
    return arena_append(h, "", 1, 431);
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    return arena_append(of(p), at, len, 414);
}

static int on_url_complete(llhttp_t *p)
{
    return arena_append(of(p), "", 1, 414);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct handshake *h = of(p);
    if (h->phase != PH_FIELD) {
        if (h->nheaders >= h->limits.max_headers)
            return set_error(h, 431, "too many header fields");
        h->field_off = h->arena_len;
        h->phase = PH_FIELD;
    }
    return arena_append(h, at, len, 431);
}

static int on_header_field_complete(llhttp_t *p)
{
    struct handshake *h = of(p);
    if (arena_terminate(h))
        return -1;
    h->value_off = h->arena_len; /* the value starts here, even when it is empty */
    h->phase = PH_VALUE;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    return arena_append(of(p), at, len, 431);
}

/* Records the header as offsets; they become pointers once the arena stops moving. */
static int on_header_value_complete(llhttp_t *p)
{
    struct handshake *h = of(p);
    if (arena_terminate(h))
        return -1;
    if (h->nheaders == h->headers_cap) {
        unsigned cap = h->headers_cap ? h->headers_cap * 2 : 16;
        struct handshake_header *nh = realloc(h->headers, cap * sizeof *nh);
        if (!nh)
            return set_error(h, 500, "out of memory");
        h->headers = nh;
        h->headers_cap = cap;
    }
    h->headers[h->nheaders].name_len = h->field_off;
    h->headers[h->nheaders].value_len = h->value_off;
    h->nheaders++;
    h->phase = PH_URL; /* between headers */
    return 0;
}

/* Trims spaces and tabs around a value in place; returns the new start. */
static char *trim(char *s, size_t *len)
{
    while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
        s[--*len] = '\0';
    while (*len && (*s == ' ' || *s == '\t'))
        s++, (*len)--;
    return s;
}

static int on_headers_complete(llhttp_t *p)
{
    struct handshake *h = of(p);

    h->phase = PH_DONE;

    /* The arena no longer moves: offsets become pointers. */
    h->url = h->arena;
    h->url_len = strlen(h->arena);
    for (unsigned i = 0; i < h->nheaders; i++) {
        struct handshake_header *x = &h->headers[i];
        size_t name_off = x->name_len, value_off = x->value_len;
        x->name = h->arena + name_off;
        x->name_len = strlen(x->name);
        size_t vlen = strlen(h->arena + value_off);
        x->value = trim(h->arena + value_off, &vlen);
        x->value_len = vlen;
    }
    h->method = llhttp_method_name((llhttp_method_t)p->method);
    h->http_major = p->http_major;
    h->http_minor = p->http_minor;
    h->keep_alive = llhttp_should_keep_alive(p) != 0;
    h->chunked = (p->flags & F_CHUNKED) != 0;
    h->content_length = (p->flags & F_CONTENT_LENGTH) ? p->content_length : 0;

    const char *q = memchr(h->url, '?', h->url_len);
    h->path = h->url;
    h->path_len = q ? (size_t)(q - h->url) : h->url_len;
    h->query = q ? q + 1 : h->url + h->url_len;
    h->query_len = q ? h->url_len - h->path_len - 1 : 0;
    h->complete = true;
    return HPE_PAUSED; /* stop right after the header block */
}

int handshake_init(struct handshake *h, const struct handshake_limits *limits)
{
    memset(h, 0, sizeof *h);
    h->limits.max_header_bytes = HANDSHAKE_MAX_HEADER_BYTES_DEFAULT;
    h->limits.max_headers = HANDSHAKE_MAX_HEADERS_DEFAULT;
    if (limits) {
        if (limits->max_header_bytes)
            h->limits.max_header_bytes = limits->max_header_bytes;
        if (limits->max_headers)
            h->limits.max_headers = limits->max_headers;
    }
    llhttp_settings_init(&h->settings);
    h->settings.on_url = on_url;
    h->settings.on_url_complete = on_url_complete;
    h->settings.on_header_field = on_header_field;
    h->settings.on_header_field_complete = on_header_field_complete;
    h->settings.on_header_value = on_header_value;
    h->settings.on_header_value_complete = on_header_value_complete;
    h->settings.on_headers_complete = on_headers_complete;
    llhttp_init(&h->parser, HTTP_REQUEST, &h->settings);
    h->parser.data = h;
    h->query = "";
    return 0;
}

void handshake_free(struct handshake *h)
{
    free(h->arena);
    free(h->headers);
    h->arena = NULL;
    h->headers = NULL;
    h->arena_cap = h->arena_len = 0;
    h->headers_cap = h->nheaders = 0;
}

enum handshake_status handshake_execute(struct handshake *h, const char *data, size_t len,
                                        size_t *consumed)
{
    llhttp_errno_t err;

    *consumed = 0;
    if (h->complete)
        return HANDSHAKE_COMPLETE;
    if (h->status)
        return HANDSHAKE_ERROR;
    err = llhttp_execute(&h->parser, data, len);
    if (err == HPE_OK) {
        *consumed = len;
        return HANDSHAKE_NEED_MORE;
    }
    if (err == HPE_PAUSED && h->complete) {
        *consumed = (size_t)(llhttp_get_error_pos(&h->parser) - data);
        return HANDSHAKE_COMPLETE;
    }
    if (!h->status) {
        h->status = 400;
        h->reason = llhttp_get_error_reason(&h->parser);
        if (!h->reason)
            h->reason = llhttp_errno_name(err);
    }
    return HANDSHAKE_ERROR;
}

const struct handshake_header *handshake_find(const struct handshake *h, const char *name)
{
    for (unsigned i = 0; i < h->nheaders && h->complete; i++)
        if (strcasecmp(h->headers[i].name, name) == 0)
            return &h->headers[i];
    return NULL;
}

/* Is `token` one of the comma-separated tokens of any `name` header? */
static bool has_token(const struct handshake *h, const char *name, const char *token)
{
    size_t tlen = strlen(token);
    for (unsigned i = 0; i < h->nheaders; i++) {
        if (strcasecmp(h->headers[i].name, name) != 0)
            continue;
        const char *s = h->headers[i].value, *end = s + h->headers[i].value_len;
        while (s < end) {
            while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
                s++;
            const char *t = s;
            while (s < end && *s != ',')
                s++;
            const char *e = s;
            while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if ((size_t)(e - t) == tlen && strncasecmp(t, token, tlen) == 0)
                return true;
        }
    }
    return false;
}

static unsigned count_headers(const struct handshake *h, const char *name)
{
    unsigned n = 0;
    for (unsigned i = 0; i < h->nheaders; i++)
        n += strcasecmp(h->headers[i].name, name) == 0;
    return n;
}

bool handshake_wants_websocket(const struct handshake *h)
{
    return h->complete && has_token(h, "Upgrade", "websocket");
}

static int check_fail(struct handshake *h, int status, const char *reason)
{
    h->status = status;
    h->reason = reason;
    return status;
}

/* A valid key is base64 of exactly 16 bytes: 22 base64 characters and "==". */
static bool key_valid(const char *key, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!memchr(b64, key[i], 64))
            return false;
    /* the last character carries 2 bits of data; the 4 low bits must be zero */
    return ((strchr(b64, key[21]) - b64) & 0xF) == 0;
}

int handshake_check(struct handshake *h)
{
    const struct handshake_header *key, *version;

    if (!h->complete)
        return check_fail(h, 400, "incomplete request");
    if (strcmp(h->method, "GET") != 0)
        return check_fail(h, 405, "WebSocket upgrade with a method other than GET");
    if (h->http_major < 1 || (h->http_major == 1 && h->http_minor < 1))
        return check_fail(h, 400, "WebSocket upgrade needs HTTP/1.1");
    if (count_headers(h, "Host") != 1)
        return check_fail(h, 400, "missing or repeated Host header");
    if (!has_token(h, "Upgrade", "websocket"))
        return check_fail(h, 400, "Upgrade: websocket missing");
    if (!has_token(h, "Connection", "upgrade"))
        return check_fail(h, 400, "Connection: Upgrade missing");
    version = handshake_find(h, "Sec-WebSocket-Version");
    if (!version || count_headers(h, "Sec-WebSocket-Version") != 1)
        return check_fail(h, 400, "missing or repeated Sec-WebSocket-Version");
    if (strcmp(version->value, "13") != 0)
        return check_fail(h, 426, "unsupported Sec-WebSocket-Version");
    key = handshake_find(h, "Sec-WebSocket-Key");
    if (!key || count_headers(h, "Sec-WebSocket-Key") != 1 || !key_valid(key->value, key->value_len))
        return check_fail(h, 400, "missing or invalid Sec-WebSocket-Key");
    return 0;
}

int handshake_accept_key(const char *key, size_t key_len, char out[29])
{
    unsigned char digest[SHA_DIGEST_LENGTH];
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
             EVP_DigestUpdate(ctx, key, key_len) &&
             EVP_DigestUpdate(ctx, WS_GUID, sizeof WS_GUID - 1) &&
             EVP_DigestFinal_ex(ctx, digest, &dlen) && dlen == SHA_DIGEST_LENGTH;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return WS_E_CRYPTO;
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH); /* 28 chars + NUL */
    return 0;
}

int handshake_write_101(const struct handshake *h, const char *extra, char *out, size_t cap)
{
    char accept[29];
    const struct handshake_header *key = handshake_find(h, "Sec-WebSocket-Key");
    if (!key || handshake_accept_key(key->value, key->value_len, accept) != 0)
        return WS_E_STATE;
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "%s\r\n",
                     accept, extra ? extra : "");
    if (n < 0 || (size_t)n >= cap)
        return WS_E_TOOBIG;
    return n;
}

const char *handshake_status_text(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

int handshake_write_error(int status, const char *extra, char *out, size_t cap)
{
    const char *text = handshake_status_text(status);
    const char *specific = status == 426   ? "Sec-WebSocket-Version: 13\r\n"
                           : status == 405 ? "Allow: GET\r\n"
                                           : "";
    char body[96];
    int blen = snprintf(body, sizeof body, "%d %s\n", status, text);
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %d\r\n"
                     "Connection: close\r\n"
                     "%s%s\r\n%s",
                     status, text, blen, specific, extra ? extra : "", body);
    if (n < 0 || (size_t)n >= cap)
        return WS_E_TOOBIG;
    return n;
}
