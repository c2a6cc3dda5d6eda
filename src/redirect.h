/*
 * redirect: the --redirport listener's responder.
 *
 * Each connection gets one answer, then is closed: the request is read
 * with the handshake parser (its limits, and the --handshake-timeout, or
 * 10 s, for the whole request), and answered 301 with
 * "Location: https://HOST[:PORT]/target" -- HOST from the Host header
 * without its port, PORT the server's (HTTPS) port, left out when it is
 * 443 ("http://" and 80 without --ssl), the target as requested. A request
 * without a usable Host gets 400, a malformed one the parser's status.
 * --header and --header-http lines are added to every answer. Connections
 * are listed in the server so that shutdown closes them at once.
 */
#ifndef REDIRECT_H
#define REDIRECT_H

#include <uv.h>

struct config;
struct redirect;
struct transport;

/* What the responder needs from the server that runs it: filled in once. */
struct redirect_host {
    uv_loop_t *loop;
    const struct config *cfg;
    int port;              /* the server's (HTTPS) port, 0: cfg->port */
    struct redirect *open; /* the open connections (redirect.c's list) */
};

/* Answers one accepted connection (its transport is the responder's from here). */
void redirect_accept(struct redirect_host *h, struct transport *t);

/* Shutdown: closes every redirect connection now. */
void redirect_close_all(struct redirect_host *h);

#endif
