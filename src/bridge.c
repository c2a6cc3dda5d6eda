/*
 * bridge: the data path of a WebSocket session (see bridge.h).
 *
 * Two endpoints and the write batches they share:
 *  - the stream endpoint (struct stream_end): the child's stdio. Cuts what
 *    the program writes into message pieces; writes what the peer sends to
 *    stdin. It reaches the WebSocket side only through the msg_* functions
 *    below (msg_piece, msg_flush, msg_queued, msg_discarding, msg_done,
 *    msg_fail).
 *  - the message endpoint (struct msg_end): the WebSocket side. Owns the
 *    ws_stream and the socket's batch; frame_send() is the one place an
 *    outbound frame is headed and queued. It reaches the child only through
 *    the stream_in_* functions and stream_stdin_queued / stream_update_reads.
 * One stream endpoint per message endpoint today; nothing in the stream
 * endpoint assumes the socket is one.
 */
#include "build-config.h"

#include "bridge.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "child.h"
#include "framing.h"
#include "log.h"
#include "metrics.h"
#include "pmd.h"
#include "pty.h"
#include "transport.h"
#include "ws_error.h"
#include "ws_stream.h"
#include "ws_utf8.h"

#define POOL_KEEP 64u        /* free write batches kept beyond the bridges' own */
#define BATCH_KEEP_MAX 1024u /* free write batches kept at most, per size (~5.3 MiB + 0.6 MiB) */

struct bridge;

/* ---------------------------------------------------------------- write batches */

#define BATCH_COPY_MAX 64u /* payloads up to this size are copied next to their header */
#define BATCH_HEAP 4u
#define BATCH_BUFS 2u

/*
 * Two sizes. A bridge with a program of its own writes many frames (or stdin chunks) of its own
 * per write: 64 pieces, 4 KiB copied. A --shared member writes the hub's frames by reference
 * (hub.c: a run of whole frames in the log is one piece), copying only short ones and its own
 * control frames: 8 pieces, 256 bytes (a close or a pong with its 125-byte payload fits). With
 * 10,000 members a line is 10,000 writes in flight at once: 7 MiB of small batches instead of
 * 54 MiB of large ones, which the allocator kept after the burst (doc/PERFORMANCE.md, memory
 * per idle client).
 */
enum batch_size { BATCH_LARGE, BATCH_SMALL };
static const struct {
    unsigned iov, arena;
} batch_caps[2] = {{64u, 4096u}, {8u, 256u}};

/* Many frames (or stdin chunks) in one gather write. */
struct batch {
    union {
        struct transport_write w; /* to the socket */
        struct child_write cw;    /* to the child's stdin */
    };
    struct bridge *br;
    struct batch *next;
    struct buf *bufs[BATCH_BUFS];
    void *heap[BATCH_HEAP];
    unsigned nbufs, nheap, niov;
    uint8_t size; /* enum batch_size: batch_caps[size] */
    size_t arena_used, bytes;
    uint8_t *arena; /* behind iov[] */
    uv_buf_t iov[]; /* batch_caps[size].iov, then the arena */
};

static struct {
    struct batch *head;
    unsigned n;
} free_batches[2];
static unsigned nbridges; /* bridges alive: how many free batches are worth keeping */

static struct batch *batch_get(struct bridge *br, enum batch_size size)
{
    struct batch *b = free_batches[size].head;

    if (b) {
        free_batches[size].head = b->next;
        free_batches[size].n--;
    } else {
        b = malloc(sizeof *b + batch_caps[size].iov * sizeof b->iov[0] + batch_caps[size].arena);
        if (!b)
            return NULL;
        b->size = (uint8_t)size;
        b->arena = (uint8_t *)(b->iov + batch_caps[size].iov);
    }
    b->br = br;
    b->next = NULL;
    b->nbufs = b->nheap = b->niov = 0;
    b->arena_used = b->bytes = 0;
    return b;
}

static void batch_put(struct batch *b)
{
    for (unsigned i = 0; i < b->nbufs; i++)
        buf_unref(b->bufs[i]);
    for (unsigned i = 0; i < b->nheap; i++)
        free(b->heap[i]);
    /* Free batches kept: enough for every bridge to have one out per direction (d=1: 200
     * sessions keep 400 in flight), so a steady load never goes back to malloc -- a batch is
     * above glibc's tcache, and at c=200 the allocator was a fifth of the server's time
     * (doc/PERFORMANCE.md). Capped: at most BATCH_KEEP_MAX idle batches stay allocated. */
    unsigned keep = POOL_KEEP + 2u * nbridges;
    if (keep > BATCH_KEEP_MAX)
        keep = BATCH_KEEP_MAX;
    if (free_batches[b->size].n < keep) {
        b->next = free_batches[b->size].head;
        free_batches[b->size].head = b;
        free_batches[b->size].n++;
    } else {
        free(b);
    }
}

void bridge_pool_drain(void)
{
    buf_pool_drain();
    for (unsigned i = 0; i < 2; i++) {
        while (free_batches[i].head) {
            struct batch *b = free_batches[i].head;
            free_batches[i].head = b->next;
            free(b);
        }
        free_batches[i].n = 0;
    }
}

static bool batch_holds(struct batch *b, struct buf *buf)
{
    for (unsigned i = 0; i < b->nbufs; i++)
        if (b->bufs[i] == buf)
            return true;
    return false;
}

/* Payload bytes are copied into the arena when short, or when nothing owns them (the caller's
 * bytes, valid only during the call); else they go by reference (owner's, or heap's). */
static bool payload_copied(size_t n, const struct buf *owner, bool heap)
{
    return n <= BATCH_COPY_MAX || (!owner && !heap);
}

/* Room for hlen header bytes and a payload of plen (see payload_copied)? */
static bool batch_fits(struct batch *b, size_t hlen, size_t plen, struct buf *owner, bool heap)
{
    if (b->niov + 2 > batch_caps[b->size].iov)
        return false;
    if (b->arena_used + hlen + (payload_copied(plen, owner, heap) ? plen : 0) >
        batch_caps[b->size].arena)
        return false;
    if (owner && plen > BATCH_COPY_MAX && !batch_holds(b, owner) && b->nbufs == BATCH_BUFS)
        return false;
    if (heap && b->nheap == BATCH_HEAP)
        return false;
    return true;
}

/* Appends bytes copied into the arena, merging with a preceding arena piece. */
static void batch_copy(struct batch *b, const uint8_t *p, size_t n)
{
    uint8_t *dst = b->arena + b->arena_used;

    if (n == 0)
        return;
    memcpy(dst, p, n);
    if (b->niov && (uint8_t *)b->iov[b->niov - 1].base + b->iov[b->niov - 1].len == dst)
        b->iov[b->niov - 1].len += n;
    else
        b->iov[b->niov++] = uv_buf_init((char *)dst, (unsigned)n);
    b->arena_used += n;
    b->bytes += n;
}

/* Appends payload: copied, or by reference kept alive by owner's reference (taken here) or by
 * heap (freed with the batch). The caller checked batch_fits(). */
static void batch_payload(struct batch *b, const uint8_t *p, size_t n, struct buf *owner,
                          void *heap)
{
    if (heap)
        b->heap[b->nheap++] = heap;
    if (n == 0)
        return;
    if (payload_copied(n, owner, heap != NULL)) {
        batch_copy(b, p, n);
        return;
    }
    if (owner && !batch_holds(b, owner)) {
        buf_ref(owner);
        b->bufs[b->nbufs++] = owner;
    }
    if (b->niov && (const uint8_t *)b->iov[b->niov - 1].base + b->iov[b->niov - 1].len == p)
        b->iov[b->niov - 1].len += n;
    else
        b->iov[b->niov++] = uv_buf_init((char *)p, (unsigned)n);
    b->bytes += n;
}

