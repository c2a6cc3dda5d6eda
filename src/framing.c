/*
 * framing: the --framing codecs (see framing.h).
 *
 * Base64 is written here rather than taken from libcrypto: both directions are streamed in
 * pieces of any size (EVP_Encode* adds line breaks, EVP_Decode* skips whitespace and has no
 * way to say where input went wrong), and it is a table lookup, not cryptography.
 */
#include "build-config.h"

#include "framing.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const mode_names[] = {"lines", "json", "length"};

const char *framing_mode_name(enum framing_mode m)
{
    return (unsigned)m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : "?";
}

int framing_mode_parse(const char *name, enum framing_mode *m)
{
    for (unsigned i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++) {
        if (strcmp(name, mode_names[i]) == 0) {
            *m = (enum framing_mode)i;
            return 0;
        }
    }
    return -1;
}

char *framing_error_text(const struct framing_error *e, char *out, size_t cap)
{
    const char *what = e->what ? e->what : "unknown error";

    if (cap == 0)
        return out;
    if (e->line)
        snprintf(out, cap, "bad output from program: %s at line %" PRIu64 " byte %" PRIu64, what,
                 e->line, e->at);
    else
        snprintf(out, cap, "bad output from program: %s at byte %" PRIu64, what, e->at);
    return out;
}

/* ---------------------------------------------------------------- base64 */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A character's 6 bits, or -1. */
static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Encodes whole groups of 3 from p[0..n) (n a multiple of 3) into out. */
static size_t b64_groups(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t o = 0;

    for (size_t i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = (uint8_t)b64_chars[v >> 18];
        out[o++] = (uint8_t)b64_chars[(v >> 12) & 63];
        out[o++] = (uint8_t)b64_chars[(v >> 6) & 63];
        out[o++] = (uint8_t)b64_chars[v & 63];
    }
    return o;
}

/* The last 1 or 2 bytes, padded. */
static size_t b64_tail(const uint8_t *p, size_t n, uint8_t *out)
{
    uint32_t v;

    if (n == 0)
        return 0;
    v = (uint32_t)p[0] << 16 | (n > 1 ? (uint32_t)p[1] << 8 : 0);
    out[0] = (uint8_t)b64_chars[v >> 18];
    out[1] = (uint8_t)b64_chars[(v >> 12) & 63];
    out[2] = n > 1 ? (uint8_t)b64_chars[(v >> 6) & 63] : '=';
    out[3] = '=';
    return 4;
}

/* ---------------------------------------------------------------- json: escaping */

size_t framing_json_escape(const uint8_t *p, size_t n, size_t *used, uint8_t *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;

    for (i = 0; i < n; i++) {
        uint8_t c = p[i], e[6];
        size_t k = 2;
        e[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            e[1] = c;
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(e + 1, "u00", 3);
                e[4] = (uint8_t)hex[c >> 4];
                e[5] = (uint8_t)hex[c & 15];
                k = 6;
            } else {
                e[0] = c;
                k = 1;
            }
        }
        if (out) {
            if (o + k > cap)
                break;
            memcpy(out + o, e, k);
        }
        o += k;
    }
    if (used)
        *used = i;
    return o;
}

/* ---------------------------------------------------------------- json: to the program */

size_t framing_json_enc_begin(struct framing_json_enc *e, bool text, uint8_t *out)
{
    static const char open_binary[] = "{\"binary\":\"";

    e->binary = !text;
    e->ncarry = 0;
    if (text) {
        out[0] = '"';
        return 1;
    }
    memcpy(out, open_binary, sizeof open_binary - 1);
    return sizeof open_binary - 1;
}

size_t framing_json_enc_data(struct framing_json_enc *e, const uint8_t *p, size_t n,
                             size_t *used, uint8_t *out, size_t cap)
{
    size_t o = 0, take;

    if (!e->binary)
        return framing_json_escape(p, n, used, out, cap);
    *used = 0;
    if (cap < 4)
        return 0;
    /* complete the group carried from the last piece */
    while (e->ncarry > 0 && e->ncarry < 3 && *used < n)
        e->carry[e->ncarry++] = p[(*used)++];
    if (e->ncarry == 3) {
        o = b64_groups(e->carry, 3, out);
        e->ncarry = 0;
    } else if (e->ncarry) {
        return 0; /* all of p went into the carried group */
    }
    take = n - *used;
    if (take / 3 > (cap - o) / 4)
        take = (cap - o) / 4 * 3;
    take -= take % 3;
    o += b64_groups(p + *used, take, out + o);
    *used += take;
    if (n - *used < 3) { /* a short end waits for the next piece */
        memcpy(e->carry, p + *used, n - *used);
        e->ncarry = (uint8_t)(n - *used);
        *used = n;
    }
    return o;
}

