/* Unit tests of ws_utf8: the DFA against a reference decoder, split feeding, repair. */
#include "feed.h"
#include "tap.h"
#include "ws_utf8.h"

#include <stdlib.h>

/*
 * Reference: decode by the definition (code point ranges), not by a table.
 * Returns the offset of the first byte at which the input can no longer be
 * a prefix of valid UTF-8, or len if it still can. *complete tells whether
 * it ends at a character boundary.
 */
/* Could cp, with `more` continuation bytes still to come, end as a valid scalar >= min? */
static int extendable(uint32_t cp, unsigned more, uint32_t min)
{
    uint32_t lo = cp, hi = cp;
    for (unsigned r = 0; r < more; r++)
        lo = lo << 6, hi = (hi << 6) | 0x3F;
    return hi >= min && lo <= 0x10FFFF && !(lo >= 0xD800 && hi <= 0xDFFF);
}

static size_t ref_check(const uint8_t *s, size_t len, int *complete)
{
    size_t i = 0;
    *complete = 1;
    while (i < len) {
        uint8_t b = s[i];
        unsigned need;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            need = 1, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            need = 2, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            need = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (!extendable(cp, need, min))
            return i;
        i++;
        for (unsigned k = 1; k <= need; k++, i++) {
            if (i == len) {
                *complete = 0;
                return len;
            }
            if ((s[i] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i] & 0x3F);
            if (!extendable(cp, need - k, min))
                return i;
        }
    }
    return len;
}

struct acc {
    struct ws_utf8 v;
    size_t fed;
    size_t fail_at; /* absolute offset, or SIZE_MAX */
};

static size_t feed_utf8(void *ctx, uint8_t *data, size_t len)
{
    struct acc *a = ctx;
    size_t n = ws_utf8_feed(&a->v, data, len);
    if (n < len && a->fail_at == (size_t)-1)
        a->fail_at = a->fed + n;
    a->fed += len;
    return len;
}

static void check_vector(const char *name, const uint8_t *s, size_t len, size_t want_fail,
                         int want_complete)
{
    int bad = 0;
    for (size_t mode = 0; mode < len + 2; mode++) {
        struct acc a = {.fed = 0, .fail_at = (size_t)-1};
        ws_utf8_init(&a.v);
        if (mode == 0)
            feed_whole(feed_utf8, &a, s, len);
        else if (mode == 1)
            feed_bytewise(feed_utf8, &a, s, len);
        else
            feed_split(feed_utf8, &a, s, len, mode - 2);
        size_t got = a.fail_at == (size_t)-1 ? len : a.fail_at;
        if (got != want_fail || (want_fail == len && ws_utf8_complete(&a.v) != want_complete)) {
            if (!bad)
                diag("%s: mode %zu: fail at %zu want %zu, complete %d want %d", name, mode, got,
                     want_fail, ws_utf8_complete(&a.v), want_complete);
            bad = 1;
        }
    }
    ok(!bad, "%s: whole, bytewise and every split agree (fail at %zu)", name, want_fail);
}

