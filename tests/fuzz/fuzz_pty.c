/*
 * Fuzz target: the --pty parsers (pty.h). The whole input is a message for
 * pty_resize_parse (exact length: a read past it is an ASan report), and,
 * as a NUL-terminated copy, a query string for pty_size_from_query.
 *
 * Invariants: a resize is 1..PTY_SIZE_MAX each way, and only for input that
 * starts with '{' (after blanks) and ends with '}' (before blanks); a
 * refusal leaves the sizes untouched; the same input gives the same answer;
 * the query leaves the defaults or puts a size in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pty.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned c1 = 0, r1 = 0, c2 = 0, r2 = 0;
    int a = pty_resize_parse(data, size, &c1, &r1);
    int b = pty_resize_parse(data, size, &c2, &r2);
    char *q;

    if (a != b || a < -1 || a > 1)
        abort();
    if (a == 1) {
        size_t i = 0, j = size;
        if (c1 != c2 || r1 != r2 || c1 < 1 || r1 < 1 || c1 > PTY_SIZE_MAX || r1 > PTY_SIZE_MAX)
            abort();
        while (i < size && blank(data[i]))
            i++;
        while (j > 0 && blank(data[j - 1]))
            j--;
        if (i >= j || data[i] != '{' || data[j - 1] != '}' || size > PTY_RESIZE_MAX)
            abort();
    } else if (c1 || r1) {
        abort();
    }

    if ((q = malloc(size + 1)) == NULL)
        return 0;
    memcpy(q, data, size);
    q[size] = '\0';
    c1 = 80;
    r1 = 24;
    pty_size_from_query(q, &c1, &r1);
    if (c1 < 1 || r1 < 1 || c1 > PTY_SIZE_MAX || r1 > PTY_SIZE_MAX)
        abort();
    free(q);
    return 0;
}
