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
 * Shape: two endpoints inside bridge.c with a narrow interface between
 * them. The stream endpoint is the child's stdio: it cuts stdout (and, with
 * --passstderr, stderr: plain mode is the one-stream case) into message
 * pieces and writes inbound messages to stdin. The message endpoint is the
 * WebSocket side: it owns the ws_stream and the socket's write batches, and
 * every outbound frame -- data pieces, --passstderr JSON, ws_stream's
 * control frames, the close -- leaves through its one send function, which
 * writes the header (RSV bits a parameter; 0 until an extension sets them).
 * The stream endpoint sees the socket only through that interface (send a
 * piece, flush, queue size, "discarding", "done"), so one stream could
 * later feed several message endpoints. The bridge reports up through a
 * struct bridge_events; it knows neither the session nor the config.
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
 *
 * --framing=json|length (opt->framing, framing.h), in the stream endpoint only: stdout is cut
 * by the mode's decoder instead of into lines, inbound messages are encoded for stdin as they
 * arrive. json: a line is decoded into pool buffers and sent (one frame per buffer) only once
 * the whole line is good, at most FRAMING_JSON_MAX decoded bytes; stdin gets each message as
 * one JSON line, encoded piece by piece into pool buffers. length: records are streamed both
 * ways, payload by reference (outbound: one frame per record piece read; inbound: one record
 * per piece, the last piece held back -- a reference on its buffer -- until the message's end
 * says whether it is the last). Bad framing: logged with the connection id, reported through
 * bad_output (the owner closes 1011), then the output is read and dropped.
 *
 * permessage-deflate (opt->deflate, pmd.h), in the message endpoint only: inbound, ws_stream
 * inflates (pmd_stream_ext) and the inflated bytes go to stdin from pool buffers; when stdin's
 * queue passes CHILD_HIGH_WATER in the middle of a compressed message, the stream pauses and
 * the rest of that socket read waits, with socket reads stopped, until the queue is under
 * CHILD_LOW_WATER -- so a few KiB that inflate to GiBs never queue more than a high mark plus a
 * read's worth. Outbound, frame_send compresses every data message at or over the threshold
 * (whatever cut it: lines, --binary chunks, JSON, any framing mode), RSV1 on its first frame;
 * control frames never. Without context takeover (the default) zlib state is borrowed per
 * message, so an idle session holds none.
 */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "framing.h"
#include "pmd.h"

#define BRIDGE_CARRY_MAX (BUF_SIZE / 2) /* longest line carried to the next read */

struct bridge; /* private to bridge.c */
struct child;
struct transport;

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

/* ---------------------------------------------------------------- --framing=json output */

/*
 * The program's output in --framing=json, decoded a whole message at a time (framing.h) into
 * pool buffers: what a one-client bridge and a shared program's hub (hub.c) both do before a
 * message goes out. parts[0..nparts) hold the message, all full (BUF_SIZE) but the last, which
 * holds last bytes (nparts 0: an empty message).
 */
struct bridge_json {
    struct framing_json_dec dec;
    struct buf **parts;
    unsigned nparts, capparts;
    size_t last;
    bool nomem;
};

#define BRIDGE_JSON_NOMEM (-2) /* bridge_json_feed: out of memory (the message is dropped) */

/* max: the longest decoded message (framing_json_dec_init's). */
void bridge_json_init(struct bridge_json *j, uint64_t max);
/*
 * Feeds p[0..n) (eof: nothing follows it). Returns the bytes consumed and sets *result: a
 * message complete (FRAMING_TEXT or FRAMING_BINARY: its bytes are in parts, until
 * bridge_json_drop; call again for the rest of p), FRAMING_MORE (all of p consumed, nothing
 * complete), FRAMING_BAD (dec.err says why; sticky) or BRIDGE_JSON_NOMEM (the bytes so far
 * are dropped; the caller cannot go on with this output).
 */
size_t bridge_json_feed(struct bridge_json *j, const uint8_t *p, size_t n, bool eof, int *result);
/* Lets go of the message's buffers (it was sent, or is dropped). */
void bridge_json_drop(struct bridge_json *j);
/* Frees everything (the struct itself is the caller's). */
void bridge_json_free(struct bridge_json *j);

/* ---------------------------------------------------------------- the data path */

