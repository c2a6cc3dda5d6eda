/*
 * Unit tests of pmd: the negotiation table (every RFC 7692 example offer, every parameter with
 * and without values, duplicates, invalid values, several offers, several headers), the
 * --deflate-params parser, and the codec: RFC 7692 section 7.2.3's example frames decoded by a
 * server ws_stream fed whole, bytewise and in every split; round trips; the pause; a
 * decompression bomb (1009), corrupt and truncated streams (1007).
 */
#include "feed.h"
#include "handshake.h"
#include "pmd.h"
#include "tap.h"
#include "upgrade.h"
#include "ws_error.h"
#include "ws_stream.h"

#include <stdio.h>
#include <stdlib.h>

#include <zlib.h>

#define DFL "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

/* ---------------------------------------------------------------- negotiation */

static const char *negotiate(const struct pmd_policy *p, const char *value)
{
    static char resp[PMD_RESPONSE_MAX];
    struct pmd_params a;

    if (!pmd_negotiate_value(p, value, strlen(value), &a, resp))
        return NULL;
    return resp;
}

static void test_negotiation_table(void)
{
    struct pmd_policy def, take, small, off;
    static const struct {
        int policy; /* 0 default, 1 context takeover allowed, 2 windows 10, 3 disabled */
        const char *offer, *want;
    } cases[] = {
        /* RFC 7692 7.1 and its examples (section 5.2, 7.1.1, 7.1.2) */
        {0, "permessage-deflate", DFL},
        {1, "permessage-deflate", "permessage-deflate"},
        {0, "permessage-deflate; client_max_window_bits", DFL "; client_max_window_bits=15"},
        {2, "permessage-deflate; client_max_window_bits",
         DFL "; server_max_window_bits=10; client_max_window_bits=10"},
        {0,
         "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
         "permessage-deflate; client_max_window_bits",
         DFL "; server_max_window_bits=10; client_max_window_bits=15"},
        {0, "permessage-deflate; server_max_window_bits=10, permessage-deflate",
         DFL "; server_max_window_bits=10"},
        {1, "permessage-deflate; server_no_context_takeover",
         "permessage-deflate; server_no_context_takeover"},
        {1, "permessage-deflate; client_no_context_takeover",
         "permessage-deflate; client_no_context_takeover"},
        {1, "permessage-deflate; client_max_window_bits=10",
         "permessage-deflate; client_max_window_bits=10"},
        {2, "permessage-deflate; client_max_window_bits=12",
         DFL "; server_max_window_bits=10; client_max_window_bits=10"},
        {2, "permessage-deflate; server_max_window_bits=9", DFL "; server_max_window_bits=9"},
        {0, "permessage-deflate; server_max_window_bits=8", DFL "; server_max_window_bits=8"},
        {0, "permessage-deflate; server_max_window_bits=15", DFL "; server_max_window_bits=15"},
        {0, "permessage-deflate; client_max_window_bits=\"9\"", DFL "; client_max_window_bits=9"},
        {0,
         "permessage-deflate;server_no_context_takeover;client_no_context_takeover;"
         "server_max_window_bits=12;client_max_window_bits=11",
         DFL "; server_max_window_bits=12; client_max_window_bits=11"},
        {0, "PerMessage-Deflate ; Client_Max_Window_Bits", DFL "; client_max_window_bits=15"},
        /* what browsers and libraries send */
        {0, "permessage-deflate; client_max_window_bits", DFL "; client_max_window_bits=15"},
        {0, "x-webkit-deflate-frame, permessage-deflate", DFL},
        {0, "foo; bar=\"a,b\", permessage-deflate", DFL},
        /* declined offers: invalid or duplicate parameters; the next one is taken */
        {0, "permessage-deflate; server_max_window_bits", NULL},
        {0, "permessage-deflate; server_max_window_bits=7", NULL},
        {0, "permessage-deflate; server_max_window_bits=16", NULL},
        {0, "permessage-deflate; server_max_window_bits=010", NULL},
        {0, "permessage-deflate; server_max_window_bits=09", NULL},
        {0, "permessage-deflate; server_max_window_bits=1a", NULL},
        {0, "permessage-deflate; server_max_window_bits=\"\"", NULL},
        {0, "permessage-deflate; server_max_window_bits=\"1000000000000000000000\"", NULL},
        {0, "permessage-deflate; client_max_window_bits=7", NULL},
        {0, "permessage-deflate; client_max_window_bits=0", NULL},
        {0, "permessage-deflate; server_no_context_takeover=1", NULL},
        {0, "permessage-deflate; client_no_context_takeover=\"\"", NULL},
        {0, "permessage-deflate; server_no_context_takeover; server_no_context_takeover", NULL},
        {0, "permessage-deflate; client_no_context_takeover; client_no_context_takeover", NULL},
        {0, "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", NULL},
        {0, "permessage-deflate; client_max_window_bits; client_max_window_bits=10", NULL},
        {0, "permessage-deflate; unknown_parameter", NULL},
        {0, "permessage-deflate; unknown=1", NULL},
        {0, "permessage-deflate; server_max_window_bits=7, permessage-deflate", DFL},
        {0, "permessage-deflate; x, permessage-deflate; server_max_window_bits=11",
         DFL "; server_max_window_bits=11"},
        /* malformed syntax declines that element only */
        {0, "permessage-deflate; ; x", NULL},
        {0, "permessage-deflate; server_max_window_bits=\"10", NULL},
        {0, "permessage-deflate server_no_context_takeover, permessage-deflate", DFL},
        {0, "permessage-deflate; =10, permessage-deflate", DFL},
        {0, "\"permessage-deflate\", permessage-deflate", DFL},
        {0, ",, ,permessage-deflate,", DFL},
        {0, "", NULL},
        {0, "deflate-frame", NULL},
        {0, "permessage-deflatex", NULL},
        /* disabled */
        {3, "permessage-deflate", NULL},
    };
    const struct pmd_policy *pol[] = {&def, &take, &small, &off};
    const char *err;

    pmd_policy_init(&def);
    pmd_policy_init(&take);
    pmd_policy_parse(&take, "server_context_takeover,client_context_takeover", &err);
    pmd_policy_init(&small);
    pmd_policy_parse(&small, "server_max_window_bits=10, client_max_window_bits=10", &err);
    pmd_policy_init(&off);
    off.enabled = false;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = negotiate(pol[cases[i].policy], cases[i].offer);
        bool same = got && cases[i].want ? strcmp(got, cases[i].want) == 0 : got == cases[i].want;
        ok(same, "policy %d, offer '%s' -> '%s' (got '%s')", cases[i].policy, cases[i].offer,
           cases[i].want ? cases[i].want : "(declined)", got ? got : "(declined)");
    }
}

