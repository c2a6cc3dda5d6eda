/*
 * handshake: an HTTP/1.1 request on llhttp -> the WebSocket upgrade
 * decision (RFC 6455 §4.2), sans I/O.
 *
 * Feed the bytes of a connection as they arrive; the request line and the
 * header block may be split anywhere. When the header block is complete,
 * handshake_execute() says how many bytes belonged to the request: the rest
 * of the buffer (pipelined WebSocket frames, or a request body) is the
 * caller's. Header names and values are copied into one arena bounded by
 * limits.max_header_bytes, so a handshake costs memory only while it runs:
 * free it once the connection is upgraded.
 *
 * Failures carry the HTTP status to answer and a reason for the log:
 *   400  malformed request (llhttp's reason; also what llhttp 8.1 lets
 *        through: a field name that is empty or not a token, a header
 *        block not ended by LF, a TAB in the request line, obs-fold -- a
 *        header line starting with SP or HTAB), an HTTP/0.9 request line
 *        ("GET /", no version), an HTTP/1.1 request without Host, two Host
 *        fields, a Host that is not uri-host[:port] (RFC 3986 reg-name,
 *        IPv4 or [IPv6], port of at most 5 digits up to 65535),
 *        Transfer-Encoding in an HTTP/1.0 request, Transfer-Encoding with
 *        Content-Length, Transfer-Encoding whose final coding is not
 *        "chunked" or that names chunked twice (RFC 9112 6.3: the body's
 *        length is unknown, so the connection must close);
 *        from handshake_check: HTTP/1.0 or older,
 *        missing or bad Sec-WebSocket-Key (must decode to 16 bytes),
 *        missing or repeated Sec-WebSocket-Version, Upgrade without
 *        Connection: Upgrade
 *   405  an upgrade with a method other than GET (with Allow: GET)
 *   413  Content-Length over limits.max_body_bytes (so a body the server
 *        would refuse never reaches a script)
 *   426  a Sec-WebSocket-Version other than 13 (with Sec-WebSocket-Version: 13)
 *   431  header block over max_header_bytes or more than max_headers fields
 *   414  request line over max_header_bytes (once the target began)
 *   505  HTTP version with a major of 2 or more ("HTTP/2.0", "HTTP/3.0")
 *   500  out of memory
 * max_header_bytes bounds the raw header block (request line, fields, line
 * ends, blank lines before the request), so it bounds work as well as memory.
 * Upgrade and Connection are token lists, compared case-insensitively
 * ("Connection: keep-alive, Upgrade" is an upgrade). A TAB inside a field
 * value, or around it, is allowed (RFC 9110 5.5, OWS).
 */
#ifndef HANDSHAKE_H
#define HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#define HANDSHAKE_MAX_HEADER_BYTES_DEFAULT 16384u
#define HANDSHAKE_MAX_HEADERS_DEFAULT 100u
#define HANDSHAKE_MAX_BODY_BYTES_DEFAULT (1ull << 30) /* 1 GiB */
/*
 * The most raw bytes between two pieces of chunked body data: the CRLF that
 * ends a chunk, the chunk-size line with its extensions, its CRLF. Over it:
 * 413, as Node's llhttp does for chunk extensions -- the request is refused
 * for its size, not its syntax; nobody needs kilobytes of extensions.
 */
#define HANDSHAKE_MAX_CHUNK_LINE_BYTES 4096u

struct handshake_limits {
    size_t max_header_bytes; /* request line + all header names and values;
                                also the trailer section of a chunked body */
    unsigned max_headers;    /* header fields; also trailer fields */
    uint64_t max_body_bytes; /* request body: Content-Length, or the chunk sizes added up */
};

/* A piece of a request body (handshake_body). */
typedef void (*handshake_body_cb)(void *ctx, const char *data, size_t len);

struct handshake_header {
    const char *name; /* NUL-terminated, as received (case preserved) */
    size_t name_len;
    const char *value; /* NUL-terminated, surrounding whitespace trimmed */
    size_t value_len;
};

enum handshake_status {
    HANDSHAKE_NEED_MORE = 0, /* header block not complete: feed more */
    HANDSHAKE_COMPLETE = 1,  /* header block complete: see handshake_check() */
    HANDSHAKE_ERROR = 2,     /* answer h->status (h->reason says why) and close */
};

struct handshake {
    /*
     * public, read-only, valid once COMPLETE; on ERROR method, url, path
     * and query are set when the request target was complete, else NULL.
     */
    int status;         /* 0, or the HTTP status of the failure */
    const char *reason; /* static string, for the log */
    const char *method; /* "GET", ... */
    const char *url;    /* request target, raw (NUL-terminated) */
    size_t url_len;
    const char *path; /* url up to '?', raw (not percent-decoded) */
    size_t path_len;
    const char *query; /* after '?', raw, "" when none */
    size_t query_len;
    uint8_t http_major, http_minor;
    bool keep_alive;         /* llhttp_should_keep_alive() for plain HTTP */
    uint64_t content_length; /* 0 when absent */
    bool chunked;
    struct handshake_header *headers;
    unsigned nheaders;

