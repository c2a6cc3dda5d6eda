/*
 * test_framing: the --framing codecs (framing.h). Decoders are fed every input whole, one
 * byte at a time and split at every byte boundary, each piece ending at a guard page; the
 * messages they give must be the same every way. Encoders are checked byte for byte and round
 * trip through the decoders with pieces and output room of many sizes.
 */
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "framing.h"
#include "tap.h"

/* ---------------------------------------------------------------- a transcript of messages */

/* Messages as "T<len>:<bytes>" / "B<len>:<bytes>", or "!" and the error at the end. */
struct transcript {
    uint8_t *p;
    size_t n, cap;
    uint8_t *cur; /* the open message's bytes */
    size_t ncur, capcur;
};

static void tr_add(uint8_t **p, size_t *n, size_t *cap, const void *d, size_t k)
{
    if (*n + k > *cap) {
        *cap = (*n + k) * 2 + 64;
        *p = realloc(*p, *cap);
        if (!*p)
            abort();
    }
    if (k) /* d may be NULL for nothing */
        memcpy(*p + *n, d, k);
    *n += k;
}

static void tr_message(struct transcript *t, bool text)
{
    char h[32];
    int k = snprintf(h, sizeof h, "%c%zu:", text ? 'T' : 'B', t->ncur);
    tr_add(&t->p, &t->n, &t->cap, h, (size_t)k);
    tr_add(&t->p, &t->n, &t->cap, t->cur, t->ncur);
    t->ncur = 0;
}

static void tr_error(struct transcript *t, const struct framing_error *e)
{
    char h[160];
    framing_error_text(e, h, sizeof h);
    tr_add(&t->p, &t->n, &t->cap, "!", 1);
    tr_add(&t->p, &t->n, &t->cap, h, strlen(h));
}

static void tr_free(struct transcript *t)
{
    free(t->p);
    free(t->cur);
}

/* Does the transcript hold exactly want[0..wlen)? (No memcmp on a NULL buffer.) */
static bool tr_same(const struct transcript *t, const char *want, size_t wlen)
{
    return t->n == wlen && (wlen == 0 || memcmp(t->p, want, wlen) == 0);
}

static bool tr_is(struct transcript *t, const char *want, size_t wlen, const char *name)
{
    bool r = ok(tr_same(t, want, wlen), "%s", name);
    if (!r) {
        diag("  got  %zu: %.*s", t->n, (int)t->n, (const char *)t->p);
        diag("  want %zu: %.*s", wlen, (int)wlen, want);
    }
    return r;
}

/* ---------------------------------------------------------------- json decoding */

struct jctx {
    struct framing_json_dec d;
    struct transcript t;
    bool bad;
};

static void j_data(void *ctx, const uint8_t *p, size_t n)
{
    struct jctx *c = ctx;
    tr_add(&c->t.cur, &c->t.ncur, &c->t.capcur, p, n);
}

static size_t j_feed(void *ctx, uint8_t *p, size_t n)
{
    struct jctx *c = ctx;
    size_t used = 0;

    while (!c->bad && used < n) {
        int r;
        used += framing_json_feed(&c->d, p + used, n - used, j_data, c, &r);
        if (r == FRAMING_BAD) {
            c->bad = true;
            tr_error(&c->t, &c->d.err);
        } else if (r != FRAMING_MORE) {
            tr_message(&c->t, r == FRAMING_TEXT);
        }
    }
    return n;
}

static void j_finish(struct jctx *c)
{
    int r;

    if (c->bad)
        return;
    r = framing_json_finish(&c->d);
    if (r == FRAMING_BAD)
        tr_error(&c->t, &c->d.err);
    else if (r != FRAMING_MORE)
        tr_message(&c->t, r == FRAMING_TEXT);
}

/* Decodes in, every way of splitting it, and compares with want (wlen bytes). */
static void json_is(const char *in, size_t inlen, uint64_t max, const char *want, size_t wlen,
                    const char *name)
{
    bool all = true;

    for (size_t at = 0; at <= inlen + 1 && all; at++) {
        struct jctx c = {0};
        framing_json_dec_init(&c.d, max);
        if (at == inlen + 1)
            feed_bytewise(j_feed, &c, (const uint8_t *)in, inlen);
        else
            feed_split(j_feed, &c, (const uint8_t *)in, inlen, at);
        j_finish(&c);
        char label[200];
        snprintf(label, sizeof label, "%s (split at %zu)", name, at);
        if (at == 0 || !tr_same(&c.t, want, wlen))
            all = tr_is(&c.t, want, wlen, label);
        tr_free(&c.t);
    }
}