size_t framing_json_enc_end(struct framing_json_enc *e, uint8_t *out)
{
    size_t o = 0;

    if (e->binary) {
        o = b64_tail(e->carry, e->ncarry, out);
        out[o++] = '"';
        out[o++] = '}';
    } else {
        out[o++] = '"';
    }
    out[o++] = '\n';
    e->ncarry = 0;
    return o;
}

/* ---------------------------------------------------------------- json: from the program */

enum json_state {
    J_START,     /* before the value (blanks) */
    J_OBJ,       /* after '{' */
    J_COLON,     /* after the member name */
    J_B64_OPEN,  /* after ':' */
    J_OBJ_CLOSE, /* after the base64 string */
    J_AFTER,     /* after the value: blanks, then '\n' */
    J_STR,       /* inside a string */
    J_ESC,       /* after '\\' */
    J_HEX,       /* inside \uXXXX */
    J_PAIR_BS,   /* after a high surrogate: its pair's '\\' */
    J_PAIR_U,    /* ... and 'u' */
    J_BAD,
};

enum json_in { IN_TEXT, IN_KEY, IN_B64 }; /* what the string is */

#define STAGE_SIZE 256u

/* Decoded bytes collected in a call, handed to data() in runs. */
struct json_out {
    framing_data_fn data;
    void *ctx;
    size_t n;
    uint8_t stage[STAGE_SIZE];
};

static void out_flush(struct json_out *o)
{
    if (o->n)
        o->data(o->ctx, o->stage, o->n);
    o->n = 0;
}

static bool blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Bad framing at byte i of this call's input: sticky. */
static void json_bad(struct framing_json_dec *d, size_t i, const char *what)
{
    d->state = J_BAD;
    d->err.what = what;
    d->err.line = d->line;
    d->err.at = d->col + i;
}

void framing_json_dec_init(struct framing_json_dec *d, uint64_t max)
{
    memset(d, 0, sizeof *d);
    d->max = max;
    d->line = 1;
}

/* n decoded bytes more for this message: false (bad framing) over the limit. */
static bool json_count(struct framing_json_dec *d, size_t n, size_t i)
{
    d->out += n;
    if (d->max && d->out > d->max) {
        json_bad(d, i, "message longer than the limit");
        return false;
    }
    return true;
}

/* One base64 character (or '=') of the binary member's value. */
static bool b64_char(struct framing_json_dec *d, struct json_out *o, uint8_t c, size_t i)
{
    int v = c == '=' ? 0 : b64_value(c);

    if (v < 0 || (c != '=' && d->npad) || (c == '=' && d->nb64 < 2)) {
        json_bad(d, i, "invalid base64");
        return false;
    }
    if (c == '=') {
        if (d->nb64 + ++d->npad > 4) {
            json_bad(d, i, "invalid base64");
            return false;
        }
        return true;
    }
    d->b64 = d->b64 << 6 | (uint32_t)v;
    if (++d->nb64 < 4)
        return true;
    if (!json_count(d, 3, i))
        return false;
    if (o->n + 3 > STAGE_SIZE)
        out_flush(o);
    o->stage[o->n++] = (uint8_t)(d->b64 >> 16);
    o->stage[o->n++] = (uint8_t)(d->b64 >> 8);
    o->stage[o->n++] = (uint8_t)d->b64;
    d->b64 = 0;
    d->nb64 = 0;
    return true;
}

/* The base64 string ended: the bytes of a last short quantum. */
static bool b64_end(struct framing_json_dec *d, struct json_out *o, size_t i)
{
    size_t k = d->nb64 == 2 ? 1 : d->nb64 == 3 ? 2 : 0;

    if (d->nb64 == 1 || (d->npad && d->nb64 + d->npad != 4)) {
        json_bad(d, i, "invalid base64");
        return false;
    }
    if (!json_count(d, k, i))
        return false;
    if (o->n + 2 > STAGE_SIZE)
        out_flush(o);
    if (k >= 1)
        o->stage[o->n++] = (uint8_t)(d->b64 >> (d->nb64 == 2 ? 4 : 10));
    if (k == 2)
        o->stage[o->n++] = (uint8_t)(d->b64 >> 2);
    return true;
}