/* ---------------------------------------------------------------- the two endpoints */

enum { SRC_NONE, SRC_OUT, SRC_ERR }; /* a stream's id (src[id - 1]) */

#define SRC_SMALL 64u /* a partial line up to this long waits in the struct, no buffer pinned */

/* One output stream of the child (stdout, or stderr with --passstderr). */
struct bridge_src {
    struct buf *buf; /* bytes not yet sent: buf->data[off..off+len) */
    uint32_t off, len;
    uint32_t scanned;         /* leading bytes of that region known to hold no '\n' */
    uint8_t small[SRC_SMALL]; /* buf == NULL: len bytes here */
    struct bridge_lines lines;
    struct ws_utf8_repair repair;
    uint8_t id;   /* SRC_OUT or SRC_ERR */
    bool open;    /* this stream's message is open (fin not sent) */
    bool blocked; /* holds bytes while the other stream's message is open */
    bool reading, eof, done;
};

/* The stream endpoint: the child's stdio. */
struct stream_end {
    struct bridge *br;   /* for reports up (hold/release, stdin_dead) and the log id */
    struct msg_end *to;  /* where the messages go */
    struct child *child; /* its pipes, through child.h only */
    /* c->io points here, so a child callback leads back to its bridge */
    struct child_io_settings io;
    struct bridge_src src[2]; /* [0] stdout, [1] stderr (--passstderr) */
    unsigned nsrc;            /* 1, or 2 with --passstderr (plain: stderr goes to the log) */
    bool binary;              /* stdout chunks are binary messages; no '\n' after text */
    bool json;                /* --passstderr: lines as JSON messages */
    enum framing_mode framing; /* --framing: stdout cut and stdin written per mode */
    bool bad;                  /* the output broke the framing: read and dropped */
    struct bridge_json jout;   /* json: the line being decoded */
    struct framing_len_dec ldec; /* length: the record parser */
    uint8_t owner;            /* SRC_*: the stream whose fragmented message is open */
    bool all_done;            /* msg_done() was called */
    /* inbound: messages -> stdin */
    struct batch *stdin_batch; /* collected during one socket read */
    unsigned inflight_stdin;
    bool in_text;    /* the inbound message in progress is text */
    struct framing_json_enc enc; /* json: the inbound message's encoder ... */
    struct buf *encbuf;          /* ... writing here, after enc_used bytes */
    size_t enc_used;
    struct buf *rec_owner; /* length: the piece held back (a reference on its owner) */
    const uint8_t *rec_p;
    size_t rec_n;
    bool rec_pending;
    bool stdin_dead; /* a write failed: inbound data is dropped */
    /* --pty --binary: a text message is held here while it may be a resize message */
    bool resize_ok, held;
    uint8_t held_len;
    uint8_t hold[PTY_RESIZE_MAX];
};

/* The message endpoint: the WebSocket connection. */
struct msg_end {
    struct bridge *br;
    struct stream_end *from;        /* where inbound messages go; NULL: a member's ... */
    const struct bridge_sink *sink; /* ... go here instead */
    void *sink_ctx;
    struct transport *t;
    struct ws_stream ws;
    struct batch *batch; /* frames collected during one callback, flushed at its end */
    struct buf *rbuf;    /* inside bridge_socket_data(): the read's owner */
    uint64_t bytes_out;
    uint64_t msgs_in, msgs_out;
    const char *closed_by; /* who sent the first close frame (bridge_closed_by) */
    unsigned inflight;
    bool in_read;   /* inside bridge_socket_data(): frames go out with the read's */
    bool discard;   /* nothing may be sent anymore */
    bool closed;    /* the transport is closing: never touched again */
    bool reads_off; /* socket reads stopped (reads_paused reported) */
    /* permessage-deflate (when negotiated) */
    bool deflate;
    struct pmd_deflate defl; /* outbound */
    struct pmd_inflate infl; /* inbound: ws_stream's extension */
    bool out_open;           /* an outbound data message is in progress */
    uint8_t piece_op;        /* bridge_send_piece: the type of its message in progress (0: none) */
    bool out_compressed;     /* ... and it is compressed */
    bool out_rsv_sent;       /* ... and its first frame (RSV1) is out */
    bool in_compressed;      /* the inbound message in progress is compressed */
    struct buf *ibuf;        /* inflated bytes on their way to stdin: ibuf->data[0..ibuf_used) */
    size_t ibuf_used;
    /* an inflating message paused on the child's stdin queue: the rest of the socket read */
    bool paused;
    bool no_pause; /* data arrived while paused: this read is taken whole */
    struct buf *pend_owner;
    uint8_t *pend;
    size_t pend_len;
};

/* A --shared member has no stream endpoint (the hub reads the program): its bridge is the
 * message endpoint alone, so an idle shared client pays for no stdio state (doc/PERFORMANCE.md,
 * memory per idle client). */
struct bridge {
    struct bridge_options opt;
    const struct bridge_events *ev;
    void *ctx;
    struct stream_end *stream; /* NULL: a member (msg.sink) */
    struct msg_end msg;
};

/* A bridge with a program of its own: both endpoints in one allocation. */
struct bridge_prog {
    struct bridge br; /* first: a struct bridge_prog is freed as its struct bridge */
    struct stream_end stream;
};

static void hold(struct bridge *br)
{
    br->ev->hold(br->ctx);
}

/* Last thing a function does with br: the owner (and br with it) may be freed here. */
static void release(struct bridge *br)
{
    br->ev->release(br->ctx);
}

/* ---------------------------------------------------------------- message endpoint: sending */

static void msg_write_done(struct transport_write *w, int status)
{
    struct batch *b = w->data;
    struct bridge *br = b->br;
    struct msg_end *m = &br->msg;

    m->inflight--;
    if (status == 0) {
        m->bytes_out += b->bytes;
        metrics_add(METRICS_WS_BYTES_OUT, b->bytes);
    }
    batch_put(b);
    if (status < 0 && status != UV_ECANCELED && !m->closed) {
        /* the peer reset or left: noticed now, even while its reads are stopped */
        log_debug(br->opt.conn, "socket write: %s", uv_strerror(status));
        br->ev->peer_gone(br->ctx, false);
    }
    bridge_update_reads(br);
    if (status == 0 && !m->closed && br->ev->drained)
        br->ev->drained(br->ctx);
    release(br);
}

/* Sends the frames collected so far. */
static void msg_flush(struct msg_end *m)
{
    struct batch *b = m->batch;
    int r;

    if (!b)
        return;
    m->batch = NULL;
    if (b->niov == 0 || m->closed) {
        batch_put(b);
        return;
    }
    b->w.cb = msg_write_done;
    b->w.data = b;
    r = m->t->ops->write(m->t, &b->w, b->iov, b->niov);
    if (r) {
        log_debug(m->br->opt.conn, "socket write: %s", uv_strerror(r));
        batch_put(b);
        return;
    }
    m->inflight++;
    hold(m->br);
}

/* A member writes small batches (see batch_caps). */
static enum batch_size msg_batch_size(const struct msg_end *m)
{
    return m->sink ? BATCH_SMALL : BATCH_LARGE;
}

static struct batch *msg_batch_for(struct msg_end *m, size_t hlen, size_t plen, struct buf *owner,
                                   bool heap)
{
    if (m->batch && !batch_fits(m->batch, hlen, plen, owner, heap))
        msg_flush(m);
    if (!m->batch)
        m->batch = batch_get(m->br, msg_batch_size(m));
    return m->batch;
}

