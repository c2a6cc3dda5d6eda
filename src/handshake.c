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

/* Where llhttp is: in the request line, in the header fields, past them. */
enum { PH_LINE, PH_HEADERS, PH_DONE };

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

static int too_large(struct handshake *h, int status)
{
    return set_error(h, status,
                     status == 414 ? "request target too long" : "request header fields too large");
}

/*
 * Appends to the arena. The raw header block is already bounded by
 * max_header_bytes (handshake_execute) and the arena never holds more than
 * the raw bytes; this bound keeps the allocation honest on its own.
 */
static int arena_append(struct handshake *h, const char *at, size_t len, int status)
{
    if (h->arena_len + len + 1 > h->limits.max_header_bytes)
        return too_large(h, status);
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

/* The URL is the first thing in the arena; it ends here. */
static int on_url_complete(llhttp_t *p)
{
    struct handshake *h = of(p);
    if (arena_append(h, "", 1, 414))
        return -1;
    h->url_len = h->arena_len - 1;
    h->method = llhttp_method_name((llhttp_method_t)p->method);
    h->phase = PH_HEADERS;
    h->field_off = h->arena_len;
    return 0;
}

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/*
 * llhttp 8.1 lets a space into a field name ("Ho st", "Host :"); RFC 9112
 * 5.1 says reject with 400, and such a name must not reach HTTP_* variables.
 * A name may come in pieces; it starts where the previous field ended.
 */
static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct handshake *h = of(p);
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)at[i]))
            return set_error(h, 400, "invalid character in a header name");
    return arena_append(h, at, len, 431);
}

/* llhttp 8.1 also takes ": v" as a field with an empty name. */
static int on_header_field_complete(llhttp_t *p)
{
    struct handshake *h = of(p);
    if (h->arena_len == h->field_off)
        return set_error(h, 400, "empty header name");
    if (h->nheaders >= h->limits.max_headers)
        return set_error(h, 431, "too many header fields");
    if (arena_terminate(h))
        return -1;
    h->value_off = h->arena_len; /* the value starts here, even when it is empty */
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
    h->field_off = h->arena_len;
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

/* Points url, path and query into the arena, which no longer moves. */
static void publish_url(struct handshake *h)
{
    if (h->phase == PH_LINE || !h->arena)
        return; /* the target was not complete */
    h->url = h->arena;
    const char *q = memchr(h->url, '?', h->url_len);
    const char *end = q ? q : h->url + h->url_len; /* the path's end */
    h->path = h->url;
    h->path_len = (size_t)(end - h->url);
    h->query = q ? q + 1 : h->url + h->url_len;
    h->query_len = q ? (size_t)(h->url + h->url_len - q - 1) : 0;
    /* absolute-form (RFC 9112 3.2.2, "http://host/p"): the path follows the authority; a
     * server must accept it. url stays as sent (REQUEST_URI). */
    if (h->path_len && h->url[0] != '/') {
        const char *colon = memchr(h->url, ':', h->path_len);
        if (colon && colon > h->url && end - colon >= 3 && colon[1] == '/' && colon[2] == '/') {
            const char *slash = memchr(colon + 3, '/', (size_t)(end - colon - 3));
            h->path = slash ? slash : "/";
            h->path_len = slash ? (size_t)(end - slash) : 1;
        }
    }
}

static unsigned count_headers(const struct handshake *h, const char *name)
{
    unsigned n = 0;
    for (unsigned i = 0; i < h->nheaders; i++)
        n += strcasecmp(h->headers[i].name, name) == 0;
    return n;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 reg-name: unreserved, sub-delims, pct-encoded (an IPv4 address is one too) */
static size_t reg_name_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && is_hex((unsigned char)s[i + 1]) &&
            is_hex((unsigned char)s[i + 2]))
            i += 3;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
                 (c && strchr("-._~!$&'()*+,;=", c)))
            i++;
        else
            break;
    }
    return i;
}

/*
 * Host = uri-host [":" port] (RFC 9110 7.2): a reg-name or an [IPv6] literal,
 * then digits. Checked here because the value becomes SERVER_NAME and
 * SERVER_PORT, and a redirect's Location. Empty is allowed (RFC 9112 3.2).
 */
static bool host_valid(const char *s, size_t n)
{
    size_t i;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close == s + 1)
            return false;
        for (const char *c = s + 1; c < close; c++)
            if (!is_hex((unsigned char)*c) && *c != ':' && *c != '.')
                return false;
        i = (size_t)(close + 1 - s);
    } else {
        i = reg_name_len(s, n);
    }
    if (i == n)
        return true;
    if (s[i++] != ':' || n - i > 5)
        return false;
    unsigned long port = 0;
    for (; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return false;
        port = port * 10 + (unsigned long)(s[i] - '0');
    }
    return port <= 65535;
}

