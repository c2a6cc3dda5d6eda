/*
 * pty: terminal modes, the initial window size, the resize message (pty.h).
 */
#include "pty.h"

#include <string.h>

struct scan {
    const uint8_t *p, *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* The next token is the literal lit (after whitespace): consumed, true. */
static bool take(struct scan *s, const char *lit)
{
    size_t n = strlen(lit);

    skip_ws(s);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* A JSON number: 1 an integer 1..PTY_SIZE_MAX, -1 some other number, 0 not a number. */
static int take_size(struct scan *s, unsigned *out)
{
    const uint8_t *start;
    unsigned long v = 0;
    bool big = false, frac = false;

    skip_ws(s);
    start = s->p;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p == s->end || *s->p < '0' || *s->p > '9')
        return 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        v = v * 10 + (unsigned long)(*s->p++ - '0');
        big |= v > PTY_SIZE_MAX;
        if (big)
            v = PTY_SIZE_MAX + 1;
    }
    while (s->p < s->end && (strchr(".eE+-", *s->p) || (*s->p >= '0' && *s->p <= '9'))) {
        frac = true; /* a fraction or an exponent: a number, not a size */
        s->p++;
    }
    if (*start == '-' || frac || big || v == 0)
        return -1;
    *out = (unsigned)v;
    return 1;
}

int pty_resize_parse(const uint8_t *p, size_t n, unsigned *cols, unsigned *rows)
{
    struct scan s = {p, p + n};
    unsigned c = 0, r = 0;
    int rc, rr;

    if (n > PTY_RESIZE_MAX)
        return 0;
    if (!take(&s, "{") || !take(&s, "\"resize\"") || !take(&s, ":") || !take(&s, "["))
        return 0;
    if ((rc = take_size(&s, &c)) == 0 || !take(&s, ","))
        return 0;
    if ((rr = take_size(&s, &r)) == 0 || !take(&s, "]") || !take(&s, "}"))
        return 0;
    skip_ws(&s);
    if (s.p != s.end)
        return 0;
    if (rc < 0 || rr < 0)
        return -1;
    *cols = c;
    *rows = r;
    return 1;
}

/* "name=" at the start of one query parameter: its value's number, if 1..PTY_SIZE_MAX. */
static void query_param(const char *param, size_t len, const char *name, unsigned *out)
{
    size_t nl = strlen(name);
    unsigned long v = 0;

    if (len <= nl + 1 || strncmp(param, name, nl) != 0 || param[nl] != '=')
        return;
    for (size_t i = nl + 1; i < len; i++) {
        if (param[i] < '0' || param[i] > '9')
            return;
        v = v * 10 + (unsigned long)(param[i] - '0');
        if (v > PTY_SIZE_MAX)
            return;
    }
    if (v > 0)
        *out = (unsigned)v;
}

void pty_size_from_query(const char *query, unsigned *cols, unsigned *rows)
{
    while (query && *query) {
        size_t len = strcspn(query, "&;");

        query_param(query, len, "cols", cols);
        query_param(query, len, "rows", rows);
        query += len;
        if (*query)
            query++;
    }
}

void pty_termios(struct termios *t, bool binary)
{
#ifdef IUTF8
    t->c_iflag |= IUTF8; /* backspace erases a whole UTF-8 character */
#endif
    if (binary) {
        t->c_iflag |= ICRNL | IXON;
        t->c_oflag |= OPOST | ONLCR;
        t->c_lflag |= ICANON | ISIG | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
        return;
    }
    t->c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IXON | IXOFF);
    t->c_oflag &= ~(tcflag_t)(ONLCR | OCRNL | ONLRET);
    t->c_lflag |= ICANON | ISIG | IEXTEN;
    t->c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE);
}
