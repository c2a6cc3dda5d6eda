/*
 * ws_stream: RFC 6455 messages on top of ws_frame, sans I/O.
 *
 * Push bytes in with ws_stream_execute(); the stream calls back with
 * message begin / data / end (a message is a stream of chunks, so a 1 GiB
 * message never needs 1 GiB of memory), ping, pong and close. Bytes the
 * stream itself must send (pongs, close replies, the close that fails a
 * connection) come out of on_write as complete, ready-to-send frames.
 *
 * A peer that breaks the protocol is not an error return: the stream writes
 * a close frame with the right code through on_write, calls on_fail, stops
 * reading, and ws_stream_finished() becomes true. The codes it produces:
 *   1002  any framing violation (ws_frame), a continuation without a
 *         message, a new data frame inside a fragmented message, a close
 *         payload of 1 byte, a close code that may not be sent (<1000,
 *         1004-1006, 1015, 1016-2999, >= 5000), data after the peer's close
 *   1007  invalid UTF-8 in a text message (at the first bad byte, not at
 *         the end of the message) or in a close reason
 *   1009  a message larger than max_message
 *
 * Close handshake: OPEN -> (we close) CLOSE_SENT -> (peer's close) CLOSED,
 * or OPEN -> (peer's close; the stream replies with the same code, 1000
 * when it had none) CLOSED. After our close, data can still arrive and is
 * delivered; nothing but nothing may be sent. FAILED: we sent a close
 * because the peer broke the protocol; no further input is read.
 *
 * No allocation, no descriptors, no global state. Control frame payloads
 * (<= 125 bytes) are gathered in the struct, so a ping split over many
 * reads is answered once, whole.
 */
#ifndef WS_STREAM_H
#define WS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_frame.h"
#include "ws_utf8.h"

enum ws_stream_state {
    WS_STREAM_OPEN,
    WS_STREAM_CLOSE_SENT, /* our close is out, waiting for the peer's */
    WS_STREAM_CLOSED,     /* both closes exchanged: close the transport after flushing */
    WS_STREAM_FAILED,     /* peer violated the protocol; our close is out; close the transport */
};

struct ws_stream;

/*
 * Callbacks return 0 to go on; any other value pauses: ws_stream_execute()
 * returns the bytes consumed so far and the next call resumes. A callback
 * may call ws_stream_close() or the send helpers below.
 */
struct ws_stream_settings {
    /* A data message starts. opcode: WS_OP_TEXT or WS_OP_BINARY. rsv: the
     * RSV bits of its first frame (an extension's "compressed" flag). */
    int (*on_message_begin)(struct ws_stream *s, enum ws_opcode opcode, uint8_t rsv);
    /* Message payload, in order, len > 0. For text, the bytes are valid
     * UTF-8 so far (a chunk may end inside a character). data points into
     * the caller's buffer (or, for a message an extension transforms, into
     * the extension's) and may be modified; valid during the call. */
    int (*on_message_data)(struct ws_stream *s, uint8_t *data, size_t len);
    /* The message is complete (text: UTF-8 complete). */
    int (*on_message_end)(struct ws_stream *s);
    /* A ping arrived; its pong has already been written (auto_pong). */
    int (*on_ping)(struct ws_stream *s, const uint8_t *data, size_t len);
    int (*on_pong)(struct ws_stream *s, const uint8_t *data, size_t len);
    /* The peer's close frame: code 1005 when it carried none; reason is
     * valid UTF-8 (len <= 123). When it arrives in OPEN, the reply has
     * already been written and the state is CLOSED. */
    int (*on_close)(struct ws_stream *s, uint16_t code, const uint8_t *reason, size_t len);
    /* The peer broke the protocol; our close(code, reason) has been written.
     * Informational (for the log); the stream no longer reads. */
    void (*on_fail)(struct ws_stream *s, uint16_t code, const char *reason);
    /* Bytes to send: one complete frame (header + payload, masked in client
     * role), valid only during the call: copy or write them. Required. */
    int (*on_write)(struct ws_stream *s, const uint8_t *frame, size_t len);
    /* Client role only: fill 4 unpredictable mask bytes. Required there. */
    void (*on_mask)(struct ws_stream *s, uint8_t mask[4]);
};

