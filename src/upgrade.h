/*
 * upgrade: the decision on a WebSocket upgrade request, sans I/O.
 *
 * A request that handshake_check() accepted, and the server's policy, go
 * in; a verdict comes out: 101 with the exact response bytes to send once
 * the program runs, or the HTTP status that refuses it and why. Nothing
 * here touches a socket, the file system or a process: what needs those
 * (the --dir route, the --maxforks count, the spawn) is the caller's, and
 * comes after a 101 verdict. A negotiated feature (a subprotocol, an
 * extension, an authorizer's answer) is decided here and shows in the
 * verdict and its response.
 *
 * The origin policy (websocketd's --origin and --sameorigin):
 *   - no --origin and no --sameorigin: any Origin, or none;
 *   - otherwise a request without Origin, with an empty one or "null" is
 *     refused (403);
 *   - --sameorigin: the Origin's host[:port] must equal the Host header
 *     (case-insensitive);
 *   - --origin entries: "host", "host:port" or "scheme://host[:port]"; an
 *     entry without a scheme matches http and https origins; an entry
 *     without a port matches any port, and an origin without a port has
 *     its scheme's (80, 443). Both policies must pass when both are set.
 *
 * Subprotocols (--subprotocol, RFC 6455 1.9 and 11.3.4): the client offers
 * names in Sec-WebSocket-Protocol (one header or several, comma-separated);
 * the server's list is in its order of preference and the first of its
 * names that the client offers is chosen (case-sensitive, as the RFC's
 * registry names are): the server knows which version of its own protocol
 * it prefers, and a browser's order is whatever the page's author wrote.
 * The chosen name is echoed in the 101 (Sec-WebSocket-Protocol) and in the
 * verdict. None in common (or nothing offered): the 101 goes without the
 * header (the client then decides), or, with subprotocol_required, 400.
 * Without a server list nothing is echoed, whatever is offered (websocketd).
 *
 * An --authorizer's answer is decided before (authz_answer.h); the lines it
 * adds to an allowed upgrade (headers_authz) follow --header and
 * --header-ws in the 101.
 */
#ifndef UPGRADE_H
#define UPGRADE_H

#include <stdbool.h>
#include <stddef.h>

#include "pmd.h"

struct handshake;

struct upgrade_policy {
    const char *const *origins;       /* --origin entries, NULL-terminated; NULL: any origin */
    bool sameorigin;                  /* --sameorigin */
    const char *const *headers;       /* "Name: value" lines for every response, or NULL */
    const char *const *headers_ws;    /* ... for the 101 only, or NULL */
    const struct pmd_policy *deflate; /* permessage-deflate (pmd.h), or NULL: never */

    const char *const *subprotocols; /* --subprotocol, preference order, NULL-terminated; or NULL */
    bool subprotocol_required;       /* --subprotocol-required: none in common is a 400 */

    const char *const *headers_authz; /* the --authorizer's "Name: value" lines, or NULL */
};

struct upgrade_verdict {
    int status;         /* 101, or the HTTP status that refuses the upgrade */
    const char *reason; /* static; why it was refused ("" for 101), for the log */
    char *response;     /* 101 only: the whole response (malloc'd; upgrade_verdict_free) */
    size_t response_len;
    /* 101 only: permessage-deflate was agreed (the response carries its
     * Sec-WebSocket-Extensions line), with these parameters */
    bool deflate;
    struct pmd_params pmd;
    char extensions[PMD_RESPONSE_MAX]; /* the agreed extension, as in the response ("" if none) */
    const char *subprotocol; /* 101: the name chosen (one of p->subprotocols' strings), or NULL */
};

/*
 * Decides on hs (complete, and accepted by handshake_check(); it is only
 * read). Returns 0 with *v filled, or a WS_E_* code with nothing allocated
 * (WS_E_NOMEM; WS_E_STATE for a request handshake_check() did not accept).
 */
int upgrade_decide(const struct upgrade_policy *p, const struct handshake *hs,
                   struct upgrade_verdict *v);
/* Frees the response; v may be reused. Safe on a zeroed verdict. */
void upgrade_verdict_free(struct upgrade_verdict *v);

/* The first of server's names (NULL-terminated, or NULL) that hs offers, or NULL. */
const char *upgrade_subprotocol_select(const char *const *server, const struct handshake *hs);

/* One --origin entry against an Origin header's value (the rules above). */
bool upgrade_origin_matches(const char *origin, const char *entry);

/* The lines of a and then b (each NULL-terminated, or NULL) as "Line\r\n"..., malloc'd;
 * NULL when there are none or out of memory. */
char *upgrade_header_lines(const char *const *a, const char *const *b);

#endif
