/*
 * Unit tests of ws_stream: messages, control frames, close handshake, and
 * every close code the stream can produce. Each scenario is a byte vector
 * of client frames; the stream's events and the frames it writes are
 * logged as text, and every vector must give the same log fed whole,
 * bytewise and in every two-way split (guard page after the input).
 */
#include "feed.h"
#include "tap.h"
#include "ws_error.h"
#include "ws_stream.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct t {
    struct ws_stream s;
    char log[8192];
    size_t loglen;
    uint8_t out[4096]; /* frames the stream wrote */
    size_t outlen;
    int in_text; /* coalesce consecutive data chunks in the log */
};

static void logf_(struct t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->log + t->loglen, sizeof t->log - t->loglen, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof t->log - t->loglen)
        t->loglen += (size_t)n;
}

static int on_begin(struct ws_stream *s, enum ws_opcode op, uint8_t rsv)
{
    struct t *t = s->data;
    logf_(t, "[%s%s ", op == WS_OP_TEXT ? "text" : "bin", rsv ? "+rsv" : "");
    return 0;
}

static int on_data(struct ws_stream *s, uint8_t *data, size_t len)
{
    struct t *t = s->data;
    for (size_t i = 0; i < len; i++) {
        if (data[i] >= 0x20 && data[i] < 0x7F)
            logf_(t, "%c", data[i]);
        else
            logf_(t, "\\x%02x", data[i]);
    }
    return 0;
}

static int on_end(struct ws_stream *s)
{
    logf_(s->data, "]");
    return 0;
}

static int on_ping(struct ws_stream *s, const uint8_t *d, size_t len)
{
    logf_(s->data, "(ping %.*s)", (int)len, (const char *)d);
    return 0;
}

static int on_pong(struct ws_stream *s, const uint8_t *d, size_t len)
{
    logf_(s->data, "(pong %.*s)", (int)len, (const char *)d);
    return 0;
}

static int on_close(struct ws_stream *s, uint16_t code, const uint8_t *reason, size_t len)
{
    logf_(s->data, "(close %u %.*s)", code, (int)len, (const char *)reason);
    return 0;
}

static void on_fail(struct ws_stream *s, uint16_t code, const char *reason)
{
    logf_(s->data, "(FAIL %u)", code);
}

static int on_write(struct ws_stream *s, const uint8_t *frame, size_t len)
{
    struct t *t = s->data;
    if (t->outlen + len <= sizeof t->out) {
        memcpy(t->out + t->outlen, frame, len);
        t->outlen += len;
    }
    return 0;
}

static void on_mask(struct ws_stream *s, uint8_t mask[4])
{
    mask[0] = 0x11, mask[1] = 0x22, mask[2] = 0x33, mask[3] = 0x44;
}

static const struct ws_stream_settings settings = {
    on_begin, on_data, on_end, on_ping, on_pong, on_close, on_fail, on_write, on_mask,
};

static struct t *t_new(enum ws_role role, uint64_t max)
{
    struct t *t = calloc(1, sizeof *t);
    ws_stream_init(&t->s, role, &settings);
    t->s.data = t;
    t->s.max_message = max;
    return t;
}

static size_t feed_stream(void *ctx, uint8_t *data, size_t len)
{
    struct t *t = ctx;
    return ws_stream_execute(&t->s, data, len);
}

/* Describes the frames the stream wrote: "CLOSE 1002;PONG hi;" (server frames, unmasked). */
static void describe_out(const struct t *t, char *buf, size_t cap)
{
    size_t i = 0, o = 0;
    buf[0] = 0;
    while (i + 2 <= t->outlen && o < cap - 64) {
        unsigned op = t->out[i] & 0x0F, len = t->out[i + 1] & 0x7F;
        uint8_t p[WS_CONTROL_MAX];
        if (t->out[i + 1] & 0x80) { /* client role: unmask a copy */
            memcpy(p, t->out + i + 6, len);
            ws_frame_mask(p, len, t->out + i + 2, 0);
            i += 4;
        } else {
            memcpy(p, t->out + i + 2, len);
        }
        if (op == WS_OP_CLOSE && len >= 2)
            o += (size_t)snprintf(buf + o, cap - o, "CLOSE %u;", (p[0] << 8) | p[1]);
        else if (op == WS_OP_CLOSE)
            o += (size_t)snprintf(buf + o, cap - o, "CLOSE;");
        else
            o += (size_t)snprintf(buf + o, cap - o, "%s %.*s;", op == WS_OP_PONG ? "PONG" : "?",
                                  (int)len, (const char *)p);
        i += 2 + len;
    }
}

