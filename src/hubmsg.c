/*
 * hubmsg: the addressed mode's JSON lines (see hubmsg.h).
 */
#include "hubmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ws_utf8.h"

#define ID_MAX 9007199254740992ull /* 2^53: exact in every JSON reader */

/* ---------------------------------------------------------------- building */

struct sb {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void sb_room(struct sb *s, size_t n)
{
    if (s->oom || s->len + n <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 128;
    while (cap < s->len + n)
        cap *= 2;
    uint8_t *np = realloc(s->p, cap);
    if (!np) {
        s->oom = true;
        return;
    }
    s->p = np;
    s->cap = cap;
}

static void sb_put(struct sb *s, const void *p, size_t n)
{
    sb_room(s, n);
    if (s->oom)
        return;
    memcpy(s->p + s->len, p, n);
    s->len += n;
}

static void sb_str(struct sb *s, const char *str)
{
    sb_put(s, str, strlen(str));
}

/* A JSON string of p[0..n): repaired to UTF-8, quoted and escaped. */
static void sb_json(struct sb *s, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    struct ws_utf8_repair r;
    uint8_t *u = malloc(3 * n + 8);
    size_t m;

    if (!u) {
        s->oom = true;
        return;
    }
    ws_utf8_repair_init(&r);
    m = ws_utf8_repair(&r, p, n, u);
    m += ws_utf8_repair_end(&r, u + m);
    sb_room(s, 6 * m + 2);
    if (s->oom) {
        free(u);
        return;
    }
    s->p[s->len++] = '"';
    for (size_t i = 0; i < m; i++) {
        uint8_t c = u[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : NULL;
        if (esc) {
            memcpy(s->p + s->len, esc, 2);
            s->len += 2;
        } else if (c < 0x20 || c == 0x7f) {
            uint8_t e[6] = {'\\', 'u', '0', '0', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15]};
            memcpy(s->p + s->len, e, 6);
            s->len += 6;
        } else {
            s->p[s->len++] = c;
        }
    }
    s->p[s->len++] = '"';
    free(u);
}

static void sb_head(struct sb *s, const char *event, unsigned long id)
{
    char head[96];
    snprintf(head, sizeof head, "{\"event\":\"%s\",\"id\":%lu", event, id);
    sb_str(s, head);
}

static uint8_t *sb_end(struct sb *s, size_t *n)
{
    sb_str(s, "}\n");
    if (s->oom) {
        free(s->p);
        return NULL;
    }
    *n = s->len;
    return s->p;
}

uint8_t *hubmsg_event_message(unsigned long id, const uint8_t *data, size_t len, bool binary,
                              size_t *n)
{
    struct sb s = {0};

    sb_head(&s, "message", id);
    if (!binary) {
        sb_str(&s, ",\"data\":");
        sb_json(&s, data, len);
        return sb_end(&s, n);
    }
    sb_str(&s, ",\"base64\":\"");
    sb_room(&s, 4 * ((len + 2) / 3) + 1);
    if (!s.oom)
        s.len += (size_t)EVP_EncodeBlock(s.p + s.len, data, (int)len);
    sb_str(&s, "\"");
    return sb_end(&s, n);
}

uint8_t *hubmsg_event_join(unsigned long id, char *const *env, size_t *n)
{
    struct sb s = {0};

    sb_head(&s, "join", id);
    sb_str(&s, ",\"env\":{");
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq)
            continue;
        if (i)
            sb_str(&s, ",");
        sb_json(&s, (const uint8_t *)env[i], (size_t)(eq - env[i]));
        sb_str(&s, ":");
        sb_json(&s, (const uint8_t *)eq + 1, strlen(eq + 1));
    }
    sb_str(&s, "}");
    return sb_end(&s, n);
}

uint8_t *hubmsg_event_leave(unsigned long id, size_t *n)
{
    struct sb s = {0};

    sb_head(&s, "leave", id);
    return sb_end(&s, n);
}

/* ---------------------------------------------------------------- parsing */

struct rd {
    const uint8_t *p, *end;
};

static void skip_ws(struct rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
        r->p++;
}

static bool eat(struct rd *r, uint8_t c)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

