/*
 * proxy: who the client is when wsbridge runs behind a reverse proxy
 * (--trust-proxy). Pure code: no libuv, no sockets, no allocation per
 * request.
 *
 * The TCP peer is the client unless it is in the trusted LIST. When it
 * is, the request's forwarding headers name the client:
 *
 *  - Forwarded (RFC 7239), when the request has one: its for= hops, left
 *    to right over every Forwarded header in order. The client is the
 *    right-most hop that is not trusted; if every hop is trusted, the
 *    left-most. A hop that is not an address ("unknown", an obfuscated
 *    "_name", a malformed element) ends the walk: the client cannot be
 *    known and the peer stands. IPv6 only as the RFC writes it, quoted
 *    and bracketed ("[2001:db8::1]:4711"); a port, if given, is taken.
 *  - otherwise X-Forwarded-For: the same walk over its comma-separated
 *    addresses (1.2.3.4, 2001:db8::1, [2001:db8::1]:80, 1.2.3.4:80).
 *
 * A peer that is not trusted gets no say: its headers are ignored here.
 * Only the headers a trusted proxy rewrites can be believed, so that
 * proxy must set or append to Forwarded when it has one to pass on, or
 * remove it (doc/nginx.conf sets it), and append to X-Forwarded-For.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROXY_ADDR_MAX 46             /* INET6_ADDRSTRLEN */
#define PROXY_UNIX_PEER "unix-socket" /* REMOTE_ADDR of a --unixsocket client */

/* One trusted network: family 4 or 6 with a prefix, or 0 for Unix-socket peers. */
struct proxy_net {
    uint8_t family;
    uint8_t bits;
    uint8_t addr[16];
};

struct proxy_trust {
    struct proxy_net *nets; /* owned */
    size_t n;
};

/*
 * Parses LIST: comma-separated entries, each an IPv4 or IPv6 address
 * (IPv6 optionally in brackets), a CIDR network (10.0.0.0/8, fd00::/8;
 * host bits are ignored), "loopback" (127.0.0.0/8 and ::1), "private"
 * (10/8, 172.16/12, 192.168/16, fc00::/7) or "unix" (clients of
 * --unixsocket). Returns 0, or -1 with a reason in err (which names the
 * entry); t is then empty. t must be released with proxy_trust_free().
 */
int proxy_trust_parse(struct proxy_trust *t, const char *list, char *err, size_t errlen);
void proxy_trust_free(struct proxy_trust *t);

/* Is addr (as the transport reports it: "1.2.3.4", "::1", "unix-socket") trusted?
 * IPv4-mapped IPv6 addresses match as IPv4. */
bool proxy_trusted(const struct proxy_trust *t, const char *addr);

/* ---------------------------------------------------------------- per request */

struct proxy_hop {
    bool valid;                /* an address (else unknown, obfuscated or malformed) */
    char addr[PROXY_ADDR_MAX]; /* canonical text (inet_ntop) */
    int port;                  /* 0 when not given */
};

/* One header kind's walk, kept in O(1): only the hops that can be the answer. */
struct proxy_chain {
    unsigned nhops;
    bool any_untrusted;
    struct proxy_hop first;     /* the left-most hop */
    struct proxy_hop untrusted; /* the right-most hop not trusted */
};

struct proxy_scan {
    const struct proxy_trust *t;
    bool peer_trusted;
    bool has_forwarded; /* a Forwarded header was seen (then X-Forwarded-For is not used) */
    struct proxy_chain fwd, xff;
};

/* Starts a request whose TCP peer is peer; t may be NULL (nothing trusted). */
void proxy_scan_init(struct proxy_scan *ps, const struct proxy_trust *t, const char *peer);
/* Feeds one request header (any header: others are ignored), in request order. */
void proxy_scan_header(struct proxy_scan *ps, const char *name, const char *value);
/*
 * The client: returns true and fills addr (addrlen >= PROXY_ADDR_MAX) and
 * port (0 when the header gave none) when the headers name it; false when
 * the peer stands (not trusted, no forwarding header, or the client hop is
 * not an address).
 */
bool proxy_scan_result(const struct proxy_scan *ps, char *addr, size_t addrlen, int *port);

#endif