/*
 * Extension hook for RSV bits (permessage-deflate: pmd.h's pmd_stream_ext). An extension owns
 * `rsv` bits; the frame parser then accepts them on the first frame of a data message (on a
 * continuation or a control frame they stay a 1002), and a message whose first frame has them
 * is passed through transform() as its payload arrives: transform() gives its output to emit()
 * in pieces, which ws_stream then checks against max_message (the transformed size: 1009),
 * validates as UTF-8 for text (1007) and delivers through on_message_data. At the message end
 * transform() is called once more with in=NULL, len=0, fin=true.
 *
 * emit() returns 0 to go on, 1 when on_message_data asked to pause, 2 when the stream failed
 * (stop now, return 2). transform() returns 0 with *used = len; 1 when emit paused and it
 * stopped early, *used being the input it took (the rest is given again by the next
 * ws_stream_execute(): the frame parser re-reads it); or a close code (1002, 1007, 1009, 1011)
 * to fail the connection. With fin, a pause is not honoured.
 */
typedef int (*ws_stream_emit_fn)(struct ws_stream *s, uint8_t *data, size_t len);
struct ws_stream_ext {
    uint8_t rsv;
    int (*transform)(struct ws_stream *s, void *ext_data, uint8_t *in, size_t len, bool fin,
                     size_t *used, ws_stream_emit_fn emit);
};

struct ws_stream {
    void *data; /* public: for the user */
    const struct ws_stream_settings *settings;
    enum ws_role role;
    enum ws_stream_state state; /* public, read-only */
    uint64_t max_message;       /* public: 0 = unlimited; over it -> 1009 */
    bool auto_pong;             /* public: default true */

    /* public, read-only, after a close was sent or received */
    uint16_t close_sent_code;
    uint16_t close_recv_code;
    bool close_received;

    /* private */
    struct ws_frame_parser frame;
    const struct ws_stream_ext *ext;
    void *ext_data;
    struct ws_utf8 utf8;
    uint8_t msg_opcode; /* 0 = no message in progress */
    uint8_t msg_rsv;
    bool msg_ext;        /* current message goes through ext */
    uint8_t send_opcode; /* 0 = not inside an outgoing fragmented message */
    uint8_t ctl_opcode;
    uint8_t ctl_len;
    uint8_t ctl_buf[WS_CONTROL_MAX];
    uint64_t msg_size;
    bool frame_is_control;
    bool frame_fin;
};

/* settings must outlive the stream. */
void ws_stream_init(struct ws_stream *s, enum ws_role role,
                    const struct ws_stream_settings *settings);

/* Installs an extension (before the first execute). ext must outlive s. */
void ws_stream_set_extension(struct ws_stream *s, const struct ws_stream_ext *ext, void *ext_data);

/*
 * Consumes up to len bytes (payload is unmasked in place). Returns the
 * number consumed: len, or fewer when a callback paused or the stream
 * failed/closed (after CLOSED or FAILED nothing more is consumed; bytes
 * after the peer's close frame are ignored, as RFC 6455 §5.5.1 allows).
 */
size_t ws_stream_execute(struct ws_stream *s, uint8_t *data, size_t len);

/*
 * Writes into out (>= WS_FRAME_HEADER_MAX bytes) the header of an outgoing
 * data frame of len payload bytes and returns its size. opcode is the
 * message type (WS_OP_TEXT or WS_OP_BINARY) on every fragment; the stream
 * writes CONT for the second and later fragments and tracks fin. In client
 * role mask receives the frame's mask (the caller masks the payload with
 * ws_frame_mask()); in server role mask may be NULL. Returns
 * WS_E_CLOSED once our close is out, WS_E_STATE when a fragmented message
 * of another type is in progress.
 */
int ws_stream_data_header(struct ws_stream *s, uint8_t *out, enum ws_opcode opcode, bool fin,
                          uint64_t len, uint8_t mask[4]);

/* Writes a ping (len <= 125) through on_write. WS_E_CLOSED after our close. */
int ws_stream_ping(struct ws_stream *s, const uint8_t *data, size_t len);

/*
 * Starts the close handshake (or answers the peer's) with code and an
 * optional reason (truncated to 123 bytes at a character boundary), written
 * through on_write. code 0 sends a close frame without a status. Returns
 * WS_E_CLOSED when a close was already sent.
 */
int ws_stream_close(struct ws_stream *s, uint16_t code, const char *reason);

/* May data still be sent? (state OPEN) */
bool ws_stream_can_send(const struct ws_stream *s);
/* Is the close handshake over (CLOSED or FAILED)? Then flush and close the transport. */
bool ws_stream_finished(const struct ws_stream *s);

/* Is code valid in a close frame received from the wire (RFC 6455 §7.4)? */
bool ws_close_code_valid(uint16_t code);

#endif
