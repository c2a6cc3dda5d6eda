/*
 * pmd: permessage-deflate negotiation and codec (see pmd.h).
 */
#include "build-config.h"

#include "pmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "handshake.h"
#include "ws_error.h"
#include "ws_stream.h"

/* ---------------------------------------------------------------- the policy */

void pmd_policy_init(struct pmd_policy *p)
{
    memset(p, 0, sizeof *p);
    p->enabled = true;
    p->server_max_window_bits = 15;
    p->client_max_window_bits = 15;
    p->mem_level = 8;
    p->level = 1;
    p->threshold = 64;
}

/* A decimal number in s[0..n) within [min, max]. */
static bool number_in(const char *s, size_t n, unsigned long min, unsigned long max,
                      unsigned long *out)
{
    unsigned long v = 0;

    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool name_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/* One "name[=value]" item of --deflate-params. */
static int policy_item(struct pmd_policy *p, const char *s, size_t n, const char **err)
{
    const char *eq = memchr(s, '=', n);
    size_t nlen = eq ? (size_t)(eq - s) : n;
    const char *v = eq ? eq + 1 : NULL;
    size_t vlen = eq ? n - nlen - 1 : 0;
    unsigned long x;

    if (name_is(s, nlen, "server_context_takeover") ||
        name_is(s, nlen, "client_context_takeover")) {
        if (v) {
            *err = "the *_context_takeover items take no value";
            return -1;
        }
        if (s[0] == 's')
            p->server_context_takeover = true;
        else
            p->client_context_takeover = true;
        return 0;
    }
    if (!v) {
        *err = "an item other than *_context_takeover needs a value (name=N)";
        return -1;
    }
    if (name_is(s, nlen, "server_max_window_bits") || name_is(s, nlen, "client_max_window_bits")) {
        if (!number_in(v, vlen, 8, 15, &x)) {
            *err = "window bits must be 8 to 15";
            return -1;
        }
        if (s[0] == 's')
            p->server_max_window_bits = (uint8_t)x;
        else
            p->client_max_window_bits = (uint8_t)x;
    } else if (name_is(s, nlen, "mem_level")) {
        if (!number_in(v, vlen, 1, 9, &x)) {
            *err = "mem_level must be 1 to 9";
            return -1;
        }
        p->mem_level = (uint8_t)x;
    } else if (name_is(s, nlen, "level")) {
        if (!number_in(v, vlen, 0, 9, &x)) {
            *err = "level must be 0 to 9";
            return -1;
        }
        p->level = (int8_t)x;
    } else if (name_is(s, nlen, "threshold")) {
        if (!number_in(v, vlen, 0, UINT32_MAX, &x)) {
            *err = "threshold must be a number of bytes";
            return -1;
        }
        p->threshold = (uint32_t)x;
    } else {
        *err = "unknown item (server_max_window_bits, client_max_window_bits, mem_level, level, "
               "threshold, server_context_takeover, client_context_takeover)";
        return -1;
    }
    return 0;
}

int pmd_policy_parse(struct pmd_policy *p, const char *s, const char **err)
{
    while (*s) {
        size_t n = strcspn(s, ",");
        while (n > 0 && (*s == ' ' || *s == '\t'))
            s++, n--;
        size_t m = n;
        while (m > 0 && (s[m - 1] == ' ' || s[m - 1] == '\t'))
            m--;
        if (m > 0 && policy_item(p, s, m, err) != 0)
            return -1;
        s += n;
        if (*s == ',')
            s++;
    }
    return 0;
}

/* ---------------------------------------------------------------- parsing offers */

/* RFC 7230 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

struct scan {
    const char *s;
    size_t len, i;
};

static void skip_ows(struct scan *sc)
{
    while (sc->i < sc->len && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t'))
        sc->i++;
}

static size_t scan_token(struct scan *sc)
{
    size_t start = sc->i;
    while (sc->i < sc->len && is_tchar((unsigned char)sc->s[sc->i]))
        sc->i++;
    return sc->i - start;
}

/* A quoted-string at sc->i into v (at most cap-1 bytes kept; *vlen is the full length).
 * false when it does not end. */
static bool scan_quoted(struct scan *sc, char *v, size_t cap, size_t *vlen)
{
    size_t n = 0;

    sc->i++; /* the opening quote */
    while (sc->i < sc->len) {
        char c = sc->s[sc->i++];
        if (c == '"') {
            *vlen = n;
            return true;
        }
        if (c == '\\') {
            if (sc->i == sc->len)
                return false;
            c = sc->s[sc->i++];
        }
        if (n + 1 < cap)
            v[n] = c;
        n++;
    }
    return false;
}

/* Past the next top-level comma (quoted strings skipped), after a malformed element. */
static void resync(struct scan *sc)
{
    bool quoted = false;

    while (sc->i < sc->len) {
        char c = sc->s[sc->i++];
        if (quoted && c == '\\' && sc->i < sc->len)
            sc->i++;
        else if (c == '"')
            quoted = !quoted;
        else if (c == ',' && !quoted)
            return;
    }
}

/* A window size value: 1*DIGIT without a leading zero, 8..15 (section 7.1.2). */
static uint8_t window_bits(const char *v, size_t n)
{
    unsigned long x;

    if (n == 0 || v[0] == '0' || !number_in(v, n, 8, 15, &x))
        return 0;
    return (uint8_t)x;
}

/* Applies one parameter to the offer; false declines the offer. */
static bool offer_param(struct pmd_offer *o, const char *name, size_t nlen, const char *v,
                        size_t vlen, bool has_value)
{
    bool *flag = NULL;
    uint8_t *bits = NULL;

    if (name_is(name, nlen, "server_no_context_takeover"))
        flag = &o->server_no_context_takeover;
    else if (name_is(name, nlen, "client_no_context_takeover"))
        flag = &o->client_no_context_takeover;
    else if (name_is(name, nlen, "server_max_window_bits"))
        bits = &o->server_max_window_bits;
    else if (name_is(name, nlen, "client_max_window_bits"))
        bits = &o->client_max_window_bits;
    else
        return false; /* unknown parameter */
    if (flag) {
        if (*flag || has_value)
            return false;
        *flag = true;
        return true;
    }
    if (*bits)
        return false; /* duplicate */
    if (!has_value) {
        if (bits == &o->server_max_window_bits)
            return false; /* its value is required */
        *bits = PMD_BITS_NO_VALUE;
        return true;
    }
    *bits = window_bits(v, vlen);
    return *bits != 0;
}

/* One parameter "name[=value]" at sc->i. false: malformed (syntax). *valid: the offer stays
 * acceptable. */
static bool scan_param(struct scan *sc, struct pmd_offer *o, bool *valid)
{
    const char *name = sc->s + sc->i;
    size_t nlen = scan_token(sc), vlen = 0;
    char v[16];
    bool has_value = false;

    if (nlen == 0)
        return false;
    skip_ows(sc);
    if (sc->i < sc->len && sc->s[sc->i] == '=') {
        sc->i++;
        skip_ows(sc);
        has_value = true;
        if (sc->i < sc->len && sc->s[sc->i] == '"') {
            if (!scan_quoted(sc, v, sizeof v, &vlen))
                return false;
        } else {
            const char *t = sc->s + sc->i;
            vlen = scan_token(sc);
            if (vlen == 0)
                return false;
            memcpy(v, t, vlen < sizeof v ? vlen : sizeof v - 1);
        }
        if (vlen >= sizeof v)
            vlen = sizeof v - 1 + 1; /* too long for any valid value: stays invalid */
    }
    if (*valid && !offer_param(o, name, nlen, v, vlen >= sizeof v ? 0 : vlen, has_value))
        *valid = false;
    if (has_value && vlen >= sizeof v)
        *valid = false;
    return true;
}

/* One element "token *(; param)" at sc->i; false: malformed. */
static bool scan_element(struct scan *sc, bool *is_pmd, struct pmd_offer *o, bool *valid)
{
    const char *name = sc->s + sc->i;
    size_t nlen = scan_token(sc);

    if (nlen == 0)
        return false;
    *is_pmd = name_is(name, nlen, "permessage-deflate");
    memset(o, 0, sizeof *o);
    *valid = true;
    for (;;) {
        skip_ows(sc);
        if (sc->i == sc->len || sc->s[sc->i] == ',')
            return true;
        if (sc->s[sc->i] != ';')
            return false;
        sc->i++;
        skip_ows(sc);
        if (!scan_param(sc, o, valid))
            return false;
    }
}

unsigned pmd_offers_parse(const char *s, size_t len, pmd_offer_cb on_offer, void *ctx)
{
    struct scan sc = {s, len, 0};
    unsigned n = 0;

    while (sc.i < sc.len) {
        struct pmd_offer o;
        bool is_pmd = false, valid = false;

        skip_ows(&sc);
        if (sc.i < sc.len && sc.s[sc.i] == ',') { /* empty list element */
            sc.i++;
            continue;
        }
        if (sc.i == sc.len)
            break;
        if (!scan_element(&sc, &is_pmd, &o, &valid)) {
            resync(&sc);
            continue;
        }
        if (sc.i < sc.len)
            sc.i++; /* the comma */
        if (is_pmd && valid) {
            n++;
            if (on_offer && on_offer(ctx, &o) != 0)
                break;
        }
    }
    return n;
}

/* ---------------------------------------------------------------- negotiation */

struct choice {
    const struct pmd_policy *policy;
    struct pmd_params *out;
    char *resp;
    bool done;
};

static uint8_t min_bits(uint8_t a, uint8_t b)
{
    return a < b ? a : b;
}

/* Every valid offer is acceptable: the first one is taken (7.1: the server picks). */
static int choose(void *ctx, const struct pmd_offer *o)
{
    struct choice *c = ctx;
    const struct pmd_policy *p = c->policy;
    struct pmd_params *a = c->out;
    int n;

    memset(a, 0, sizeof *a);
    a->server_no_context_takeover = o->server_no_context_takeover || !p->server_context_takeover;
    a->client_no_context_takeover = o->client_no_context_takeover || !p->client_context_takeover;
    a->server_max_window_bits = p->server_max_window_bits;
    if (o->server_max_window_bits)
        a->server_max_window_bits = min_bits(o->server_max_window_bits, p->server_max_window_bits);
    a->client_max_window_bits = 15;
    if (o->client_max_window_bits) {
        a->client_max_window_bits = p->client_max_window_bits;
        if (o->client_max_window_bits != PMD_BITS_NO_VALUE)
            a->client_max_window_bits =
                min_bits(a->client_max_window_bits, o->client_max_window_bits);
    }
    n = snprintf(c->resp, PMD_RESPONSE_MAX, "permessage-deflate%s%s",
                 a->server_no_context_takeover ? "; server_no_context_takeover" : "",
                 a->client_no_context_takeover ? "; client_no_context_takeover" : "");
    if (o->server_max_window_bits || a->server_max_window_bits < 15)
        n += snprintf(c->resp + n, PMD_RESPONSE_MAX - (size_t)n, "; server_max_window_bits=%u",
                      a->server_max_window_bits);
    if (o->client_max_window_bits)
        snprintf(c->resp + n, PMD_RESPONSE_MAX - (size_t)n, "; client_max_window_bits=%u",
                 a->client_max_window_bits);
    c->done = true;
    return 1;
}

bool pmd_negotiate_value(const struct pmd_policy *p, const char *value, size_t len,
                         struct pmd_params *out, char *resp)
{
    struct choice c = {p, out, resp, false};

    if (!p->enabled)
        return false;
    pmd_offers_parse(value, len, choose, &c);
    return c.done;
}

bool pmd_negotiate(const struct pmd_policy *p, const struct handshake *hs, struct pmd_params *out,
                   char *resp)
{
    for (unsigned i = 0; p->enabled && i < hs->nheaders; i++) {
        const struct handshake_header *h = &hs->headers[i];
        if (strcasecmp(h->name, "Sec-WebSocket-Extensions") == 0 &&
            pmd_negotiate_value(p, h->value, h->value_len, out, resp))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- zlib states and their pool */

enum { Z_KIND_DEFLATE, Z_KIND_INFLATE };

struct pmd_zstate {
    z_stream z;
    struct pmd_zstate *next; /* the free list's */
    uint8_t kind, window_bits, mem_level;
    int8_t level;
    uint8_t out[]; /* inflate: PMD_INFLATE_CHUNK bytes of output */
};

#define POOL_KEEP 8u /* idle zlib states kept per process (deflate: ~256 KiB each at most) */

static struct pmd_zstate *pool;
static unsigned npool;

static void zstate_free(struct pmd_zstate *zs)
{
    if (zs->kind == Z_KIND_DEFLATE)
        deflateEnd(&zs->z);
    else
        inflateEnd(&zs->z);
    free(zs);
}

static struct pmd_zstate *zstate_get(uint8_t kind, uint8_t wbits, uint8_t mem, int8_t level)
{
    struct pmd_zstate **pp, *zs;
    int r;

    for (pp = &pool; *pp; pp = &(*pp)->next) {
        zs = *pp;
        if (zs->kind == kind && zs->window_bits == wbits && zs->mem_level == mem &&
            zs->level == level) {
            *pp = zs->next;
            npool--;
            return zs;
        }
    }
    zs = calloc(1, sizeof *zs + (kind == Z_KIND_INFLATE ? PMD_INFLATE_CHUNK : 0));
    if (!zs)
        return NULL;
    zs->kind = kind;
    zs->window_bits = wbits;
    zs->mem_level = mem;
    zs->level = level;
    if (kind == Z_KIND_DEFLATE)
        r = deflateInit2(&zs->z, level, Z_DEFLATED, -(int)wbits, mem, Z_DEFAULT_STRATEGY);
    else
        r = inflateInit2(&zs->z, -(int)wbits);
    if (r != Z_OK) {
        free(zs);
        return NULL;
    }
    return zs;
}

/* Back to the free list, reset (or freed when the list is full or the reset fails). */
static void zstate_put(struct pmd_zstate *zs)
{
    int r;

    if (!zs)
        return;
    r = zs->kind == Z_KIND_DEFLATE ? deflateReset(&zs->z) : inflateReset(&zs->z);
    if (r != Z_OK || npool >= POOL_KEEP) {
        zstate_free(zs);
        return;
    }
    zs->next = pool;
    pool = zs;
    npool++;
}

void pmd_pool_drain(void)
{
    while (pool) {
        struct pmd_zstate *zs = pool;
        pool = zs->next;
        zstate_free(zs);
    }
    npool = 0;
}

/* ---------------------------------------------------------------- deflate */

void pmd_deflate_init(struct pmd_deflate *d, const struct pmd_params *a, const struct pmd_policy *p)
{
    memset(d, 0, sizeof *d);
    d->takeover = !a->server_no_context_takeover;
    /* zlib's raw deflate cannot use a 256-byte window: then nothing is compressed */
    d->disabled = a->server_max_window_bits < 9;
    d->window_bits = a->server_max_window_bits;
    d->mem_level = p->mem_level;
    d->level = p->level;
    d->threshold = p->threshold;
}

void pmd_deflate_end(struct pmd_deflate *d)
{
    if (d->z && d->takeover) {
        zstate_free(d->z); /* its window is this connection's: not reusable */
    } else {
        zstate_put(d->z);
    }
    d->z = NULL;
}

bool pmd_deflate_wants(const struct pmd_deflate *d, size_t n, bool fin)
{
    return !d->disabled && (!fin || n >= d->threshold);
}

uint32_t pmd_deflate_key(const struct pmd_deflate *d)
{
    if (d->takeover || d->disabled)
        return 0;
    return 1u << 24 | (uint32_t)d->window_bits << 16 | (uint32_t)d->mem_level << 8 |
           (uint32_t)(uint8_t)d->level;
}

int pmd_deflate_piece(struct pmd_deflate *d, const uint8_t *p, size_t n, bool fin, uint8_t **out,
                      size_t *outlen)
{
    size_t cap = n + n / 8 + 64, len = 0;
    uint8_t *buf;
    z_stream *z;

    *out = NULL;
    *outlen = 0;
    if (!d->z && !(d->z = zstate_get(Z_KIND_DEFLATE, d->window_bits, d->mem_level, d->level)))
        return WS_E_NOMEM;
    if (!(buf = malloc(cap)))
        return WS_E_NOMEM;
    z = &d->z->z;
    z->next_in = (Bytef *)(uintptr_t)p;
    z->avail_in = (uInt)n;
    for (;;) {
        z->next_out = buf + len;
        z->avail_out = (uInt)(cap - len);
        int r = deflate(z, fin ? Z_SYNC_FLUSH : Z_NO_FLUSH);
        len = cap - z->avail_out;
        if (r == Z_STREAM_ERROR) {
            free(buf);
            return WS_E_NOMEM; /* never with a valid stream: treated as a local failure */
        }
        if (z->avail_out != 0)
            break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            return WS_E_NOMEM;
        }
        buf = nb;
        cap *= 2;
    }
    if (fin) {
        len -= PMD_TAIL_LEN; /* the sync flush always ends with 00 00 ff ff */
        if (!d->takeover) {
            zstate_put(d->z);
            d->z = NULL;
        }
    }
    if (len == 0) {
        free(buf);
        return 0;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

/* ---------------------------------------------------------------- inflate */

void pmd_inflate_init(struct pmd_inflate *in, const struct pmd_params *a)
{
    memset(in, 0, sizeof *in);
    in->takeover = !a->client_no_context_takeover;
    /* a window as large as the client's (or larger) always works */
    in->window_bits = a->client_max_window_bits < 9 ? 9 : a->client_max_window_bits;
}

void pmd_inflate_end(struct pmd_inflate *in)
{
    zstate_put(in->z); /* inflateReset forgets the window: reusable either way */
    in->z = NULL;
}

static const uint8_t tail[PMD_TAIL_LEN] = {0x00, 0x00, 0xff, 0xff};

/* Runs zlib over data; see pmd_inflate_chunk. may_pause: honour emit's 1. */
static int inflate_run(struct pmd_inflate *in, const uint8_t *data, size_t len, size_t *used,
                       bool may_pause, pmd_emit_fn emit, void *ctx)
{
    struct pmd_zstate *zs = in->z;
    z_stream *z = &zs->z;

    z->next_in = (Bytef *)(uintptr_t)data;
    z->avail_in = (uInt)len;
    for (;;) {
        z->next_out = zs->out;
        z->avail_out = PMD_INFLATE_CHUNK;
        int r = inflate(z, Z_SYNC_FLUSH);
        size_t got = PMD_INFLATE_CHUNK - z->avail_out;
        *used = len - z->avail_in;
        if (r == Z_MEM_ERROR)
            return WS_CLOSE_INTERNAL_ERROR;
        if (r == Z_DATA_ERROR || r == Z_NEED_DICT || r == Z_STREAM_ERROR)
            return WS_CLOSE_INVALID_DATA;
        if (got) {
            int e = emit(ctx, zs->out, got);
            if (e >= 2 || (e == 1 && may_pause))
                return e;
        }
        if (r == Z_STREAM_END) {
            /* a block with BFINAL set ends the stream; what follows starts a new one */
            const Bytef *rest = z->next_in;
            uInt nrest = z->avail_in;
            if (inflateReset(z) != Z_OK)
                return WS_CLOSE_INTERNAL_ERROR;
            z->next_in = (Bytef *)(uintptr_t)rest;
            z->avail_in = nrest;
            continue;
        }
        if (z->avail_out != 0 || (z->avail_in == 0 && got == 0))
            return 0; /* all input taken and no output pending */
    }
}

int pmd_inflate_chunk(struct pmd_inflate *in, const uint8_t *data, size_t len, bool fin,
                      size_t *used, pmd_emit_fn emit, void *ctx)
{
    size_t tail_used;
    int r = 0;

    *used = 0;
    if (!in->z && !(in->z = zstate_get(Z_KIND_INFLATE, in->window_bits, 0, 0)))
        return WS_CLOSE_INTERNAL_ERROR;
    if (len)
        r = inflate_run(in, data, len, used, !fin, emit, ctx);
    if (r == 0 && fin) {
        r = inflate_run(in, tail, PMD_TAIL_LEN, &tail_used, false, emit, ctx);
        /* after the tail the stream must be between blocks (data_type bit 128): else the
         * message ended inside a block */
        if (r == 0 && (tail_used != PMD_TAIL_LEN || !(in->z->z.data_type & 128)))
            r = WS_CLOSE_INVALID_DATA;
    }
    if ((fin || r >= 2) && !(in->takeover && r == 0))
        pmd_inflate_end(in);
    return r;
}

/* ---------------------------------------------------------------- ws_stream's extension */

struct ext_call {
    struct ws_stream *s;
    ws_stream_emit_fn emit;
};

static int ext_emit(void *ctx, uint8_t *data, size_t len)
{
    struct ext_call *c = ctx;
    return c->emit(c->s, data, len);
}

static int ext_transform(struct ws_stream *s, void *ext_data, uint8_t *in, size_t len, bool fin,
                         size_t *used, ws_stream_emit_fn emit)
{
    struct ext_call c = {s, emit};
    return pmd_inflate_chunk(ext_data, in, len, fin, used, ext_emit, &c);
}

const struct ws_stream_ext pmd_stream_ext = {
    .rsv = WS_RSV1,
    .transform = ext_transform,
};