/* Decoded bytes of a string (a character from an escape, or raw bytes) go where it belongs. */
static bool str_bytes(struct framing_json_dec *d, struct json_out *o, const uint8_t *p, size_t n,
                      size_t i, bool raw)
{
    switch (d->in) {
    case IN_TEXT:
        if (!json_count(d, n, i))
            return false;
        if (o->n + n > STAGE_SIZE)
            out_flush(o);
        if (n > STAGE_SIZE) {
            o->data(o->ctx, p, n);
            return true;
        }
        memcpy(o->stage + o->n, p, n);
        o->n += n;
        return true;
    case IN_KEY:
        for (size_t k = 0; k < n; k++) {
            if (d->nkey < sizeof d->key)
                d->key[d->nkey] = p[k];
            if (d->nkey < UINT8_MAX)
                d->nkey++;
        }
        return true;
    default:
        for (size_t k = 0; k < n; k++)
            if (!b64_char(d, o, p[k], raw ? i + k : i))
                return false;
        return true;
    }
}

/* A code point from an escape, as UTF-8. */
static bool str_code_point(struct framing_json_dec *d, struct json_out *o, uint32_t cp, size_t i)
{
    uint8_t u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 63));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
        u[2] = (uint8_t)(0x80 | (cp & 63));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 63));
        u[3] = (uint8_t)(0x80 | (cp & 63));
        n = 4;
    }
    return str_bytes(d, o, u, n, i, false);
}

/* A string starts: its raw bytes are checked as UTF-8 from here. */
static void str_open(struct framing_json_dec *d, enum json_in in)
{
    d->state = J_STR;
    d->in = (uint8_t)in;
    ws_utf8_init(&d->utf8);
}

/* The closing '"' of a string. */
static void str_close(struct framing_json_dec *d, struct json_out *o, size_t i)
{
    static const char binary_key[] = "binary";

    switch (d->in) {
    case IN_TEXT:
        d->state = J_AFTER;
        break;
    case IN_KEY:
        if (d->nkey != sizeof binary_key - 1 || memcmp(d->key, binary_key, d->nkey) != 0)
            json_bad(d, i, "an object that is not {\"binary\":BASE64}");
        else
            d->state = J_COLON;
        break;
    default:
        if (b64_end(d, o, i))
            d->state = J_OBJ_CLOSE;
    }
}

/* Inside a string: a run of plain bytes, or one special byte. Returns the bytes taken. */
static size_t json_string(struct framing_json_dec *d, struct json_out *o, const uint8_t *p,
                          size_t n, size_t i)
{
    size_t k = i;

    while (k < n && p[k] != '"' && p[k] != '\\' && p[k] >= 0x20)
        k++;
    if (k > i) {
        if (d->high) {
            json_bad(d, i, "a lone surrogate");
            return 0;
        }
        /* the valid bytes first: an error among them comes before the invalid byte */
        size_t ok = ws_utf8_feed(&d->utf8, p + i, k - i);
        if (d->in == IN_TEXT && d->max && d->out + ok > d->max) {
            json_bad(d, i + (size_t)(d->max - d->out), "message longer than the limit");
            return 0;
        }
        if (ok > 0 && !str_bytes(d, o, p + i, ok, i, true))
            return 0;
        if (ok < k - i) {
            json_bad(d, i + ok, "invalid UTF-8");
            return 0;
        }
        return k - i;
    }
    if (!ws_utf8_complete(&d->utf8)) {
        json_bad(d, i, "invalid UTF-8");
        return 0;
    }
    if (p[i] < 0x20) {
        json_bad(d, i, p[i] == '\n' ? "an unterminated string" : "a control byte in a string");
        return 0;
    }
    if (p[i] == '\\') {
        d->state = J_ESC;
        return 1;
    }
    if (d->high) {
        json_bad(d, i, "a lone surrogate");
        return 0;
    }
    str_close(d, o, i);
    return 1;
}

/* A hex digit's value, or -1. */
static int hex_value(uint8_t c)
{
    static const char digits[] = "0123456789abcdef0123456789ABCDEF";
    const char *d = c ? strchr(digits, c) : NULL;

    return d ? (int)((d - digits) & 15) : -1;
}

/* A \uXXXX code unit is complete. */
static void json_code_unit(struct framing_json_dec *d, struct json_out *o, size_t i)
{
    uint32_t cu = d->hex;

    d->state = J_STR;
    if (d->high) {
        if (cu < 0xDC00 || cu > 0xDFFF) {
            json_bad(d, i, "a lone surrogate");
            return;
        }
        cu = 0x10000 + ((uint32_t)(d->high - 0xD800) << 10) + (cu - 0xDC00);
        d->high = 0;
    } else if (cu >= 0xD800 && cu <= 0xDBFF) {
        d->high = (uint16_t)cu;
        d->state = J_PAIR_BS;
        return;
    } else if (cu >= 0xDC00 && cu <= 0xDFFF) {
        json_bad(d, i, "a lone surrogate");
        return;
    }
    str_code_point(d, o, cu, i);
}