/*
 * The one send path: every frame that leaves is headed here and queued in the batch. op: a data
 * opcode (TEXT/BINARY: the message's type on every piece; ws_stream turns later pieces into CONT
 * and refuses data after our close) or a control opcode. rsv: the RSV bits (WS_RSV1...) of this
 * frame. Payload p[0..n): owned by owner (a reference is taken), or by heap (freed with the
 * batch, also on failure), or else the caller's (copied). 0 or a WS error (nothing queued).
 */
/*
 * permessage-deflate on the way out, for frame_send: a message's first piece decides whether it
 * is compressed (pmd_deflate_wants: not under the threshold); each piece of a compressed message
 * is replaced by its deflate output (a heap buffer), RSV1 on the first frame that goes out.
 * Returns 1 when there is nothing to send yet (deflate kept the piece), 0 to send, or a WS
 * error. A shared program's fan-out compresses once for every client whose pmd_deflate_key() is
 * the same nonzero value (hubz.h) and queues the frames with bridge_send_frames(); a client with
 * context takeover is sent pieces through here (bridge_send_piece).
 */
static int frame_deflate(struct msg_end *m, bool fin, uint8_t *rsv, const uint8_t **p, size_t *n,
                         struct buf **owner, void **heap)
{
    uint8_t *out;
    size_t olen;
    int r;

    if (!m->out_open) {
        m->out_open = true;
        m->out_compressed = pmd_deflate_wants(&m->defl, *n, fin);
        m->out_rsv_sent = false;
    }
    if (fin)
        m->out_open = false;
    if (!m->out_compressed)
        return 0;
    r = pmd_deflate_piece(&m->defl, *p, *n, fin, &out, &olen);
    free(*heap);
    *heap = NULL;
    *owner = NULL;
    if (r)
        return r;
    if (olen == 0 && !fin)
        return 1;
    *p = out;
    *n = olen;
    *heap = out;
    if (!m->out_rsv_sent)
        *rsv |= WS_RSV1;
    m->out_rsv_sent = true;
    return 0;
}

static int frame_send(struct msg_end *m, enum ws_opcode op, bool fin, uint8_t rsv, const uint8_t *p,
                      size_t n, struct buf *owner, void *heap)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    struct batch *b;
    int h;

    if (m->closed) {
        free(heap);
        return 0;
    }
    if (m->deflate && !ws_opcode_is_control(op)) {
        h = frame_deflate(m, fin, &rsv, &p, &n, &owner, &heap);
        if (h)
            return h > 0 ? 0 : h;
    }
    if (payload_copied(n, owner, heap != NULL) && WS_FRAME_HEADER_MAX + n > batch_caps[msg_batch_size(m)].arena) {
        free(heap);
        return WS_E_INVAL; /* never: copied payloads are control frames or short */
    }
    b = msg_batch_for(m, WS_FRAME_HEADER_MAX, n, owner, heap != NULL);
    if (!b) {
        free(heap);
        return WS_E_NOMEM;
    }
    if (ws_opcode_is_control(op)) {
        h = (int)ws_frame_write_header(hdr, fin, rsv, op, n, NULL);
    } else {
        h = ws_stream_data_header(&m->ws, hdr, op, fin, n, NULL);
        if (h > 0)
            hdr[0] |= (uint8_t)((rsv & 7u) << 4);
    }
    if (h < 0) {
        free(heap);
        return h;
    }
    batch_copy(b, hdr, (size_t)h);
    batch_payload(b, p, n, owner, heap);
    return 0;
}

/* -------------------------------------------------------- the interface: stream -> message */

/* One piece of an outbound message (see frame_send for p, owner, heap). */
static void msg_piece(struct msg_end *m, enum ws_opcode op, bool fin, const uint8_t *p, size_t n,
                      struct buf *owner, void *heap)
{
    bool counted = fin && !m->closed; /* a closed transport drops the frame */

    if (frame_send(m, op, fin, 0, p, n, owner, heap) == 0 && counted) {
        m->msgs_out++;
        metrics_add(METRICS_WS_MSGS_OUT, 1);
    }
}

/* Bytes queued towards the peer: the stream reads on below the marks (0 once closed). */
static size_t msg_queued(const struct msg_end *m)
{
    return m->closed ? 0 : m->t->ops->write_queue_size(m->t);
}

/* Nothing may be sent: output is read and dropped. */
static bool msg_discarding(const struct msg_end *m)
{
    return m->discard;
}

/* The stream is over. */
static void msg_done(struct msg_end *m)
{
    m->br->ev->stdout_done(m->br->ctx);
}

/* A message could not be completed (out of memory): the connection cannot go on. */
static void msg_fail(struct msg_end *m)
{
    log_error(m->br->opt.conn, "out of memory while sending the program's output: closing");
    m->br->ev->peer_gone(m->br->ctx, false);
}

/* The program's output broke the framing (reason: a close reason). */
static void msg_bad_output(struct msg_end *m, const char *reason)
{
    m->br->ev->bad_output(m->br->ctx, reason);
}

/* ---------------------------------------------------------------- line cutting */

static const uint8_t cr_byte = '\r';

size_t bridge_lines_cut(struct bridge_lines *l, const uint8_t *data, size_t len, size_t scan_from,
                        size_t carry_max, bridge_emit_fn emit, void *ctx)
{
    size_t pos = 0, scan = scan_from;
    const uint8_t *nl;

    if (l->cr && len > 0) {
        /* A '\r' held back at the end of the last chunk: dropped when a '\n' follows. */
        l->cr = false;
        if (data[0] != '\n')
            emit(ctx, &cr_byte, 1, false);
    }
    while (scan < len && (nl = memchr(data + scan, '\n', len - scan)) != NULL) {
        size_t end = (size_t)(nl - data);
        size_t n = end - pos;
        if (n > 0 && data[end - 1] == '\r')
            n--;
        emit(ctx, data + pos, n, true);
        l->frag = false;
        pos = end + 1;
        scan = pos;
    }
    if (pos == len)
        return 0;
    if (!l->frag && len - pos <= carry_max)
        return len - pos;
    /* A long line: this part goes out now as a fragment. */
    size_t n = len - pos;
    if (data[len - 1] == '\r') {
        l->cr = true;
        n--;
    }
    if (n > 0 || !l->frag)
        emit(ctx, data + pos, n, false);
    l->frag = true;
    return 0;
}

bool bridge_lines_finish(struct bridge_lines *l, const uint8_t *carry, size_t len,
                         bridge_emit_fn emit, void *ctx)
{
    bool any = l->frag || l->cr || len > 0;

    if (l->cr) {
        /* A '\r' at EOF without a '\n' after it is data. */
        emit(ctx, &cr_byte, 1, len == 0);
        l->cr = false;
        if (len == 0) {
            l->frag = false;
            return true;
        }
    }
    if (any)
        emit(ctx, carry, len, true);
    l->frag = false;
    return any;
}

/* ---------------------------------------------------------------- stream endpoint: output */

/* What a line cutter's emit function works on. */
struct src_emit {
    struct stream_end *st;
    struct bridge_src *src;
};

/* Bytes at the end of p that start an incomplete UTF-8 sequence (p valid so far). */
static size_t utf8_tail(const uint8_t *p, size_t n)
{
    size_t i = n;
    while (i > 0 && n - i < 3 && (p[i - 1] & 0xC0) == 0x80)
        i--;
    return i > 0 ? n - i + 1 : 0;
}

/* One piece of a stdout line as text (plain mode): valid UTF-8 goes out by reference, the rest
 * repaired (U+FFFD) in a heap copy. One stream only, so no message ownership to track. */
