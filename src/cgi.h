/*
 * cgi: --cgidir, CGI/1.1 (RFC 3875) for plain HTTP requests.
 *
 * The script runs as the session's child (child.h: its own process group,
 * the kill ladder, counted in --maxforks), with the bridge's environment
 * hygiene plus REQUEST_METHOD, SCRIPT_NAME (its URL), PATH_INFO,
 * SCRIPT_FILENAME, CONTENT_LENGTH and CONTENT_TYPE. The request body
 * (Content-Length or chunked, decoded by llhttp) is streamed to its stdin
 * with backpressure (socket reads stop while 256 KiB wait for the script);
 * a chunked body gives an empty CONTENT_LENGTH and EOF at its end.
 *
 * Its stdout starts with a header block (httpmsg.h: Status, Location,
 * Content-Type, others passed on; 16 KiB at most): a broken or missing
 * block is 502. The body is streamed as it is read (no buffering of the
 * whole response; stdout reads stop while 256 KiB wait for the client),
 * delimited by the script's Content-Length or by closing the connection.
 * stderr lines are logged. A script that makes no progress for
 * --cgi-timeout ms is stopped: 504 when its headers were not out yet, the
 * connection closed otherwise. The request body must also be whole within
 * --cgi-timeout ms of the request's start, however steadily it trickles:
 * else the script is stopped, 408 when its headers were not out yet, the
 * connection closed otherwise (the --maxforks slot is released with the
 * session). A client that half-closes (EOF) after a whole body still gets
 * the response (cgi_peer_eof).
 */
#ifndef CGI_H
#define CGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_resp;
struct route;
struct buf;

/* Runs the script rt names for the request in r->s->hs (rt is taken). */
void cgi_start(struct http_resp *r, struct route *rt);
/* Request body bytes read from the socket. */
void cgi_body(struct http_resp *r, struct buf *b, uint8_t *data, size_t len);
/* A response write completed: reads may resume, the response may be complete. */
void cgi_written(struct http_resp *r);
/* The progress timeout fired: true when it was handled here (a 408 or a 504 is being sent, or
 * the connection is closing); false: the caller closes the connection. */
bool cgi_timeout(struct http_resp *r);
/* The socket said EOF while r (a CGI response) runs. true: the request body was whole, so the
 * client only half-closed: the response goes on (the script's stdin ends after the body) and
 * the caller must not end the session; false: the caller ends it as for a client that left. */
bool cgi_peer_eof(struct http_resp *r);
/* The response is freed: stop reading the script (its handles are the session's). */
void cgi_release(struct http_resp *r);

#endif
