/*
 * proxy: --trust-proxy and the forwarding headers (see proxy.h).
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- addresses */

struct ip {
    uint8_t family; /* 4 or 6 */
    uint8_t b[16];
};

/* A bare IPv4 or IPv6 address of exactly len bytes; IPv4-mapped IPv6 becomes IPv4. */
static bool ip_parse(const char *s, size_t len, struct ip *ip)
{
    char buf[PROXY_ADDR_MAX];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, ip->b) == 1) {
        ip->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, buf, ip->b) == 1) {
        ip->family = 6;
        if (memcmp(ip->b, mapped, 12) == 0) {
            memmove(ip->b, ip->b + 12, 4);
            ip->family = 4;
        }
        return true;
    }
    return false;
}

static bool net_match(const struct proxy_net *n, const struct ip *ip)
{
    unsigned full = n->bits / 8u, rest = n->bits % 8u;

    if (n->family != ip->family)
        return false;
    if (memcmp(n->addr, ip->b, full) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xFFu << (8u - rest));
        if ((n->addr[full] & mask) != (ip->b[full] & mask))
            return false;
    }
    return true;
}

static bool ip_trusted(const struct proxy_trust *t, const struct ip *ip)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (net_match(&t->nets[i], ip))
            return true;
    return false;
}

bool proxy_trusted(const struct proxy_trust *t, const char *addr)
{
    struct ip ip;

    if (!t || !addr)
        return false;
    if (strcmp(addr, PROXY_UNIX_PEER) == 0) {
        for (size_t i = 0; i < t->n; i++)
            if (t->nets[i].family == 0)
                return true;
        return false;
    }
    return ip_parse(addr, strlen(addr), &ip) && ip_trusted(t, &ip);
}

/* ---------------------------------------------------------------- the trusted list */

static int add_net(struct proxy_trust *t, size_t *cap, uint8_t family, const uint8_t *addr,
                   unsigned bits)
{
    struct proxy_net *n;

    if (t->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        n = realloc(t->nets, nc * sizeof *n);
        if (!n)
            return -1;
        t->nets = n;
        *cap = nc;
    }
    n = &t->nets[t->n++];
    memset(n, 0, sizeof *n);
    n->family = family;
    n->bits = (uint8_t)bits;
    if (addr) {
        /* host bits are cleared, so 10.1.2.3/8 is 10.0.0.0/8 */
        memcpy(n->addr, addr, family == 4 ? 4 : 16);
        for (unsigned i = bits; i < (family == 4 ? 32u : 128u); i++)
            n->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    }
    return 0;
}

static int add_named(struct proxy_trust *t, size_t *cap, const char *name, size_t len)
{
    static const struct {
        const char *group;
        const char *addr;
        unsigned bits;
    } named[] = {
        {"loopback", "127.0.0.0", 8},  {"loopback", "::1", 128},       {"private", "10.0.0.0", 8},
        {"private", "172.16.0.0", 12}, {"private", "192.168.0.0", 16}, {"private", "fc00::", 7},
    };
    bool found = false;

    if (len == 4 && strncasecmp(name, "unix", 4) == 0)
        return add_net(t, cap, 0, NULL, 0);
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        struct ip ip;
        if (strlen(named[i].group) != len || strncasecmp(name, named[i].group, len) != 0)
            continue;
        found = true;
        if (!ip_parse(named[i].addr, strlen(named[i].addr), &ip) ||
            add_net(t, cap, ip.family, ip.b, named[i].bits))
            return -1;
    }
    return found ? 0 : 1;
}

/* One entry: a name, an address or a network. 0, 1 (bad entry), -1 (out of memory). */
static int add_entry(struct proxy_trust *t, size_t *cap, const char *e, size_t len)
{
    const char *slash = memchr(e, '/', len);
    size_t alen = slash ? (size_t)(slash - e) : len;
    unsigned bits;
    struct ip ip;
    int r = add_named(t, cap, e, len);

    if (r <= 0)
        return r;
    if (alen >= 2 && e[0] == '[' && e[alen - 1] == ']') {
        if (!ip_parse(e + 1, alen - 2, &ip) || ip.family != 6 || memchr(e + 1, '.', alen - 2))
            return 1; /* brackets hold IPv6 (and not an IPv4-mapped one) */
    } else if (!ip_parse(e, alen, &ip)) {
        return 1;
    } else if (ip.family == 4 && memchr(e, ':', alen)) {
        return 1; /* ::ffff:1.2.3.4/N would be ambiguous about N */
    }
    bits = ip.family == 4 ? 32u : 128u;
    if (slash) {
        const char *p = slash + 1, *end = e + len;
        unsigned v = 0;
        if (p == end || end - p > 3)
            return 1;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return 1;
            v = v * 10u + (unsigned)(*p - '0');
        }
        if (v > bits)
            return 1;
        bits = v;
    }
    return add_net(t, cap, ip.family, ip.b, bits) ? -1 : 0;
}

