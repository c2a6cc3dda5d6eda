/*
 * httpmsg: the sans-I/O pieces of plain HTTP serving -- content types,
 * HTTP dates, Range headers, and the CGI script's header block (RFC 3875
 * §6). No libuv, no descriptors: unit-tested and fuzzed on bytes.
 */
#ifndef HTTPMSG_H
#define HTTPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Content-Type for a file name by its extension (case-insensitive);
 * "application/octet-stream" when unknown. Text types carry charset=utf-8. */
const char *http_mime_type(const char *name);

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
/* IMF-fixdate (RFC 9110 §5.6.7) into out (HTTP_DATE_LEN + 1 bytes). */
void http_date(time_t t, char out[HTTP_DATE_LEN + 1]);
/* Parses IMF-fixdate, and the obsolete RFC 850 and asctime forms a
 * recipient must accept. false when it is none of them. */
bool http_date_parse(const char *s, size_t len, time_t *out);

enum http_range {
    HTTP_RANGE_NONE,          /* no usable range: serve the whole file (200) */
    HTTP_RANGE_OK,            /* one satisfiable range: 206 [*first, *last] */
    HTTP_RANGE_UNSATISFIABLE, /* 416 with Content-Range: bytes * / size */
};
/*
 * A Range header value against a representation of size bytes. One
 * "bytes=" range is served (a-b, a-, -n); several ranges, another unit or a
 * malformed value are ignored (RFC 9110 §14.2 lets a server do so), which
 * means a full 200.
 */
enum http_range http_range_parse(const char *value, size_t len, uint64_t size, uint64_t *first,
                                 uint64_t *last);

/* ---------------------------------------------------------------- CGI response head */

#define CGI_HEAD_MAX 16384u /* the script's header block, bytes */

enum cgi_head_state {
    CGI_HEAD_MORE,     /* feed more */
    CGI_HEAD_DONE,     /* the header block is complete */
    CGI_HEAD_ERROR,    /* malformed or too large: 502 */
};

struct cgi_head {
    /* public, valid once DONE */
    int status;               /* from Status:, or 302 with a Location and no Status, else 200 */
    const char *reason;       /* Status: reason phrase (in the arena), or NULL */
    bool has_content_type;
    bool has_location;
    bool has_length;          /* the script sent Content-Length */
    bool no_body;             /* 204 or 304: nothing may follow the head (RFC 9112 6.3) */
    uint64_t content_length;
    char *out;                /* the header lines to send on, each "Name: value\r\n" */
    size_t out_len;
    const char *why;          /* on ERROR, for the log */

    /* private */
    bool has_status;
    char buf[CGI_HEAD_MAX];
    size_t len;
    size_t scanned;
    enum cgi_head_state state;
};

void cgi_head_init(struct cgi_head *h);
/*
 * Feeds script output. *consumed: bytes that belonged to the header block
 * (all of len on MORE); the rest is body. Lines end in LF or CRLF. A header
 * line is "Name: value" with a token name; Status: must be "NNN reason"
 * with NNN in 200-599 (or 1xx-less: 100-199 are refused). Content-Type is
 * required unless a Location or a Status with no body is given, as RFC
 * 3875 §6.2 says. Connection, Transfer-Encoding and Keep-Alive from the
 * script are dropped (the server owns the framing).
 */
enum cgi_head_state cgi_head_feed(struct cgi_head *h, const char *data, size_t len,
                                  size_t *consumed);
/* Releases h->out. */
void cgi_head_free(struct cgi_head *h);

#endif