/* Builds a masked client frame into buf; returns its size. */
static size_t mk(uint8_t *buf, int fin, unsigned op_rsv, const void *payload, size_t len)
{
    static const uint8_t mask[4] = {0x9a, 0x0b, 0x5c, 0xfd};
    size_t h = ws_frame_write_header(buf, fin, (uint8_t)(op_rsv >> 4),
                                     (enum ws_opcode)(op_rsv & 0xF), len, mask);
    memcpy(buf + h, payload, len);
    ws_frame_mask(buf + h, len, mask, 0);
    return h + len;
}

/* Vector builder */
struct vec {
    uint8_t b[70000];
    size_t n;
};
#define F(v, fin, op, str) ((v)->n += mk((v)->b + (v)->n, (fin), (op), (str), sizeof(str) - 1))

/*
 * Runs v fed whole, bytewise and every split; all must give want_log,
 * want_out and want_state. Returns the stream of the whole feed for more checks.
 */
static void check(const char *name, enum ws_role role, uint64_t max, const struct vec *v,
                  const char *want_log, const char *want_out, enum ws_stream_state want_state)
{
    int bad = 0;
    size_t modes = v->n < 300 ? v->n + 3 : 3;
    for (size_t mode = 0; mode < modes; mode++) {
        struct t *t = t_new(role, max);
        char out[1024];
        if (mode == 0)
            feed_whole(feed_stream, t, v->b, v->n);
        else if (mode == 1)
            feed_bytewise(feed_stream, t, v->b, v->n);
        else if (mode == 2)
            feed_chunks(feed_stream, t, v->b, v->n, 7);
        else
            feed_split(feed_stream, t, v->b, v->n, mode - 3);
        describe_out(t, out, sizeof out);
        if (strcmp(t->log, want_log) != 0 || strcmp(out, want_out) != 0 ||
            t->s.state != want_state) {
            if (!bad) {
                diag("%s (mode %zu):", name, mode);
                diag("  log   got  %s", t->log);
                diag("  log   want %s", want_log);
                diag("  out   got  %s want %s", out, want_out);
                diag("  state got  %d want %d", t->s.state, want_state);
            }
            bad = 1;
        }
        free(t);
    }
    ok(!bad, "%s", name);
}

static struct vec *vnew(void)
{
    return calloc(1, sizeof(struct vec));
}

static void test_messages(void)
{
    struct vec *v = vnew();
    F(v, 1, WS_OP_TEXT, "Hello");
    F(v, 1, WS_OP_BINARY, "\x00\xff");
    check("text and binary messages", WS_ROLE_SERVER, 0, v, "[text Hello][bin \\x00\\xff]", "",
          WS_STREAM_OPEN);

    v->n = 0;
    F(v, 0, WS_OP_TEXT, "Hel");
    F(v, 1, WS_OP_PING, "p1");
    F(v, 0, WS_OP_CONT, "l");
    F(v, 1, WS_OP_PONG, "p2");
    F(v, 1, WS_OP_CONT, "o");
    check("fragments with interleaved ping and pong; ping answered", WS_ROLE_SERVER, 0, v,
          "[text Hel(ping p1)l(pong p2)o]", "PONG p1;", WS_STREAM_OPEN);

    v->n = 0;
    F(v, 0, WS_OP_TEXT, "\xe2\x82");
    F(v, 1, WS_OP_CONT, "\xac");
    check("UTF-8 character split across fragments is valid", WS_ROLE_SERVER, 0, v,
          "[text \\xe2\\x82\\xac]", "", WS_STREAM_OPEN);

    v->n = 0;
    F(v, 1, WS_OP_TEXT, "");
    F(v, 0, WS_OP_BINARY, "");
    F(v, 1, WS_OP_CONT, "");
    check("empty messages and empty fragments", WS_ROLE_SERVER, 0, v, "[text ][bin ]", "",
          WS_STREAM_OPEN);
    free(v);
}