/* What the bridge is told at its start (copied). */
struct bridge_options {
    bool binary;          /* --binary: stdout chunks are binary messages, no '\n' after text */
    bool passstderr;      /* --passstderr: stdout and stderr lines as JSON messages */
    enum framing_mode framing; /* --framing: how messages map to stdin/stdout (not with the
                                  two above, nor with a member) */
    bool pty;             /* --pty: with binary, a text message that is a resize message
                             (pty.h) resizes the terminal instead of being typed */
    uint64_t max_message; /* --maxframesize: largest inbound message (0 = unlimited), 1009 */
    unsigned long conn;   /* the connection id, for log lines */
    bool deflate;         /* permessage-deflate was agreed, with these parameters: */
    struct pmd_params pmd;
    const struct pmd_policy *pmd_policy; /* level, mem_level, threshold; outlives the bridge */
};

/*
 * How the bridge reports up (as ws_stream_settings does): every callback gets the ctx given to
 * bridge_start(). They may call any bridge_* function except bridge_release() (the owner frees
 * the bridge only from its own teardown, never inside a callback). Must outlive the bridge.
 */
struct bridge_events {
    /* The peer closed (graceful: its close frame came, or it broke the protocol and our close
     * is out -- let the queue drain) or the connection broke (write error, out of memory). */
    void (*peer_gone)(void *ctx, bool graceful);
    /* The program's output is over: stdout (and stderr with --passstderr) reached EOF or was
     * given up on (bridge_stdout_eof), and what it wrote has been queued. Once. */
    void (*stdout_done)(void *ctx);
    /* A write to the program's stdin failed: inbound data is dropped from now on; the owner
     * closes stdin. */
    void (*stdin_dead)(void *ctx);
    /* --framing: the program's output broke the framing (logged already); reason is a close
     * reason ("bad output from program: ...", at most FRAMING_REASON_MAX bytes), valid during
     * the call. From now on the output is read and dropped; the owner closes (1011) and stops
     * the program. Once. */
    void (*bad_output)(void *ctx, const char *reason);
    /* Stop (paused) or resume reading the socket: the child's stdin queue or our own send
     * queue went over CHILD_HIGH_WATER / back under CHILD_LOW_WATER (child.h). Alternates,
     * starting with paused=true. */
    void (*reads_paused)(void *ctx, bool paused);
    /* One more / one less hold on the owner: the bridge holds it while a write is in flight
     * and around every callback it runs, so the owner is never freed under it. */
    void (*hold)(void *ctx);
    void (*release)(void *ctx);
    /* Optional (NULL: not called): a write to the socket completed, so its send queue shrank
     * (a member's owner hands it more, bridge_send_frames). */
    void (*drained)(void *ctx);
};

/*
 * A member: the message endpoint of a client of a shared program (hub.h), whose stream
 * endpoint is not a child's stdio but the sink: every inbound message is given to it as
 * begin (text or binary), data pieces, end; queued() is what the sink holds towards the
 * program, so the socket's reads stop above CHILD_HIGH_WATER as with a child (the owner calls
 * bridge_update_reads() when it changes). All run with the sink's ctx; the sink must outlive
 * the bridge.
 */
struct bridge_sink {
    void (*begin)(void *ctx, bool text);
    /* p[0..n) lies in owner's bytes (take a reference to keep them), or owner is NULL: the
     * bytes are valid during the call only. */
    void (*data)(void *ctx, const uint8_t *p, size_t n, struct buf *owner);
    void (*end)(void *ctx);
    size_t (*queued)(void *ctx);
};

/*
 * Starts the data path of a WebSocket connection on transport t and the spawned child c
 * (c->io is set here; c->data stays the owner's): reads of stdout (and stderr: to the log, or
 * with --passstderr to the peer) start now. *out is the bridge (also on an error, unless NULL:
 * out of memory), to be freed with bridge_release(). t and c must stay valid until
 * bridge_transport_closed() and until c's handles are closed. 0 or a UV error.
 */
int bridge_start(struct bridge **out, struct child *c, struct transport *t,
                 const struct bridge_options *opt, const struct bridge_events *ev, void *ctx);
/* Starts a member's data path on transport t (see struct bridge_sink): no child, no output of
 * its own; what it sends comes from bridge_send_frames(). *out as for bridge_start(). 0 or a
 * UV error. */
int bridge_start_member(struct bridge **out, struct transport *t, const struct bridge_options *opt,
                        const struct bridge_events *ev, void *ctx, const struct bridge_sink *sink,
                        void *sink_ctx);