#define JSON_IS(in, want, name) json_is(in, sizeof in - 1, 0, want, sizeof want - 1, name)
#define JSON_MAX_IS(in, max, want, name) json_is(in, sizeof in - 1, max, want, sizeof want - 1, name)

static void json_decoding(void)
{
    JSON_IS("\"hello\"\n", "T5:hello", "a string");
    JSON_IS("\"\"\n", "T0:", "an empty string");
    JSON_IS("  \"x\" \t\r\n", "T1:x", "blanks around, CRLF");
    JSON_IS("\n \n\"x\"\n\r\n", "T1:x", "blank lines skipped");
    JSON_IS("\"a\\nb\\u0000c\\\"\\\\\\/\\b\\f\\r\\t\"\n", "T12:a\nb\0c\"\\/\b\f\r\t", "escapes");
    JSON_IS("\"\\ud83d\\ude00\\u00e9\\u20AC\"\n", "T9:\xf0\x9f\x98\x80\xc3\xa9\xe2\x82\xac",
            "surrogate pair, 2- and 3-byte escapes");
    JSON_IS("\"\xc3\xa9\xf0\x9f\x98\x80 \xe2\x80\xa8\"\n", "T10:\xc3\xa9\xf0\x9f\x98\x80 \xe2\x80\xa8",
            "raw UTF-8 passes");
    JSON_IS("\"a\"\n\"b\"\n{\"binary\":\"AA==\"}\n", "T1:aT1:bB1:\0", "three messages");
    JSON_IS("\"last\"", "T4:last", "the last line without its newline");
    JSON_IS("{\"binary\":\"AAECAw==\"}\n", "B4:\0\1\2\3", "binary, padded");
    JSON_IS("{\"binary\":\"AAECAw\"}\n", "B4:\0\1\2\3", "binary, unpadded");
    JSON_IS("{\"binary\":\"AAECA+/=\"}\n", "B5:\0\1\2\3\xef", "binary, + and /, one =");
    JSON_IS("{\"binary\":\"AAEC\"}\n", "B3:\0\1\2", "binary, whole groups");
    JSON_IS("{\"binary\":\"\"}\n", "B0:", "an empty binary message");
    JSON_IS(" { \"binary\" : \"/w==\" } \n", "B1:\xff", "binary with blanks");
    JSON_IS("{\"bin\\u0061ry\":\"\\/w==\"}\n", "B1:\xff", "escapes in the name and the base64");
    JSON_IS("{\"binary\":\"QUJD\"}", "B3:ABC", "binary without the newline");

    JSON_IS("hello\n", "!bad output from program: not a JSON string or {\"binary\":BASE64} at "
                       "line 1 byte 0",
            "a bare word");
    JSON_IS("\"ok\"\n  123\n", "T2:ok!bad output from program: not a JSON string or "
                               "{\"binary\":BASE64} at line 2 byte 2",
            "a number, line 2");
    JSON_IS("\n\nnull\n", "!bad output from program: not a JSON string or {\"binary\":BASE64} at "
                          "line 3 byte 0",
            "null after blank lines");
    JSON_IS("[\"a\"]\n", "!bad output from program: not a JSON string or {\"binary\":BASE64} at "
                         "line 1 byte 0",
            "an array");
    JSON_IS("\"abc", "!bad output from program: a value cut short by the end of output at line 1 "
                     "byte 4",
            "cut at EOF");
    JSON_IS("{\"binary\":\"AA==\"", "!bad output from program: a value cut short by the end of "
                                    "output at line 1 byte 16",
            "an object cut at EOF");
    JSON_IS("\"abc\n\"", "!bad output from program: an unterminated string at line 1 byte 4",
            "a newline in a string");
    JSON_IS("\"a\x01\"\n", "!bad output from program: a control byte in a string at line 1 byte 2",
            "a control byte");
    JSON_IS("\"\\ud800\"\n", "!bad output from program: a lone surrogate at line 1 byte 7",
            "a lone high surrogate");
    JSON_IS("\"\\udc00\"\n", "!bad output from program: a lone surrogate at line 1 byte 6",
            "a lone low surrogate");
    JSON_IS("\"\\ud800\\u0041\"\n", "!bad output from program: a lone surrogate at line 1 byte 12",
            "a high surrogate, then not a low one");
    JSON_IS("\"\\ud800\\n\"\n", "!bad output from program: a lone surrogate at line 1 byte 8",
            "a high surrogate, then another escape");
    JSON_IS("\"\\x\"\n", "!bad output from program: an invalid escape at line 1 byte 2",
            "an invalid escape");
    JSON_IS("\"\\u12g4\"\n", "!bad output from program: an invalid \\u escape at line 1 byte 5",
            "a bad hex digit");
    JSON_IS("\"\xff\"\n", "!bad output from program: invalid UTF-8 at line 1 byte 1", "0xff");
    JSON_IS("\"\xc3\"\n", "!bad output from program: invalid UTF-8 at line 1 byte 2",
            "a character cut by the quote");
    JSON_IS("\"\xed\xa0\x80\"\n", "!bad output from program: invalid UTF-8 at line 1 byte 2",
            "an encoded surrogate");
    JSON_IS("\"a\" \"b\"\n", "!bad output from program: more than one JSON value on a line at "
                             "line 1 byte 4",
            "two values");
    JSON_IS("{\"text\":\"a\"}\n", "!bad output from program: an object that is not "
                                  "{\"binary\":BASE64} at line 1 byte 6",
            "another member name");
    JSON_IS("{\"binaryx\":\"a\"}\n", "!bad output from program: an object that is not "
                                     "{\"binary\":BASE64} at line 1 byte 9",
            "a longer member name");
    JSON_IS("{\"binary\":\"AA==\",\"x\":1}\n", "!bad output from program: an object that is not "
                                               "{\"binary\":BASE64} at line 1 byte 16",
            "a second member");
    JSON_IS("{}\n", "!bad output from program: an object that is not {\"binary\":BASE64} at line "
                    "1 byte 1",
            "an empty object");
    JSON_IS("{\"binary\":1}\n", "!bad output from program: \"binary\" that is not a base64 string "
                                "at line 1 byte 10",
            "a number for binary");
    JSON_IS("{\"binary\" 1}\n", "!bad output from program: invalid JSON (expected ':') at line 1 "
                                "byte 10",
            "no colon");
    JSON_IS("{\"binary\":\"A\"}\n", "!bad output from program: invalid base64 at line 1 byte 12",
            "one base64 character");
    JSON_IS("{\"binary\":\"AB=C\"}\n", "!bad output from program: invalid base64 at line 1 byte 14",
            "data after padding");
    JSON_IS("{\"binary\":\"A===\"}\n", "!bad output from program: invalid base64 at line 1 byte 12",
            "padding too early");
    JSON_IS("{\"binary\":\"AAAA=\"}\n", "!bad output from program: invalid base64 at line 1 byte 15",
            "padding after a whole group");
    JSON_IS("{\"binary\":\"AA=\"}\n", "!bad output from program: invalid base64 at line 1 byte 14",
            "half the padding");
    JSON_IS("{\"binary\":\"AA AA\"}\n", "!bad output from program: invalid base64 at line 1 byte 13",
            "a blank in base64");
    JSON_IS("{\"binary\":\"\\u00e9\"}\n", "!bad output from program: invalid base64 at line 1 "
                                          "byte 16",
            "non-ASCII in base64");

    JSON_MAX_IS("\"hello\"\n", 5, "T5:hello", "exactly the limit");
    JSON_MAX_IS("\"hello!\"\n", 5,
                "!bad output from program: message longer than the limit at line 1 byte 6",
                "over the limit");
    JSON_MAX_IS("\"\\u00e9\\u00e9\\u00e9\"\n", 5,
                "!bad output from program: message longer than the limit at line 1 byte 18",
                "over the limit in an escape");
    JSON_MAX_IS("{\"binary\":\"AAECAw==\"}\n", 3,
                "!bad output from program: message longer than the limit at line 1 byte 19",
                "binary over the limit");
}