static void test_vectors(void)
{
    static const struct {
        const char *name;
        const char *s;
        size_t len;
        size_t fail;
        int complete;
    } v[] = {
        {"empty", "", 0, 0, 1},
        {"ascii", "Hello, world", 12, 12, 1},
        {"kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11, 11, 1},
        {"U+10FFFF", "\xf4\x8f\xbf\xbf", 4, 4, 1},
        {"U+FFFF", "\xef\xbf\xbf", 3, 3, 1},
        {"truncated 4-byte", "\xf0\x9f\x98", 3, 3, 0},
        {"C0 overlong lead", "a\xc0\x80", 3, 1, 0},
        {"C1 lead", "\xc1\xbf", 2, 0, 0},
        {"E0 80 overlong", "\xe0\x80\x80", 3, 1, 0},
        {"surrogate ED A0", "ab\xed\xa0\x80", 5, 3, 0},
        {"F0 80 overlong", "\xf0\x80\x80\x80", 4, 1, 0},
        {"F4 90 above max", "\xf4\x90\x80\x80", 4, 1, 0},
        {"F5 lead", "\xf5\x80", 2, 0, 0},
        {"FF", "xyz\xff", 4, 3, 0},
        {"lone continuation", "a\x80", 2, 1, 0},
        {"missing continuation", "\xe2\x82" "a", 3, 2, 0},
        {"long ascii then bad", "0123456789abcdef0123456789abcdef\xc3\x28", 34, 33, 0},
        {"long valid mixed", "0123456789abcdef\xe2\x82\xac" "0123456789", 29, 29, 1},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check_vector(v[i].name, (const uint8_t *)v[i].s, v[i].len, v[i].fail, v[i].complete);
}

/* Every sequence of 1, 2 and 3 bytes (16 M inputs), DFA vs reference. */
static void test_exhaustive(void)
{
    unsigned long mismatches = 0, checked = 0;
    uint8_t s[3];
    for (unsigned n = 1; n <= 3; n++) {
        unsigned long total = 1ul << (8 * n);
        for (unsigned long x = 0; x < total; x++) {
            for (unsigned k = 0; k < n; k++)
                s[k] = (uint8_t)(x >> (8 * k));
            struct ws_utf8 v;
            int rc;
            ws_utf8_init(&v);
            size_t got = ws_utf8_feed(&v, s, n);
            size_t want = ref_check(s, n, &rc);
            checked++;
            if (got != want || (want == n && ws_utf8_complete(&v) != rc)) {
                if (mismatches++ < 5)
                    diag("mismatch %02x %02x %02x (n=%u): got %zu want %zu", s[0], s[1], s[2], n,
                         got, want);
            }
        }
    }
    ok(mismatches == 0, "DFA agrees with the reference on all %lu sequences of 1-3 bytes", checked);

    /* 4-byte sequences: every lead F0..F4 with every second and third byte, last byte 80/BF/C0. */
    mismatches = 0;
    for (unsigned a = 0xF0; a <= 0xF7; a++)
        for (unsigned b = 0; b < 256; b++)
            for (unsigned c = 0x70; c < 0xD0; c++)
                for (unsigned d = 0x7F; d <= 0xC0; d++) {
                    uint8_t q[4] = {(uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d};
                    struct ws_utf8 v;
                    int rc;
                    ws_utf8_init(&v);
                    size_t got = ws_utf8_feed(&v, q, 4);
                    size_t want = ref_check(q, 4, &rc);
                    if (got != want || (want == 4 && ws_utf8_complete(&v) != rc))
                        mismatches++;
                }
    ok(mismatches == 0, "DFA agrees with the reference on 4-byte sequences");
}

static void test_sticky(void)
{
    struct ws_utf8 v;
    ws_utf8_init(&v);
    is_int(ws_utf8_feed(&v, (const uint8_t *)"\xff", 1), 0, "0xFF rejected at offset 0");
    ok(ws_utf8_failed(&v), "state is REJECT");
    is_int(ws_utf8_feed(&v, (const uint8_t *)"abc", 3), 0, "REJECT is sticky");
    ok(ws_utf8_valid((const uint8_t *)"\xe2\x82\xac", 3), "ws_utf8_valid: euro sign");
    ok(!ws_utf8_valid((const uint8_t *)"\xe2\x82", 2), "ws_utf8_valid: truncated is not valid");
}

static void repair_case(const char *name, const char *in, size_t inlen, const char *want,
                        size_t wantlen)
{
    /* whole, and byte by byte: the result must be the same */
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct ws_utf8_repair r;
        uint8_t *out = malloc(3 * inlen + 8);
        size_t o = 0;
        ws_utf8_repair_init(&r);
        if (bytewise) {
            for (size_t i = 0; i < inlen; i++)
                o += ws_utf8_repair(&r, (const uint8_t *)in + i, 1, out + o);
        } else {
            o += ws_utf8_repair(&r, (const uint8_t *)in, inlen, out);
        }
        o += ws_utf8_repair_end(&r, out + o);
        is_mem(out, o, want, wantlen, "repair %s (%s)", name, bytewise ? "bytewise" : "whole");
        ok(ws_utf8_valid(out, o), "repair %s output is valid UTF-8", name);
        free(out);
    }
}

#define FFFD "\xef\xbf\xbd"
static void test_repair(void)
{
    repair_case("valid passes through", "a\xc3\xa9z", 4, "a\xc3\xa9z", 4);
    repair_case("lone FF", "a\xff" "b", 3, "a" FFFD "b", 5);
    /* Unicode 15 §3.9, Table 3-8 example: maximal subparts */
    repair_case("table 3-8", "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", 13,
                "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d", 22);
    repair_case("surrogate", "\xed\xa0\x80", 3, FFFD FFFD FFFD, 9);
    repair_case("truncated at end", "ab\xe2\x82", 4, "ab" FFFD, 5);
    repair_case("overlong C0 AF", "\xc0\xaf", 2, FFFD FFFD, 6);
    repair_case("F4 90", "\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD, 12);
}

int main(void)
{
    test_vectors();
    test_exhaustive();
    test_sticky();
    test_repair();
    return tap_done();
}