    /* private */
    llhttp_t parser;
    llhttp_settings_t settings;
    struct handshake_limits limits;
    char *arena;
    size_t arena_len, arena_cap;
    unsigned headers_cap;
    uint8_t phase;
    bool complete;
    size_t field_off, value_off; /* offsets into arena while parsing */
    size_t fed;                  /* bytes of the header block given to llhttp */
    /* raw scan of the header block: at a line's start, past blank lines, past the request line */
    bool raw_bol, raw_line_started, raw_in_headers;
    bool body_started, body_done, in_trailers;
    uint64_t body_bytes;  /* chunk sizes so far */
    const char *seg_base; /* where the framing bytes since the last body data begin ... */
    size_t seg_carry;     /* ... in this call, and how many came in earlier calls */
    unsigned ntrailers;
    handshake_body_cb body_cb;
    void *body_ctx;
};

/*
 * limits may be NULL for the defaults (a zero member: its default too).
 * h must stay at its address until handshake_free (llhttp points into it).
 * Returns 0 or WS_E_NOMEM.
 */
int handshake_init(struct handshake *h, const struct handshake_limits *limits);
/* Frees the arena and zeroes h (every pointer it gave out dies); h may be
 * re-initialised. Safe on a zeroed struct. */
void handshake_free(struct handshake *h);

/*
 * Feeds len bytes. *consumed receives how many belong to the request's
 * header block (all of them on NEED_MORE). After COMPLETE or ERROR, further
 * calls return the same result and consume nothing.
 */
enum handshake_status handshake_execute(struct handshake *h, const char *data, size_t len,
                                        size_t *consumed);

/*
 * After COMPLETE, for a request with a body (content_length > 0 or
 * chunked): decodes the body that follows the header block with llhttp
 * (chunk sizes, extensions and trailers are consumed; trailer fields are
 * ignored). cb receives each piece of the body. Returns 0 when more is
 * needed (all of data consumed), 1 when the body is complete (*consumed:
 * the bytes that belonged to it), -1 when it is refused; then h->status
 * says what to answer and h->reason why:
 *   400  malformed (llhttp's reason, or a trailer field name not a token)
 *   413  the chunk sizes add up to more than max_body_bytes (said as soon
 *        as the chunk's size line arrives), or more than
 *        HANDSHAKE_MAX_CHUNK_LINE_BYTES of chunk framing between two pieces
 *        of data (chunk extensions)
 *   431  a trailer section over max_header_bytes (counted from the last
 *        chunk's size line) or more than max_headers trailer fields
 * -1 is sticky. Bytes after a complete body are not consumed.
 */
int handshake_body(struct handshake *h, const char *data, size_t len, size_t *consumed,
                   handshake_body_cb cb, void *ctx);

/* After COMPLETE: does the request ask for a WebSocket (Upgrade: websocket)? */
bool handshake_wants_websocket(const struct handshake *h);

/*
 * After COMPLETE: validates the upgrade (RFC 6455 §4.2.1). Returns 0 when
 * the request is a valid WebSocket handshake, else the HTTP status (400,
 * 405, 426) with h->status and h->reason set.
 */
int handshake_check(struct handshake *h);

/* First header named name (case-insensitive), or NULL. */
const struct handshake_header *handshake_find(const struct handshake *h, const char *name);

/* Sec-WebSocket-Accept for key: base64(SHA-1(key + GUID)), 28 chars + NUL. 0 or WS_E_CRYPTO. */
int handshake_accept_key(const char *key, size_t key_len, char out[29]);

/* Computes RFC 6455's example (section 1.3) and compares: 0, or WS_E_CRYPTO when libcrypto
 * cannot. Run once at start (main): a libcrypto without SHA-1 fails there rather than at the
 * first client, and OpenSSL's lazy initialisation (its configuration and default provider: about
 * 3 ms and 2 MiB of pages touched) is paid once before --workers fork, not by the first
 * client's handshake in each worker. */
int handshake_selftest(void);

/*
 * Writes the 101 Switching Protocols response for a checked request into
 * out. extra: more header lines, each ending in "\r\n" (may be NULL).
 * Returns the length, or WS_E_TOOBIG when cap is too small.
 */
int handshake_write_101(const struct handshake *h, const char *extra, char *out, size_t cap);

/*
 * Writes a complete error response (status line, Content-Type: text/plain,
 * Content-Length, Connection: close, the headers each status requires
 * -- Sec-WebSocket-Version: 13 for 426, Allow: GET for 405 -- then extra,
 * then a one-line body naming the status). Returns the length or WS_E_TOOBIG.
 */
int handshake_write_error(int status, const char *extra, char *out, size_t cap);

/* "Bad Request" for 400 etc.; "Unknown" for others. */
const char *handshake_status_text(int status);

#endif