static void test_negotiation_params(void)
{
    struct pmd_policy p;
    struct pmd_params a;
    char resp[PMD_RESPONSE_MAX];
    const char *v = "permessage-deflate; server_max_window_bits=11; client_max_window_bits=12";

    pmd_policy_init(&p);
    ok(pmd_negotiate_value(&p, v, strlen(v), &a, resp) && a.server_max_window_bits == 11 &&
           a.client_max_window_bits == 12 && a.server_no_context_takeover &&
           a.client_no_context_takeover,
       "agreed parameters: windows 11/12, no context takeover both ways");
    v = "permessage-deflate";
    ok(pmd_negotiate_value(&p, v, strlen(v), &a, resp) && a.server_max_window_bits == 15 &&
           a.client_max_window_bits == 15,
       "no window offered: 15 both ways");
}

/* A whole request through upgrade_decide: the response line and the verdict. */
static void test_upgrade(void)
{
    static const char req[] =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Extensions: foo, permessage-deflate; server_max_window_bits=7\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    struct handshake h;
    struct pmd_policy pol;
    struct upgrade_policy up = {0};
    struct upgrade_verdict v;
    size_t consumed;

    pmd_policy_init(&pol);
    up.deflate = &pol;
    if (handshake_init(&h, NULL) != 0 ||
        handshake_execute(&h, req, sizeof req - 1, &consumed) != HANDSHAKE_COMPLETE ||
        handshake_check(&h) != 0)
        abort();
    ok(upgrade_decide(&up, &h, &v) == 0 && v.status == 101 && v.deflate &&
           strstr(v.response,
                  "\r\nSec-WebSocket-Extensions: " DFL "; client_max_window_bits=15\r\n") != NULL,
       "the second header's offer is taken, the response carries it");
    upgrade_verdict_free(&v);
    pol.enabled = false;
    ok(upgrade_decide(&up, &h, &v) == 0 && v.status == 101 && !v.deflate &&
           strstr(v.response, "Extensions") == NULL,
       "--deflate=off: no extension in the response");
    upgrade_verdict_free(&v);
    handshake_free(&h);
}