static void test_close(void)
{
    struct vec *v = vnew();
    F(v, 1, WS_OP_CLOSE,
      "\x03\xe8"
      "bye");
    F(v, 1, WS_OP_TEXT, "after");
    check("close 1000 with reason: replied, later data not read", WS_ROLE_SERVER, 0, v,
          "(close 1000 bye)", "CLOSE 1000;", WS_STREAM_CLOSED);

    v->n = 0;
    F(v, 1, WS_OP_CLOSE, "");
    check("close without code: reported 1005, replied 1000", WS_ROLE_SERVER, 0, v, "(close 1005 )",
          "CLOSE 1000;", WS_STREAM_CLOSED);

    static const uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                     1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char p[2] = {(char)(valid[i] >> 8), (char)valid[i]}, name[64], want_log[64], want_out[64];
        v->n = mk(v->b, 1, WS_OP_CLOSE, p, 2);
        snprintf(name, sizeof name, "close code %u is valid and echoed", valid[i]);
        snprintf(want_log, sizeof want_log, "(close %u )", valid[i]);
        snprintf(want_out, sizeof want_out, "CLOSE %u;", valid[i]);
        check(name, WS_ROLE_SERVER, 0, v, want_log, want_out, WS_STREAM_CLOSED);
    }
    static const uint16_t invalid[] = {0,    999,  1004, 1005, 1006, 1015,
                                       1016, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        char p[2] = {(char)(invalid[i] >> 8), (char)invalid[i]}, name[64];
        v->n = mk(v->b, 1, WS_OP_CLOSE, p, 2);
        snprintf(name, sizeof name, "close code %u -> 1002", invalid[i]);
        check(name, WS_ROLE_SERVER, 0, v, "(FAIL 1002)", "CLOSE 1002;", WS_STREAM_FAILED);
    }

    v->n = 0;
    F(v, 1, WS_OP_CLOSE, "\x03");
    check("close with a 1-byte payload -> 1002", WS_ROLE_SERVER, 0, v, "(FAIL 1002)", "CLOSE 1002;",
          WS_STREAM_FAILED);

    v->n = 0;
    F(v, 1, WS_OP_CLOSE, "\x03\xe8\xff\xfe");
    check("close reason not UTF-8 -> 1007", WS_ROLE_SERVER, 0, v, "(FAIL 1007)", "CLOSE 1007;",
          WS_STREAM_FAILED);

    /* we close first: data still delivered, the peer's close completes, no second close */
    int bad = 0;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct t *t = t_new(WS_ROLE_SERVER, 0);
        char out[256];
        bad |= ws_stream_close(&t->s, 1001, "going away") != 0;
        bad |= t->s.state != WS_STREAM_CLOSE_SENT || ws_stream_can_send(&t->s);
        bad |= ws_stream_close(&t->s, 1000, NULL) != WS_E_CLOSED;
        uint8_t hdr[WS_FRAME_HEADER_MAX];
        bad |= ws_stream_data_header(&t->s, hdr, WS_OP_TEXT, true, 1, NULL) != WS_E_CLOSED;
        bad |= ws_stream_ping(&t->s, NULL, 0) != WS_E_CLOSED;
        v->n = 0;
        F(v, 1, WS_OP_TEXT, "late");
        F(v, 1, WS_OP_PING, "x");
        F(v, 1, WS_OP_CLOSE, "\x03\xe9");
        if (bytewise)
            feed_bytewise(feed_stream, t, v->b, v->n);
        else
            feed_whole(feed_stream, t, v->b, v->n);
        describe_out(t, out, sizeof out);
        bad |= strcmp(t->log, "[text late](ping x)(close 1001 )") != 0;
        bad |= strcmp(out, "CLOSE 1001;") != 0; /* our close only: no pong, no reply */
        bad |= t->s.state != WS_STREAM_CLOSED || !ws_stream_finished(&t->s);
        bad |= t->s.close_sent_code != 1001 || t->s.close_recv_code != 1001;
        if (bad)
            diag("log %s out %s state %d", t->log, out, t->s.state);
        free(t);
    }
    ok(!bad, "our close first: data delivered, no pong, peer's close ends it without a reply");

    /* a long close reason is cut to 123 bytes at a character boundary */
    struct t *t = t_new(WS_ROLE_SERVER, 0);
    char reason[200];
    memset(reason, 'a', 122);
    strcpy(reason + 122, "\xc3\xa9\xc3\xa9 tail"); /* 2-byte chars straddle the limit */
    ws_stream_close(&t->s, 1000, reason);
    ok(t->outlen == 2 + 2 + 122 && t->out[1] == 124 && ws_utf8_valid(t->out + 4, 122),
       "long close reason cut at a character boundary (payload %u bytes)", t->out[1]);
    free(t);
    free(v);
}