static void emit_text(void *ctx, const uint8_t *p, size_t n, bool fin)
{
    struct src_emit *e = ctx;
    struct stream_end *st = e->st;
    struct bridge_src *src = e->src;
    struct buf *owner = (p == &cr_byte) ? NULL : src->buf;

    if (msg_discarding(st->to))
        return;
    if (src->repair.npending == 0) {
        struct ws_utf8 v;
        ws_utf8_init(&v);
        size_t ok = ws_utf8_feed(&v, p, n);
        if (ok == n && ws_utf8_complete(&v)) {
            msg_piece(st->to, WS_OP_TEXT, fin, p, n, owner, NULL);
            goto out;
        }
        if (ok == n && !fin) {
            size_t tail = utf8_tail(p, n);
            if (n - tail > 0)
                msg_piece(st->to, WS_OP_TEXT, false, p, n - tail, owner, NULL);
            memcpy(src->repair.pending, p + n - tail, tail);
            src->repair.npending = (uint8_t)tail;
            src->repair.v = v;
            return;
        }
    }
    /* Slow path: invalid bytes, or a character split across pieces. */
    uint8_t *buf = malloc(3 * n + 8);
    if (!buf)
        return;
    size_t o = ws_utf8_repair(&src->repair, p, n, buf);
    if (fin)
        o += ws_utf8_repair_end(&src->repair, buf + o);
    if (o == 0 && !fin) {
        free(buf);
        return;
    }
    msg_piece(st->to, WS_OP_TEXT, fin, buf, o, NULL, buf);
out:
    if (fin)
        ws_utf8_repair_init(&src->repair);
}

static const char *const json_prefix[] = {"", "{\"stream\":\"stdout\",\"data\":\"",
                                          "{\"stream\":\"stderr\",\"data\":\""};

/* One piece of a line of src (--passstderr): repaired to UTF-8, escaped, wrapped in the JSON
 * prefix (first piece) and suffix (last piece), sent as one frame of a text message. */
static void emit_json(void *ctx, const uint8_t *p, size_t n, bool fin)
{
    struct src_emit *e = ctx;
    struct stream_end *st = e->st;
    struct bridge_src *src = e->src;
    const char *prefix = src->open ? "" : json_prefix[src->id];
    size_t plen = strlen(prefix);
    /* short lines (most of them) cost no allocation: a payload up to BATCH_COPY_MAX is copied
     * into the write batch */
    uint8_t tmp_small[1024], out_small[BATCH_COPY_MAX];
    uint8_t *tmp, *out;
    size_t m, esc, total;

    if (msg_discarding(st->to))
        return;
    if (!src->open && src->id == SRC_ERR)
        log_bytes(LOG_ERROR, st->br->opt.conn, "stderr", (const char *)p, n > 1500 ? 1500 : n);
    tmp = 3 * n + 8 <= sizeof tmp_small ? tmp_small : malloc(3 * n + 8);
    out = NULL;
    if (!tmp)
        goto oom;
    m = ws_utf8_repair(&src->repair, p, n, tmp);
    if (fin)
        m += ws_utf8_repair_end(&src->repair, tmp + m);
    esc = framing_json_escape(tmp, m, NULL, NULL, 0);
    total = plen + esc + (fin ? 2 : 0);
    if (total == 0) {
        if (tmp != tmp_small)
            free(tmp);
        return;
    }
    out = total <= sizeof out_small ? out_small : malloc(total);
    if (!out)
        goto oom;
    memcpy(out, prefix, plen);
    framing_json_escape(tmp, m, NULL, out + plen, esc);
    if (fin)
        memcpy(out + plen + esc, "\"}", 2);
    if (tmp != tmp_small)
        free(tmp);
    msg_piece(st->to, WS_OP_TEXT, fin, out, total, NULL, out == out_small ? NULL : out);
    src->open = !fin;
    st->owner = fin ? SRC_NONE : src->id;
    return;
oom:
    /* a message cannot be left open half-sent: the session ends */
    if (tmp != tmp_small)
        free(tmp);
    msg_fail(st->to);
}

/* ---------------------------------------------------------------- stream endpoint: --framing */

static const uint8_t no_bytes[1];

void bridge_json_init(struct bridge_json *j, uint64_t max)
{
    memset(j, 0, sizeof *j);
    framing_json_dec_init(&j->dec, max);
}

void bridge_json_drop(struct bridge_json *j)
{
    for (unsigned i = 0; i < j->nparts; i++)
        buf_unref(j->parts[i]);
    j->nparts = 0;
    j->last = 0;
}

void bridge_json_free(struct bridge_json *j)
{
    bridge_json_drop(j);
    free(j->parts);
    j->parts = NULL;
    j->capparts = 0;
}

/* Decoded bytes of the line's message, copied into pool buffers. */
static void json_data(void *ctx, const uint8_t *p, size_t n)
{
    struct bridge_json *j = ctx;

    while (n > 0 && !j->nomem) {
        if (j->nparts == 0 || j->last == BUF_SIZE) {
            struct buf *b = NULL;
            if (j->nparts == j->capparts) {
                unsigned cap = j->capparts ? 2 * j->capparts : 4;
                struct buf **np = realloc(j->parts, cap * sizeof *np);
                if (np) {
                    j->parts = np;
                    j->capparts = cap;
                }
            }
            if (j->nparts < j->capparts)
                b = buf_get();
            if (!b) {
                j->nomem = true;
                return;
            }
            j->parts[j->nparts++] = b;
            j->last = 0;
        }
        size_t k = BUF_SIZE - j->last < n ? BUF_SIZE - j->last : n;
        memcpy(j->parts[j->nparts - 1]->data + j->last, p, k);
        j->last += k;
        p += k;
        n -= k;
    }
}

size_t bridge_json_feed(struct bridge_json *j, const uint8_t *p, size_t n, bool eof, int *result)
{
    size_t used = 0;

    *result = FRAMING_MORE;
    if (n)
        used = framing_json_feed(&j->dec, p, n, json_data, j, result);
    if (j->nomem) {
        j->nomem = false;
        bridge_json_drop(j);
        *result = BRIDGE_JSON_NOMEM;
        return used;
    }
    if (*result == FRAMING_MORE && used == n && eof)
        *result = framing_json_finish(&j->dec);
    if (*result == FRAMING_BAD)
        bridge_json_drop(j);
    return used;
}

/* Bad framing: logged, reported, and everything the program writes from now on is dropped. */
static void stream_bad(struct stream_end *st, const struct framing_error *e)
{
    char reason[FRAMING_REASON_MAX + 1];

    st->bad = true;
    framing_error_text(e, reason, sizeof reason);
    log_error(st->br->opt.conn, "%s", reason);
    msg_bad_output(st->to, reason);
}

/* json: a whole line decoded: its message goes out, one frame per buffer. */
static void json_send(struct stream_end *st, int kind)
{
    enum ws_opcode op = kind == FRAMING_TEXT ? WS_OP_TEXT : WS_OP_BINARY;
    struct bridge_json *j = &st->jout;

    if (j->nparts == 0)
        msg_piece(st->to, op, true, no_bytes, 0, NULL, NULL);
    for (unsigned i = 0; i < j->nparts; i++) {
        bool last = i + 1 == j->nparts;
        msg_piece(st->to, op, last, j->parts[i]->data, last ? j->last : BUF_SIZE, j->parts[i],
                  NULL);
    }
    bridge_json_drop(j);
}

static void json_run(struct stream_end *st, const uint8_t *p, size_t n, bool eof)
{
    int r = FRAMING_TEXT;

    while (!st->bad && r != FRAMING_MORE) {
        size_t used = bridge_json_feed(&st->jout, p, n, eof, &r);
        p += used;
        n -= used;
        if (r == FRAMING_BAD) {
            stream_bad(st, &st->jout.dec.err);
        } else if (r == BRIDGE_JSON_NOMEM) {
            st->bad = true;
            msg_fail(st->to);
        } else if (r != FRAMING_MORE) {
            json_send(st, r);
        }
    }
}

