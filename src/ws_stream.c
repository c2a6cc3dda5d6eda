/*
 * ws_stream: messages, control frames and the close handshake on top of
 * the frame parser. The frame parser's callbacks below are where RFC 6455
 * §5.4 (fragmentation), §5.5 (control frames), §7.4 (close codes) and
 * §8.1 (UTF-8) are enforced; a violation fails the stream with a close.
 */
#include "ws_stream.h"

#include <string.h>

#include "ws_error.h"

#define CONTROL_FRAME_MAX (WS_FRAME_HEADER_MAX + WS_CONTROL_MAX)

static int frame_on_header(struct ws_frame_parser *p, const struct ws_frame_header *h);
static int frame_on_payload(struct ws_frame_parser *p, uint8_t *data, size_t len);
static int frame_on_end(struct ws_frame_parser *p);

static const struct ws_frame_settings frame_settings = {
    .on_header = frame_on_header,
    .on_payload = frame_on_payload,
    .on_frame_end = frame_on_end,
};

void ws_stream_init(struct ws_stream *s, enum ws_role role,
                    const struct ws_stream_settings *settings)
{
    memset(s, 0, sizeof *s);
    s->settings = settings;
    s->role = role;
    s->state = WS_STREAM_OPEN;
    s->auto_pong = true;
    ws_frame_parser_init(&s->frame, role, &frame_settings);
    s->frame.data = s;
    ws_utf8_init(&s->utf8);
}

void ws_stream_set_extension(struct ws_stream *s, const struct ws_stream_ext *ext, void *ext_data)
{
    s->ext = ext;
    s->ext_data = ext_data;
    s->frame.allowed_rsv = ext ? ext->rsv : 0;
}

bool ws_stream_can_send(const struct ws_stream *s)
{
    return s->state == WS_STREAM_OPEN;
}

bool ws_stream_finished(const struct ws_stream *s)
{
    return s->state == WS_STREAM_CLOSED || s->state == WS_STREAM_FAILED;
}

bool ws_close_code_valid(uint16_t code)
{
    if (code >= 3000 && code <= 4999)
        return true; /* registered (3xxx) and private (4xxx) */
    if (code < 1000 || code > 1014)
        return false;
    /* 1004 reserved; 1005 and 1006 must never be on the wire. */
    return code != 1004 && code != 1005 && code != 1006;
}

/* ------------------------------------------------------------------ output */

/* Writes one control frame (payload <= 125) through on_write. */
static int write_control(struct ws_stream *s, enum ws_opcode op, const uint8_t *payload, size_t len)
{
    uint8_t frame[CONTROL_FRAME_MAX];
    uint8_t mask[4];
    size_t n;

    if (s->role == WS_ROLE_CLIENT) {
        s->settings->on_mask(s, mask);
        n = ws_frame_write_header(frame, true, 0, op, len, mask);
        memcpy(frame + n, payload, len);
        ws_frame_mask(frame + n, len, mask, 0);
    } else {
        n = ws_frame_write_header(frame, true, 0, op, len, NULL);
        if (len)
            memcpy(frame + n, payload, len);
    }
    return s->settings->on_write(s, frame, n + len);
}

/* Close payload: code + reason cut to 123 bytes at a character boundary. */
static int write_close(struct ws_stream *s, uint16_t code, const char *reason)
{
    uint8_t payload[WS_CONTROL_MAX];
    size_t len = 0;

    if (code != 0) {
        size_t rlen = reason ? strlen(reason) : 0;
        if (rlen > WS_CONTROL_MAX - 2) {
            rlen = WS_CONTROL_MAX - 2;
            while (rlen > 0 && ((uint8_t)reason[rlen] & 0xC0u) == 0x80u)
                rlen--;
        }
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        if (rlen)
            memcpy(payload + 2, reason, rlen);
        len = 2 + rlen;
    }
    s->close_sent_code = code ? code : WS_CLOSE_NO_STATUS;
    return write_control(s, WS_OP_CLOSE, payload, len);
}

int ws_stream_close(struct ws_stream *s, uint16_t code, const char *reason)
{
    if (s->state != WS_STREAM_OPEN)
        return WS_E_CLOSED;
    s->state = WS_STREAM_CLOSE_SENT;
    write_close(s, code, reason);
    return 0;
}

int ws_stream_ping(struct ws_stream *s, const uint8_t *data, size_t len)
{
    if (len > WS_CONTROL_MAX)
        return WS_E_INVAL;
    if (s->state != WS_STREAM_OPEN)
        return WS_E_CLOSED;
    write_control(s, WS_OP_PING, data, len);
    return 0;
}