/* ---------------------------------------------------------------- json encoding */

/* Encodes a message in pieces of `piece` bytes with `room` bytes of output each time. */
static size_t encode(bool text, const uint8_t *p, size_t n, size_t piece, size_t room, uint8_t *out)
{
    struct framing_json_enc e;
    size_t o = framing_json_enc_begin(&e, text, out);

    for (size_t i = 0; i < n;) {
        size_t k = n - i < piece ? n - i : piece, done = 0;
        while (done < k) {
            size_t used;
            o += framing_json_enc_data(&e, p + i + done, k - done, &used, out + o, room);
            done += used;
        }
        i += k;
    }
    return o + framing_json_enc_end(&e, out + o);
}

static void enc_is(bool text, const char *in, size_t n, const char *want, const char *name)
{
    uint8_t out[512];
    bool all = true;

    for (size_t piece = 1; piece <= n + 1 && all; piece++)
        for (size_t room = FRAMING_JSON_PIECE_MIN; room < 20 && all; room++) {
            size_t o = encode(text, (const uint8_t *)in, n, piece, room, out);
            if (piece == 1 && room == FRAMING_JSON_PIECE_MIN)
                is_mem(out, o, want, strlen(want), "%s", name);
            else if (o != strlen(want) || memcmp(out, want, o) != 0)
                all = ok(0, "%s: pieces of %zu, room %zu", name, piece, room);
        }
}

