/*
 * Fuzz target: the --framing decoders (framing.h) on the program's output. The first byte
 * picks the decoder (bit 0: json or length) and the piece size (the rest, +1); the other bytes
 * are the output, decoded once whole and once in pieces.
 *
 * Invariants: both ways give the same messages and the same error (what, line, byte); a json
 * text message is valid UTF-8; every json message, encoded again with framing_json_enc_* and
 * decoded, comes back the same; a length message is made of its pieces in order and a text
 * one is valid UTF-8; nothing is given after bad framing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "ws_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    uint8_t *all; /* every message: a type byte, a 4-byte length, the bytes */
    size_t n, cap;
    uint8_t *cur;
    size_t ncur, capcur;
    bool bad;
};

static void grow(uint8_t **p, size_t *n, size_t *cap, const void *d, size_t k)
{
    if (*n + k > *cap) {
        *cap = (*n + k) * 2 + 64;
        if (!(*p = realloc(*p, *cap)))
            abort();
    }
    if (k)
        memcpy(*p + *n, d, k);
    *n += k;
}

static void message(struct sink *s, bool text)
{
    uint8_t h[5];

    if (s->bad)
        abort(); /* nothing after bad framing */
    if (text && !ws_utf8_valid(s->cur, s->ncur))
        abort();
    framing_rec_header(h, text, false, (uint32_t)s->ncur);
    grow(&s->all, &s->n, &s->cap, h, 5);
    grow(&s->all, &s->n, &s->cap, s->cur, s->ncur);
    s->ncur = 0;
}

static void on_data(void *ctx, const uint8_t *p, size_t n)
{
    struct sink *s = ctx;
    grow(&s->cur, &s->ncur, &s->capcur, p, n);
}

static void on_piece(void *ctx, bool text, const uint8_t *p, size_t n, bool fin)
{
    struct sink *s = ctx;
    grow(&s->cur, &s->ncur, &s->capcur, p, n);
    if (fin)
        message(s, text);
}

/* Decodes data[0..size) in pieces of `piece` bytes into s; the error into *e. */
static void decode(bool json, const uint8_t *data, size_t size, size_t piece, struct sink *s,
                   struct framing_error *e)
{
    struct framing_json_dec jd;
    struct framing_len_dec ld;
    int r = FRAMING_MORE;

    framing_json_dec_init(&jd, 1u << 20);
    framing_len_dec_init(&ld);
    for (size_t i = 0; i < size && r != FRAMING_BAD;) {
        size_t k = size - i < piece ? size - i : piece;
        if (!json) {
            r = framing_len_feed(&ld, data + i, k, on_piece, s);
            i += k;
            continue;
        }
        size_t used = framing_json_feed(&jd, data + i, k, on_data, s, &r);
        if (used > k)
            abort();
        if (r == FRAMING_TEXT || r == FRAMING_BINARY)
            message(s, r == FRAMING_TEXT);
        else if (r == FRAMING_MORE && used != k)
            abort(); /* MORE consumes everything */
        i += used;
    }
    if (r != FRAMING_BAD)
        r = json ? framing_json_finish(&jd) : framing_len_finish(&ld);
    if (json && (r == FRAMING_TEXT || r == FRAMING_BINARY))
        message(s, r == FRAMING_TEXT);
    s->bad = r == FRAMING_BAD;
    *e = json ? jd.err : ld.err;
    if (s->bad != (e->what != NULL))
        abort();
}

/* Every message of s, encoded as a json line and decoded again, is the same. */
static void json_again(const struct sink *s)
{
    for (size_t i = 0; i < s->n;) {
        bool text = s->all[i] == FRAMING_REC_TEXT;
        size_t len = (size_t)s->all[i + 1] << 24 | (size_t)s->all[i + 2] << 16 |
                     (size_t)s->all[i + 3] << 8 | s->all[i + 4];
        const uint8_t *p = s->all + i + 5;
        uint8_t *enc = malloc(6 * len + 32);
        struct framing_json_enc e;
        struct sink again = {0};
        struct framing_error err;
        size_t o, used;

        if (!enc)
            abort();
        o = framing_json_enc_begin(&e, text, enc);
        o += framing_json_enc_data(&e, p, len, &used, enc + o, 6 * len + 8);
        if (used != len)
            abort();
        o += framing_json_enc_end(&e, enc + o);
        decode(true, enc, o, 7, &again, &err);
        if (again.bad || again.n != len + 5 || memcmp(again.all, s->all + i, len + 5) != 0)
            abort();
        free(enc);
        free(again.all);
        free(again.cur);
        i += 5 + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sink whole = {0}, pieces = {0};
    struct framing_error e1, e2;
    bool json;

    if (size < 1)
        return 0;
    json = (data[0] & 1) == 0;
    decode(json, data + 1, size - 1, size, &whole, &e1);
    decode(json, data + 1, size - 1, (size_t)(data[0] >> 1) + 1, &pieces, &e2);
    if (whole.n != pieces.n || (whole.n && memcmp(whole.all, pieces.all, whole.n) != 0))
        abort();
    if (whole.bad != pieces.bad || e1.line != e2.line || e1.at != e2.at ||
        (e1.what && strcmp(e1.what, e2.what) != 0))
        abort();
    if (json)
        json_again(&whole);
    free(whole.all);
    free(whole.cur);
    free(pieces.all);
    free(pieces.cur);
    return 0;
}