/* After '\\': one escape character. */
static void json_escape_char(struct framing_json_dec *d, struct json_out *o, uint8_t c, size_t i)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e = c ? strchr(from, c) : NULL;

    if (c == 'u') {
        d->state = J_HEX;
        d->nhex = 0;
        d->hex = 0;
        return;
    }
    if (!e) {
        json_bad(d, i, "an invalid escape");
        return;
    }
    if (d->high) {
        json_bad(d, i, "a lone surrogate");
        return;
    }
    d->state = J_STR;
    str_bytes(d, o, (const uint8_t *)&to[e - from], 1, i, false);
}

/* A message is complete: ready for the next line. */
static int json_done(struct framing_json_dec *d)
{
    int kind = d->kind;
    uint64_t line = d->line, max = d->max;

    framing_json_dec_init(d, max);
    d->line = line + 1;
    return kind;
}

/* Outside strings: one byte. Returns a result when a message completes or framing went bad. */
static int json_token(struct framing_json_dec *d, uint8_t c, size_t i)
{
    if (blank(c))
        return FRAMING_MORE;
    switch (d->state) {
    case J_START:
        if (c == '\n') { /* a blank line */
            d->line++;
            d->col = 0 - (uint64_t)i - 1; /* the next byte is byte 0 of the new line */
            return FRAMING_MORE;
        }
        d->kind = c == '"' ? FRAMING_TEXT : FRAMING_BINARY;
        if (c == '"')
            str_open(d, IN_TEXT);
        else if (c == '{')
            d->state = J_OBJ;
        else
            json_bad(d, i, "not a JSON string or {\"binary\":BASE64}");
        break;
    case J_OBJ:
        if (c == '"')
            str_open(d, IN_KEY);
        else
            json_bad(d, i, "an object that is not {\"binary\":BASE64}");
        break;
    case J_COLON:
        if (c == ':')
            d->state = J_B64_OPEN;
        else
            json_bad(d, i, "invalid JSON (expected ':')");
        break;
    case J_B64_OPEN:
        if (c == '"')
            str_open(d, IN_B64);
        else
            json_bad(d, i, "\"binary\" that is not a base64 string");
        break;
    case J_OBJ_CLOSE:
        if (c == '}')
            d->state = J_AFTER;
        else
            json_bad(d, i, "an object that is not {\"binary\":BASE64}");
        break;
    case J_AFTER:
        if (c == '\n')
            return json_done(d);
        json_bad(d, i, "more than one JSON value on a line");
        break;
    default:
        break;
    }
    return d->state == J_BAD ? FRAMING_BAD : FRAMING_MORE;
}

/* Inside a string, after a backslash or in an escape: one byte. */
static void json_escape_byte(struct framing_json_dec *d, struct json_out *o, uint8_t c, size_t i)
{
    int h;

    switch (d->state) {
    case J_ESC:
        json_escape_char(d, o, c, i);
        break;
    case J_HEX:
        if ((h = hex_value(c)) < 0) {
            json_bad(d, i, "an invalid \\u escape");
            return;
        }
        d->hex = (uint16_t)(d->hex << 4 | (unsigned)h);
        if (++d->nhex == 4)
            json_code_unit(d, o, i);
        break;
    case J_PAIR_BS:
        if (c == '\\')
            d->state = J_PAIR_U;
        else
            json_bad(d, i, "a lone surrogate");
        break;
    default: /* J_PAIR_U */
        if (c == 'u') {
            d->state = J_HEX;
            d->nhex = 0;
            d->hex = 0;
        } else {
            json_bad(d, i, "a lone surrogate");
        }
    }
}

size_t framing_json_feed(struct framing_json_dec *d, const uint8_t *p, size_t n,
                         framing_data_fn data, void *ctx, int *result)
{
    struct json_out o = {.data = data, .ctx = ctx, .n = 0};
    size_t i = 0;
    int r = FRAMING_MORE;

    if (d->state == J_BAD) {
        *result = FRAMING_BAD;
        return 0;
    }
    while (i < n && r == FRAMING_MORE && d->state != J_BAD) {
        if (d->state == J_STR) {
            i += json_string(d, &o, p, n, i);
        } else if (d->state >= J_ESC) {
            json_escape_byte(d, &o, p[i], i);
            i++;
        } else {
            r = json_token(d, p[i], i);
            i++;
        }
    }
    if (d->state == J_BAD) {
        *result = FRAMING_BAD;
        return i;
    }
    out_flush(&o);
    if (r == FRAMING_MORE)
        d->col += i;
    *result = r;
    return i;
}