static void test_policy_parse(void)
{
    struct pmd_policy p;
    const char *err = NULL;
    static const char *const bad[] = {
        "server_max_window_bits=7",
        "client_max_window_bits=16",
        "mem_level=0",
        "mem_level=10",
        "level=10",
        "threshold=-1",
        "server_context_takeover=1",
        "level",
        "nonsense=1",
        "window=10",
    };

    pmd_policy_init(&p);
    ok(pmd_policy_parse(&p,
                        " server_max_window_bits=10 , client_max_window_bits=9,mem_level=4,"
                        "level=6,threshold=0,server_context_takeover,client_context_takeover",
                        &err) == 0 &&
           p.server_max_window_bits == 10 && p.client_max_window_bits == 9 && p.mem_level == 4 &&
           p.level == 6 && p.threshold == 0 && p.server_context_takeover &&
           p.client_context_takeover,
       "--deflate-params: every item");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pmd_policy_init(&p);
        err = NULL;
        int r = pmd_policy_parse(&p, bad[i], &err);
        ok(r == -1 && err != NULL, "--deflate-params=%s: %s", bad[i], err ? err : "(accepted)");
    }
}

/* ---------------------------------------------------------------- the codec on a stream */

struct t {
    struct ws_stream s;
    struct pmd_inflate in;
    uint8_t *msg;
    size_t len, cap;
    unsigned messages;
    uint16_t fail_code;
    int pause_every; /* pause after this many data calls (0: never) */
    int calls;
};

static int t_begin(struct ws_stream *s, enum ws_opcode op, uint8_t rsv)
{
    struct t *t = s->data;
    (void)op;
    (void)rsv;
    t->len = 0;
    return 0;
}

static int t_data(struct ws_stream *s, uint8_t *data, size_t len)
{
    struct t *t = s->data;
    if (t->len + len > t->cap) {
        t->cap = (t->len + len) * 2;
        t->msg = realloc(t->msg, t->cap);
    }
    memcpy(t->msg + t->len, data, len);
    t->len += len;
    return t->pause_every && ++t->calls % t->pause_every == 0;
}

static int t_end(struct ws_stream *s)
{
    ((struct t *)s->data)->messages++;
    return 0;
}

static void t_fail(struct ws_stream *s, uint16_t code, const char *reason)
{
    (void)reason;
    ((struct t *)s->data)->fail_code = code;
}

static int t_write(struct ws_stream *s, const uint8_t *frame, size_t len)
{
    (void)s, (void)frame, (void)len;
    return 0;
}

static const struct ws_stream_settings t_settings = {
    .on_message_begin = t_begin,
    .on_message_data = t_data,
    .on_message_end = t_end,
    .on_fail = t_fail,
    .on_write = t_write,
};

static void t_init(struct t *t, bool takeover, uint64_t max)
{
    struct pmd_params a = {!takeover, !takeover, 15, 15};

    memset(t, 0, sizeof *t);
    ws_stream_init(&t->s, WS_ROLE_SERVER, &t_settings);
    t->s.data = t;
    t->s.max_message = max;
    pmd_inflate_init(&t->in, &a);
    ws_stream_set_extension(&t->s, &pmd_stream_ext, &t->in);
}

