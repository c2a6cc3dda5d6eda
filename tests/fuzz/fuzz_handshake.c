/*
 * Fuzz target: the handshake. The first byte picks where the request is
 * split in two reads and the limits. Invariants: consumed <= len; once
 * complete, check and the writers run on any request without harm.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct handshake h;
    struct handshake_limits lim = {512, 8};
    char out[2048];
    size_t used = 0, off = 0;
    enum handshake_status st = HANDSHAKE_NEED_MORE;

    if (size < 1)
        return 0;
    size_t split = data[0];
    int small = data[0] & 1;
    data++, size--;
    char *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (handshake_init(&h, small ? &lim : NULL) != 0)
        abort();
    size_t pieces[2] = {split < size ? split : size, 0};
    pieces[1] = size - pieces[0];
    for (int i = 0; i < 2 && st == HANDSHAKE_NEED_MORE; i++) {
        st = handshake_execute(&h, copy + off, pieces[i], &used);
        if (used > pieces[i])
            abort();
        off += used;
    }
    if (st == HANDSHAKE_COMPLETE) {
        (void)handshake_wants_websocket(&h);
        int status = handshake_check(&h);
        if (status == 0) {
            if (handshake_write_101(&h, "X: y\r\n", out, sizeof out) <= 0)
                abort();
        } else if (handshake_write_error(status, NULL, out, sizeof out) <= 0) {
            abort();
        }
        for (unsigned i = 0; i < h.nheaders; i++)
            if (strlen(h.headers[i].name) != h.headers[i].name_len ||
                strlen(h.headers[i].value) != h.headers[i].value_len)
                abort();
    } else if (st == HANDSHAKE_ERROR) {
        if (h.status < 400 || h.status > 599)
            abort();
    }
    handshake_free(&h);
    free(copy);
    return 0;
}
