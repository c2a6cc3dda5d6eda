/*
 * authz_answer: an authorizer's answer (see authz_answer.h).
 */
#include "build-config.h"

#include "authz_answer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handshake.h"
#include "ws_error.h"

static const char token_chars[] = "!#$%&'*+-.^_`|~0123456789"
                                  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* Headers whose framing or meaning the server owns: an authorizer setting one is a mistake. */
static bool server_owned(const char *name)
{
    static const char *const owned[] = {"Connection", "Content-Length", "Transfer-Encoding",
                                        "Upgrade",    "Keep-Alive",     NULL};

    for (const char *const *o = owned; *o; o++)
        if (strcasecmp(name, *o) == 0)
            return true;
    return strncasecmp(name, "Sec-WebSocket-", 14) == 0;
}

/* The state of one parse: the arrays being filled, and the first thing found wrong. */
struct parse {
    struct authz_answer *a;
    size_t nheaders, nenv;
    int status; /* the Status line's, 0: none */
    const char *bad;
};

static bool valid_value(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

/* "Status: NNN [reason]": 100..599. */
static int parse_status(const char *v)
{
    if (strspn(v, "0123456789") != 3 || (v[3] != '\0' && v[3] != ' ' && v[3] != '\t'))
        return 0;
    int st = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    return st >= 100 && st <= 599 ? st : 0;
}

/* "AUTHZ_NAME=value" with NAME of letters, digits, '_'. */
static bool valid_env(const char *v)
{
    size_t pre = sizeof AUTHZ_ENV_PREFIX - 1;
    size_t name = strcspn(v, "=");

    if (v[name] != '=' || name <= pre || strncmp(v, AUTHZ_ENV_PREFIX, pre) != 0)
        return false;
    for (size_t i = pre; i < name; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_", v[i]))
            return false;
    return true;
}

/* One header line (NUL-terminated, len bytes, in the answer's own copy: rewritten in place). */
static void parse_line(struct parse *ps, char *line, size_t len)
{
    struct authz_answer *a = ps->a;
    char *colon = memchr(line, ':', len), *v;
    size_t vlen;

    if (memchr(line, '\0', len) || !colon || colon == line) {
        ps->bad = "a line that is not 'Name: value'";
        return;
    }
    *colon = '\0';
    if (strspn(line, token_chars) != (size_t)(colon - line)) {
        ps->bad = "a header name that is not a token";
        return;
    }
    v = colon + 1;
    v += strspn(v, " \t");
    vlen = strlen(v);
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        v[--vlen] = '\0';
    if (!valid_value(v, vlen)) {
        ps->bad = "a control byte in a header value";
        return;
    }
    if (strcasecmp(line, "Status") == 0) {
        if (ps->status || !(ps->status = parse_status(v)))
            ps->bad = ps->status ? "two Status lines" : "a Status that is not 100-599";
    } else if (strcasecmp(line, "Set-Env") == 0) {
        if (!valid_env(v))
            ps->bad = "a Set-Env that is not AUTHZ_NAME=value";
        else if (ps->nenv == AUTHZ_HEADERS_MAX)
            ps->bad = "too many Set-Env lines";
        else
            a->env[ps->nenv++] = v;
    } else if (strcasecmp(line, "Remote-User") == 0) {
        a->remote_user = v;
    } else if (strcasecmp(line, "Content-Type") == 0) {
        a->content_type = v;
    } else if (server_owned(line)) {
        ps->bad = "a header the server sets (Connection, Content-Length, Upgrade, Sec-WebSocket-*)";
    } else if (ps->nheaders == AUTHZ_HEADERS_MAX) {
        ps->bad = "too many header lines";
    } else {
        /* "Name: value" in place when there was room for the space, else "Name:value" */
        *colon = ':';
        if (v > colon + 1) {
            colon[1] = ' ';
            memmove(colon + 2, v, vlen + 1);
        }
        a->headers[ps->nheaders++] = line;
    }
}

/* The header block, then the body after an empty line. */
static void parse_text(struct parse *ps, char *p, char *end)
{
    while (p < end && !ps->bad) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *next = nl ? nl + 1 : end;
        size_t len = (size_t)((nl ? nl : end) - p);

        if (len && p[len - 1] == '\r')
            len--;
        if (len == 0) {
            ps->a->body = next;
            ps->a->body_len = (size_t)(end - next);
            return;
        }
        p[len] = '\0';
        parse_line(ps, p, len);
        p = next;
    }
}

void authz_answer_refuse(struct authz_answer *a, int status, const char *reason)
{
    a->status = status;
    a->reason = reason;
}

/* The decision from the parse and how the authorizer ended. */
static void decide(struct authz_answer *a, const struct parse *ps, bool truncated, int exit_status,
                   int term_signal)
{
    int st = ps->status;

    if (term_signal > 0)
        authz_answer_refuse(a, 500, "the authorizer was killed by a signal");
    else if (truncated)
        authz_answer_refuse(a, 500, "the authorizer's output is too long");
    else if (ps->bad)
        authz_answer_refuse(a, 500, ps->bad);
    else if (exit_status != 0)
        authz_answer_refuse(a, st >= 300 ? st : 403, "the authorizer exited non-zero");
    else if (st == 0 || st == 101 || (st >= 200 && st < 300))
        authz_answer_refuse(a, 0, "");
    else if (st >= 300)
        authz_answer_refuse(a, st, "refused by the authorizer");
    else
        authz_answer_refuse(a, 500, "a Status of 1xx other than 101");
    if (a->status != 0) {
        a->env[0] = NULL;
        a->remote_user = NULL;
    } else {
        a->body = a->content_type = NULL;
        a->body_len = 0;
    }
}

int authz_answer_parse(const char *out, size_t len, bool truncated, int exit_status,
                       int term_signal, struct authz_answer *a)
{
    size_t arrays = 2 * (AUTHZ_HEADERS_MAX + 1) * sizeof(char *);
    struct parse ps = {.a = a};
    char *text;

    memset(a, 0, sizeof *a);
    if (len > AUTHZ_ANSWER_MAX) {
        len = AUTHZ_ANSWER_MAX;
        truncated = true;
    }
    a->mem = calloc(1, arrays + len + 1);
    if (!a->mem)
        return WS_E_NOMEM;
    a->headers = (char **)(void *)a->mem;
    a->env = a->headers + AUTHZ_HEADERS_MAX + 1;
    text = a->mem + arrays;
    if (len)
        memcpy(text, out, len);
    if (!truncated && term_signal <= 0)
        parse_text(&ps, text, text + len);
    a->headers[ps.nheaders] = NULL;
    a->env[ps.nenv] = NULL;
    decide(a, &ps, truncated, exit_status, term_signal);
    return 0;
}

void authz_answer_free(struct authz_answer *a)
{
    free(a->mem);
    memset(a, 0, sizeof *a);
}

/* The body a refusal sends: the authorizer's, or a line naming the status (none for 304). */
static const char *refusal_body(const struct authz_answer *a, char *line, size_t cap, size_t *len)
{
    if (a->status == 304) {
        *len = 0;
        return "";
    }
    if (a->body && a->body_len) {
        *len = a->body_len;
        return a->body;
    }
    *len = (size_t)snprintf(line, cap, "%d %s\n", a->status, handshake_status_text(a->status));
    return line;
}

size_t authz_answer_refusal_size(const struct authz_answer *a, const char *extra)
{
    size_t n = 256 + (extra ? strlen(extra) : 0) + (a->body ? a->body_len : 0);

    n += a->content_type ? strlen(a->content_type) : 0;
    for (char **h = a->headers; h && *h; h++)
        n += strlen(*h) + 2;
    return n;
}

int authz_answer_write_refusal(const struct authz_answer *a, const char *extra, char *out,
                               size_t cap)
{
    char line[96];
    size_t blen, n;
    const char *body = refusal_body(a, line, sizeof line, &blen);
    const char *type =
        a->body && a->body_len && a->content_type ? a->content_type : "text/plain; charset=utf-8";
    int r = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s",
                     a->status, handshake_status_text(a->status), type, blen, extra ? extra : "");

    if (r < 0 || (size_t)r >= cap)
        return WS_E_TOOBIG;
    n = (size_t)r;
    for (char **h = a->headers; h && *h; h++) {
        size_t hl = strlen(*h);
        if (n + hl + 2 >= cap)
            return WS_E_TOOBIG;
        memcpy(out + n, *h, hl);
        memcpy(out + n + hl, "\r\n", 2);
        n += hl + 2;
    }
    if (n + 2 + blen > cap || n + 2 + blen > INT32_MAX)
        return WS_E_TOOBIG;
    memcpy(out + n, "\r\n", 2);
    memcpy(out + n + 2, body, blen);
    return (int)(n + 2 + blen);
}
