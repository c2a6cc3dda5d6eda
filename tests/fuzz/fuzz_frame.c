/*
 * Fuzz target: the frame parser. The first byte picks the role, whether
 * callbacks pause, and the size of the pieces the rest is fed in, so
 * splitting is fuzzed too. Invariants: never consume more than given,
 * payload never exceeds the announced length, a stopped parser stays stopped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
    uint64_t announced, seen;
    int pause;
};

static int on_header(struct ws_frame_parser *p, const struct ws_frame_header *h)
{
    struct st *s = p->data;
    s->announced = h->length;
    s->seen = 0;
    return s->pause;
}

static int on_payload(struct ws_frame_parser *p, uint8_t *d, size_t len)
{
    struct st *s = p->data;
    s->seen += len;
    if (s->seen > s->announced)
        abort();
    return s->pause;
}

static int on_end(struct ws_frame_parser *p)
{
    struct st *s = p->data;
    if (s->seen != s->announced)
        abort();
    return s->pause;
}

static const struct ws_frame_settings settings = {on_header, on_payload, on_end};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws_frame_parser p;
    struct st s = {0};
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    size_t piece = (ctl >> 2) % 17 + 1, off = 0;
    s.pause = (ctl >> 1) & 1;
    ws_frame_parser_init(&p, (ctl & 1) ? WS_ROLE_CLIENT : WS_ROLE_SERVER, &settings);
    p.data = &s;
    if (ctl & 0x80)
        p.allowed_rsv = WS_RSV1;
    data++, size--;
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece;
        size_t used = ws_frame_parser_execute(&p, copy + off, n);
        if (used > n)
            abort();
        if (p.error_code) {
            if (ws_frame_parser_execute(&p, copy + off, n) != 0)
                abort(); /* stays stopped */
            break;
        }
        if (used == 0 && !s.pause)
            abort(); /* no progress without a reason */
        off += used;
    }
    free(copy);
    return 0;
}
