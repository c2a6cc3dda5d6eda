/* Unit tests of ws_frame: parser (every split, guard page), writer, masking. */
#include "feed.h"
#include "tap.h"
#include "ws_frame.h"

#include <stdlib.h>

/* Records what the parser reports, as a flat log for comparison. */
struct rec {
    struct ws_frame_parser p;
    unsigned frames, ends;
    struct ws_frame_header last;
    uint8_t payload[1 << 17];
    size_t plen;
    unsigned payload_calls;
    int stop_every_callback; /* exercise pause/resume */
};

static int on_header(struct ws_frame_parser *p, const struct ws_frame_header *h)
{
    struct rec *r = p->data;
    r->frames++;
    r->last = *h;
    return r->stop_every_callback;
}

static int on_payload(struct ws_frame_parser *p, uint8_t *data, size_t len)
{
    struct rec *r = p->data;
    if (r->plen + len <= sizeof r->payload)
        memcpy(r->payload + r->plen, data, len);
    r->plen += len;
    r->payload_calls++;
    return r->stop_every_callback;
}

static int on_end(struct ws_frame_parser *p)
{
    struct rec *r = p->data;
    r->ends++;
    return r->stop_every_callback;
}

static const struct ws_frame_settings settings = {on_header, on_payload, on_end};

/* Feeds and keeps re-feeding while the parser pauses (a stop consumes progress). */
static size_t feed_parser(void *ctx, uint8_t *data, size_t len)
{
    struct rec *r = ctx;
    size_t used = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        size_t n = ws_frame_parser_execute(&r->p, data + used, len - used);
        used += n;
        if (r->p.error_code || !r->stop_every_callback)
            break;
        if (used == len && n == 0)
            break;
    }
    return used;
}

static struct rec *rec_new(enum ws_role role, int stop)
{
    struct rec *r = calloc(1, sizeof *r);
    ws_frame_parser_init(&r->p, role, &settings);
    r->p.data = r;
    r->stop_every_callback = stop;
    return r;
}

enum how { WHOLE, BYTEWISE, SPLIT };
enum { SRV, CLI };

static struct rec *run(int role, const uint8_t *v, size_t len, enum how how,
                       size_t at, int stop)
{
    struct rec *r = rec_new(role == SRV ? WS_ROLE_SERVER : WS_ROLE_CLIENT, stop);
    if (how == WHOLE)
        feed_whole(feed_parser, r, v, len);
    else if (how == BYTEWISE)
        feed_bytewise(feed_parser, r, v, len);
    else
        feed_split(feed_parser, r, v, len, at);
    return r;
}

/*
 * A valid vector: every way of feeding it must report the same frames,
 * payload and ends.
 */
static void check_valid(const char *name, int role, const uint8_t *v, size_t len, unsigned frames,
                        const void *payload, size_t plen, uint8_t last_op)
{
    int bad = 0;
    for (int stop = 0; stop < 2; stop++) {
        for (size_t mode = 0; mode < len + 3; mode++) {
            struct rec *r = mode == 0   ? run(role, v, len, WHOLE, 0, stop)
                            : mode == 1 ? run(role, v, len, BYTEWISE, 0, stop)
                                        : run(role, v, len, SPLIT, mode - 2, stop);
            if (r->p.error_code || r->frames != frames || r->ends != frames || r->plen != plen ||
                memcmp(r->payload, payload, plen) != 0 || r->last.opcode != last_op ||
                !ws_frame_parser_idle(&r->p)) {
                if (!bad)
                    diag("%s: stop=%d mode=%zu: err=%u frames=%u ends=%u plen=%zu op=%u", name,
                         stop, mode, r->p.error_code, r->frames, r->ends, r->plen, r->last.opcode);
                bad = 1;
            }
            free(r);
        }
    }
    ok(!bad, "%s: same frames and payload fed whole, bytewise, every split, with pauses", name);
}

/* An invalid vector: every way of feeding it fails with 1002 and the reason. */
static void check_invalid(const char *name, int role, const uint8_t *v, size_t len,
                          const char *reason_part)
{
    int bad = 0;
    for (size_t mode = 0; mode < len + 3; mode++) {
        struct rec *r = mode == 0   ? run(role, v, len, WHOLE, 0, 0)
                        : mode == 1 ? run(role, v, len, BYTEWISE, 0, 0)
                                    : run(role, v, len, SPLIT, mode - 2, 0);
        if (r->p.error_code != WS_CLOSE_PROTOCOL_ERROR || !r->p.error_reason ||
            !strstr(r->p.error_reason, reason_part)) {
            if (!bad)
                diag("%s: mode %zu: error %u (%s)", name, mode, r->p.error_code,
                     r->p.error_reason ? r->p.error_reason : "none");
            bad = 1;
        }
        /* stopped for good */
        uint8_t more[2] = {0x81, 0x00};
        if (ws_frame_parser_execute(&r->p, more, 2) != 0)
            bad = 1;
        free(r);
    }
    ok(!bad, "%s: 1002 (\"%s\") however it is fed, and stays stopped", name, reason_part);
}