static void test_violations(void)
{
    struct vec *v = vnew();
    F(v, 1, WS_OP_CONT, "x");
    check("continuation without a message -> 1002", WS_ROLE_SERVER, 0, v, "(FAIL 1002)",
          "CLOSE 1002;", WS_STREAM_FAILED);

    v->n = 0;
    F(v, 0, WS_OP_TEXT, "a");
    F(v, 1, WS_OP_TEXT, "b");
    check("new message inside a fragmented one -> 1002", WS_ROLE_SERVER, 0, v, "[text a(FAIL 1002)",
          "CLOSE 1002;", WS_STREAM_FAILED);

    v->n = 0;
    F(v, 1, WS_OP_TEXT, "ok\xc0\xaf");
    check("invalid UTF-8 in text -> 1007", WS_ROLE_SERVER, 0, v, "[text ok(FAIL 1007)",
          "CLOSE 1007;", WS_STREAM_FAILED);

    v->n = 0;
    F(v, 0, WS_OP_TEXT, "bad\xed\xa0\x80");
    check("invalid UTF-8 fails fast, before the message ends -> 1007", WS_ROLE_SERVER, 0, v,
          "[text bad\\xed(FAIL 1007)", "CLOSE 1007;", WS_STREAM_FAILED);

    v->n = 0;
    F(v, 1, WS_OP_TEXT, "end\xe2\x82");
    check("text ending inside a character -> 1007", WS_ROLE_SERVER, 0, v,
          "[text end\\xe2\\x82(FAIL 1007)", "CLOSE 1007;", WS_STREAM_FAILED);

    v->n = 0;
    v->b[0] = 0x81, v->b[1] = 0x02, v->b[2] = 'h', v->b[3] = 'i';
    v->n = 4;
    check("unmasked client frame -> 1002 close written", WS_ROLE_SERVER, 0, v, "(FAIL 1002)",
          "CLOSE 1002;", WS_STREAM_FAILED);

    v->n = 0;
    F(v, 1, WS_OP_TEXT | 0x40, "x");
    check("RSV1 without an extension -> 1002", WS_ROLE_SERVER, 0, v, "(FAIL 1002)", "CLOSE 1002;",
          WS_STREAM_FAILED);

    v->n = 0;
    F(v, 1, WS_OP_TEXT, "0123456789");
    F(v, 1, WS_OP_TEXT, "0123456789A");
    check("message over max_message -> 1009, before its payload", WS_ROLE_SERVER, 10, v,
          "[text 0123456789](FAIL 1009)", "CLOSE 1009;", WS_STREAM_FAILED);

    v->n = 0;
    F(v, 0, WS_OP_BINARY, "012345");
    F(v, 1, WS_OP_CONT, "6789A");
    check("fragments adding up over max_message -> 1009", WS_ROLE_SERVER, 10, v,
          "[bin 012345(FAIL 1009)", "CLOSE 1009;", WS_STREAM_FAILED);

    /* 1009 is decided at the header: feed only the header of a huge frame */
    struct t *t = t_new(WS_ROLE_SERVER, 1000);
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    const uint8_t mask[4] = {1, 2, 3, 4};
    size_t h = ws_frame_write_header(hdr, true, 0, WS_OP_BINARY, (uint64_t)1 << 40, mask);
    ws_stream_execute(&t->s, hdr, h);
    ok(t->s.state == WS_STREAM_FAILED && t->s.close_sent_code == 1009,
       "a 1 TiB frame header alone fails with 1009 (state %d, code %u)", t->s.state,
       t->s.close_sent_code);
    free(t);
    free(v);
}

