/*
 * ws_utf8: the DFA.
 *
 * States follow the well-formed byte sequences of Unicode's table 3-7:
 *
 *   ACCEPT  00..7F -> ACCEPT
 *           C2..DF -> TAIL1
 *           E0     -> E0_A0BF      E1..EC, EE..EF -> TAIL2      ED -> ED_809F
 *           F0     -> F0_90BF      F1..F3 -> TAIL3              F4 -> F4_808F
 *           anything else (80..C1, F5..FF) -> REJECT
 *   TAIL1   80..BF -> ACCEPT
 *   TAIL2   80..BF -> TAIL1
 *   TAIL3   80..BF -> TAIL2
 *   E0_A0BF A0..BF -> TAIL1        (no overlong 3-byte forms)
 *   ED_809F 80..9F -> TAIL1        (no surrogates)
 *   F0_90BF 90..BF -> TAIL2        (no overlong 4-byte forms)
 *   F4_808F 80..8F -> TAIL2        (nothing above U+10FFFF)
 *
 * So a sequence fails at the first byte that proves it invalid. Bytes are
 * grouped into classes so the transition table is small.
 */
#include "ws_utf8.h"

#include <string.h>

enum {
    S_ACCEPT = WS_UTF8_ACCEPT,
    S_REJECT = WS_UTF8_REJECT,
    S_TAIL1,
    S_TAIL2,
    S_TAIL3,
    S_E0,
    S_ED,
    S_F0,
    S_F4,
    S_COUNT
};

/* Byte classes. */
enum {
    C_ASCII,   /* 00..7F */
    C_80_8F,   /* continuation, low */
    C_90_9F,   /* continuation, middle */
    C_A0_BF,   /* continuation, high */
    C_BAD,     /* C0, C1, F5..FF */
    C_LEAD2,   /* C2..DF */
    C_E0,      /* E0 */
    C_LEAD3,   /* E1..EC, EE, EF */
    C_ED,      /* ED */
    C_F0,      /* F0 */
    C_LEAD4,   /* F1..F3 */
    C_F4,      /* F4 */
    C_COUNT
};

/* Ranges in initialisers are a GNU C extension (we build with -std=gnu11). */
static const uint8_t class_of[256] = {
    [0x00 ... 0x7F] = C_ASCII, [0x80 ... 0x8F] = C_80_8F, [0x90 ... 0x9F] = C_90_9F,
    [0xA0 ... 0xBF] = C_A0_BF, [0xC0 ... 0xC1] = C_BAD,   [0xC2 ... 0xDF] = C_LEAD2,
    [0xE0] = C_E0,             [0xE1 ... 0xEC] = C_LEAD3, [0xED] = C_ED,
    [0xEE ... 0xEF] = C_LEAD3, [0xF0] = C_F0,             [0xF1 ... 0xF3] = C_LEAD4,
    [0xF4] = C_F4,             [0xF5 ... 0xFF] = C_BAD,
};

#define R S_REJECT
static const uint8_t transition[S_COUNT][C_COUNT] = {
    /*            ASCII     80_8F    90_9F    A0_BF    BAD LEAD2    E0    LEAD3    ED    F0    LEAD4    F4 */
    [S_ACCEPT] = {S_ACCEPT, R, R, R, R, S_TAIL1, S_E0, S_TAIL2, S_ED, S_F0, S_TAIL3, S_F4},
    [S_REJECT] = {R, R, R, R, R, R, R, R, R, R, R, R},
    [S_TAIL1] = {R, S_ACCEPT, S_ACCEPT, S_ACCEPT, R, R, R, R, R, R, R, R},
    [S_TAIL2] = {R, S_TAIL1, S_TAIL1, S_TAIL1, R, R, R, R, R, R, R, R},
    [S_TAIL3] = {R, S_TAIL2, S_TAIL2, S_TAIL2, R, R, R, R, R, R, R, R},
    [S_E0] = {R, R, R, S_TAIL1, R, R, R, R, R, R, R, R},
    [S_ED] = {R, S_TAIL1, S_TAIL1, R, R, R, R, R, R, R, R, R},
    [S_F0] = {R, R, S_TAIL2, S_TAIL2, R, R, R, R, R, R, R, R},
    [S_F4] = {R, S_TAIL2, R, R, R, R, R, R, R, R, R, R},
};
#undef R

static inline uint32_t step(uint32_t state, uint8_t b)
{
    return transition[state][class_of[b]];
}

size_t ws_utf8_feed(struct ws_utf8 *v, const uint8_t *data, size_t len)
{
    uint32_t state = v->state;
    size_t i = 0;

    if (state == S_REJECT)
        return 0;
    while (i < len) {
        /* ASCII fast path, 8 bytes at a time, only at a character boundary. */
        if (state == S_ACCEPT) {
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, data + i, 8);
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            if (i == len)
                break;
        }
        state = step(state, data[i]);
        if (state == S_REJECT) {
            v->state = S_REJECT;
            return i;
        }
        i++;
    }
    v->state = state;
    return len;
}

int ws_utf8_valid(const uint8_t *data, size_t len)
{
    struct ws_utf8 v;
    ws_utf8_init(&v);
    return ws_utf8_feed(&v, data, len) == len && ws_utf8_complete(&v);
}

static const uint8_t replacement[3] = {0xEF, 0xBF, 0xBD};

/*
 * Repair walks the DFA byte by byte, keeping the bytes of the sequence in
 * progress in r->pending. When a byte rejects, the pending bytes are one
 * maximal subpart: they become one U+FFFD, and the rejecting byte is tried
 * again from the start state (it may begin a new sequence, or be invalid on
 * its own and become a U+FFFD by itself).
 */
size_t ws_utf8_repair(struct ws_utf8_repair *r, const uint8_t *data, size_t len, uint8_t *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        uint32_t next;

        if (r->v.state == S_ACCEPT && b < 0x80) {
            out[o++] = b;
            continue;
        }
        next = step(r->v.state, b);
        if (next == S_REJECT) {
            if (r->npending) {
                memcpy(out + o, replacement, 3);
                o += 3;
                r->npending = 0;
                r->v.state = S_ACCEPT;
                i--; /* retry b from the start state */
                continue;
            }
            memcpy(out + o, replacement, 3); /* b cannot start a sequence */
            o += 3;
            continue;
        }
        if (next == S_ACCEPT) {
            memcpy(out + o, r->pending, r->npending);
            o += r->npending;
            out[o++] = b;
            r->npending = 0;
        } else {
            r->pending[r->npending++] = b;
        }
        r->v.state = next;
    }
    return o;
}

size_t ws_utf8_repair_end(struct ws_utf8_repair *r, uint8_t *out)
{
    size_t o = 0;
    if (r->npending) {
        memcpy(out, replacement, 3);
        o = 3;
    }
    ws_utf8_repair_init(r);
    return o;
}
