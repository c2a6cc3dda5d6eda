/*
 * test_pty: the resize message, the size in the query string and the terminal modes (pty.h),
 * each parser fed its input at a guard page so a read past the end crashes.
 */
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "pty.h"
#include "tap.h"

/* pty_resize_parse on a copy of s ending at a guard page. */
static int resize(const char *s, unsigned *c, unsigned *r)
{
    size_t n = strlen(s);
    uint8_t *p = guard_alloc(n);
    int rc;

    memcpy(p, s, n);
    rc = pty_resize_parse(p, n, c, r);
    guard_free(p, n);
    return rc;
}

static void resize_ok(const char *s, unsigned wc, unsigned wr)
{
    unsigned c = 0, r = 0;
    int rc = resize(s, &c, &r);

    if (!ok(rc == 1 && c == wc && r == wr, "resize %s", s))
        diag("  got %d %ux%u, want 1 %ux%u", rc, c, r, wc, wr);
}

static void resize_is(const char *s, int want, const char *why)
{
    unsigned c = 77, r = 77;
    int rc = resize(s, &c, &r);

    if (!ok(rc == want && c == 77 && r == 77, "%s: %s", why, s))
        diag("  got %d (%ux%u), want %d, sizes untouched", rc, c, r, want);
}

static void query_is(const char *q, unsigned wc, unsigned wr)
{
    unsigned c = 80, r = 24;

    pty_size_from_query(q, &c, &r);
    if (!ok(c == wc && r == wr, "query '%s' -> %ux%u", q ? q : "(null)", wc, wr))
        diag("  got %ux%u", c, r);
}

int main(void)
{
    resize_ok("{\"resize\":[80,24]}", 80, 24);
    resize_ok(" { \"resize\" : [ 132 , 43 ] } \n", 132, 43);
    resize_ok("{\"resize\":[1,1]}", 1, 1);
    resize_ok("{\"resize\":[1000,1000]}", 1000, 1000);
    resize_ok("{\"resize\":[007,09]}", 7, 9);

    resize_is("{\"resize\":[0,24]}", -1, "zero columns");
    resize_is("{\"resize\":[80,1001]}", -1, "too many rows");
    resize_is("{\"resize\":[-80,24]}", -1, "negative");
    resize_is("{\"resize\":[80.5,24]}", -1, "a fraction");
    resize_is("{\"resize\":[8e1,24]}", -1, "an exponent");
    resize_is("{\"resize\":[99999999999999999999999,24]}", -1, "overflow");

    resize_is("", 0, "empty");
    resize_is("ls -l", 0, "keystrokes");
    resize_is("{", 0, "a brace typed");
    resize_is("{\"resize\":[80,24]", 0, "unclosed");
    resize_is("{\"resize\":[80,24]}x", 0, "something after it");
    resize_is("{\"resize\":[80,24,1]}", 0, "three numbers");
    resize_is("{\"resize\":[80]}", 0, "one number");
    resize_is("{\"resize\":[\"80\",24]}", 0, "a string");
    resize_is("{\"Resize\":[80,24]}", 0, "another key");
    resize_is("{\"resize\":[80,24],\"x\":1}", 0, "another member");
    resize_is("{\"resize\":{\"cols\":80}}", 0, "an object");
    resize_is("{\"resize\":[80,24]}                                                  ", 0,
              "longer than PTY_RESIZE_MAX");

    /* every prefix of a valid message is not one (each at a guard page) */
    {
        const char *m = "{ \"resize\" : [ 120 , 40 ] }";
        bool all = true;
        for (size_t i = 0; i < strlen(m); i++) {
            char *pre = strndup(m, i);
            unsigned c = 0, r = 0;
            all &= resize(pre, &c, &r) == 0;
            free(pre);
        }
        ok(all, "no prefix of a resize message is one");
    }

    query_is(NULL, 80, 24);
    query_is("", 80, 24);
    query_is("cols=120&rows=40", 120, 40);
    query_is("rows=40", 80, 40);
    query_is("x=1&cols=100;rows=30&y", 100, 30);
    query_is("cols=0&rows=1001", 80, 24);
    query_is("cols=12a&rows=-3", 80, 24);
    query_is("cols=&rows", 80, 24);
    query_is("xcols=100&colsx=3", 80, 24);
    query_is("cols=99999999999999999999", 80, 24);

    {
        struct termios t;
        memset(&t, 0, sizeof t);
        t.c_iflag = ICRNL | IXON;
        t.c_oflag = OPOST | ONLCR;
        t.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
        pty_termios(&t, false);
        ok(!(t.c_lflag & (ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | ECHONL)),
           "line mode: no echo of any kind");
        ok((t.c_lflag & ICANON) && (t.c_lflag & ISIG), "line mode: canonical input, signals");
        ok(!(t.c_oflag & ONLCR) && !(t.c_iflag & (ICRNL | INLCR | IGNCR)),
           "line mode: no CR/NL translation either way");
        ok(!(t.c_iflag & IXON), "line mode: ^S in a message does not stop output");

        memset(&t, 0, sizeof t);
        pty_termios(&t, true);
        ok((t.c_lflag & (ECHO | ICANON | ISIG)) == (ECHO | ICANON | ISIG) &&
               (t.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR) && (t.c_iflag & ICRNL),
           "--binary: a terminal as an emulator expects (echo, CR NL, signals)");
    }
    return tap_done();
}