/* length: a piece of a record's payload, sent by reference (its owner is the read buffer). */
static void len_piece(void *ctx, bool text, const uint8_t *p, size_t n, bool fin)
{
    struct src_emit *e = ctx;

    msg_piece(e->st->to, text ? WS_OP_TEXT : WS_OP_BINARY, fin, n ? p : no_bytes, n,
              e->src->buf, NULL);
}

/* --framing=json|length: all of what src holds is consumed. */
static void framed_run(struct stream_end *st, struct bridge_src *src, const uint8_t *p, size_t n)
{
    struct src_emit e = {st, src};

    if (st->bad)
        return;
    if (st->framing == FRAMING_JSON) {
        json_run(st, p, n, src->eof);
        return;
    }
    if (framing_len_feed(&st->ldec, p, n, len_piece, &e) == FRAMING_BAD ||
        (src->eof && framing_len_finish(&st->ldec) == FRAMING_BAD))
        stream_bad(st, &st->ldec.err);
}

static uint8_t *src_region(struct bridge_src *src)
{
    return src->buf ? src->buf->data + src->off : src->small;
}

/* The region is empty or short: give the read buffer back (a short partial line is copied), so
 * a child waiting after a prompt pins no buffer. */
static void src_shrink(struct bridge_src *src)
{
    if (src->buf && src->len <= SRC_SMALL) {
        memcpy(src->small, src->buf->data + src->off, src->len);
        buf_unref(src->buf);
        src->buf = NULL;
        src->off = 0;
    }
}

static void src_set_reading(struct stream_end *st, struct bridge_src *src, bool on)
{
    enum child_stream cs = src->id == SRC_OUT ? CHILD_STDOUT : CHILD_STDERR;

    if (on == src->reading)
        return;
    if (on) {
        if (child_read_start(st->child, cs) == 0)
            src->reading = true;
    } else {
        child_read_stop(st->child, cs);
        src->reading = false;
    }
}

/* Sends what src holds, unless the other stream's message is open. After EOF, the rest. */
static void src_run(struct stream_end *st, struct bridge_src *src)
{
    struct src_emit e = {st, src};
    bool discard = msg_discarding(st->to);

    if (src->done)
        return;
    if (discard) {
        st->owner = SRC_NONE; /* nothing is sent anymore: nobody waits for anybody */
    } else if (st->owner != SRC_NONE && st->owner != src->id) {
        if (src->len || src->eof) {
            src->blocked = true;
            src_set_reading(st, src, false);
        }
        return;
    }
    src->blocked = false;
    if (discard) {
        src->len = src->scanned = 0;
    } else if (src->id == SRC_OUT && st->framing != FRAMING_LINES) {
        framed_run(st, src, src_region(src), src->len);
        src->len = src->scanned = 0;
    } else if (src->id == SRC_OUT && st->binary) {
        if (src->len)
            msg_piece(st->to, WS_OP_BINARY, true, src_region(src), src->len, src->buf, NULL);
        src->len = src->scanned = 0;
    } else {
        bridge_emit_fn emit = st->json ? emit_json : emit_text;
        size_t keep = bridge_lines_cut(&src->lines, src_region(src), src->len, src->scanned,
                                       BRIDGE_CARRY_MAX, emit, &e);
        if (src->buf)
            src->off += src->len - (uint32_t)keep;
        else
            memmove(src->small, src->small + src->len - keep, keep);
        src->len = src->scanned = (uint32_t)keep;
        if (src->eof) {
            bridge_lines_finish(&src->lines, src_region(src), src->len, emit, &e);
            src->len = src->scanned = 0;
        }
    }
    if (!src->eof) {
        src_shrink(src);
        return;
    }
    if (st->owner == src->id) /* the line could not be ended (out of memory): let go */
        st->owner = SRC_NONE;
    src->open = false;
    src->done = true;
    src_set_reading(st, src, false);
    buf_unref(src->buf);
    src->buf = NULL;
    if (src->id == SRC_OUT)
        child_close_stdout(st->child);
    else
        child_close_stderr(st->child);
}

/* Runs whichever stream can go on, sends, then reports the end once every stream is done. */
static void stream_pump(struct stream_end *st)
{
    bool done = true;

    for (int round = 0; round < 4 && st->nsrc > 1; round++) {
        bool progress = false;
        for (unsigned i = 0; i < st->nsrc; i++) {
            struct bridge_src *src = &st->src[i];
            if (src->blocked &&
                (st->owner == SRC_NONE || st->owner == src->id || msg_discarding(st->to))) {
                src_run(st, src);
                progress = true;
            }
        }
        if (!progress)
            break;
    }
    msg_flush(st->to);
    for (unsigned i = 0; i < st->nsrc; i++)
        done = done && st->src[i].done;
    if (done && !st->all_done) {
        st->all_done = true;
        msg_done(st->to);
    }
}

static struct stream_end *stream_of(const struct child *c)
{
    return (struct stream_end *)((char *)c->io - offsetof(struct stream_end, io));
}

/* src->buf, after what it holds; the read takes its own reference. */
static struct buf *stream_alloc(struct child *c, enum child_stream cs, size_t *off)
{
    struct bridge_src *src = &stream_of(c)->src[cs];
    struct buf *b = src->buf;

    if (!b || BUF_SIZE - (src->off + src->len) < BUF_SIZE / 4) {
        /* a new buffer, the partial line (<= BRIDGE_CARRY_MAX) moved to its start */
        struct buf *nb = buf_get();
        if (!nb)
            return NULL;
        memcpy(nb->data, src_region(src), src->len);
        buf_unref(b);
        src->buf = b = nb;
        src->off = 0;
    }
    *off = src->off + src->len;
    buf_ref(b);
    return b;
}

static void stream_read(struct child *c, enum child_stream cs, ssize_t nread, struct buf *rb,
                        size_t off)
{
    struct stream_end *st = stream_of(c);
    struct bridge *br = st->br;
    struct bridge_src *src = &st->src[cs];

    (void)off;     /* == src->off + src->len */
    buf_unref(rb); /* stream_alloc's: src->buf holds its own */
    hold(br);
    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug(br->opt.conn, "%s: %s", src->id == SRC_OUT ? "stdout" : "stderr",
                      uv_strerror((int)nread));
        src->eof = true;
        src_set_reading(st, src, false);
    } else if (nread > 0 && src->buf) {
        src->len += (uint32_t)nread;
    }
    if (nread != 0)
        src_run(st, src);
    else
        src_shrink(src);
    stream_pump(st);
    bridge_update_reads(br);
    release(br);
}

/* Reads on while the socket's queue allows, the stream is not held, and its pipe is open. */
static void stream_update_reads(struct stream_end *st)
{
    size_t tq = msg_queued(st->to);
    bool discard = msg_discarding(st->to);

    if (!st->child)
        return; /* a member: the sink's owner reads the program */
    for (unsigned i = 0; i < st->nsrc; i++) {
        struct bridge_src *src = &st->src[i];
        if (src->done || src->eof || !child_stream_open(st->child, (enum child_stream)i))
            continue;
        bool want = !src->blocked &&
                    (discard || tq < CHILD_LOW_WATER || (src->reading && tq <= CHILD_HIGH_WATER));
        src_set_reading(st, src, want);
    }
}

/* Gives up on every stream: what was read goes out, the stream whose message is open first. */
static void stream_give_up(struct stream_end *st)
{
    if (st->owner != SRC_NONE) {
        st->src[st->owner - 1].eof = true;
        src_run(st, &st->src[st->owner - 1]);
    }
    for (unsigned i = 0; i < st->nsrc; i++) {
        st->src[i].eof = true;
        src_run(st, &st->src[i]);
    }
    stream_pump(st);
}

/* ---------------------------------------------------------------- stream endpoint: stdin */