static void t_free(struct t *t)
{
    pmd_inflate_end(&t->in);
    free(t->msg);
}

static size_t t_feed(void *ctx, uint8_t *data, size_t len)
{
    struct t *t = ctx;
    return ws_stream_execute(&t->s, data, len);
}

/* Client frames from server-style bytes: every frame's mask bit set, a mask inserted, the
 * payload masked. */
static size_t mask_frames(const uint8_t *in, size_t len, uint8_t *out)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t i = 0, o = 0;

    while (i < len) {
        uint8_t b1 = in[i + 1];
        size_t hl = 2, plen = b1 & 0x7f;
        if (plen == 126) {
            plen = (size_t)in[i + 2] << 8 | in[i + 3];
            hl = 4;
        } else if (plen == 127) {
            plen = 0;
            for (int k = 0; k < 8; k++)
                plen = plen << 8 | in[i + 2 + k];
            hl = 10;
        }
        memcpy(out + o, in + i, hl);
        out[o + 1] |= 0x80;
        memcpy(out + o + hl, mask, 4);
        memcpy(out + o + hl + 4, in + i + hl, plen);
        ws_frame_mask(out + o + hl + 4, plen, mask, 0);
        i += hl + plen;
        o += hl + 4 + plen;
    }
    return o;
}

typedef size_t (*feeder)(feed_fn, void *, const uint8_t *, size_t);

/* Server-style frames in -> every way of feeding gives msg (messages of it, all "want"). */
static void expect_frames(const char *name, bool takeover, const uint8_t *frames, size_t flen,
                          const char *want, unsigned nmsg)
{
    uint8_t wire[512];
    size_t wlen = mask_frames(frames, flen, wire);
    bool good = true;
    struct t t;

    for (size_t at = 0; at <= wlen + 1 && good; at++) {
        t_init(&t, takeover, 0);
        if (at == wlen + 1)
            feed_bytewise(t_feed, &t, wire, wlen);
        else
            feed_split(t_feed, &t, wire, wlen, at);
        good = t.messages == nmsg && t.fail_code == 0 && t.len == strlen(want) &&
               (t.len == 0 || memcmp(t.msg, want, t.len) == 0);
        if (!good)
            diag("split at %zu: %u messages, fail %u, last '%.*s'", at, t.messages, t.fail_code,
                 (int)t.len, t.msg ? (const char *)t.msg : "");
        t_free(&t);
    }
    ok(good, "RFC 7692 %s: '%s' x%u, whole, bytewise and every split", name, want, nmsg);
}