/*
 * RFC 9112 6.1, 6.3: the codings of every Transfer-Encoding field, in order,
 * are one list. chunked must be the last and only the last; anything else
 * leaves the body's length unknown. Empty list elements are allowed (5.6.1).
 */
static bool te_final_chunked(const struct handshake *h)
{
    bool last_chunked = false, chunked_not_last = false;
    for (unsigned i = 0; i < h->nheaders; i++) {
        if (strcasecmp(h->headers[i].name, "Transfer-Encoding") != 0)
            continue;
        const char *s = h->headers[i].value, *end = s + h->headers[i].value_len;
        while (s < end) {
            const char *t = s;
            while (s < end && *s != ',')
                s++;
            const char *e = s++;
            while (t < e && (*t == ' ' || *t == '\t'))
                t++;
            while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e == t)
                continue;
            chunked_not_last |= last_chunked;
            last_chunked = e - t == 7 && strncasecmp(t, "chunked", 7) == 0;
        }
    }
    return last_chunked && !chunked_not_last;
}

/*
 * What must hold of any request before it is served, upgrade or not. llhttp
 * would check the framing after on_headers_complete, but that pauses it
 * first; and it lets the rest through.
 */
static int check_request(struct handshake *h, const llhttp_t *p)
{
    const struct handshake_header *host = handshake_find(h, "Host");
    unsigned nte = count_headers(h, "Transfer-Encoding");

    if (p->http_major >= 2)
        return set_error(h, 505, "HTTP version not supported");
    if (p->http_major == 0)
        return set_error(h, 400, "HTTP/0.9 request line");
    if (count_headers(h, "Host") > 1)
        return set_error(h, 400, "repeated Host header");
    if (!host && p->http_minor >= 1)
        return set_error(h, 400, "HTTP/1.1 request without Host");
    if (host && !host_valid(host->value, host->value_len))
        return set_error(h, 400, "invalid Host header");
    if (nte && p->http_minor == 0)
        return set_error(h, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (nte && ((p->flags & F_CONTENT_LENGTH) || handshake_find(h, "Content-Length")))
        return set_error(h, 400, "Transfer-Encoding with Content-Length");
    if (nte && (!te_final_chunked(h) || !(p->flags & F_CHUNKED)))
        return set_error(h, 400, "Transfer-Encoding whose final coding is not chunked");
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > h->limits.max_body_bytes)
        return set_error(h, 413, "request body over the limit");
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct handshake *h = of(p);

    h->phase = PH_DONE;

    /* The arena no longer moves: offsets become pointers. */
    publish_url(h);
    for (unsigned i = 0; i < h->nheaders; i++) {
        struct handshake_header *x = &h->headers[i];
        size_t name_off = x->name_len, value_off = x->value_len;
        x->name = h->arena + name_off;
        x->name_len = strlen(x->name);
        size_t vlen = strlen(h->arena + value_off);
        x->value = trim(h->arena + value_off, &vlen);
        x->value_len = vlen;
    }
    h->complete = true; /* for handshake_find; undone when the request is refused */
    if (check_request(h, p)) {
        h->complete = false;
        return -1;
    }
    h->http_major = p->http_major;
    h->http_minor = p->http_minor;
    h->keep_alive = llhttp_should_keep_alive(p) != 0;
    h->chunked = (p->flags & F_CHUNKED) != 0;
    h->content_length = (p->flags & F_CONTENT_LENGTH) ? p->content_length : 0;
    return HPE_PAUSED; /* stop right after the header block */
}

int handshake_init(struct handshake *h, const struct handshake_limits *limits)
{
    memset(h, 0, sizeof *h);
    h->limits.max_header_bytes = HANDSHAKE_MAX_HEADER_BYTES_DEFAULT;
    h->limits.max_headers = HANDSHAKE_MAX_HEADERS_DEFAULT;
    h->limits.max_body_bytes = HANDSHAKE_MAX_BODY_BYTES_DEFAULT;
    if (limits) {
        if (limits->max_header_bytes)
            h->limits.max_header_bytes = limits->max_header_bytes;
        if (limits->max_headers)
            h->limits.max_headers = limits->max_headers;
        if (limits->max_body_bytes)
            h->limits.max_body_bytes = limits->max_body_bytes;
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
    return 0;
}

void handshake_free(struct handshake *h)
{
    free(h->arena);
    free(h->headers);
    memset(h, 0, sizeof *h); /* no pointer into the freed arena survives */
}

/*
 * What llhttp 8.1 lets through in the raw header block, where no callback
 * sees it: a TAB in the request line ("GET /\tHTTP/1.1" is taken for an
 * HTTP/0.9 request with a TAB in the target) and obs-fold, a line starting
 * with SP or HTAB that continues the previous field (RFC 9112 5.2; a folded
 * Transfer-Encoding would hide a coding from an intermediary). Runs on the
 * bytes llhttp took, the state carried across calls.
 */
static int scan_raw(struct handshake *h, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\n') {
            /* blank lines before the request line do not end it */
            h->raw_in_headers |= h->raw_line_started;
            h->raw_bol = true;
            continue;
        }
        if (h->raw_in_headers && h->raw_bol && (c == ' ' || c == '\t'))
            return set_error(h, 400, "obs-fold: a header line starting with whitespace");
        if (!h->raw_in_headers && c == '\t')
            return set_error(h, 400, "TAB in the request line");
        h->raw_line_started |= c != '\r';
        h->raw_bol = false;
    }
    return 0;
}

