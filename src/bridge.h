/*
 * bridge: the WebSocket side of a session joined to its child's stdio.
 *
 * Text mode: an inbound text message is streamed to stdin as it arrives,
 * then "\n" at its end (websocketd); an inbound binary message is written
 * as its raw bytes, no newline (websocketd does the same). Each stdout line
 * becomes one text message without its "\n" and one "\r" before it; a line
 * of up to BRIDGE_CARRY_MAX bytes goes out as a single frame, a longer one
 * as a fragmented message (FIN=0 frames, then CONT) so memory never grows
 * with line length; the last line without a newline is delivered at EOF;
 * invalid UTF-8 is replaced with U+FFFD (never sent in a text frame).
 * --binary: inbound binary messages -> raw bytes; each stdout read -> one
 * binary message. stderr lines are logged at ERROR with the connection id
 * (child_log_stderr: the logger CGI uses too).
 *
 * --passstderr: stdout and stderr lines are both cut as above and each is
 * sent as a text message {"stream":"stdout"|"stderr","data":"..."} (JSON-
 * escaped, control bytes as \u00XX, repaired UTF-8); a long line is a
 * fragmented message, the JSON prefix in its first fragment and the suffix
 * in its last. Messages cannot interleave, so the stream whose message is
 * open owns the socket and the other one holds what it read (one buffer)
 * and stops reading until that line ends. With --binary, stdout chunks stay
 * binary messages (under the same rule) and stderr lines are JSON. The
 * session hears "stdout done" once both streams are over.
 *
 * Memory: reads use BUF_SIZE pool buffers taken in alloc_cb and
 * given back once the bytes are written onward (payload is never copied:
 * frames are gather writes of a header and the bytes in the read buffer),
 * so an idle session pins no buffer. Both directions are bounded: the
 * socket is not read while the child's stdin queue is over
 * CHILD_HIGH_WATER (until it drains below CHILD_LOW_WATER, child.h), and
 * stdout is not read while the socket's send queue is over the same marks.
 * The child's pipes are only reached through child.h (child_write,
 * child_read_start/stop and the struct child_io_settings callbacks).
 */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"

#define BRIDGE_CARRY_MAX (BUF_SIZE / 2) /* longest line carried to the next read */

struct session;
struct bridge_pass; /* --passstderr state, private to bridge.c */

/* Frees the free lists of buffers and write batches (at exit, for leak checkers). */
void bridge_pool_drain(void);

/* ---------------------------------------------------------------- line cutting (pure) */

/* Receives one piece of a line: fin marks the end of the line's message. */
typedef void (*bridge_emit_fn)(void *ctx, const uint8_t *data, size_t len, bool fin);

struct bridge_lines {
    bool frag; /* part of the current line was already emitted (fin=false) */
    bool cr;   /* a '\r' at the end of the last chunk is held back (only when frag) */
};

static inline void bridge_lines_init(struct bridge_lines *l)
{
    l->frag = false;
    l->cr = false;
}

/*
 * Cuts data[0..len) into lines; bytes before scan_from are known to hold no
 * '\n' (a partial line carried from the last call). Each complete line is
 * emitted without its '\n' and one '\r' before it, fin=true. The partial
 * line at the end is either left to the caller -- the return value is its
 * length, to be passed again at the start of the next call -- when no part
 * of it was emitted yet and it is at most carry_max bytes, or else emitted
 * now with fin=false (a '\r' at its very end is held back until the next
 * byte shows whether a '\n' follows). Returns 0 when nothing is carried.
 */
size_t bridge_lines_cut(struct bridge_lines *l, const uint8_t *data, size_t len, size_t scan_from,
                        size_t carry_max, bridge_emit_fn emit, void *ctx);

/* At EOF: emits the rest (the carried bytes, a held '\r') with fin=true,
 * if a line is in progress. Returns true when something was emitted. */
bool bridge_lines_finish(struct bridge_lines *l, const uint8_t *carry, size_t len,
                         bridge_emit_fn emit, void *ctx);

/* ---------------------------------------------------------------- the session's data path */

/* Starts reading the child's stdout and stderr. 0 or a UV error. */
int bridge_start(struct session *s);
/* Bytes from the socket in the WebSocket phase: data[0..len) lies anywhere inside owner's bytes
 * (the caller holds a reference for the call). Feeds ws_stream; payload goes to the child's stdin
 * by reference, each write taking its own reference on owner. */
void bridge_socket_data(struct session *s, struct buf *owner, uint8_t *data, size_t len);
/* Re-evaluates which reads should run (after a write completes or the state changes). */
void bridge_update_reads(struct session *s);
/* Sends the frames collected so far (before a shutdown). */
void bridge_flush(struct session *s);
/* Writes a complete frame (control frames from ws_stream) to the socket, copying it; inside
 * bridge_socket_data() it goes out with the rest of that read's frames. */
int bridge_send_copy(struct session *s, const uint8_t *frame, size_t len);
/* stdout is over (EOF, or given up on): delivers the last partial line, closes the pipe,
 * tells the session. Idempotent. */
void bridge_stdout_eof(struct session *s);
/* Drops the carried partial line and any pinned buffer (session end). */
void bridge_release(struct session *s);

#endif