static void stdin_write_done(struct child_write *w, int status)
{
    struct batch *b = w->data;
    struct bridge *br = b->br;
    struct stream_end *st = br->stream;

    st->inflight_stdin--;
    if (status < 0 && status != UV_ECANCELED) {
        log_debug(br->opt.conn, "stdin: %s", uv_strerror(status));
        st->stdin_dead = true;
        br->ev->stdin_dead(br->ctx);
    }
    batch_put(b);
    bridge_update_reads(br);
    release(br);
}

/* Writes what was collected during one socket read. */
static void stream_in_flush(struct stream_end *st)
{
    struct batch *b = st->stdin_batch;
    int r;

    if (!b)
        return;
    st->stdin_batch = NULL;
    if (b->niov == 0 || st->stdin_dead || !child_stdin_open(st->child)) {
        batch_put(b);
        return;
    }
    b->cw.data = b;
    r = child_write(st->child, &b->cw, b->iov, b->niov, stdin_write_done);
    if (r) {
        log_debug(st->br->opt.conn, "stdin: %s", uv_strerror(r));
        batch_put(b);
        st->stdin_dead = true;
        st->br->ev->stdin_dead(st->br->ctx);
        return;
    }
    st->inflight_stdin++;
    hold(st->br);
}

static void stdin_add(struct stream_end *st, const uint8_t *p, size_t n, struct buf *owner)
{
    if (st->stdin_dead || !child_stdin_open(st->child) || n == 0)
        return;
    if (st->stdin_batch && !batch_fits(st->stdin_batch, 0, n, owner, false))
        stream_in_flush(st);
    if (!st->stdin_batch && !(st->stdin_batch = batch_get(st->br, BATCH_LARGE)))
        return;
    batch_payload(st->stdin_batch, p, n, owner, NULL);
}

/* -------------------------------------------------------- the interface: message -> stream */

/* --framing=json: a piece of an inbound message, encoded into pool buffers for stdin. */
static void json_in_data(struct stream_end *st, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t used, w;
        if (!st->encbuf || BUF_SIZE - st->enc_used < FRAMING_JSON_PIECE_MIN) {
            buf_unref(st->encbuf);
            st->enc_used = 0;
            if (!(st->encbuf = buf_get()))
                return; /* out of memory: dropped, as stdin_add drops */
        }
        w = framing_json_enc_data(&st->enc, p, n, &used, st->encbuf->data + st->enc_used,
                                  BUF_SIZE - st->enc_used);
        stdin_add(st, st->encbuf->data + st->enc_used, w, st->encbuf);
        st->enc_used += w;
        p += used;
        n -= used;
    }
}

/* --framing=length: the piece held back goes to stdin as a record (more: not the last). */
static void len_in_emit(struct stream_end *st, bool more)
{
    uint8_t h[FRAMING_REC_HEADER];

    framing_rec_header(h, st->in_text, more, (uint32_t)st->rec_n);
    stdin_add(st, h, sizeof h, NULL);
    stdin_add(st, st->rec_p, st->rec_n, st->rec_owner);
    buf_unref(st->rec_owner);
    st->rec_owner = NULL;
    st->rec_n = 0;
    st->rec_pending = false;
}

/* --framing=length: a piece of an inbound message is held until the next one (or the end)
 * says whether it is the last. */
static void len_in_data(struct stream_end *st, const uint8_t *p, size_t n, struct buf *owner)
{
    if (st->rec_pending)
        len_in_emit(st, true);
    st->rec_p = p;
    st->rec_n = n;
    st->rec_pending = true;
    if (owner) {
        buf_ref(owner);
        st->rec_owner = owner;
    } else {
        len_in_emit(st, true); /* the caller's bytes (never in practice): written now */
    }
}

/* An inbound message starts. */
static void stream_in_begin(struct stream_end *st, bool text)
{
    uint8_t open[FRAMING_JSON_OPEN_MAX];

    st->in_text = text;
    if (st->framing == FRAMING_JSON)
        stdin_add(st, open, framing_json_enc_begin(&st->enc, text, open), NULL);
    st->held = text && st->resize_ok;
    st->held_len = 0;
}

/* The held bytes were keystrokes after all: typed, before what follows (copied). */
static void stream_in_unhold(struct stream_end *st)
{
    st->held = false;
    stdin_add(st, st->hold, st->held_len, NULL);
}

/* Its payload p[0..n), owned by owner (NULL: the caller's bytes, copied). */
static void stream_in_data(struct stream_end *st, const uint8_t *p, size_t n, struct buf *owner)
{
    if (st->held && st->held_len + n <= sizeof st->hold) {
        memcpy(st->hold + st->held_len, p, n);
        st->held_len = (uint8_t)(st->held_len + n);
        return;
    }
    if (st->held)
        stream_in_unhold(st);
    if (st->framing == FRAMING_JSON)
        json_in_data(st, p, n);
    else if (st->framing == FRAMING_LENGTH)
        len_in_data(st, p, n, owner);
    else
        stdin_add(st, p, n, owner);
}

static const uint8_t newline = '\n';

/* A whole held message: a resize, else keystrokes. */
static void stream_in_resize(struct stream_end *st)
{
    unsigned cols, rows;
    int r = pty_resize_parse(st->hold, st->held_len, &cols, &rows);

    if (r == 0) {
        stream_in_unhold(st);
        return;
    }
    st->held = false;
    if (r < 0)
        log_info(st->br->opt.conn, "pty: resize message ignored: a size is not 1 to %u: %.*s",
                 PTY_SIZE_MAX, (int)st->held_len, (const char *)st->hold);
    else if ((r = child_pty_resize(st->child, cols, rows)) != 0)
        log_debug(st->br->opt.conn, "pty: resize: %s", uv_strerror(r));
    else
        log_debug(st->br->opt.conn, "pty: window %ux%u", cols, rows);
}

/* It is complete: a text message is a line (websocketd), unless --binary. */
static void stream_in_end(struct stream_end *st)
{
    if (st->held)
        stream_in_resize(st);
    uint8_t close[FRAMING_JSON_CLOSE_MAX];

    if (st->framing == FRAMING_JSON)
        stdin_add(st, close, framing_json_enc_end(&st->enc, close), NULL);
    else if (st->framing == FRAMING_LENGTH)
        len_in_emit(st, false); /* the last piece, or an empty record */
    else if (st->in_text && !st->binary)
        stdin_add(st, &newline, 1, NULL);
}

/* Bytes queued to the child's stdin (0 once it cannot be written). */
static size_t stream_stdin_queued(const struct stream_end *st)
{
    if (st->stdin_dead || !child_stdin_open(st->child))
        return 0;
    return child_stdin_queued(st->child);
}

/* ---------------------------------------------------------------- message endpoint: receiving */

/* Inbound messages go to the stream endpoint, or to a member's sink. */
static void msg_in_begin(struct msg_end *m, bool text)
{
    if (m->sink)
        m->sink->begin(m->sink_ctx, text);
    else
        stream_in_begin(m->from, text);
}

static void msg_in_data(struct msg_end *m, const uint8_t *p, size_t n, struct buf *owner)
{
    if (m->sink)
        m->sink->data(m->sink_ctx, p, n, owner);
    else
        stream_in_data(m->from, p, n, owner);
}

static void msg_in_end(struct msg_end *m)
{
    if (m->sink)
        m->sink->end(m->sink_ctx);
    else
        stream_in_end(m->from);
}

static size_t msg_in_queued(const struct msg_end *m)
{
    return m->sink ? m->sink->queued(m->sink_ctx) : stream_stdin_queued(m->from);
}

static void msg_in_flush(struct msg_end *m)
{
    if (m->from)
        stream_in_flush(m->from);
}

