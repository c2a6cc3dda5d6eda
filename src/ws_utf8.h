/*
 * ws_utf8: incremental UTF-8 validation (RFC 3629), a small DFA of our own.
 *
 * The state is one small integer the caller keeps between calls, so a text
 * message can be validated frame by frame and read by read. Validation
 * fails at the first byte that cannot start or continue a valid sequence
 * (overlongs, surrogates and code points above U+10FFFF are rejected at
 * the earliest byte that proves them invalid, e.g. 0xC0, 0xED 0xA0,
 * 0xF4 0x90).
 */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define WS_UTF8_ACCEPT 0u /* at a character boundary: everything so far is valid */
#define WS_UTF8_REJECT 1u /* sticky: invalid */

struct ws_utf8 {
    uint32_t state; /* WS_UTF8_ACCEPT, WS_UTF8_REJECT, or inside a sequence */
};

static inline void ws_utf8_init(struct ws_utf8 *v)
{
    v->state = WS_UTF8_ACCEPT;
}

/*
 * Feeds len bytes. Returns the number of bytes accepted: len when all of
 * them are valid so far (the input may still end inside a sequence), or
 * the offset of the first invalid byte, in which case the state is
 * WS_UTF8_REJECT and stays so until ws_utf8_init().
 */
size_t ws_utf8_feed(struct ws_utf8 *v, const uint8_t *data, size_t len);

/* True when the bytes fed so far form complete, valid UTF-8 (check at FIN). */
static inline int ws_utf8_complete(const struct ws_utf8 *v)
{
    return v->state == WS_UTF8_ACCEPT;
}

/* True once an invalid byte was seen. */
static inline int ws_utf8_failed(const struct ws_utf8 *v)
{
    return v->state == WS_UTF8_REJECT;
}

/* Whole-buffer convenience: 1 if data is complete valid UTF-8. */
int ws_utf8_valid(const uint8_t *data, size_t len);

/*
 * Streaming repair for outbound text (child output that must go out in text
 * frames): copies data to out, replacing each maximal invalid subpart with
 * U+FFFD (EF BF BD), as Unicode's "substitution of maximal subparts" says.
 * A sequence cut by the end of data is held in r (at most 3 bytes) and
 * completed by the next call. out must hold 3 * len + 4 bytes. Returns the
 * number of bytes written to out.
 */
struct ws_utf8_repair {
    struct ws_utf8 v;
    uint8_t pending[4];
    uint8_t npending;
};

static inline void ws_utf8_repair_init(struct ws_utf8_repair *r)
{
    ws_utf8_init(&r->v);
    r->npending = 0;
}

size_t ws_utf8_repair(struct ws_utf8_repair *r, const uint8_t *data, size_t len, uint8_t *out);

/* At the end of a message: writes U+FFFD for a held incomplete sequence (0 or 3 bytes) and resets r. */
size_t ws_utf8_repair_end(struct ws_utf8_repair *r, uint8_t *out);

#endif