int proxy_trust_parse(struct proxy_trust *t, const char *list, char *err, size_t errlen)
{
    size_t cap = 0;
    const char *p = list ? list : "";

    t->nets = NULL;
    t->n = 0;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *e = p;
        while (len && (*e == ' ' || *e == '\t')) {
            e++;
            len--;
        }
        while (len && (e[len - 1] == ' ' || e[len - 1] == '\t'))
            len--;
        if (len) {
            int r = add_entry(t, &cap, e, len);
            if (r) {
                if (r < 0)
                    snprintf(err, errlen, "out of memory");
                else
                    snprintf(err, errlen,
                             "'%.*s' is not an address, a network (ADDR/BITS), loopback, private "
                             "or unix",
                             (int)(len > 64 ? 64 : len), e);
                proxy_trust_free(t);
                return -1;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (t->n == 0) {
        snprintf(err, errlen, "the list is empty");
        return -1;
    }
    return 0;
}

void proxy_trust_free(struct proxy_trust *t)
{
    free(t->nets);
    t->nets = NULL;
    t->n = 0;
}

/* ---------------------------------------------------------------- hops */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A port: 1-5 digits, at most 65535; "_obfuscated" counts as no port (0). */
static bool port_parse(const char *s, size_t len, int *port)
{
    unsigned v = 0;

    if (len >= 2 && s[0] == '_') {
        *port = 0;
        return true;
    }
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *port = (int)v;
    return true;
}

/*
 * A node: IPv4[:port] or [IPv6][:port]; bare_v6 also allows IPv6 without
 * brackets (X-Forwarded-For writes it so). Anything else is not an address.
 */
static void node_parse(const char *s, size_t len, bool bare_v6, struct proxy_hop *hop,
                       struct ip *ip)
{
    const char *host = s, *colon;
    size_t hlen = len;
    int port = 0;

    hop->valid = false;
    hop->port = 0;
    hop->addr[0] = '\0';
    if (len && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return;
        host = s + 1;
        hlen = (size_t)(close - host);
        size_t after = len - (size_t)(close + 1 - s);
        if (after && (close[1] != ':' || !port_parse(close + 2, after - 1, &port)))
            return;
        if (!ip_parse(host, hlen, ip) || !memchr(host, ':', hlen))
            return; /* brackets hold IPv6 */
    } else if ((colon = memchr(s, ':', len)) != NULL &&
               memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL) {
        /* one colon: IPv4:port */
        hlen = (size_t)(colon - s);
        if (!port_parse(colon + 1, len - hlen - 1, &port) || !ip_parse(host, hlen, ip) ||
            ip->family != 4 || memchr(host, ':', hlen))
            return;
    } else if (colon) {
        if (!bare_v6 || !ip_parse(host, hlen, ip))
            return;
    } else if (!ip_parse(host, hlen, ip)) {
        return;
    }
    if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->b, hop->addr, sizeof hop->addr))
        return;
    hop->valid = true;
    hop->port = port;
}

/* One hop, left to right: remember the left-most, and the right-most one not trusted. */
static void chain_add(const struct proxy_scan *ps, struct proxy_chain *c,
                      const struct proxy_hop *hop, const struct ip *ip)
{
    if (c->nhops++ == 0)
        c->first = *hop;
    if (!hop->valid || !ip_trusted(ps->t, ip)) {
        c->untrusted = *hop;
        c->any_untrusted = true;
    }
}

/* ---------------------------------------------------------------- X-Forwarded-For */

static void xff_parse(struct proxy_scan *ps, const char *v)
{
    for (;;) {
        const char *end = strchr(v, ',');
        size_t len = end ? (size_t)(end - v) : strlen(v);
        const char *e = v;
        while (len && is_ows(*e)) {
            e++;
            len--;
        }
        while (len && is_ows(e[len - 1]))
            len--;
        if (len) {
            struct proxy_hop hop = {0};
            struct ip ip = {0};
            node_parse(e, len, true, &hop, &ip);
            chain_add(ps, &ps->xff, &hop, &ip);
        }
        if (!end)
            return;
        v = end + 1;
    }
}