/*
 * llhttp never sees more than max_header_bytes of a header block: the limit
 * also bounds what llhttp skips without a callback (blank lines before the
 * request line, whitespace around values), so it bounds work as well as memory.
 */
enum handshake_status handshake_execute(struct handshake *h, const char *data, size_t len,
                                        size_t *consumed)
{
    llhttp_errno_t err;
    size_t room = h->limits.max_header_bytes - h->fed;
    size_t n = len < room ? len : room;

    *consumed = 0;
    if (h->complete)
        return HANDSHAKE_COMPLETE;
    if (h->status)
        return HANDSHAKE_ERROR;
    err = llhttp_execute(&h->parser, data, n);
    if (err == HPE_OK) {
        h->fed += n;
        if (scan_raw(h, data, n) == 0 && h->fed < h->limits.max_header_bytes) {
            *consumed = n;
            return HANDSHAKE_NEED_MORE;
        }
        too_large(h, h->phase == PH_LINE && h->arena_len ? 414 : 431);
    } else if (err == HPE_PAUSED && h->complete) {
        size_t used = (size_t)(llhttp_get_error_pos(&h->parser) - data);
        h->complete = false;
        /*
         * llhttp 8.1 ends the header block on CR and any byte ("\r\n\r."),
         * swallowing a byte that is not the request's. on_headers_complete
         * runs right after the block's last byte, so that byte is here.
         */
        if (used && data[used - 1] == '\n') {
            if (scan_raw(h, data, used) == 0) {
                h->complete = true;
                *consumed = used;
                h->fed += used;
                return HANDSHAKE_COMPLETE;
            }
        } else {
            set_error(h, 400, "header block not ended by CRLF");
        }
    } else if (err == HPE_INVALID_VERSION && h->parser.http_major >= 2) {
        set_error(h, 505, "HTTP version not supported"); /* "HTTP/3.0": llhttp knows 0.9 to 2.0 */
    }
    if (!h->status) {
        h->status = 400;
        h->reason = llhttp_get_error_reason(&h->parser);
        if (!h->reason)
            h->reason = llhttp_errno_name(err);
    }
    publish_url(h); /* for the log */
    return HANDSHAKE_ERROR;
}

/*
 * Chunk framing -- the bytes between two pieces of body data, or after the
 * last one -- is measured by position: a segment starts where the last
 * piece of data ended (or at the body's start) and every callback in it
 * knows where it is, so the bound holds whatever the split, for bytes that
 * no callback reports too (checked at the end of each call).
 */
static int framing_check(struct handshake *h, const char *end)
{
    size_t n = h->seg_carry + (size_t)(end - h->seg_base);
    if (!h->chunked)
        return 0;
    if (h->in_trailers && n > h->limits.max_header_bytes)
        return set_error(h, 431, "trailer section too large");
    if (!h->in_trailers && n > HANDSHAKE_MAX_CHUNK_LINE_BYTES)
        return set_error(h, 413, "chunk extensions too long");
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct handshake *h = of(p);
    if (framing_check(h, at))
        return -1;
    h->seg_base = at + len;
    h->seg_carry = 0;
    h->body_cb(h->body_ctx, at, len);
    return 0;
}

static int on_chunk_extension(llhttp_t *p, const char *at, size_t len)
{
    return framing_check(of(p), at + len);
}

/* The chunk's size is known before its data: a body over the limit is refused at once. */
static int on_chunk_header(llhttp_t *p)
{
    struct handshake *h = of(p);
    if (p->content_length > h->limits.max_body_bytes - h->body_bytes)
        return set_error(h, 413, "request body over the limit");
    h->body_bytes += p->content_length;
    h->in_trailers = p->content_length == 0; /* the last chunk: trailers follow */
    return 0;
}

/* Trailer fields are ignored (not copied: the published headers point into the arena), but bounded
 * as header fields are, and their names must be tokens as header names must. */
