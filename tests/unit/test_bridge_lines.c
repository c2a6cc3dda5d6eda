/*
 * test_bridge_lines: cutting child output into line messages
 * (bridge_lines_cut / bridge_lines_finish), fed whole and split everywhere.
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "tap.h"

/* Records emitted pieces as "text|" (fin) or "text+" (not fin). */
struct rec {
    char out[4096];
    size_t len;
};

static void rec_emit(void *ctx, const uint8_t *data, size_t len, bool fin)
{
    struct rec *r = ctx;
    memcpy(r->out + r->len, data, len);
    r->len += len;
    r->out[r->len++] = fin ? '|' : '+';
    r->out[r->len] = '\0';
}

/* Joins adjacent non-fin pieces: "ab+c|" -> "abc|", so splits compare equal. */
static void normalise(const char *in, char *out)
{
    for (; *in; in++)
        if (*in != '+')
            *out++ = *in;
    *out = '\0';
}

/* Feeds input in chunks of `step` bytes with a carry buffer, as bridge.c does. */
static void run(const char *input, size_t step, size_t carry_max, struct rec *r)
{
    struct bridge_lines l;
    uint8_t buf[4096];
    size_t carry = 0, n = strlen(input), off = 0;

    bridge_lines_init(&l);
    r->len = 0;
    r->out[0] = '\0';
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        memcpy(buf + carry, input + off, k);
        off += k;
        size_t keep = bridge_lines_cut(&l, buf, carry + k, carry, carry_max, rec_emit, r);
        memmove(buf, buf + carry + k - keep, keep);
        carry = keep;
    }
    bridge_lines_finish(&l, buf, carry, rec_emit, r);
}

static void check(const char *input, const char *want, const char *name)
{
    struct rec r;
    char norm[4096];
    int all = 1;

    run(input, strlen(input) + 1, 1000, &r);
    ok(strcmp(r.out, want) == 0, "%s: whole", name) ||
        (diag("  got '%s' want '%s'", r.out, want), 0);
    for (size_t step = 1; step <= strlen(input); step++)
        for (size_t cm = 0; cm <= 4; cm += 2) {
            run(input, step, cm, &r);
            normalise(r.out, norm);
            if (strcmp(norm, want) != 0) {
                diag("  step %zu carry_max %zu: got '%s' want '%s'", step, cm, r.out, want);
                all = 0;
                step = (size_t)-2;
                break;
            }
        }
    ok(all, "%s: split every way", name);
}

int main(void)
{
    struct rec r;

    check("a\nbc\n", "a|bc|", "plain lines");
    check("a\r\nb\r\n", "a|b|", "CRLF");
    check("a\r\r\n", "a\r|", "only one CR stripped");
    check("a\rb\n", "a\rb|", "CR inside a line");
    check("\n\n", "||", "empty lines");
    check("last", "last|", "last line without newline at EOF");
    check("x\nlast\r", "x|last\r|", "lone CR at EOF is data");
    check("", "", "nothing");

    /* A line longer than carry_max goes out in fragments, memory bounded. */
    run("abcdef\n", 2, 2, &r);
    ok(strstr(r.out, "+") != NULL, "long line fragmented: %s", r.out);
    run("ab\n", 10, 1000, &r);
    is_mem(r.out, r.len, "ab|", 3, "short line in one piece");

    /* A CR at the end of a fragment is held back until the next byte. */
    {
        struct bridge_lines l;
        bridge_lines_init(&l);
        r.len = 0;
        size_t keep = bridge_lines_cut(&l, (const uint8_t *)"abc\r", 4, 0, 1, rec_emit, &r);
        is_int(keep, 0, "fragment: nothing carried");
        is_mem(r.out, r.len, "abc+", 4, "CR held back");
        keep = bridge_lines_cut(&l, (const uint8_t *)"\n", 1, 0, 1, rec_emit, &r);
        is_mem(r.out, r.len, "abc+|", 5, "CR then LF: CR dropped");
    }
    return tap_done();
}