/* Random text (valid UTF-8 with controls, quotes, NUL, non-BMP) and bytes round-trip. */
static void round_trips(void)
{
    static const char *const chars[] = {"a", "\"", "\\", "\n", "\x01", "\x7f", "\0",
                                        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "/"};
    uint32_t seed = 12345;
    bool all = true;

    for (int round = 0; round < 300 && all; round++) {
        bool text = round % 2 == 0;
        size_t n = 0, cap = (size_t)(round * 7 % 400);
        uint8_t *msg = malloc(cap + 8), *enc = malloc(6 * (cap + 8) + 32);
        while (n < cap) {
            seed = seed * 1103515245u + 12345u;
            if (text) {
                const char *c = chars[(seed >> 16) % (sizeof chars / sizeof chars[0])];
                size_t k = c[0] ? strlen(c) : 1;
                memcpy(msg + n, c, k);
                n += k;
            } else {
                msg[n++] = (uint8_t)(seed >> 16);
            }
        }
        size_t piece = 1 + (size_t)round % 13, room = FRAMING_JSON_PIECE_MIN + (size_t)round % 50;
        size_t o = encode(text, msg, n, piece, room, enc);
        struct jctx c = {0};
        framing_json_dec_init(&c.d, 0);
        feed_chunks(j_feed, &c, enc, o, 1 + (size_t)round % 17);
        struct transcript want = {0};
        tr_add(&want.cur, &want.ncur, &want.capcur, msg, n);
        tr_message(&want, text);
        if (!tr_same(&c.t, (const char *)want.p, want.n) || enc[o - 1] != '\n' ||
            memchr(enc, '\n', o - 1))
            all = ok(0, "round trip %d (%s, %zu bytes)", round, text ? "text" : "binary", n);
        tr_free(&c.t);
        tr_free(&want);
        free(msg);
        free(enc);
    }
    ok(all, "300 random text and binary messages round-trip through one line of JSON each");
}

static void json_encoding(void)
{
    enc_is(true, "", 0, "\"\"\n", "empty text");
    enc_is(false, "", 0, "{\"binary\":\"\"}\n", "empty binary");
    enc_is(true, "a\"\\\n\r\t\b\f\x01\x1f\x7f\xc3\xa9/", 14,
           "\"a\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\xc3\xa9/\"\n", "text escapes");
    enc_is(true, "a\0b", 3, "\"a\\u0000b\"\n", "NUL");
    enc_is(false, "\0\1\2\3", 4, "{\"binary\":\"AAECAw==\"}\n", "binary, two pad");
    enc_is(false, "\0\1\2\3\xef", 5, "{\"binary\":\"AAECA+8=\"}\n", "binary, one pad");
    enc_is(false, "\0\1\2\3\xef\xff", 6, "{\"binary\":\"AAECA+//\"}\n", "binary, no pad");

    size_t used = 99;
    uint8_t out[8];
    is_int(framing_json_escape((const uint8_t *)"ab\n", 3, &used, out, 3), 2, "escape: whole "
                                                                               "escapes only");
    is_int(used, 2, "escape: input taken");
    is_int(framing_json_escape((const uint8_t *)"\x01\"", 2, NULL, NULL, 0), 8, "escape: measure");
    round_trips();
}

/* ---------------------------------------------------------------- length */

struct lctx {
    struct framing_len_dec d;
    struct transcript t;
    bool bad;
    int fins;
};

static void l_piece(void *ctx, bool text, const uint8_t *p, size_t n, bool fin)
{
    struct lctx *c = ctx;

    tr_add(&c->t.cur, &c->t.ncur, &c->t.capcur, p, n);
    if (fin) {
        tr_message(&c->t, text);
        c->fins++;
    }
}

static size_t l_feed(void *ctx, uint8_t *p, size_t n)
{
    struct lctx *c = ctx;

    if (!c->bad && framing_len_feed(&c->d, p, n, l_piece, c) == FRAMING_BAD) {
        c->bad = true;
        tr_error(&c->t, &c->d.err);
    }
    return n;
}