static void test_rfc_examples(void)
{
    static const uint8_t hello[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t frag[] = {0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80,
                                   0x04, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t shared[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
                                     0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00};
    static const uint8_t stored[] = {0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff,
                                     0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00};
    static const uint8_t bfinal[] = {0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    static const uint8_t two[] = {0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00,
                                  0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t empty[] = {0xc1, 0x01, 0x00};
    static const uint8_t plain[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};

    expect_frames("7.2.3.1 one frame", false, hello, sizeof hello, "Hello", 1);
    expect_frames("7.2.3.1 fragmented", false, frag, sizeof frag, "Hello", 1);
    expect_frames("7.2.3.2 sharing the window", true, shared, sizeof shared, "Hello", 2);
    expect_frames("7.2.3.3 a stored block", false, stored, sizeof stored, "Hello", 1);
    expect_frames("7.2.3.4 BFINAL set", false, bfinal, sizeof bfinal, "Hello", 1);
    expect_frames("7.2.3.5 two blocks", false, two, sizeof two, "Hello", 1);
    expect_frames("7.2.3.6 an empty message", false, empty, sizeof empty, "", 1);
    expect_frames("uncompressed message (RSV1 clear)", false, plain, sizeof plain, "Hello", 1);
}

/* Wire bytes of one client message: compressed with zlib (level, no context), masked. */
static uint8_t *client_message(const uint8_t *p, size_t n, enum ws_opcode op, size_t *wlen,
                               bool truncate)
{
    z_stream z = {0};
    size_t cap = n + n / 2 + 64;
    uint8_t *c = malloc(cap), *w;
    size_t clen;

    deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = c;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_SYNC_FLUSH);
    clen = cap - z.avail_out - 4;
    deflateEnd(&z);
    if (truncate)
        clen = clen / 2;
    w = malloc(clen + 14);
    uint8_t mask[4] = {1, 2, 3, 4};
    size_t h = ws_frame_write_header(w, true, WS_RSV1, op, clen, mask);
    memcpy(w + h, c, clen);
    ws_frame_mask(w + h, clen, mask, 0);
    free(c);
    *wlen = h + clen;
    return w;
}

static void test_round_trip(void)
{
    static const size_t sizes[] = {0, 1, 100, 65536, 1u << 20};
    struct pmd_policy pol;
    struct pmd_params a = {true, true, 15, 15};

    pmd_policy_init(&pol);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i], wlen, olen = 0;
        uint8_t *p = malloc(n + 1), *w = malloc(2 * n + 1000), *out;
        struct pmd_deflate d;
        struct t t;

        for (size_t k = 0; k < n; k++)
            p[k] = (uint8_t)("{\"k\":12,\"v\":\"abcdefgh\"}\n"[k % 24] ^ (k % 1000 == 0));
        pmd_deflate_init(&d, &a, &pol);
        /* our deflate, in pieces of 1000 bytes, as one fragmented message */
        wlen = 0;
        for (size_t off = 0; off == 0 || off < n; off += 1000) {
            size_t m = n - off < 1000 ? n - off : 1000;
            bool fin = off + m >= n;
            if (pmd_deflate_piece(&d, p + off, m, fin, &out, &olen) != 0)
                abort();
            if (olen == 0 && !fin)
                continue;
            uint8_t mask[4] = {9, 8, 7, 6};
            size_t h = ws_frame_write_header(w + wlen, fin, wlen == 0 ? WS_RSV1 : 0,
                                             wlen == 0 ? WS_OP_BINARY : WS_OP_CONT, olen, mask);
            memcpy(w + wlen + h, out, olen);
            ws_frame_mask(w + wlen + h, olen, mask, 0);
            wlen += h + olen;
            free(out);
        }
        ok(d.z == NULL, "%zu bytes: the deflate state went back after the message", n);
        pmd_deflate_end(&d);
        t_init(&t, false, 0);
        feed_chunks(t_feed, &t, w, wlen, 777);
        ok(t.messages == 1 && t.len == n && (n == 0 || memcmp(t.msg, p, n) == 0) && t.in.z == NULL,
           "%zu bytes deflated in pieces by pmd_deflate_piece, inflated byte-exact by ws_stream "
           "(%zu on the wire)",
           n, wlen);
        t_free(&t);
        free(p);
        free(w);
    }
}

static void test_threshold(void)
{
    struct pmd_policy pol;
    struct pmd_params a = {true, true, 15, 15}, a8 = {true, true, 8, 15};
    struct pmd_deflate d;

    pmd_policy_init(&pol);
    pmd_deflate_init(&d, &a, &pol);
    ok(!pmd_deflate_wants(&d, 16, true) && pmd_deflate_wants(&d, 16, false) &&
           pmd_deflate_wants(&d, 1024, true),
       "under the threshold: sent as is; a fragmented or large message: compressed");
    ok(pmd_deflate_key(&d) != 0, "no context takeover: a shareable key");
    pmd_deflate_init(&d, &a8, &pol);
    ok(!pmd_deflate_wants(&d, 1024, true) && pmd_deflate_key(&d) == 0,
       "server_max_window_bits=8: nothing compressed");
}

/* A pause inside a compressed frame: the rest is read again, nothing lost or doubled. */
static void test_pause(void)
{
    size_t n = 1u << 20, wlen, got = 0;
    uint8_t *p = calloc(1, n), *w;
    struct t t;

    for (size_t k = 0; k < n; k++)
        p[k] = (uint8_t)(k * 7 / 5);
    w = client_message(p, n, WS_OP_BINARY, &wlen, false);
    t_init(&t, false, 0);
    t.pause_every = 1;
    /* a pause on the last bytes defers the message end to the next call (with 0 bytes) */
    for (int rounds = 0; rounds < 100000 && (got < wlen || t.messages == 0); rounds++)
        got += ws_stream_execute(&t.s, w + got, wlen - got);
    if (t.len != n || t.messages != 1)
        diag("messages %u, len %zu, fail %u", t.messages, t.len, t.fail_code);
    ok(got == wlen && t.messages == 1 && t.len == n && memcmp(t.msg, p, n) == 0,
       "paused after every 16 KiB of output: 1 MiB byte-exact (%zu/%zu consumed)", got, wlen);
    t_free(&t);
    free(w);
    free(p);
}

static void test_failures(void)
{
    size_t n = 64u << 20, wlen;
    uint8_t *p = calloc(1, n), *w;
    struct t t;

    w = client_message(p, n, WS_OP_BINARY, &wlen, false);
    t_init(&t, false, 1u << 20);
    feed_chunks(t_feed, &t, w, wlen, 65536);
    ok(t.fail_code == 1009 && t.len <= (1u << 20) + PMD_INFLATE_CHUNK,
       "bomb: %zu bytes inflating to 64 MiB against a 1 MiB limit: 1009 after %zu bytes", wlen,
       t.len);
    t_free(&t);
    free(w);

    memset(p, 'a', 1000);
    w = client_message(p, 1000, WS_OP_TEXT, &wlen, true);
    t_init(&t, false, 0);
    feed_whole(t_feed, &t, w, wlen);
    ok(t.fail_code == 1007 && t.messages == 0, "a truncated stream: 1007");
    t_free(&t);
    free(w);

    static const uint8_t corrupt[] = {0xc1, 0x04, 0xff, 0xff, 0xff, 0xff}; /* block type 3 */
    uint8_t wire[64];
    size_t l = mask_frames(corrupt, sizeof corrupt, wire);
    t_init(&t, false, 0);
    feed_whole(t_feed, &t, wire, l);
    ok(t.fail_code == 1007, "a corrupt stream (reserved block type): 1007");
    t_free(&t);

    static const char bad_utf8[] = "ok \xed\xa0\x80 surrogate";
    w = client_message((const uint8_t *)bad_utf8, sizeof bad_utf8 - 1, WS_OP_TEXT, &wlen, false);
    t_init(&t, false, 0);
    feed_whole(t_feed, &t, w, wlen);
    ok(t.fail_code == 1007 && t.len == 4, "invalid UTF-8 inside compressed text: 1007 (got %zu)",
       t.len);
    t_free(&t);
    free(w);

    static const uint8_t cont_rsv[] = {0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0,
                                       0x04, 0xc9, 0xc9, 0x07, 0x00};
    l = mask_frames(cont_rsv, sizeof cont_rsv, wire);
    t_init(&t, false, 0);
    feed_whole(t_feed, &t, wire, l);
    ok(t.fail_code == 1002, "RSV1 on a continuation frame: 1002");
    t_free(&t);

    static const uint8_t ping_rsv[] = {0xc9, 0x00};
    l = mask_frames(ping_rsv, sizeof ping_rsv, wire);
    t_init(&t, false, 0);
    feed_whole(t_feed, &t, wire, l);
    ok(t.fail_code == 1002, "RSV1 on a ping: 1002");
    t_free(&t);

    static const uint8_t rsv2[] = {0xa1, 0x00};
    l = mask_frames(rsv2, sizeof rsv2, wire);
    t_init(&t, false, 0);
    feed_whole(t_feed, &t, wire, l);
    ok(t.fail_code == 1002, "RSV2 with permessage-deflate: 1002");
    t_free(&t);
    free(p);
}

int main(void)
{
    test_negotiation_table();
    test_negotiation_params();
    test_upgrade();
    test_policy_parse();
    test_rfc_examples();
    test_round_trip();
    test_threshold();
    test_pause();
    test_failures();
    pmd_pool_drain();
    return tap_done();
}