#define V(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void test_rfc_examples(void)
{
    /* RFC 6455 §5.7 */
    check_valid("5.7 unmasked Hello (client role)", CLI, V(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
                1, "Hello", 5, WS_OP_TEXT);
    check_valid("5.7 masked Hello (server role)", SRV,
                V(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58), 1, "Hello", 5,
                WS_OP_TEXT);
    check_valid("5.7 fragmented Hel+lo (client role)", CLI,
                V(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f), 2, "Hello", 5, WS_OP_CONT);
    check_valid("5.7 unmasked ping Hello", CLI, V(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f), 1,
                "Hello", 5, WS_OP_PING);
    check_valid("5.7 masked pong Hello", SRV,
                V(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58), 1, "Hello", 5,
                WS_OP_PONG);
    check_valid("empty masked text", SRV, V(0x81, 0x80, 1, 2, 3, 4), 1, "", 0, WS_OP_TEXT);
    check_valid("empty close then empty ping", SRV, V(0x88, 0x80, 1, 2, 3, 4, 0x89, 0x80, 5, 6, 7, 8),
                2, "", 0, WS_OP_PING);

    /* 256 bytes and 64 KiB binary: 16-bit and 64-bit lengths (§5.7) */
    static uint8_t big[10 + 65536];
    static uint8_t expect[65536];
    for (size_t i = 0; i < sizeof expect; i++)
        expect[i] = (uint8_t)(i * 7 + 3);
    big[0] = 0x82, big[1] = 0x7E, big[2] = 0x01, big[3] = 0x00;
    memcpy(big + 4, expect, 256);
    check_valid("5.7 256-byte binary, 16-bit length", CLI, big, 4 + 256, 1, expect, 256,
                WS_OP_BINARY);
    big[1] = 0x7F;
    memset(big + 2, 0, 8);
    big[7] = 0x01; /* 0x0000000000010000 */
    memcpy(big + 10, expect, 65536);
    struct rec *r = run(CLI, big, sizeof big, WHOLE, 0, 0);
    ok(r->frames == 1 && r->plen == 65536 && memcmp(r->payload, expect, 65536) == 0 &&
           r->last.length == 65536,
       "5.7 64 KiB binary, 64-bit length, whole");
    free(r);
    r = run(CLI, big, sizeof big, SPLIT, 5, 0);
    ok(r->frames == 1 && r->plen == 65536 && memcmp(r->payload, expect, 65536) == 0,
       "5.7 64 KiB binary, split inside the length");
    free(r);
    r = run(CLI, big, sizeof big, BYTEWISE, 0, 0);
    ok(r->frames == 1 && r->plen == 65536 && r->payload_calls == 65536 &&
           memcmp(r->payload, expect, 65536) == 0,
       "5.7 64 KiB binary, bytewise: one payload call per byte, no buffering");
    free(r);

    /* non-minimal length encoding is accepted (only senders must be minimal) */
    check_valid("non-minimal 16-bit length", CLI, V(0x82, 0x7E, 0x00, 0x02, 'h', 'i'), 1, "hi", 2,
                WS_OP_BINARY);
}

static void test_violations(void)
{
    check_invalid("RSV1 without extension", SRV, V(0xC1, 0x80, 0, 0, 0, 0), "reserved bits");
    check_invalid("RSV2", SRV, V(0xA1, 0x80, 0, 0, 0, 0), "reserved bits");
    check_invalid("RSV3", SRV, V(0x91, 0x80, 0, 0, 0, 0), "reserved bits");
    for (unsigned op = 3; op <= 0xF; op++) {
        if (op >= 8 && op <= 0xA)
            continue;
        uint8_t v[6] = {(uint8_t)(0x80 | op), 0x80, 0, 0, 0, 0};
        char name[32];
        snprintf(name, sizeof name, "reserved opcode 0x%X", op);
        check_invalid(name, SRV, v, 6, "reserved opcode");
    }
    check_invalid("fragmented ping", SRV, V(0x09, 0x80, 0, 0, 0, 0), "fragmented control");
    check_invalid("fragmented close", SRV, V(0x08, 0x80, 0, 0, 0, 0), "fragmented control");
    check_invalid("ping of 126 bytes", SRV, V(0x89, 0xFE, 0x00, 0x7E), "longer than 125");
    check_invalid("close with 64-bit length", SRV, V(0x88, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5),
                  "longer than 125");
    check_invalid("64-bit length top bit", SRV, V(0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4),
                  "top bit");
    check_invalid("unmasked client frame (server role)", SRV, V(0x81, 0x02, 'h', 'i'), "not masked");
    check_invalid("masked server frame (client role)", CLI, V(0x81, 0x82, 0, 0, 0, 0, 'h', 'i'),
                  "masked");

    /* an allowed extension bit is accepted and reported */
    struct rec *r = rec_new(WS_ROLE_SERVER, 0);
    r->p.allowed_rsv = WS_RSV1;
    uint8_t v[] = {0xC1, 0x80, 0, 0, 0, 0};
    size_t n = ws_frame_parser_execute(&r->p, v, sizeof v);
    ok(n == sizeof v && r->p.error_code == 0 && r->last.rsv == WS_RSV1,
       "RSV1 accepted and reported when allowed_rsv has it");
    free(r);
}

static void test_writer(void)
{
    static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int masked = 0; masked < 2; masked++) {
            uint64_t len = lens[i];
            uint8_t mask[4] = {0xA1, 0xB2, 0xC3, 0xD4};
            uint8_t *buf = malloc(WS_FRAME_HEADER_MAX + len);
            size_t h = ws_frame_write_header(buf, true, 0, WS_OP_BINARY, len, masked ? mask : NULL);
            size_t want_h = 2 + (len >= 126 ? (len > 65535 ? 8 : 2) : 0) + (masked ? 4 : 0);
            for (uint64_t k = 0; k < len; k++)
                buf[h + k] = (uint8_t)(k * 13);
            if (masked)
                ws_frame_mask(buf + h, len, mask, 0);
            struct rec *r = rec_new(masked ? WS_ROLE_SERVER : WS_ROLE_CLIENT, 0);
            size_t n = ws_frame_parser_execute(&r->p, buf, h + len);
            int payload_ok = r->plen == len;
            for (uint64_t k = 0; payload_ok && k < len && k < sizeof r->payload; k++)
                payload_ok = r->payload[k] == (uint8_t)(k * 13);
            ok(h == want_h && n == h + len && r->frames == 1 && r->ends == 1 && payload_ok &&
                   r->last.length == len && r->last.fin && r->last.masked == masked,
               "writer round trip: len %llu %s (header %zu bytes)", (unsigned long long)len,
               masked ? "masked" : "unmasked", h);
            free(r);
            free(buf);
        }
    }
    uint8_t out[WS_FRAME_HEADER_MAX];
    size_t h = ws_frame_write_header(out, false, WS_RSV1, WS_OP_TEXT, 3, NULL);
    ok(h == 2 && out[0] == 0x41 && out[1] == 3, "writer: fin=0, RSV1, text");
}