static void len_is(const char *in, size_t inlen, const char *want, size_t wlen, const char *name)
{
    bool all = true;

    for (size_t at = 0; at <= inlen + 1 && all; at++) {
        struct lctx c = {0};
        framing_len_dec_init(&c.d);
        if (at == inlen + 1)
            feed_bytewise(l_feed, &c, (const uint8_t *)in, inlen);
        else
            feed_split(l_feed, &c, (const uint8_t *)in, inlen, at);
        if (!c.bad && framing_len_finish(&c.d) == FRAMING_BAD)
            tr_error(&c.t, &c.d.err);
        char label[200];
        snprintf(label, sizeof label, "%s (split at %zu)", name, at);
        if (at == 0 || !tr_same(&c.t, want, wlen))
            all = tr_is(&c.t, want, wlen, label);
        tr_free(&c.t);
    }
}

#define LEN_IS(in, want, name) len_is(in, sizeof in - 1, want, sizeof want - 1, name)

static void length(void)
{
    uint8_t h[FRAMING_REC_HEADER];

    framing_rec_header(h, true, false, 0x01020304u);
    is_mem(h, 5, "\x01\x01\x02\x03\x04", 5, "header: text, length big-endian");
    framing_rec_header(h, false, true, 7);
    is_mem(h, 5, "\x82\0\0\0\x07", 5, "header: binary, more");

    LEN_IS("\x01\0\0\0\x02hi", "T2:hi", "a text record");
    LEN_IS("\x02\0\0\0\x03\0\xff\n", "B3:\0\xff\n", "a binary record");
    LEN_IS("\x01\0\0\0\0\x02\0\0\0\0", "T0:B0:", "empty messages");
    LEN_IS("\x81\0\0\0\x02\xc3\xa9\x81\0\0\0\0\x81\0\0\0\x02\xf0\x9f\x01\0\0\0\x02\x98\x80",
           "T6:\xc3\xa9\xf0\x9f\x98\x80", "a character split across records");
    LEN_IS("\x82\0\0\0\x01\0\x02\0\0\0\x01\1\x01\0\0\0\x01z", "B2:\0\1T1:z",
           "a binary message of two records, then text");
    LEN_IS("", "", "nothing");

    LEN_IS("\0\0\0\0\0", "!bad output from program: an unknown record type at byte 0", "type 0");
    LEN_IS("\x01\0\0\0\x01x\x03\0\0\0\0", "T1:x!bad output from program: an unknown record type "
                                          "at byte 6",
           "type 3 after a message");
    LEN_IS("\x41\0\0\0\0", "!bad output from program: an unknown record type at byte 0",
           "other bits set");
    LEN_IS("\x81\0\0\0\x01x\x02\0\0\0\0", "!bad output from program: a record type that changed "
                                          "inside a message at byte 6",
           "text, then binary in one message");
    LEN_IS("\x01\0\0", "!bad output from program: a record cut short by the end of output at "
                       "byte 3",
           "a header cut short");
    LEN_IS("\x02\0\0\0\x09" "abc", "!bad output from program: a record cut short by the end of "
                                "output at byte 8",
           "a payload cut short");
    LEN_IS("\x82\0\0\0\x01x", "!bad output from program: a record cut short by the end of output "
                              "at byte 6",
           "a message whose last record never came");
    LEN_IS("\x01\0\0\0\x03\xc3\x28x", "!bad output from program: invalid UTF-8 in a text record "
                                      "at byte 6",
           "invalid UTF-8");
    LEN_IS("\x01\0\0\0\x01\xc3", "!bad output from program: invalid UTF-8 in a text record (cut "
                                 "character) at byte 6",
           "a text message ending inside a character");
    LEN_IS("\x02\0\0\0\x01\xc3", "B1:\xc3", "the same bytes as binary");
}

int main(void)
{
    enum framing_mode m = FRAMING_LINES;

    is_int(framing_mode_parse("json", &m), 0, "mode json");
    is_int(m, FRAMING_JSON, "mode json parsed");
    is_int(framing_mode_parse("length", &m), 0, "mode length");
    is_int(m, FRAMING_LENGTH, "mode length parsed");
    is_int(framing_mode_parse("JSON", &m), -1, "mode names are lower case");
    ok(strcmp(framing_mode_name(FRAMING_LINES), "lines") == 0, "the default's name");

    json_decoding();
    json_encoding();
    length();
    return tap_done();
}
