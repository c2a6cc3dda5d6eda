/*
 * Fuzz target: --trust-proxy lists and the forwarding headers (proxy.h).
 * The first byte is control: bit 0 picks the trusted list. The rest is
 * split at '\n' into segments, each copied into a buffer of its exact
 * length plus the NUL: "F..." is a Forwarded header value, "X..." an
 * X-Forwarded-For value, "L..." a trusted list to parse, anything else a
 * header of another name.
 *
 * Invariants: a list either parses to at least one network or fails with a
 * reason; a result is an address inet_pton takes, with a port 0-65535; an
 * untrusted peer never gets a result; the same headers give the same
 * result twice; and whatever a client put before it, a proxy's own last
 * hop ("for=203.0.113.9:7" as a separate header, and 203.0.113.9 at the
 * end of X-Forwarded-For) is the answer: nothing before it can spoof it.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEGMENTS 16

struct seg {
    char *s;
};

static void run(const struct proxy_trust *t, const char *peer, struct seg *segs, int n,
                bool proxy_hop, bool *got, char *addr, int *port)
{
    struct proxy_scan ps;

    proxy_scan_init(&ps, t, peer);
    for (int i = 0; i < n; i++) {
        const char *v = segs[i].s + 1;
        switch (segs[i].s[0]) {
        case 'F':
            proxy_scan_header(&ps, "Forwarded", v);
            break;
        case 'X':
            proxy_scan_header(&ps, "x-forwarded-for", v);
            break;
        default:
            proxy_scan_header(&ps, "X-Other", v);
            break;
        }
    }
    if (proxy_hop) {
        proxy_scan_header(&ps, "Forwarded", "for=\"203.0.113.9:7\"");
        proxy_scan_header(&ps, "X-Forwarded-For", "203.0.113.9");
    }
    *port = -1;
    *got = proxy_scan_result(&ps, addr, PROXY_ADDR_MAX, port);
    if (*got) {
        uint8_t b[16];
        if (strlen(addr) >= PROXY_ADDR_MAX || *port < 0 || *port > 65535 ||
            (inet_pton(AF_INET, addr, b) != 1 && inet_pton(AF_INET6, addr, b) != 1))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const lists[] = {"127.0.0.0/8,::1,10.0.0.0/8", "loopback,private,unix"};
    struct proxy_trust t;
    struct seg segs[MAX_SEGMENTS];
    int n = 0;
    char err[160], a1[PROXY_ADDR_MAX], a2[PROXY_ADDR_MAX];
    int p1, p2;
    bool g1, g2;

    if (size < 1)
        return 0;
    if (proxy_trust_parse(&t, lists[data[0] & 1], err, sizeof err) != 0)
        abort();
    for (size_t off = 1; off < size && n < MAX_SEGMENTS;) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
        char *s = malloc(len + 2);
        if (!s)
            break;
        memcpy(s, data + off, len);
        s[len] = '\0';
        if (len == 0) { /* an empty segment: a header of another name, empty */
            s[0] = '-';
            s[1] = '\0';
        }
        if (s[0] == 'L') {
            struct proxy_trust l;
            err[0] = '\0';
            if (proxy_trust_parse(&l, s + 1, err, sizeof err) == 0) {
                if (l.n == 0)
                    abort();
                proxy_trusted(&l, "10.0.0.1");
                proxy_trusted(&l, s + 1);
                proxy_trust_free(&l);
            } else if (err[0] == '\0' || l.n != 0) {
                abort();
            }
            free(s);
        } else {
            segs[n++].s = s;
        }
        off += len + 1;
    }

    run(&t, "198.51.100.1", segs, n, false, &g1, a1, &p1);
    if (g1)
        abort(); /* not trusted: no say */
    run(&t, "127.0.0.1", segs, n, false, &g1, a1, &p1);
    run(&t, "127.0.0.1", segs, n, false, &g2, a2, &p2);
    if (g1 != g2 || (g1 && (strcmp(a1, a2) != 0 || p1 != p2)))
        abort();
    run(&t, "::ffff:127.0.0.1", segs, n, true, &g1, a1, &p1);
    if (!g1 || strcmp(a1, "203.0.113.9") != 0 || (p1 != 7 && p1 != 0))
        abort();

    for (int i = 0; i < n; i++)
        free(segs[i].s);
    proxy_trust_free(&t);
    return 0;
}
