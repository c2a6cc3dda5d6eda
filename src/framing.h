/*
 * framing: how messages map to the program's stdin and stdout (--framing), the pure part (no
 * libuv, no I/O, no allocation; bridge.c does the I/O).
 *
 * lines (the default, websocketd's): a message is a line; see bridge.h.
 *
 * json: each line is one JSON value (RFC 8259), both ways.
 *   - A text message is a JSON string: "..." (decoded: escapes, \u0000, surrogate pairs ->
 *     UTF-8; raw bytes must be valid UTF-8; a lone surrogate is bad framing).
 *   - A binary message is an object with one member: {"binary":"BASE64"} (RFC 4648 section 4
 *     alphabet; '=' padding optional on output from the program, always written on input to it;
 *     no whitespace inside).
 *   To the program: exactly that, then '\n'; JSON escapes for '"', '\\' and control bytes
 *   (\n \t ... or \u00XX, 0x7f too), every other byte as is (text messages are valid UTF-8).
 *   From the program: JSON whitespace (space, tab, CR) may surround the value; a line holding
 *   only whitespace is skipped; the last line may lack its '\n'. A message is held whole until
 *   its line ends (nothing half-parsed is sent), at most a given number of decoded bytes.
 *
 * length: a record is 1 type byte, a 4-byte big-endian payload length, then the payload.
 *   Type: 1 text, 2 binary (WebSocket's opcodes), plus FRAMING_REC_MORE (0x80) when more
 *   records of the same message follow. A message is one record without MORE, or records with
 *   MORE and a last one without it, all of the same type. Any other type byte is bad framing.
 *   Records are streamed both ways (no message is ever held whole): to the program a message
 *   becomes one record per piece as it arrives from the socket (MORE on all but the last); from
 *   the program each record's payload goes out as it is read, as a fragmented message. A text
 *   message's bytes must be valid UTF-8: checked before each piece is sent, so a text record
 *   that turns out invalid has had its valid first part sent already and the session ends with
 *   1011 in the middle of that message -- the only way to stream it.
 *
 * Bad framing from the program is sticky state, as a protocol error is in ws_stream: the
 * decoder keeps what was wrong and where (struct framing_error) and takes no more input.
 */
#ifndef FRAMING_H
#define FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_utf8.h"

enum framing_mode {
    FRAMING_LINES, /* --framing=lines (default) */
    FRAMING_JSON,  /* --framing=json */
    FRAMING_LENGTH /* --framing=length */
};

/* "lines", "json" or "length". */
const char *framing_mode_name(enum framing_mode m);
/* Its mode for a name; 0, or -1 (*m untouched) for an unknown name. */
int framing_mode_parse(const char *name, enum framing_mode *m);

#define FRAMING_JSON_MAX (64u << 20) /* default limit of a decoded message from the program */
#define FRAMING_REASON_MAX 123u      /* a close frame's reason, at most */

/* What was wrong with the program's output, and where. */
struct framing_error {
    const char *what; /* NULL: nothing (yet) */
    uint64_t line;    /* json: the line, from 1; length: 0 */
    uint64_t at;      /* json: the byte within that line, from 0; length: within the output */
};

/* "bad output from program: WHAT at line L byte N" (json) or "... at byte N" (length), cut to
 * fit cap (at most FRAMING_REASON_MAX + 1 is useful: a close frame's reason). Returns out. */
char *framing_error_text(const struct framing_error *e, char *out, size_t cap);

/* Receives decoded bytes of a message, in order; p is valid during the call only. */
typedef void (*framing_data_fn)(void *ctx, const uint8_t *p, size_t n);

enum framing_result {
    FRAMING_BAD = -1,   /* bad framing: see the decoder's err */
    FRAMING_MORE = 0,   /* no message completed */
    FRAMING_TEXT = 1,   /* a text message is complete */
    FRAMING_BINARY = 2, /* a binary message is complete */
};

/* ---------------------------------------------------------------- json, from the program */

struct framing_json_dec {
    uint8_t state, in;       /* where in the line; what the string being read is */
    uint8_t kind;            /* FRAMING_TEXT or FRAMING_BINARY: the line's value */
    uint8_t nhex;            /* hex digits of a \u escape read so far */
    uint16_t hex, high;      /* the \u code unit; a high surrogate waiting for its pair */
    struct ws_utf8 utf8;     /* the raw bytes of the string */
    uint8_t key[8], nkey;    /* the object's member name (longer ones: nkey > sizeof key) */
    uint32_t b64;            /* base64: bits of the quantum so far */
    uint8_t nb64, npad;      /* its characters, and '='s seen */
    uint64_t out, max;       /* decoded bytes of this message; at most max (0: no limit) */
    uint64_t line, col;      /* the line (from 1) and bytes of it consumed */
    struct framing_error err;
};

