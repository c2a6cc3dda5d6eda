/*
 * upgrade: the decision on a WebSocket upgrade request (see upgrade.h).
 */
#include "build-config.h"

#include "upgrade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handshake.h"
#include "ws_error.h"

/* "scheme://host[:port]" or "host[:port]" into parts (pointers into the string). */
struct origin_parts {
    const char *scheme, *host, *port;
    size_t scheme_len, host_len, port_len;
};

static void origin_split(const char *s, struct origin_parts *o)
{
    const char *p = strstr(s, "://");
    const char *end, *colon = NULL;

    memset(o, 0, sizeof *o);
    if (p) {
        o->scheme = s;
        o->scheme_len = (size_t)(p - s);
        s = p + 3;
    }
    end = s + strcspn(s, "/");
    o->host = s;
    if (*s == '[') {
        const char *close = memchr(s, ']', (size_t)(end - s));
        if (close && close + 1 < end && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memchr(s, ':', (size_t)(end - s));
    }
    if (colon) {
        o->host_len = (size_t)(colon - s);
        o->port = colon + 1;
        o->port_len = (size_t)(end - o->port);
    } else {
        o->host_len = (size_t)(end - s);
    }
}

static bool span_eq(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && strncasecmp(a, b, an) == 0;
}

bool upgrade_origin_matches(const char *origin, const char *entry)
{
    struct origin_parts o, e;
    const char *oport;
    size_t oport_len;

    origin_split(origin, &o);
    origin_split(entry, &e);
    if (e.scheme) {
        if (!o.scheme || !span_eq(o.scheme, o.scheme_len, e.scheme, e.scheme_len))
            return false;
    } else if (o.scheme && !span_eq(o.scheme, o.scheme_len, "http", 4) &&
               !span_eq(o.scheme, o.scheme_len, "https", 5)) {
        return false;
    }
    if (!span_eq(o.host, o.host_len, e.host, e.host_len))
        return false;
    if (!e.port)
        return true;
    oport = o.port;
    oport_len = o.port_len;
    if (!oport) {
        bool https = o.scheme && span_eq(o.scheme, o.scheme_len, "https", 5);
        oport = https ? "443" : "80";
        oport_len = strlen(oport);
    }
    return span_eq(oport, oport_len, e.port, e.port_len);
}

static bool origin_allowed(const struct upgrade_policy *p, const struct handshake *hs)
{
    const struct handshake_header *h;

    if (!p->origins && !p->sameorigin)
        return true;
    h = handshake_find(hs, "Origin");
    if (!h || h->value_len == 0 || strcmp(h->value, "null") == 0)
        return false;
    if (p->sameorigin) {
        const struct handshake_header *host = handshake_find(hs, "Host");
        struct origin_parts o;
        origin_split(h->value, &o);
        size_t n = (size_t)((o.port ? o.port + o.port_len : o.host + o.host_len) - o.host);
        if (!host || !span_eq(o.host, n, host->value, host->value_len))
            return false;
    }
    if (p->origins) {
        for (const char *const *e = p->origins; *e; e++)
            if (upgrade_origin_matches(h->value, *e))
                return true;
        return false;
    }
    return true;
}

char *upgrade_header_lines(const char *const *a, const char *const *b)
{
    const char *const *lists[2] = {a, b};
    size_t n = 0;
    char *out, *p;

    for (int i = 0; i < 2; i++)
        for (const char *const *l = lists[i]; l && *l; l++)
            n += strlen(*l) + 2;
    if (n == 0 || !(out = p = malloc(n + 1)))
        return NULL;
    for (int i = 0; i < 2; i++)
        for (const char *const *l = lists[i]; l && *l; l++) {
            size_t len = strlen(*l);
            memcpy(p, *l, len);
            memcpy(p + len, "\r\n", 2);
            p += len + 2;
        }
    *p = '\0';
    return out;
}

/* Whether name is one of the comma-separated names in a Sec-WebSocket-Protocol value. */
static bool offered_in(const char *value, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = value; *p;) {
        size_t len;
        p += strspn(p, " \t,");
        len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

const char *upgrade_subprotocol_select(const char *const *server, const struct handshake *hs)
{
    for (const char *const *name = server; name && *name; name++)
        for (unsigned i = 0; i < hs->nheaders; i++)
            if (strcasecmp(hs->headers[i].name, "Sec-WebSocket-Protocol") == 0 &&
                offered_in(hs->headers[i].value, *name))
                return *name;
    return NULL;
}

static void refuse(struct upgrade_verdict *v, int status, const char *reason)
{
    v->status = status;
    v->reason = reason;
}

/* Appends the line a + b + CRLF to the extra lines *extra (or NULL); *cap grows as much. */
static int append_line(char **extra, size_t *cap, const char *a, const char *b)
{
    size_t have = *extra ? strlen(*extra) : 0, n = strlen(a) + strlen(b) + 3;
    char *e = realloc(*extra, have + n);

    if (!e) {
        free(*extra);
        *extra = NULL;
        return WS_E_NOMEM;
    }
    snprintf(e + have, n, "%s%s\r\n", a, b);
    *extra = e;
    *cap += n;
    return 0;
}

int upgrade_decide(const struct upgrade_policy *p, const struct handshake *hs,
                   struct upgrade_verdict *v)
{
    char *extra;
    size_t cap;
    int n, r;

    memset(v, 0, sizeof *v);
    if (!origin_allowed(p, hs)) {
        refuse(v, 403, "origin");
        return 0;
    }
    v->subprotocol = upgrade_subprotocol_select(p->subprotocols, hs);
    if (!v->subprotocol && p->subprotocol_required) {
        refuse(v, 400, "no subprotocol in common");
        return 0;
    }
    extra = upgrade_header_lines(p->headers, p->headers_ws);
    if (p->deflate && pmd_negotiate(p->deflate, hs, &v->pmd, v->extensions)) {
        char *with = NULL;
        v->deflate = true;
        if (asprintf(&with, "%sSec-WebSocket-Extensions: %s\r\n", extra ? extra : "",
                     v->extensions) < 0) {
            free(extra);
            return WS_E_NOMEM;
        }
        free(extra);
        extra = with;
    }
    /* the fixed part of a 101 is under 200 bytes; the key's accept is 28 */
    cap = 256 + (extra ? strlen(extra) : 0);
    for (const char *const *h = p->headers_authz; h && *h; h++)
        if ((r = append_line(&extra, &cap, *h, "")) != 0)
            return r;
    if (v->subprotocol &&
        (r = append_line(&extra, &cap, "Sec-WebSocket-Protocol: ", v->subprotocol)) != 0)
        return r;
    v->response = malloc(cap);
    n = v->response ? handshake_write_101(hs, extra, v->response, cap) : WS_E_NOMEM;
    free(extra);
    if (n <= 0) {
        upgrade_verdict_free(v);
        return n < 0 ? n : WS_E_NOMEM;
    }
    v->status = 101;
    v->reason = "";
    v->response_len = (size_t)n;
    return 0;
}

void upgrade_verdict_free(struct upgrade_verdict *v)
{
    free(v->response);
    v->response = NULL;
    v->response_len = 0;
}
