/*
 * Fuzz target: an --authorizer's answer (authz_answer.h). The first byte is
 * control: bits 0-1 pick how the authorizer ended (exit 0, exit 1, killed,
 * truncated); the rest is its output, copied into a buffer of its exact
 * length.
 *
 * Invariants: a decision is always made (0, or 300-599); a non-zero exit or
 * a signal never allows; an allowed answer has no body, a refused one hands
 * no variable; every header line is "Name:..." with a token name and no
 * CR/LF, never one the server owns; every variable starts with AUTHZ_ and
 * has '='; the refusal written at the size given fits and starts with the
 * status line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authz_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lines(const struct authz_answer *a)
{
    for (char **h = a->headers; *h; h++) {
        const char *colon = strchr(*h, ':');
        if (!colon || colon == *h || strpbrk(*h, "\r\n") ||
            strncasecmp(*h, "Sec-WebSocket-", 14) == 0 ||
            strncasecmp(*h, "Content-Length:", 15) == 0 || strncasecmp(*h, "Connection:", 11) == 0)
            abort();
    }
    for (char **e = a->env; *e; e++)
        if (strncmp(*e, AUTHZ_ENV_PREFIX, sizeof AUTHZ_ENV_PREFIX - 1) != 0 || !strchr(*e, '='))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct authz_answer a;
    unsigned ctl;
    char *copy;

    if (size < 1)
        return 0;
    ctl = data[0];
    copy = malloc(size - 1 ? size - 1 : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    if (authz_answer_parse(copy, size - 1, (ctl & 3) == 3, (ctl & 3) == 1, (ctl & 3) == 2 ? 9 : 0,
                           &a) != 0) {
        free(copy);
        return 0;
    }
    if (a.status != 0 && (a.status < 300 || a.status > 599))
        abort();
    if ((ctl & 3) != 0 && a.status == 0)
        abort();
    if ((a.status == 0 && a.body) || (a.status != 0 && (a.env[0] || a.remote_user)))
        abort();
    check_lines(&a);
    if (a.status != 0) {
        size_t cap = authz_answer_refusal_size(&a, "X-S: 1\r\n");
        char *out = malloc(cap);
        int n = out ? authz_answer_write_refusal(&a, "X-S: 1\r\n", out, cap) : 0;
        if (out && (n <= 0 || strncmp(out, "HTTP/1.1 ", 9) != 0))
            abort();
        free(out);
    }
    authz_answer_free(&a);
    free(copy);
    return 0;
}