static int on_trailer_field(llhttp_t *p, const char *at, size_t len)
{
    struct handshake *h = of(p);
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)at[i]))
            return set_error(h, 400, "invalid character in a trailer name");
    return framing_check(h, at + len);
}

static int on_trailer_field_complete(llhttp_t *p)
{
    struct handshake *h = of(p);
    if (++h->ntrailers > h->limits.max_headers)
        return set_error(h, 431, "too many trailer fields");
    return 0;
}

static int on_trailer_value(llhttp_t *p, const char *at, size_t len)
{
    return framing_check(of(p), at + len);
}

static int on_message_complete(llhttp_t *p)
{
    of(p)->body_done = true;
    return HPE_PAUSED; /* what follows is not this request's */
}

static void body_start(struct handshake *h)
{
    h->body_started = true;
    h->settings.on_header_field = on_trailer_field;
    h->settings.on_header_field_complete = on_trailer_field_complete;
    h->settings.on_header_value = on_trailer_value;
    h->settings.on_header_value_complete = NULL;
    h->settings.on_headers_complete = NULL;
    h->settings.on_chunk_extension_name = on_chunk_extension;
    h->settings.on_chunk_extension_value = on_chunk_extension;
    h->settings.on_chunk_header = on_chunk_header;
    h->settings.on_body = on_body;
    h->settings.on_message_complete = on_message_complete;
    llhttp_resume(&h->parser);
}

int handshake_body(struct handshake *h, const char *data, size_t len, size_t *consumed,
                   handshake_body_cb cb, void *ctx)
{
    llhttp_errno_t err;
    const char *end;

    *consumed = 0;
    if (!h->complete || h->body_done)
        return h->body_done ? 1 : -1;
    if (h->status)
        return -1; /* refused before */
    if (!h->body_started)
        body_start(h);
    h->body_cb = cb;
    h->body_ctx = ctx;
    h->seg_base = data;
    err = llhttp_execute(&h->parser, data, len);
    end = err == HPE_OK ? data + len : llhttp_get_error_pos(&h->parser);
    if ((err == HPE_OK || (err == HPE_PAUSED && h->body_done)) && framing_check(h, end) == 0) {
        *consumed = (size_t)(end - data);
        h->seg_carry += (size_t)(end - h->seg_base);
        return h->body_done ? 1 : 0;
    }
    h->body_done = false;
    if (!h->status) {
        h->status = 400;
        h->reason = llhttp_get_error_reason(&h->parser);
        if (!h->reason)
            h->reason = "malformed request body";
    }
    return -1;
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

/*
 * A valid key is base64 of exactly 16 bytes: 22 characters and "==".
 * EVP_DecodeBlock rejects characters outside the alphabet and whitespace
 * inside, but it skips '=' anywhere and counts padding as data (16 bytes
 * decode to 18), so the length and the places of '=' are checked here.
 * Like Go's decoder (websocketd), nonzero bits in the last character pass.
 */
static bool key_valid(const char *key, size_t len)
{
    unsigned char raw[18];
    if (len != 24 || key[22] != '=' || key[23] != '=' || memchr(key, '=', 22))
        return false;
    return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18;
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
    if (!key || count_headers(h, "Sec-WebSocket-Key") != 1 ||
        !key_valid(key->value, key->value_len))
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

int handshake_selftest(void)
{
    static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    char accept[29];

    if (handshake_accept_key(key, sizeof key - 1, accept) != 0 ||
        strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0)
        return WS_E_CRYPTO;
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

static const struct {
    int status;
    const char *text;
} status_texts[] = {
    {101, "Switching Protocols"},
    {200, "OK"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"}, /* an --authorizer's refusals: 401, 402, 407, 409, 410, 451 */
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {416, "Range Not Satisfiable"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *handshake_status_text(int status)
{
    for (size_t i = 0; i < sizeof status_texts / sizeof status_texts[0]; i++)
        if (status_texts[i].status == status)
            return status_texts[i].text;
    return "Unknown";
}

int handshake_write_error(int status, const char *extra, char *out, size_t cap)
{
    const char *text = handshake_status_text(status);
    const char *specific = status == 426   ? "Sec-WebSocket-Version: 13\r\n"
                           : status == 405 ? "Allow: GET\r\n"
                                           : "";
    char body[96] = "", length[96] = "";
    /* 1xx, 204 and 304 never have a body (RFC 9110 6.4.1) */
    if (status >= 200 && status != 204 && status != 304) {
        int blen = snprintf(body, sizeof body, "%d %s\n", status, text);
        snprintf(length, sizeof length,
                 "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n", blen);
    }
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "%s"
                     "Connection: close\r\n"
                     "%s%s\r\n%s",
                     status, text, length, specific, extra ? extra : "", body);
    if (n < 0 || (size_t)n >= cap)
        return WS_E_TOOBIG;
    return n;
}