static int hex4(const uint8_t *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int d = p[i] >= '0' && p[i] <= '9'   ? p[i] - '0'
                : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
                : p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10
                                             : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t put_utf8(uint8_t *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* A \uXXXX escape at r->p (after the backslash and 'u'), a surrogate pair joined; a lone
 * surrogate is U+FFFD. Returns the code point or -1. */
static long unicode_escape(struct rd *r)
{
    int hi, lo;

    if (r->end - r->p < 4 || (hi = hex4(r->p)) < 0)
        return -1;
    r->p += 4;
    if (hi < 0xD800 || hi > 0xDFFF)
        return hi;
    if (hi <= 0xDBFF && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' &&
        (lo = hex4(r->p + 2)) >= 0xDC00 && lo <= 0xDFFF) {
        r->p += 6;
        return 0x10000 + ((long)(hi - 0xD800) << 10) + (lo - 0xDC00);
    }
    return 0xFFFD;
}

/* A string at r->p (after its opening quote): decoded into out (NULL: skipped; out holds at
 * least as many bytes as the rest of the input). Returns its length, or -1. */
static long string_body(struct rd *r, uint8_t *out)
{
    size_t o = 0;

    while (r->p < r->end) {
        uint8_t c = *r->p++;
        if (c == '"')
            return (long)o;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (out)
                out[o] = c;
            o++;
            continue;
        }
        if (r->p == r->end)
            return -1;
        c = *r->p++;
        uint8_t e = c == 'n'                              ? '\n'
                    : c == 't'                            ? '\t'
                    : c == 'r'                            ? '\r'
                    : c == 'b'                            ? '\b'
                    : c == 'f'                            ? '\f'
                    : (c == '"' || c == '\\' || c == '/') ? c
                                                          : 0;
        if (e) {
            if (out)
                out[o] = e;
            o++;
        } else if (c == 'u') {
            long cp = unicode_escape(r);
            uint8_t tmp[4];
            if (cp < 0)
                return -1;
            size_t k = put_utf8(out ? out + o : tmp, (unsigned)cp);
            o += k;
        } else {
            return -1;
        }
    }
    return -1;
}

/* An unsigned integer ID (1..2^53). */
static bool id_value(struct rd *r, unsigned long *v)
{
    unsigned long long n = 0;
    const uint8_t *start;

    skip_ws(r);
    start = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9' && r->p - start < 17)
        n = n * 10 + (unsigned)(*r->p++ - '0');
    if (r->p == start || n == 0 || n > ID_MAX || (*start == '0' && r->p - start > 1))
        return false;
    if (r->p < r->end &&
        ((*r->p >= '0' && *r->p <= '9') || *r->p == '.' || *r->p == 'e' || *r->p == 'E'))
        return false;
    *v = (unsigned long)n;
    return true;
}

/* Skips any JSON value: strings, numbers, literals, objects and arrays nested up to
 * HUBMSG_DEPTH_MAX. */
static bool skip_value(struct rd *r, int depth)
{
    const uint8_t *start;
    uint8_t c;

    skip_ws(r);
    if (r->p == r->end)
        return false;
    c = *r->p;
    if (c == '"') {
        r->p++;
        return string_body(r, NULL) >= 0;
    }
    if (c == '{' || c == '[') {
        uint8_t close = c == '{' ? '}' : ']';
        if (depth >= HUBMSG_DEPTH_MAX)
            return false;
        r->p++;
        if (eat(r, close))
            return true;
        do {
            if (c == '{' && (!eat(r, '"') || string_body(r, NULL) < 0 || !eat(r, ':')))
                return false;
            if (!skip_value(r, depth + 1))
                return false;
        } while (eat(r, ','));
        return eat(r, close);
    }
    start = r->p;
    while (r->p < r->end && ((*r->p >= '0' && *r->p <= '9') || (*r->p >= 'a' && *r->p <= 'z') ||
                             *r->p == '-' || *r->p == '+' || *r->p == '.' || *r->p == 'E'))
        r->p++;
    size_t n = (size_t)(r->p - start);
    if (n == 0)
        return false;
    if ((n == 4 && memcmp(start, "true", 4) == 0) || (n == 5 && memcmp(start, "false", 5) == 0) ||
        (n == 4 && memcmp(start, "null", 4) == 0))
        return true;
    return start[0] == '-' || (start[0] >= '0' && start[0] <= '9');
}

static bool key_is(const uint8_t *k, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(k, name, n) == 0;
}

/* One "key": value member of the object. */
static const char *member(struct rd *r, struct hubmsg_out *o, bool *have_data)
{
    const uint8_t *k;
    size_t kn;

    if (!eat(r, '"'))
        return "a key is not a string";
    k = r->p;
    if (string_body(r, NULL) < 0)
        return "bad string";
    kn = (size_t)(r->p - 1 - k); /* raw: a key written with escapes is an unknown key */
    if (!eat(r, ':'))
        return "no ':' after a key";
    if (key_is(k, kn, "data")) {
        long n;
        if (*have_data)
            return "\"data\" twice";
        if (!eat(r, '"'))
            return "\"data\" is not a string";
        o->data = malloc((size_t)(r->end - r->p) + 1);
        if (!o->data)
            return "out of memory";
        if ((n = string_body(r, o->data)) < 0)
            return "bad string";
        o->len = (size_t)n;
        *have_data = true;
    } else if (key_is(k, kn, "to") || key_is(k, kn, "except")) {
        unsigned long *v = k[0] == 't' ? &o->to : &o->except;
        if (*v)
            return "an id twice";
        if (!id_value(r, v))
            return "an id must be an integer from 1 to 2^53";
    } else if (!skip_value(r, 0)) {
        return "bad JSON value";
    }
    return NULL;
}

const char *hubmsg_parse_out(const uint8_t *line, size_t len, struct hubmsg_out *o)
{
    struct rd r = {line, line + len};
    bool have_data = false;
    const char *why;

    memset(o, 0, sizeof *o);
    if (!eat(&r, '{'))
        return "not a JSON object";
    if (!eat(&r, '}')) {
        do {
            if ((why = member(&r, o, &have_data)) != NULL)
                return why;
        } while (eat(&r, ','));
        if (!eat(&r, '}'))
            return "not a JSON object";
    }
    skip_ws(&r);
    if (r.p != r.end)
        return "bytes after the object";
    if (!have_data)
        return "no \"data\"";
    if (o->to && o->except)
        return "both \"to\" and \"except\"";
    return NULL;
}

void hubmsg_out_free(struct hubmsg_out *o)
{
    free(o->data);
    o->data = NULL;
    o->len = 0;
}
