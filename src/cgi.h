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
 * the response.
 */
#ifndef CGI_H
#define CGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_resp;
struct route;
struct buf;

/*
 * Runs the script rt names for the request in r->s->hs (rt is taken): an http_script_fn
 * (http_serve.h). The response is then r's source (struct http_source_ops, private here):
 * request body bytes go to the script's stdin; a write completed resumes its reads; the
 * progress timeout answers 408/504 while no head was sent (else the connection closes); a
 * client EOF after the whole body is a half-close and the response goes on; release stops
 * reading the script (its handles are the session's).
 */
void cgi_start(struct http_resp *r, struct route *rt);

#endif