int framing_json_finish(struct framing_json_dec *d)
{
    if (d->state == J_START)
        return FRAMING_MORE;
    if (d->state == J_AFTER)
        return json_done(d);
    if (d->state != J_BAD) {
        d->state = J_BAD;
        d->err.what = "a value cut short by the end of output";
        d->err.line = d->line;
        d->err.at = d->col;
    }
    return FRAMING_BAD;
}

/* ---------------------------------------------------------------- length */

void framing_rec_header(uint8_t out[FRAMING_REC_HEADER], bool text, bool more, uint32_t len)
{
    out[0] = (uint8_t)((text ? FRAMING_REC_TEXT : FRAMING_REC_BINARY) |
                       (more ? FRAMING_REC_MORE : 0u));
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

void framing_len_dec_init(struct framing_len_dec *d)
{
    memset(d, 0, sizeof *d);
}

static int len_bad(struct framing_len_dec *d, uint64_t at, const char *what)
{
    d->err.what = what;
    d->err.line = 0;
    d->err.at = at;
    return FRAMING_BAD;
}

/* A header's first byte: its type is checked at once (the program may say no more). */
static int len_type(struct framing_len_dec *d, uint64_t at)
{
    uint8_t t = d->hdr[0] & (uint8_t)~FRAMING_REC_MORE;

    if (t != FRAMING_REC_TEXT && t != FRAMING_REC_BINARY)
        return len_bad(d, at, "an unknown record type");
    if (d->type && t != d->type)
        return len_bad(d, at, "a record type that changed inside a message");
    return FRAMING_MORE;
}

/* A whole header: a message opens, or goes on. */
static void len_header(struct framing_len_dec *d)
{
    uint8_t t = d->hdr[0] & (uint8_t)~FRAMING_REC_MORE;

    if (!d->type)
        ws_utf8_init(&d->utf8);
    d->type = t;
    d->more = (d->hdr[0] & FRAMING_REC_MORE) != 0;
    d->left = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 | (uint32_t)d->hdr[3] << 8 |
              d->hdr[4];
}

/* Payload bytes p[0..k) of the current record. */
static int len_payload(struct framing_len_dec *d, const uint8_t *p, size_t k,
                       framing_piece_fn piece, void *ctx)
{
    bool text = d->type == FRAMING_REC_TEXT;
    bool fin;

    d->left -= (uint32_t)k;
    fin = d->left == 0 && !d->more;
    if (text) {
        size_t ok = ws_utf8_feed(&d->utf8, p, k);
        if (ok < k)
            return len_bad(d, d->pos + ok, "invalid UTF-8 in a text record");
        if (fin && !ws_utf8_complete(&d->utf8))
            return len_bad(d, d->pos + k, "invalid UTF-8 in a text record (cut character)");
    }
    if (k > 0 || fin)
        piece(ctx, text, p, k, fin);
    if (fin)
        d->type = 0;
    return FRAMING_MORE;
}

int framing_len_feed(struct framing_len_dec *d, const uint8_t *p, size_t n,
                     framing_piece_fn piece, void *ctx)
{
    size_t i = 0;

    if (d->err.what)
        return FRAMING_BAD;
    while (i < n) {
        size_t k;
        if (d->nhdr < FRAMING_REC_HEADER) {
            d->hdr[d->nhdr++] = p[i++];
            d->pos++;
            if (d->nhdr == 1 && len_type(d, d->pos - 1) != FRAMING_MORE)
                return FRAMING_BAD;
            if (d->nhdr < FRAMING_REC_HEADER)
                continue;
            len_header(d);
            if (d->left > 0)
                continue;
        }
        k = n - i < d->left ? n - i : d->left;
        if (len_payload(d, p + i, k, piece, ctx) != FRAMING_MORE)
            return FRAMING_BAD;
        i += k;
        d->pos += k;
        if (d->left == 0)
            d->nhdr = 0;
    }
    return FRAMING_MORE;
}

int framing_len_finish(struct framing_len_dec *d)
{
    if (d->err.what)
        return FRAMING_BAD;
    if (d->nhdr == 0 && !d->type)
        return FRAMING_MORE;
    return len_bad(d, d->pos, "a record cut short by the end of output");
}
