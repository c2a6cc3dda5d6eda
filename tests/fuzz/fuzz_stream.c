/*
 * Fuzz target: the message stream. The first byte picks the role, a
 * message size limit and the piece size. Invariants: a text message never
 * delivers invalid UTF-8 (checked incrementally by an independent
 * validator instance), frames written are well formed, consumption is
 * bounded by the input, begin/data/end are properly nested.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
    int in_msg, text;
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
    return 0;
}

static int on_end(struct ws_stream *s)
{
    struct st *t = s->data;
    if (!t->in_msg || (t->text && !ws_utf8_complete(&t->check)))
        abort();
    t->in_msg = 0;
    return 0;
}

static int on_close(struct ws_stream *s, uint16_t code, const uint8_t *r, size_t len)
{
    if (len > 123 || !ws_utf8_valid(r, len) || (code != 1005 && !ws_close_code_valid(code)))
        abort();
    return 0;
}

static int on_write(struct ws_stream *s, const uint8_t *frame, size_t len)
{
    if (len < 2 || len > WS_FRAME_HEADER_MAX + WS_CONTROL_MAX || !(frame[0] & 0x80))
        abort();
    return 0;
}

static void on_mask(struct ws_stream *s, uint8_t mask[4])
{
    memcpy(mask, "\x01\x02\x03\x04", 4);
}

static const struct ws_stream_settings settings = {
    .on_message_begin = on_begin,
    .on_message_data = on_data,
    .on_message_end = on_end,
    .on_close = on_close,
    .on_write = on_write,
    .on_mask = on_mask,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws_stream s;
    struct st t = {0};
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    size_t piece = (ctl >> 3) % 13 + 1, off = 0;
    ws_stream_init(&s, (ctl & 1) ? WS_ROLE_CLIENT : WS_ROLE_SERVER, &settings);
    s.data = &t;
    t.max = (ctl & 2) ? 64 : 0;
    s.max_message = t.max;
    if (ctl & 4)
        ws_stream_ping(&s, data, size > 125 ? 125 : size);
    data++, size--;
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    while (off < size && !ws_stream_finished(&s)) {
        size_t n = size - off < piece ? size - off : piece;
        size_t used = ws_stream_execute(&s, copy + off, n);
        if (used > n)
            abort();
        if (used == 0 && !ws_stream_finished(&s))
            abort();
        off += used;
    }
    free(copy);
    return 0;
}