/* Queues p[0..n): whole frames already encoded, ending `messages` messages (counted as sent)
 * (headers included, unmasked; RSV 0, or RSV1 on compressed messages made for this connection's
 * agreed deflate parameters, hubz.h), owned by owner (a reference is taken; payloads up to 64
 * bytes are copied next to the batch's headers instead, cheaper than a reference), sent at the next
 * bridge_flush() or when the batch fills. The caller keeps messages whole and in order: ws_stream's
 * own frames (pongs, the close) may come between frames, never inside one. 0, or WS_E_CLOSED
 * (nothing may be sent: our close is out, the peer is gone) or WS_E_NOMEM. */
int bridge_send_frames(struct bridge *br, struct buf *owner, const uint8_t *p, size_t n,
                       unsigned messages);
/* Queues one piece of a data message (text or binary; fin: its last) through the one send path,
 * as the bridge's own output goes: with permessage-deflate, compressed by this connection's
 * deflate stream when the message is (a member whose window is its own, hubz.h). p[0..n) lies in
 * owner's bytes (a reference is taken), or owner is NULL (copied: n <= 64). The caller keeps
 * pieces of one message together, as for bridge_send_frames; text says the message's type at its
 * first piece (a later piece continues the message in progress, whatever text says). 0,
 * WS_E_CLOSED or WS_E_NOMEM. */
int bridge_send_piece(struct bridge *br, bool text, bool fin, const uint8_t *p, size_t n,
                      struct buf *owner);
/* The outbound deflate stream's configuration when permessage-deflate was agreed (its
 * pmd_deflate_key() tells whether compressed frames may be shared), else NULL. */
const struct pmd_deflate *bridge_deflate(const struct bridge *br);
/* Bytes queued towards the peer, not yet taken by the kernel (0 once closed). NULL: 0. */
size_t bridge_send_queued(const struct bridge *br);
/* Bytes from the socket: data[0..len) lies anywhere inside owner's bytes (the caller holds a
 * reference for the call). Feeds the ws_stream; payload goes to the child's stdin by
 * reference, each write taking its own reference on owner. */
void bridge_socket_data(struct bridge *br, struct buf *owner, uint8_t *data, size_t len);
/* Re-evaluates which reads should run (after the state changed). NULL is ignored. */
void bridge_update_reads(struct bridge *br);
/* Sends the frames collected so far (before a shutdown). NULL is ignored. */
void bridge_flush(struct bridge *br);
/* Gives up on the program's output (the program exited and something holds the pipes open):
 * the last partial lines go out, the pipes are closed, stdout_done follows. Idempotent. */
void bridge_stdout_eof(struct bridge *br);
/* Nothing may be sent anymore (the close is out or the peer is gone): the program's output is
 * read and dropped. NULL is ignored. */
void bridge_discard(struct bridge *br);
/* The transport is closing: it is not touched anymore (its writes complete with
 * UV_ECANCELED), output is dropped. NULL is ignored. */
void bridge_transport_closed(struct bridge *br);

/* The WebSocket side (NULL-safe: no bridge is a stream that cannot send and has not closed). */
/* Our close frame (code 0: without a status), see ws_stream_close(). 0 or a WS error. */
int bridge_close(struct bridge *br, uint16_t code, const char *reason);
/* An empty ping. 0 or a WS error. */
int bridge_ping(struct bridge *br);
/* May data still be sent (ws_stream_can_send)? */
bool bridge_can_send(const struct bridge *br);
/* Is the close handshake over (ws_stream_finished)? */
bool bridge_finished(const struct bridge *br);
/* Did the peer's close frame come? */
bool bridge_close_received(const struct bridge *br);
/* For the access line: the close code we sent, else the peer's, else 1006. */
unsigned bridge_close_code(const struct bridge *br);
/* Bytes written to the socket (completed writes). */
uint64_t bridge_bytes_out(const struct bridge *br);
/* Data messages received complete / sent complete (control frames not counted). */
uint64_t bridge_messages_in(const struct bridge *br);
uint64_t bridge_messages_out(const struct bridge *br);
/* Who sent the first close frame: "server" (bridge_close, or our close for a protocol error),
 * "client", or NULL when none was sent or received. */
const char *bridge_closed_by(const struct bridge *br);

/* Frees the bridge: the carried partial lines, pinned buffers, unsent batches. Only once no
 * write is in flight (the owner's holds are all released) and c's handles are closed. NULL is
 * ignored. */
void bridge_release(struct bridge *br);

#endif
