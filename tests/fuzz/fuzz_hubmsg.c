/*
 * Fuzz target: the addressed mode's output lines (hubmsg_parse_out). Invariants: no read past
 * the line, an accepted line has data no longer than the line and at most one of to/except,
 * and a message event built from the input is one line ending in "\n" with no other newline.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hubmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hubmsg_out o;
    uint8_t *copy = malloc(size ? size : 1);
    size_t n;

    if (!copy)
        return 0;
    memcpy(copy, data, size); /* exactly size bytes: ASan sees a read past them */
    if (hubmsg_parse_out(copy, size, &o) == NULL && (o.len > size || (o.to && o.except)))
        abort();
    hubmsg_out_free(&o);
    uint8_t *ev = hubmsg_event_message(1, copy, size, size && (copy[0] & 1), &n);
    if (ev && (n == 0 || ev[n - 1] != '\n' || memchr(ev, '\n', n - 1)))
        abort();
    free(ev);
    free(copy);
    return 0;
}
