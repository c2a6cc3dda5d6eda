/*
 * http_serve: plain HTTP requests (not upgrades) on a session -- the dev
 * console, static files (--staticdir), and the responses of sources it
 * does not know by name (struct http_source_ops: CGI scripts, --cgidir,
 * started through the http_script_fn the layer above passes).
 *
 * Order: --devconsole answers every GET/HEAD; else a path that names a
 * script under --cgidir runs it; else --staticdir serves the file; else
 * 404. A file under --cgidir is never served as a static file, whatever
 * the URL (its source stays private). Every path goes through route.h.
 *
 * Static files: GET and HEAD (others 405); a directory URL without its
 * trailing '/' is 301 to it, with one its index.html (never a listing);
 * Content-Type from the extension; Last-Modified and a strong ETag, with
 * If-None-Match / If-Modified-Since giving 304; one Range gives 206 (416
 * when unsatisfiable; If-Range honoured). Files are read in 64 KiB pool
 * buffers, at most two in flight, so a large file costs 128 KiB, not its
 * size. Responses keep the connection alive when the request allows it
 * (HTTP/1.1, or HTTP/1.0 with keep-alive) and had no body; the next request
 * is then read (pipelined bytes first). A peer that stops reading a
 * response for HTTP_SEND_TIMEOUT_MS is dropped. Each response has an
 * access line.
 */
#ifndef HTTP_SERVE_H
#define HTTP_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_SEND_TIMEOUT_MS 60000u
#define HTTP_MAX_KEEPALIVE_REQUESTS 1000u /* then Connection: close */

struct session;
struct buf;

/* ---------------------------------------------------------------- for cgi.c */

#include <uv.h>

struct http_resp;
struct route;

/*
 * A response made by a source other than http_serve's own (static files, the console): a CGI
 * script. http_serve tells it what happens to the response through these and never names it;
 * the source sets r->source and r->source_data when it starts. Every op is required.
 */
struct http_source_ops {
    /* Bytes read from the socket while the response runs (the request body, or what follows
     * it); data lies in b, a reference is the source's to take. */
    void (*body)(struct http_resp *r, struct buf *b, uint8_t *data, size_t len);
    /* A write of r completed: reads may resume, the response may be complete. */
    void (*written)(struct http_resp *r);
    /* The progress timer fired: true when handled (an error answer is on its way, or the
     * connection closes); false: the connection is closed for it. */
    bool (*timeout)(struct http_resp *r);
    /* The client said EOF: true when the response goes on (a half-close after the request). */
    bool (*peer_eof)(struct http_resp *r);
    /* r is being freed: let go of r->source_data. */
    void (*release)(struct http_resp *r);
};

/* Starts the response to a request for the script rt names (a ROUTE_FILE of --cgidir; rt is
 * taken): the layer above gives it to http_serve(), so that http_serve names no source. */
typedef void (*http_script_fn)(struct http_resp *r, struct route *rt);

/* The response in progress (s->resp). */
struct http_resp {
    struct session *s;                    /* NULL once the session let go of it */
    const struct http_source_ops *source; /* a response made by a source (CGI), or NULL */
    void *source_data;                    /* the source's */
    int fd;                               /* the static file being sent, or -1 */
    uint64_t off, remaining;              /* file bytes still to read and send */
    unsigned inflight;                    /* writes not yet completed */
    int status;
    uint64_t body_bytes, started_ms;
    unsigned timeout_ms; /* no progress for this long: the response is given up */
    char method[16];
    bool get_or_head, head_only, http10;
    bool keep_alive; /* the connection may carry another request after this one */
    bool finished;   /* everything is queued: no more writes will be started */
    bool failed;     /* a write or read failed: the connection ends after this */
};

/* Queues head (malloc'd, taken) then data (in buf, a reference taken) on the connection; done
 * writes call r->source->written(). 0 or a UV error (both released). */
int http_resp_write(struct http_resp *r, char *head, size_t head_len, struct buf *buf,
                    const uint8_t *data, size_t len);
/* The response head (status line, Server, Date, fields, Connection, extra headers); sets
 * r->status. malloc'd, or NULL. */
char *http_resp_head(struct http_resp *r, int status, const char *reason, const char *fields,
                     size_t *len);
/* A short text/plain status page as the whole response. */
void http_reply_status(struct http_resp *r, int status, const char *fields);
/* Everything is sent: the access line, then the next request or the end. Frees r. */
void http_resp_done(struct http_resp *r);
/* The session's SESSION_T_SEND timer fired. */
void http_serve_timeout(struct session *s);
/* The socket said EOF during the response: true when it goes on all the same (a CGI response
 * whose request was whole: the client only half-closed); false: the client is gone. */
bool http_serve_peer_eof(struct session *s);

/* The request in s->hs is complete and not an upgrade; rest: the bytes behind its header block,
 * in owner (a reference is taken when they are kept). Reads are stopped; the response restarts
 * them or ends the connection. run_script: what answers a --cgidir script (NULL: none). */
void http_serve(struct session *s, struct buf *owner, uint8_t *rest, size_t rest_len,
                http_script_fn run_script);

/* Bytes read while a response runs (a CGI request body, or what follows it). */
void http_serve_body(struct session *s, struct buf *b, uint8_t *data, size_t len);

/* The session ends: release the response state (files, CGI buffers). */
void http_serve_release(struct session *s);

#endif