/* max: the longest decoded message taken (0: no limit; FRAMING_JSON_MAX is sensible). */
void framing_json_dec_init(struct framing_json_dec *d, uint64_t max);
/*
 * Feeds p[0..n) (any split: a line may come in many pieces). The current message's decoded
 * bytes go to data(ctx, ...) as they are decoded. Stops right after the '\n' that completes a
 * message: *result is FRAMING_TEXT or FRAMING_BINARY and the caller now has the whole message
 * (the decoder is ready for the next line). Else *result is FRAMING_MORE (all of p consumed,
 * the message still open) or FRAMING_BAD (d->err says why; what data() got of this message
 * must be dropped; every later call is FRAMING_BAD at once). Returns the bytes consumed.
 */
size_t framing_json_feed(struct framing_json_dec *d, const uint8_t *p, size_t n,
                         framing_data_fn data, void *ctx, int *result);
/* At the end of the output: a last line that is a complete value without its '\n' completes
 * (FRAMING_TEXT/BINARY), nothing begun is FRAMING_MORE, anything else FRAMING_BAD (cut). */
int framing_json_finish(struct framing_json_dec *d);

/* ---------------------------------------------------------------- json, to the program */

#define FRAMING_JSON_OPEN_MAX 11u  /* bytes framing_json_enc_begin writes, at most */
#define FRAMING_JSON_CLOSE_MAX 7u  /* bytes framing_json_enc_end writes, at most */
#define FRAMING_JSON_PIECE_MIN 6u  /* room framing_json_enc_data needs to make progress */

struct framing_json_enc {
    bool binary;
    uint8_t carry[3], ncarry; /* base64: bytes waiting for a whole 3-byte group */
};

/* A message starts: writes its opening ("\"" or "{\"binary\":\"") to out. Returns its length. */
size_t framing_json_enc_begin(struct framing_json_enc *e, bool text, uint8_t *out);
/* Encodes as much of p[0..n) as fits in out[0..cap): *used is set to the input bytes taken.
 * Returns the bytes written. With cap >= FRAMING_JSON_PIECE_MIN at least one byte is taken. */
size_t framing_json_enc_data(struct framing_json_enc *e, const uint8_t *p, size_t n,
                             size_t *used, uint8_t *out, size_t cap);
/* The message is complete: writes the rest of the base64, the closing and '\n'. Returns its
 * length (at most FRAMING_JSON_CLOSE_MAX). */
size_t framing_json_enc_end(struct framing_json_enc *e, uint8_t *out);
/*
 * JSON string escaping of p[0..n) (valid UTF-8, or any bytes: only ASCII ones change): '"',
 * '\\', \b \f \n \r \t, other control bytes and 0x7f as \u00XX. Writes to out[0..cap) whole
 * escapes only and sets *used (may be NULL) to the input bytes taken; out NULL: measures
 * everything (cap ignored). Returns the bytes written (or needed).
 */
size_t framing_json_escape(const uint8_t *p, size_t n, size_t *used, uint8_t *out, size_t cap);

/* ---------------------------------------------------------------- length */

#define FRAMING_REC_TEXT 1u
#define FRAMING_REC_BINARY 2u
#define FRAMING_REC_MORE 0x80u
#define FRAMING_REC_HEADER 5u

/* Writes a record header (type, MORE when more records of the message follow, len). */
void framing_rec_header(uint8_t out[FRAMING_REC_HEADER], bool text, bool more, uint32_t len);

/* Receives a piece of a message, p[0..n) inside the bytes given to framing_len_feed (by
 * reference: p lies in them); fin: the message's last piece (n may be 0 then). A text
 * message's pieces are valid UTF-8 so far (a piece may end inside a character). */
typedef void (*framing_piece_fn)(void *ctx, bool text, const uint8_t *p, size_t n, bool fin);

struct framing_len_dec {
    uint8_t hdr[FRAMING_REC_HEADER], nhdr; /* the header being read */
    uint8_t type;                          /* the open message's type (0: none open) */
    bool more;                             /* the current record is not the message's last */
    uint32_t left;                         /* payload bytes of the current record to come */
    struct ws_utf8 utf8;                   /* the open text message */
    uint64_t pos;                          /* bytes consumed */
    struct framing_error err;
};

void framing_len_dec_init(struct framing_len_dec *d);
/* Feeds p[0..n) (any split), calling piece() for payload as it comes (a piece that would be
 * invalid UTF-8 is not given). FRAMING_MORE (all consumed) or FRAMING_BAD (d->err; sticky). */
int framing_len_feed(struct framing_len_dec *d, const uint8_t *p, size_t n,
                     framing_piece_fn piece, void *ctx);
/* At the end of the output: FRAMING_MORE when no record or message is open, else FRAMING_BAD
 * (a record or message cut short). */
int framing_len_finish(struct framing_len_dec *d);

#endif