/* ---------------------------------------------------------------- Forwarded (RFC 7239) */

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * Parses one forwarded-element starting at *pp, up to the ',' that ends it
 * (outside a quoted-string) or the end. Returns 1 with the for= value
 * (unescaped, NUL-terminated) in val when it has one, 0 when it has none,
 * -1 when it is malformed. *pp is left after the element's ','.
 */
static int fwd_element(const char **pp, char *val, size_t valcap)
{
    const char *p = *pp;
    bool bad = false, have_for = false;

    for (;;) {
        while (is_ows(*p))
            p++;
        if (*p == ';') {
            p++;
            continue;
        }
        if (*p == ',' || *p == '\0')
            break;
        /* a pair: token "=" ( token / quoted-string ) */
        const char *name = p;
        while (is_tchar(*p))
            p++;
        size_t nlen = (size_t)(p - name);
        bool is_for = nlen == 3 && strncasecmp(name, "for", 3) == 0;
        char *out = NULL;
        size_t o = 0;
        if (nlen == 0 || *p != '=') {
            bad = true;
            break;
        }
        p++;
        if (is_for) {
            if (have_for) {
                bad = true; /* a parameter occurs at most once per element */
                break;
            }
            have_for = true;
            out = val;
        }
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\') {
                    p++;
                    if (!*p)
                        break;
                }
                if (out && o + 1 < valcap)
                    out[o++] = *p;
                else if (out)
                    bad = true; /* longer than any address */
                p++;
            }
            if (*p != '"') {
                bad = true; /* unterminated: the rest of the header is this element */
                break;
            }
            p++;
        } else {
            const char *v = p;
            while (is_tchar(*p))
                p++;
            if (p == v) {
                bad = true;
                break;
            }
            if (out) {
                if ((size_t)(p - v) >= valcap)
                    bad = true;
                else
                    memcpy(out, v, (size_t)(p - v));
                o = (size_t)(p - v) < valcap ? (size_t)(p - v) : 0;
            }
        }
        if (out)
            out[o] = '\0';
        while (is_ows(*p))
            p++;
        if (*p != ';' && *p != ',' && *p != '\0') {
            bad = true;
            break;
        }
    }
    if (bad) {
        /* skip to the next ',' outside quotes (an unterminated quote runs to the end) */
        bool q = false;
        for (; *p && (q || *p != ','); p++) {
            if (q && *p == '\\' && p[1])
                p++;
            else if (*p == '"')
                q = !q;
        }
    }
    *pp = *p == ',' ? p + 1 : p;
    return bad ? -1 : have_for ? 1 : 0;
}

static void fwd_parse(struct proxy_scan *ps, const char *v)
{
    char val[PROXY_ADDR_MAX + 16];

    ps->has_forwarded = true;
    while (*v) {
        struct proxy_hop hop = {0};
        struct ip ip = {0};
        int r = fwd_element(&v, val, sizeof val);
        if (r == 0)
            continue; /* no for=: this element names no hop */
        if (r < 0)
            hop.valid = false;
        else
            node_parse(val, strlen(val), false, &hop, &ip);
        chain_add(ps, &ps->fwd, &hop, &ip);
    }
}

/* ---------------------------------------------------------------- per request */

void proxy_scan_init(struct proxy_scan *ps, const struct proxy_trust *t, const char *peer)
{
    memset(ps, 0, sizeof *ps);
    ps->t = t;
    ps->peer_trusted = proxy_trusted(t, peer);
}

void proxy_scan_header(struct proxy_scan *ps, const char *name, const char *value)
{
    if (!ps->peer_trusted || !name || !value)
        return;
    if (strcasecmp(name, "Forwarded") == 0)
        fwd_parse(ps, value);
    else if (strcasecmp(name, "X-Forwarded-For") == 0)
        xff_parse(ps, value);
}

bool proxy_scan_result(const struct proxy_scan *ps, char *addr, size_t addrlen, int *port)
{
    const struct proxy_chain *c = ps->has_forwarded ? &ps->fwd : &ps->xff;
    const struct proxy_hop *hop;

    if (!ps->peer_trusted || c->nhops == 0)
        return false;
    hop = c->any_untrusted ? &c->untrusted : &c->first;
    if (!hop->valid || strlen(hop->addr) >= addrlen)
        return false;
    memcpy(addr, hop->addr, strlen(hop->addr) + 1);
    *port = hop->port;
    return true;
}
