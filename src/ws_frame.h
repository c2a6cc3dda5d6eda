/*
 * ws_frame: RFC 6455 §5 framing, sans I/O.
 *
 * The parser consumes whatever bytes the caller has (one byte or a
 * megabyte), keeps its state between calls and reports, through callbacks,
 * each frame header, the payload in chunks (unmasked in place, in the
 * caller's buffer) and each frame's end. It never buffers payload: memory
 * does not depend on frame size. The writer is the mirror image: it writes
 * a header into the caller's buffer and leaves the payload where it is, so
 * header and payload go out in one gather write.
 *
 * Neither touches a descriptor, allocates, or keeps global state.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Which side this endpoint is: a server requires masked frames from its
 * peer and sends unmasked ones; a client the reverse. */
enum ws_role {
    WS_ROLE_SERVER,
    WS_ROLE_CLIENT,
};

#define WS_RSV1 0x4u
#define WS_RSV2 0x2u
#define WS_RSV3 0x1u

/* Close codes (RFC 6455 §7.4.1) that wsbridge sends or checks. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never on the wire */
    WS_CLOSE_ABNORMAL = 1006,  /* never on the wire */
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_EXTENSION = 1010,
    WS_CLOSE_INTERNAL_ERROR = 1011,
};

#define WS_CONTROL_MAX 125u     /* largest control frame payload */
#define WS_FRAME_HEADER_MAX 14u /* 2 + 8 (length) + 4 (mask) */

static inline bool ws_opcode_is_control(unsigned op)
{
    return (op & 0x8u) != 0;
}

struct ws_frame_header {
    bool fin;
    uint8_t rsv;    /* WS_RSV1 | WS_RSV2 | WS_RSV3 bits as received */
    uint8_t opcode; /* enum ws_opcode */
    bool masked;
    uint8_t mask[4];
    uint64_t length;
};

struct ws_frame_parser;

/*
 * Callbacks return 0 to go on. Any other value stops the parser right after
 * the callback: ws_frame_parser_execute() returns the bytes consumed so far
 * (including those handed to the callback) and the next call resumes where
 * it stopped. Use it to pause for backpressure or after a fatal event.
 */
typedef int (*ws_frame_header_cb)(struct ws_frame_parser *p, const struct ws_frame_header *h);
/* data is unmasked, points into the buffer given to execute(), and is valid
 * only during the call; the callback may modify it in place. len > 0. */
typedef int (*ws_frame_payload_cb)(struct ws_frame_parser *p, uint8_t *data, size_t len);
typedef int (*ws_frame_end_cb)(struct ws_frame_parser *p);

struct ws_frame_settings {
    ws_frame_header_cb on_header; /* every frame, also zero-length ones */
    ws_frame_payload_cb on_payload;
    ws_frame_end_cb on_frame_end; /* every frame, after its last payload byte */
};

/* Parser state; callers read only the public fields marked so. */
struct ws_frame_parser {
    const struct ws_frame_settings *settings; /* not copied: must outlive the parser */
    void *data;                               /* public: for the user */
    enum ws_role role;
    uint8_t allowed_rsv; /* public: RSV bits a negotiated extension allows (default 0) */

    /* When a frame violates RFC 6455 the parser stops for good: error_code
     * is the close code to send (1002) and error_reason says why. */
    uint16_t error_code;      /* public, 0 = no error */
    const char *error_reason; /* public, static string */

    /* public: an on_payload callback that stops may set this to the number of bytes at the
     * end of its chunk it did not take (<= len; reset to 0 before each call). They are masked
     * again and delivered anew by the next execute(), which the caller gives them to. */
    size_t payload_unused;

    /* private */
    uint8_t state;
    uint8_t hdr_have;
    uint8_t hdr_need;
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    struct ws_frame_header cur;
    uint64_t remaining;
    uint32_t mask_offset;
};

/* settings must stay valid for the parser's lifetime. */
void ws_frame_parser_init(struct ws_frame_parser *p, enum ws_role role,
                          const struct ws_frame_settings *settings);

/*
 * Consumes up to len bytes of data, unmasking payload in place (data is
 * modified). Returns the number of bytes consumed: len, unless a callback
 * stopped the parser or a protocol violation was found (then error_code
 * != 0 and every later call returns 0). Never reads outside [data, data+len).
 *
 * Checked here: RSV bits not in allowed_rsv; reserved opcodes (3-7, B-F);
 * control frames longer than 125 bytes or without FIN; a 64-bit length
 * with its top bit set; non-minimal length encodings are accepted (RFC
 * 6455 requires minimal encoding of the sender only); client frames must be
 * masked (server role) and server frames unmasked (client role).
 * Fragmentation rules across frames belong to ws_stream.
 */
size_t ws_frame_parser_execute(struct ws_frame_parser *p, uint8_t *data, size_t len);

/* True between frames (no partial header or payload pending). */
bool ws_frame_parser_idle(const struct ws_frame_parser *p);

/*
 * Writes a frame header for a payload of length len into out (at least
 * WS_FRAME_HEADER_MAX bytes) and returns its size (2 to 14). mask is NULL
 * for an unmasked (server) frame, else the 4 mask bytes (client frames;
 * the caller masks the payload with ws_frame_mask()).
 */
size_t ws_frame_write_header(uint8_t *out, bool fin, uint8_t rsv, enum ws_opcode opcode,
                             uint64_t len, const uint8_t *mask);

/*
 * XORs data with mask, as if data started at byte `offset` of the payload
 * (so a payload can be masked in pieces). Works a machine word at a time
 * and handles any alignment. Returns the offset for the next piece.
 */
uint64_t ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

#endif