static void test_sending(void)
{
    struct t *t = t_new(WS_ROLE_SERVER, 0);
    uint8_t h[WS_FRAME_HEADER_MAX];
    int n1 = ws_stream_data_header(&t->s, h, WS_OP_TEXT, false, 3, NULL);
    int first = h[0];
    int n2 = ws_stream_data_header(&t->s, h, WS_OP_BINARY, true, 3, NULL);
    int n3 = ws_stream_data_header(&t->s, h, WS_OP_TEXT, false, 3, NULL);
    int second = h[0];
    int n4 = ws_stream_data_header(&t->s, h, WS_OP_TEXT, true, 70000, NULL);
    int third = h[0];
    ok(n1 == 2 && first == 0x01 && n2 == WS_E_STATE && n3 == 2 && second == 0x00 && n4 == 10 &&
           third == 0x80,
       "outgoing fragments: TEXT, CONT, CONT+FIN; another type in between refused");
    ok(ws_stream_data_header(&t->s, h, WS_OP_PING, true, 1, NULL) == WS_E_INVAL,
       "data header refuses a control opcode");
    free(t);

    /* client role: our frames are masked, server frames unmasked are accepted */
    t = t_new(WS_ROLE_CLIENT, 0);
    uint8_t mask[4];
    int n = ws_stream_data_header(&t->s, h, WS_OP_BINARY, true, 5, mask);
    ok(n == 6 && (h[1] & 0x80) && memcmp(h + 2, "\x11\x22\x33\x44", 4) == 0 &&
           memcmp(mask, "\x11\x22\x33\x44", 4) == 0,
       "client role: data header carries the mask from on_mask");
    uint8_t in[] = {0x89, 0x02, 'h', 'i', 0x81, 0x02, 'o', 'k'};
    ws_stream_execute(&t->s, in, sizeof in);
    uint8_t pong[2];
    memcpy(pong, t->out + 6, 2);
    ws_frame_mask(pong, 2, t->out + 2, 0);
    ok(strcmp(t->log, "(ping hi)[text ok]") == 0 && t->out[0] == 0x8A && t->out[1] == 0x82 &&
           memcmp(pong, "hi", 2) == 0,
       "client role: unmasked server frames accepted, pong masked (%s)", t->log);
    free(t);

    struct vec *v = vnew();
    v->n = mk(v->b, 1, WS_OP_TEXT, "x", 1);
    check("client role: a masked server frame -> 1002", WS_ROLE_CLIENT, 0, v, "(FAIL 1002)",
          "CLOSE 1002;", WS_STREAM_FAILED);
    free(v);
}

/* A toy extension on RSV1: every input byte is emitted twice. */
static int doubling(struct ws_stream *s, void *ext_data, uint8_t *in, size_t len, bool fin,
                    size_t *used, ws_stream_emit_fn emit)
{
    *used = len;
    uint8_t buf[2];
    (*(int *)ext_data)++;
    for (size_t i = 0; i < len; i++) {
        buf[0] = buf[1] = in[i];
        int rc = emit(s, buf, 2);
        if (rc)
            return rc;
    }
    return 0;
}

static void test_extension(void)
{
    static const struct ws_stream_ext ext = {WS_RSV1, doubling};
    int calls = 0;
    struct t *t = t_new(WS_ROLE_SERVER, 0);
    struct vec *v = vnew();
    ws_stream_set_extension(&t->s, &ext, &calls);
    F(v, 0, WS_OP_TEXT | 0x40, "ab");
    F(v, 1, WS_OP_CONT, "c");
    F(v, 1, WS_OP_TEXT, "plain");
    ws_stream_execute(&t->s, v->b, v->n);
    ok(strcmp(t->log, "[text+rsv aabbcc][text plain]") == 0 && calls == 3,
       "RSV1 message goes through the extension, a plain one does not (%s, %d calls)", t->log,
       calls);
    free(t);

    t = t_new(WS_ROLE_SERVER, 0);
    ws_stream_set_extension(&t->s, &ext, &calls);
    v->n = 0;
    F(v, 0, WS_OP_TEXT | 0x40, "ab");
    F(v, 1, WS_OP_CONT | 0x40, "c");
    ws_stream_execute(&t->s, v->b, v->n);
    ok(t->s.state == WS_STREAM_FAILED && t->s.close_sent_code == 1002,
       "RSV1 on a continuation frame -> 1002");
    free(t);

    t = t_new(WS_ROLE_SERVER, 5);
    ws_stream_set_extension(&t->s, &ext, &calls);
    v->n = 0;
    F(v, 1, WS_OP_BINARY | 0x40, "abc");
    ws_stream_execute(&t->s, v->b, v->n);
    ok(t->s.state == WS_STREAM_FAILED && t->s.close_sent_code == 1009,
       "max_message applies to the extension's output -> 1009");
    free(t);
    free(v);
}

int main(void)
{
    test_messages();
    test_close();
    test_violations();
    test_sending();
    test_extension();
    return tap_done();
}