int ws_stream_data_header(struct ws_stream *s, uint8_t *out, enum ws_opcode opcode, bool fin,
                          uint64_t len, uint8_t mask[4])
{
    enum ws_opcode op = opcode;

    if (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY)
        return WS_E_INVAL;
    if (s->state != WS_STREAM_OPEN)
        return WS_E_CLOSED;
    if (s->send_opcode != 0) {
        if (s->send_opcode != opcode)
            return WS_E_STATE;
        op = WS_OP_CONT;
    }
    s->send_opcode = fin ? 0 : (uint8_t)opcode;
    if (s->role == WS_ROLE_CLIENT) {
        s->settings->on_mask(s, mask);
        return (int)ws_frame_write_header(out, fin, 0, op, len, mask);
    }
    return (int)ws_frame_write_header(out, fin, 0, op, len, NULL);
}

/* ------------------------------------------------------------------ failure */

/* The peer broke the protocol: close with code (when we still may), stop. */
static int fail(struct ws_stream *s, uint16_t code, const char *reason)
{
    if (s->state == WS_STREAM_FAILED || s->state == WS_STREAM_CLOSED)
        return 1;
    if (s->state == WS_STREAM_OPEN)
        write_close(s, code, reason);
    s->state = WS_STREAM_FAILED;
    if (s->settings->on_fail)
        s->settings->on_fail(s, code, reason);
    return 1; /* stops the frame parser */
}

/* ------------------------------------------------------------------ input */