static int on_message_begin(struct ws_stream *ws, enum ws_opcode opcode, uint8_t rsv)
{
    struct msg_end *m = ws->data;
    m->in_compressed = m->deflate && (rsv & WS_RSV1);
    msg_in_begin(m, opcode == WS_OP_TEXT);
    return 0;
}

/* Inflated bytes (valid only during the call) are copied into m->ibuf, a pool buffer that owns
 * them until stdin has them. Once stdin's queue is over the high mark, the stream pauses: the
 * rest of the socket read waits (bridge_socket_data), so a small compressed read cannot queue
 * an unbounded amount for the program. */
static int inflated_data(struct msg_end *m, const uint8_t *data, size_t len)
{
    struct stream_end *st = m->from;

    while (len > 0) {
        if (!m->ibuf || m->ibuf_used == BUF_SIZE) {
            buf_unref(m->ibuf);
            m->ibuf_used = 0;
            if (!(m->ibuf = buf_get()))
                return 0; /* out of memory: dropped, as stdin_add drops */
        }
        size_t n = BUF_SIZE - m->ibuf_used < len ? BUF_SIZE - m->ibuf_used : len;
        memcpy(m->ibuf->data + m->ibuf_used, data, n);
        msg_in_data(m, m->ibuf->data + m->ibuf_used, n, m->ibuf);
        m->ibuf_used += n;
        data += n;
        len -= n;
    }
    /* a shared program's member hands whole messages to the hub, bounded by max_message */
    if (m->no_pause || !st ||
        stream_stdin_queued(st) + (st->stdin_batch ? st->stdin_batch->bytes : 0) <=
            CHILD_HIGH_WATER)
        return 0;
    stream_in_flush(st);
    m->paused = true;
    return 1;
}

static int on_message_data(struct ws_stream *ws, uint8_t *data, size_t len)
{
    struct msg_end *m = ws->data;
    if (m->in_compressed)
        return inflated_data(m, data, len);
    msg_in_data(m, data, len, m->rbuf);
    return 0;
}

static int on_message_end(struct ws_stream *ws)
{
    struct msg_end *m = ws->data;
    m->msgs_in++;
    metrics_add(METRICS_WS_MSGS_IN, 1);
    msg_in_end(m);
    return 0;
}

static int on_ping(struct ws_stream *ws, const uint8_t *data, size_t len)
{
    (void)ws;
    (void)data;
    (void)len;
    return 0;
}

static int on_close(struct ws_stream *ws, uint16_t code, const uint8_t *reason, size_t len)
{
    struct msg_end *m = ws->data;

    log_debug(m->br->opt.conn, "peer closed: %u %.*s", code, (int)len, (const char *)reason);
    if (!m->closed_by)
        m->closed_by = "client";
    m->br->ev->peer_gone(m->br->ctx, true);
    return 0;
}

static void on_fail(struct ws_stream *ws, uint16_t code, const char *reason)
{
    struct msg_end *m = ws->data;

    log_info(m->br->opt.conn, "protocol error: closing with %u (%s)", code, reason);
    if (!m->closed_by)
        m->closed_by = "server";
    m->br->ev->peer_gone(m->br->ctx, true);
}

/* ws_stream's own frames (pongs, closes: server role, unmasked, payload <= 125) are taken apart
 * and sent through frame_send like every other frame; inside a socket read they go out with the
 * rest of that read's frames. */
static int on_write(struct ws_stream *ws, const uint8_t *frame, size_t len)
{
    struct msg_end *m = ws->data;
    int r;

    if (len < 2 || (frame[1] & 0x80u) || (size_t)(frame[1] & 0x7fu) != len - 2 ||
        !ws_opcode_is_control(frame[0] & 0x0fu))
        return -1;
    r = frame_send(m, (enum ws_opcode)(frame[0] & 0x0fu), (frame[0] & 0x80u) != 0,
                   (uint8_t)((frame[0] >> 4) & 7u), frame + 2, len - 2, NULL, NULL);
    if (r)
        return -1;
    if (!m->in_read)
        msg_flush(m);
    return 0;
}

static const struct ws_stream_settings stream_settings = {
    .on_message_begin = on_message_begin,
    .on_message_data = on_message_data,
    .on_message_end = on_message_end,
    .on_ping = on_ping,
    .on_pong = on_ping,
    .on_close = on_close,
    .on_fail = on_fail,
    .on_write = on_write,
};

/* Socket reads stop while the child's stdin queue, or our own send queue, is over the high
 * mark: a peer that sends pings (or anything) but never reads cannot make us queue pongs
 * without bound. */
static void msg_run_pending(struct msg_end *m);

static void msg_update_reads(struct msg_end *m)
{
    size_t q, iq;

    if (m->closed)
        return;
    q = m->t->ops->write_queue_size(m->t);
    iq = msg_in_queued(m);
    q = iq > q ? iq : q;
    if (m->paused && !m->in_read && q < CHILD_LOW_WATER) {
        msg_run_pending(m); /* may pause again */
        if (m->closed)
            return;
    }
    if (m->paused) {
        if (!m->reads_off) {
            m->reads_off = true;
            m->br->ev->reads_paused(m->br->ctx, true);
        }
        return;
    }
    if (!m->reads_off && q > CHILD_HIGH_WATER) {
        m->reads_off = true;
        m->br->ev->reads_paused(m->br->ctx, true);
    } else if (m->reads_off && q < CHILD_LOW_WATER) {
        m->reads_off = false;
        m->br->ev->reads_paused(m->br->ctx, false);
    }
}

/* ---------------------------------------------------------------- the bridge */

/* Feeds the stream; when an inflating message paused, keeps the rest (owner referenced). */
static void msg_execute(struct msg_end *m, struct buf *owner, uint8_t *data, size_t len)
{
    size_t n;

    m->rbuf = owner;
    m->in_read = true;
    m->paused = false;
    n = ws_stream_execute(&m->ws, data, len);
    m->in_read = false;
    m->rbuf = NULL;
    if (ws_stream_finished(&m->ws))
        m->paused = false;
    if (m->paused) { /* also with n == len: the frame's end is still to be delivered */
        if (owner != m->pend_owner) {
            buf_ref(owner);
            buf_unref(m->pend_owner);
            m->pend_owner = owner;
        }
        m->pend = data + n;
        m->pend_len = len - n;
    } else {
        buf_unref(m->pend_owner);
        m->pend_owner = NULL;
        m->pend_len = 0;
    }
    msg_in_flush(m);
    msg_flush(m);
}

/* The child's stdin drained: the paused rest of a socket read goes on. */
static void msg_run_pending(struct msg_end *m)
{
    struct buf *owner = m->pend_owner;

    buf_ref(owner); /* msg_execute may drop m's */
    msg_execute(m, owner, m->pend, m->pend_len);
    buf_unref(owner);
}

void bridge_socket_data(struct bridge *br, struct buf *owner, uint8_t *data, size_t len)
{
    struct msg_end *m = &br->msg;

    hold(br);
    metrics_add(METRICS_WS_BYTES_IN, len);
    if (m->paused) {
        /* a read already under way when reads stopped: the paused rest goes first, unpaused */
        log_debug(br->opt.conn, "socket data while paused: %zu bytes", len);
        m->no_pause = true;
        msg_run_pending(m);
    }
    msg_execute(m, owner, data, len);
    m->no_pause = false;
    bridge_update_reads(br);
    release(br);
}

void bridge_update_reads(struct bridge *br)
{
    if (!br)
        return;
    hold(br); /* a paused message may go on here, with callbacks */
    msg_update_reads(&br->msg);
    if (br->stream)
        stream_update_reads(br->stream);
    release(br);
}

void bridge_flush(struct bridge *br)
{
    if (br)
        msg_flush(&br->msg);
}