static void test_mask(void)
{
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t base[96], buf[96 + 8], ref[96];
    int bad = 0;
    for (size_t i = 0; i < sizeof base; i++)
        base[i] = (uint8_t)(i * 31 + 7);
    for (unsigned align = 0; align < 8; align++)
        for (uint64_t off = 0; off < 8; off++)
            for (size_t len = 0; len <= 67; len++) {
                uint8_t *d = buf + align;
                memcpy(d, base, len);
                for (size_t k = 0; k < len; k++)
                    ref[k] = base[k] ^ mask[(off + k) & 3];
                uint64_t next = ws_frame_mask(d, len, mask, off);
                if (memcmp(d, ref, len) != 0 || next != off + len)
                    bad++;
            }
    ok(bad == 0, "ws_frame_mask equals the bytewise definition for 8 alignments x 8 offsets x 0..67");

    /* masking in pieces equals masking at once */
    uint8_t a[1000], b[1000];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (uint8_t)i;
    ws_frame_mask(a, sizeof a, mask, 0);
    uint64_t off = 0;
    size_t pieces[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 392};
    for (size_t i = 0, at = 0; i < sizeof pieces / sizeof pieces[0]; at += pieces[i], i++)
        off = ws_frame_mask(b + at, pieces[i], mask, off);
    ok(memcmp(a, b, sizeof a) == 0 && off == 1000, "masking in uneven pieces equals one pass");
}

int main(void)
{
    test_rfc_examples();
    test_violations();
    test_writer();
    test_mask();
    return tap_done();
}