/* Message payload after any extension: size limit, UTF-8, delivery. */
static int deliver(struct ws_stream *s, uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    if (s->msg_ext) { /* the frame header check saw compressed sizes only */
        s->msg_size += len;
        if (s->max_message && s->msg_size > s->max_message)
            return fail(s, WS_CLOSE_TOO_BIG, "message too big");
    }
    if (s->msg_opcode == WS_OP_TEXT) {
        size_t valid = ws_utf8_feed(&s->utf8, data, len);
        if (valid < len) {
            /* The valid prefix goes out first, so what the user sees does not
             * depend on how the bytes were split into reads. */
            if (valid && s->settings->on_message_data)
                s->settings->on_message_data(s, data, valid);
            return fail(s, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in a text message");
        }
    }
    if (s->settings->on_message_data)
        return s->settings->on_message_data(s, data, len);
    return 0;
}

/* deliver() for an extension's output: 0 go on, 1 pause, 2 failed (see ws_stream_ext). */
static int ext_emit(struct ws_stream *s, uint8_t *data, size_t len)
{
    int r = deliver(s, data, len);
    if (s->state == WS_STREAM_FAILED)
        return 2;
    return r ? 1 : 0;
}

static const char *ext_failure(int code)
{
    switch (code) {
    case WS_CLOSE_INVALID_DATA:
        return "invalid compressed data";
    case WS_CLOSE_TOO_BIG:
        return "message too big";
    case WS_CLOSE_INTERNAL_ERROR:
        return "out of memory in the extension";
    default:
        return "extension failed";
    }
}

static int begin_data_frame(struct ws_stream *s, const struct ws_frame_header *h)
{
    int rc = 0;

    if (h->opcode == WS_OP_CONT) {
        if (s->msg_opcode == 0)
            return fail(s, WS_CLOSE_PROTOCOL_ERROR, "continuation frame without a message");
        if (h->rsv)
            return fail(s, WS_CLOSE_PROTOCOL_ERROR, "reserved bits set on a continuation frame");
    } else {
        if (s->msg_opcode != 0)
            return fail(s, WS_CLOSE_PROTOCOL_ERROR, "new message inside a fragmented message");
        s->msg_opcode = h->opcode;
        s->msg_rsv = h->rsv;
        s->msg_ext = s->ext && (h->rsv & s->ext->rsv);
        s->msg_size = 0;
        ws_utf8_init(&s->utf8);
    }
    if (!s->msg_ext) {
        if (s->max_message && h->length > s->max_message - s->msg_size)
            return fail(s, WS_CLOSE_TOO_BIG, "message too big");
        s->msg_size += h->length;
    }
    s->frame_fin = h->fin;
    if (h->opcode != WS_OP_CONT && s->settings->on_message_begin)
        rc = s->settings->on_message_begin(s, (enum ws_opcode)h->opcode, h->rsv);
    return rc;
}

static int frame_on_header(struct ws_frame_parser *p, const struct ws_frame_header *h)
{
    struct ws_stream *s = p->data;

    s->frame_is_control = ws_opcode_is_control(h->opcode);
    if (!s->frame_is_control)
        return begin_data_frame(s, h);
    if (h->rsv)
        return fail(s, WS_CLOSE_PROTOCOL_ERROR, "reserved bits set on a control frame");
    s->ctl_opcode = h->opcode;
    s->ctl_len = 0;
    return 0;
}

static int frame_on_payload(struct ws_frame_parser *p, uint8_t *data, size_t len)
{
    struct ws_stream *s = p->data;

    if (s->frame_is_control) { /* len fits: the parser enforces <= 125 */
        memcpy(s->ctl_buf + s->ctl_len, data, len);
        s->ctl_len = (uint8_t)(s->ctl_len + len);
        return 0;
    }
    if (s->msg_ext) {
        size_t used = len;
        int code = s->ext->transform(s, s->ext_data, data, len, false, &used, ext_emit);
        if (s->state == WS_STREAM_FAILED)
            return 1;
        if (code > 1)
            return fail(s, (uint16_t)code, ext_failure(code));
        if (code == 1 && used < len)
            p->payload_unused = len - used;
        return code;
    }
    return deliver(s, data, len);
}

static int end_message(struct ws_stream *s)
{
    if (s->msg_ext) {
        size_t used = 0;
        int code = s->ext->transform(s, s->ext_data, NULL, 0, true, &used, ext_emit);
        if (s->state == WS_STREAM_FAILED)
            return 1;
        if (code > 1)
            return fail(s, (uint16_t)code, ext_failure(code));
    }
    if (s->msg_opcode == WS_OP_TEXT && !ws_utf8_complete(&s->utf8))
        return fail(s, WS_CLOSE_INVALID_DATA, "text message ends inside a UTF-8 sequence");
    s->msg_opcode = 0;
    s->msg_ext = false;
    if (s->settings->on_message_end)
        return s->settings->on_message_end(s);
    return 0;
}

static int on_close_frame(struct ws_stream *s)
{
    uint16_t code = WS_CLOSE_NO_STATUS;
    const uint8_t *reason = NULL;
    size_t rlen = 0;
    int rc = 0;

    if (s->ctl_len == 1)
        return fail(s, WS_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
    if (s->ctl_len >= 2) {
        code = (uint16_t)((s->ctl_buf[0] << 8) | s->ctl_buf[1]);
        if (!ws_close_code_valid(code))
            return fail(s, WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
        reason = s->ctl_buf + 2;
        rlen = s->ctl_len - 2u;
        if (!ws_utf8_valid(reason, rlen))
            return fail(s, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in the close reason");
    }
    s->close_received = true;
    s->close_recv_code = code;
    if (s->state == WS_STREAM_OPEN) {
        s->state = WS_STREAM_CLOSED;
        write_close(s, code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : code, NULL);
    } else {
        s->state = WS_STREAM_CLOSED;
    }
    if (s->settings->on_close)
        rc = s->settings->on_close(s, code, reason, rlen);
    (void)rc;
    return 1; /* nothing after the peer's close is read */
}

static int frame_on_end(struct ws_frame_parser *p)
{
    struct ws_stream *s = p->data;

    if (!s->frame_is_control)
        return s->frame_fin ? end_message(s) : 0;

    switch (s->ctl_opcode) {
    case WS_OP_PING:
        if (s->auto_pong && s->state == WS_STREAM_OPEN)
            write_control(s, WS_OP_PONG, s->ctl_buf, s->ctl_len);
        return s->settings->on_ping ? s->settings->on_ping(s, s->ctl_buf, s->ctl_len) : 0;
    case WS_OP_PONG:
        return s->settings->on_pong ? s->settings->on_pong(s, s->ctl_buf, s->ctl_len) : 0;
    default: /* WS_OP_CLOSE: the parser lets no other control opcode through */
        return on_close_frame(s);
    }
}

size_t ws_stream_execute(struct ws_stream *s, uint8_t *data, size_t len)
{
    size_t n;

    if (ws_stream_finished(s))
        return 0;
    n = ws_frame_parser_execute(&s->frame, data, len);
    if (s->frame.error_code && !ws_stream_finished(s))
        fail(s, s->frame.error_code, s->frame.error_reason);
    return n;
}