void bridge_stdout_eof(struct bridge *br)
{
    if (!br || !br->stream || br->stream->all_done || !br->stream->child)
        return;
    hold(br);
    stream_give_up(br->stream);
    release(br);
}

void bridge_discard(struct bridge *br)
{
    if (br)
        br->msg.discard = true;
}

void bridge_transport_closed(struct bridge *br)
{
    if (!br)
        return;
    br->msg.discard = true;
    br->msg.closed = true;
    bridge_update_reads(br); /* the output is now read and dropped */
}

int bridge_close(struct bridge *br, uint16_t code, const char *reason)
{
    if (!br)
        return WS_E_CLOSED;
    if (!br->msg.closed_by)
        br->msg.closed_by = "server";
    return ws_stream_close(&br->msg.ws, code, reason);
}

int bridge_ping(struct bridge *br)
{
    return br ? ws_stream_ping(&br->msg.ws, NULL, 0) : WS_E_CLOSED;
}

bool bridge_can_send(const struct bridge *br)
{
    return br && ws_stream_can_send(&br->msg.ws);
}

bool bridge_finished(const struct bridge *br)
{
    return br && ws_stream_finished(&br->msg.ws);
}

bool bridge_close_received(const struct bridge *br)
{
    return br && br->msg.ws.close_received;
}

unsigned bridge_close_code(const struct bridge *br)
{
    if (br && br->msg.ws.close_sent_code)
        return br->msg.ws.close_sent_code;
    if (br && br->msg.ws.close_received)
        return br->msg.ws.close_recv_code;
    return WS_CLOSE_ABNORMAL;
}

uint64_t bridge_bytes_out(const struct bridge *br)
{
    return br ? br->msg.bytes_out : 0;
}

uint64_t bridge_messages_in(const struct bridge *br)
{
    return br ? br->msg.msgs_in : 0;
}

uint64_t bridge_messages_out(const struct bridge *br)
{
    return br ? br->msg.msgs_out : 0;
}

const char *bridge_closed_by(const struct bridge *br)
{
    return br ? br->msg.closed_by : NULL;
}

/* A bridge with its message endpoint set up on t; with prog, a stream endpoint too, linked to
 * it, the rest of it the caller's to set. */
static struct bridge *bridge_new(struct transport *t, const struct bridge_options *opt,
                                 const struct bridge_events *ev, void *ctx, bool prog)
{
    struct bridge_prog *bp = prog ? calloc(1, sizeof *bp) : NULL;
    struct bridge *br = prog ? (bp ? &bp->br : NULL) : calloc(1, sizeof *br);
    struct stream_end *st;
    struct msg_end *m;

    if (!br)
        return NULL;
    nbridges++;
    br->opt = *opt;
    br->ev = ev;
    br->ctx = ctx;
    m = &br->msg;

    m->br = br;
    m->t = t;
    ws_stream_init(&m->ws, WS_ROLE_SERVER, &stream_settings);
    m->ws.data = m;
    m->ws.max_message = opt->max_message;
    if (opt->deflate) {
        m->deflate = true;
        pmd_deflate_init(&m->defl, &opt->pmd, opt->pmd_policy);
        pmd_inflate_init(&m->infl, &opt->pmd);
        ws_stream_set_extension(&m->ws, &pmd_stream_ext, &m->infl);
    }
    if (!prog)
        return br;

    st = br->stream = &bp->stream;
    m->from = st;
    st->br = br;
    st->to = m;
    st->binary = opt->binary;
    return br;
}

int bridge_start_member(struct bridge **out, struct transport *t, const struct bridge_options *opt,
                        const struct bridge_events *ev, void *ctx, const struct bridge_sink *sink,
                        void *sink_ctx)
{
    struct bridge *br = bridge_new(t, opt, ev, ctx, false);

    *out = br;
    if (!br)
        return UV_ENOMEM;
    br->msg.sink = sink;
    br->msg.sink_ctx = sink_ctx;
    return 0;
}

int bridge_send_frames(struct bridge *br, struct buf *owner, const uint8_t *p, size_t n,
                       unsigned messages)
{
    struct msg_end *m = &br->msg;
    struct batch *b;

    if (m->closed || m->discard || !ws_stream_can_send(&m->ws))
        return WS_E_CLOSED;
    b = msg_batch_for(m, 0, n, owner, false);
    if (!b)
        return WS_E_NOMEM;
    batch_payload(b, p, n, owner, NULL);
    m->msgs_out += messages;
    metrics_add(METRICS_WS_MSGS_OUT, messages);
    return 0;
}

int bridge_send_piece(struct bridge *br, bool text, bool fin, const uint8_t *p, size_t n,
                      struct buf *owner)
{
    struct msg_end *m = &br->msg;

    if (m->closed || m->discard || !ws_stream_can_send(&m->ws))
        return WS_E_CLOSED;
    /* a message in progress keeps its type (hubz_send_each: its CONT frames say none) */
    if (!m->piece_op)
        m->piece_op = text ? WS_OP_TEXT : WS_OP_BINARY;
    enum ws_opcode op = (enum ws_opcode)m->piece_op;
    if (fin)
        m->piece_op = 0;
    int r = frame_send(m, op, fin, 0, p, n, owner, NULL);
    if (r == 0 && fin) {
        m->msgs_out++;
        metrics_add(METRICS_WS_MSGS_OUT, 1);
    }
    return r;
}

const struct pmd_deflate *bridge_deflate(const struct bridge *br)
{
    return br && br->msg.deflate ? &br->msg.defl : NULL;
}

size_t bridge_send_queued(const struct bridge *br)
{
    return br ? msg_queued(&br->msg) : 0;
}

int bridge_start(struct bridge **out, struct child *c, struct transport *t,
                 const struct bridge_options *opt, const struct bridge_events *ev, void *ctx)
{
    struct bridge *br = bridge_new(t, opt, ev, ctx, true);
    struct stream_end *st;

    *out = br;
    if (!br)
        return UV_ENOMEM;
    st = br->stream;
    st->child = c;
    st->resize_ok = opt->pty && opt->binary;
    st->json = opt->passstderr;
    st->framing = opt->framing;
    bridge_json_init(&st->jout, FRAMING_JSON_MAX);
    framing_len_dec_init(&st->ldec);
    st->nsrc = opt->passstderr ? 2 : 1;
    st->io.on_alloc = stream_alloc;
    st->io.on_read = stream_read;
    c->io = &st->io;
    for (unsigned i = 0; i < 2; i++) {
        st->src[i].id = (uint8_t)(i == 0 ? SRC_OUT : SRC_ERR);
        bridge_lines_init(&st->src[i].lines);
        ws_utf8_repair_init(&st->src[i].repair);
    }
    for (unsigned i = 0; i < st->nsrc; i++)
        src_set_reading(st, &st->src[i], true);
    for (unsigned i = 0; i < st->nsrc; i++)
        if (!st->src[i].reading)
            return UV_EIO;
    if (st->nsrc == 1) /* plain: stderr lines go to the log */
        return child_log_stderr(c, opt->conn, "stderr");
    return 0;
}

void bridge_release(struct bridge *br)
{
    if (!br)
        return;
    struct stream_end *st = br->stream;

    if (st) {
        for (unsigned i = 0; i < 2; i++)
            buf_unref(st->src[i].buf);
        bridge_json_free(&st->jout);
        buf_unref(st->encbuf);
        buf_unref(st->rec_owner);
        if (st->stdin_batch)
            batch_put(st->stdin_batch);
    }
    if (br->msg.batch)
        batch_put(br->msg.batch);
    pmd_deflate_end(&br->msg.defl);
    pmd_inflate_end(&br->msg.infl);
    buf_unref(br->msg.ibuf);
    buf_unref(br->msg.pend_owner);
    nbridges--;
    free(br);
}
