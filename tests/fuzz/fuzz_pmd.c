/*
 * Fuzz target: permessage-deflate. The first byte picks the piece size, a message size limit,
 * pauses and context takeover; the rest is (a) offered as a Sec-WebSocket-Extensions value to
 * the negotiation and (b) fed as client frames to a server ws_stream that inflates RSV1
 * messages (compressed frames, truncated and corrupt deflate streams). Invariants: an agreed
 * answer is well formed (permessage-deflate, windows 8..15) and fits its buffer; inflated output
 * never exceeds the limit; text stays valid UTF-8; begin/data/end nest; every pause is resumed
 * with no byte lost (consumption never exceeds the input and always progresses); zlib states
 * are released (LeakSanitizer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pmd.h"
#include "ws_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
    int in_msg, text, pause;
    unsigned calls;
    struct ws_utf8 check;
    uint64_t size, max;
};

static int on_begin(struct ws_stream *s, enum ws_opcode op, uint8_t rsv)
{
    struct st *t = s->data;
    if (t->in_msg || (op != WS_OP_TEXT && op != WS_OP_BINARY))
        abort();
    t->in_msg = 1;
    t->text = op == WS_OP_TEXT;
    t->size = 0;
    ws_utf8_init(&t->check);
    return 0;
}

static int on_data(struct ws_stream *s, uint8_t *d, size_t len)
{
    struct st *t = s->data;
    if (!t->in_msg || len == 0)
        abort();
    t->size += len;
    if (t->max && t->size > t->max)
        abort();
    if (t->text && ws_utf8_feed(&t->check, d, len) != len)
        abort();
    return t->pause && (++t->calls % 3) == 0;
}

static int on_end(struct ws_stream *s)
{
    struct st *t = s->data;
    if (!t->in_msg || (t->text && !ws_utf8_complete(&t->check)))
        abort();
    t->in_msg = 0;
    return 0;
}

static int on_write(struct ws_stream *s, const uint8_t *frame, size_t len)
{
    if (len < 2 || len > WS_FRAME_HEADER_MAX + WS_CONTROL_MAX || (frame[0] & 0x70))
        abort();
    return 0;
}

static const struct ws_stream_settings settings = {
    .on_message_begin = on_begin,
    .on_message_data = on_data,
    .on_message_end = on_end,
    .on_write = on_write,
};

static void negotiate(const uint8_t *data, size_t size)
{
    struct pmd_policy p;
    struct pmd_params a;
    char resp[PMD_RESPONSE_MAX];

    pmd_policy_init(&p);
    if (!pmd_negotiate_value(&p, (const char *)data, size, &a, resp))
        return;
    if (strncmp(resp, "permessage-deflate", 18) != 0 || strlen(resp) >= PMD_RESPONSE_MAX ||
        a.server_max_window_bits < 8 || a.server_max_window_bits > 15 ||
        a.client_max_window_bits < 8 || a.client_max_window_bits > 15)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws_stream s;
    struct st t = {0};
    struct pmd_inflate in;
    struct pmd_params a = {true, true, 15, 15};

    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    size_t piece = (size_t)1 << ((ctl >> 4) % 12), off = 0;
    data++, size--;
    negotiate(data, size);

    a.client_no_context_takeover = !(ctl & 4);
    a.client_max_window_bits = (uint8_t)(9 + (ctl >> 3) % 7);
    ws_stream_init(&s, WS_ROLE_SERVER, &settings);
    s.data = &t;
    t.max = (ctl & 1) ? 4096 : 0;
    t.pause = (ctl & 2) != 0;
    s.max_message = t.max;
    pmd_inflate_init(&in, &a);
    ws_stream_set_extension(&s, &pmd_stream_ext, &in);
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    /* a pause on the last bytes leaves the message end to a call with no bytes */
    for (unsigned rounds = 0, idle = 0; !ws_stream_finished(&s) && rounds < 1000000; rounds++) {
        size_t n = size - off < piece ? size - off : piece;
        if (n == 0 && idle++ > 2)
            break;
        size_t used = ws_stream_execute(&s, copy + off, n);
        if (used > n)
            abort();
        off += used;
    }
    free(copy);
    pmd_inflate_end(&in);
    pmd_pool_drain();
    return 0;
}
