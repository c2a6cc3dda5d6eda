/*
 * bridge: the data path of a WebSocket session (see bridge.h).
 */
#include "build-config.h"

#include "bridge.h"

#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "ws_error.h"
#include "ws_utf8.h"

#define POOL_KEEP 64u        /* free write batches kept beyond the sessions' own */
#define BATCH_KEEP_MAX 1024u /* free write batches kept at most (~5.3 MiB) */

/* ---------------------------------------------------------------- write batches */

#define BATCH_IOV 64u
#define BATCH_ARENA 4096u
#define BATCH_COPY_MAX 64u /* payloads up to this size are copied next to their header */
#define BATCH_HEAP 4u
#define BATCH_BUFS 2u

/* Many frames (or stdin chunks) in one gather write. */
struct batch {
    union {
        struct transport_write w; /* to the socket */
        struct child_write cw;    /* to the child's stdin */
    };
    struct session *s;
    struct batch *next;
    struct buf *bufs[BATCH_BUFS];
    void *heap[BATCH_HEAP];
    unsigned nbufs, nheap, niov;
    size_t arena_used, bytes;
    uv_buf_t iov[BATCH_IOV];
    uint8_t arena[BATCH_ARENA];
};

static struct batch *free_batches;
static unsigned nfree_batches;

static struct batch *batch_get(struct session *s)
{
    struct batch *b = free_batches;

    if (b) {
        free_batches = b->next;
        nfree_batches--;
    } else {
        b = malloc(sizeof *b);
        if (!b)
            return NULL;
    }
    b->s = s;
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
    /* Free batches kept: enough for every session to have one out per direction (d=1: 200
     * sessions keep 400 in flight), so a steady load never goes back to malloc -- a batch is
     * above glibc's tcache, and at c=200 the allocator was a fifth of the server's time
     * (doc/PERFORMANCE.md). Capped: at most BATCH_KEEP_MAX idle batches stay allocated. */
    unsigned keep = POOL_KEEP + 2u * b->s->srv->nsessions;
    if (keep > BATCH_KEEP_MAX)
        keep = BATCH_KEEP_MAX;
    if (nfree_batches < keep) {
        b->next = free_batches;
        free_batches = b;
        nfree_batches++;
    } else {
        free(b);
    }
}

void bridge_pool_drain(void)
{
    buf_pool_drain();
    while (free_batches) {
        struct batch *b = free_batches;
        free_batches = b->next;
        free(b);
    }
    nfree_batches = 0;
}

static bool batch_holds(struct batch *b, struct buf *buf)
{
    for (unsigned i = 0; i < b->nbufs; i++)
        if (b->bufs[i] == buf)
            return true;
    return false;
}

/* Room for a frame with payload plen, payload in buf (NULL: static or heap)? */
static bool batch_fits(struct batch *b, size_t hlen, size_t plen, struct buf *buf, bool heap)
{
    if (b->niov + 2 > BATCH_IOV)
        return false;
    if (b->arena_used + hlen + (plen <= BATCH_COPY_MAX ? plen : 0) > BATCH_ARENA)
        return false;
    if (buf && plen > BATCH_COPY_MAX && !batch_holds(b, buf) && b->nbufs == BATCH_BUFS)
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

/* Appends bytes by reference (kept alive by buf's reference, or static). */
static void batch_ref(struct batch *b, const uint8_t *p, size_t n, struct buf *buf)
{
    if (n == 0)
        return;
    if (n <= BATCH_COPY_MAX) {
        batch_copy(b, p, n);
        return;
    }
    if (buf && !batch_holds(b, buf)) {
        buf_ref(buf);
        b->bufs[b->nbufs++] = buf;
    }
    if (b->niov && (const uint8_t *)b->iov[b->niov - 1].base + b->iov[b->niov - 1].len == p)
        b->iov[b->niov - 1].len += n;
    else
        b->iov[b->niov++] = uv_buf_init((char *)p, (unsigned)n);
    b->bytes += n;
}

/* ---------------------------------------------------------------- socket writes */

static struct batch *sock_batch; /* frames collected during one callback, flushed at its end */
static bool in_socket_data;      /* inside bridge_socket_data() */

static void sock_write_done(struct transport_write *w, int status)
{
    struct batch *b = w->data;
    struct session *s = b->s;

    s->inflight_sock--;
    if (status == 0)
        s->bytes_out += b->bytes;
    batch_put(b);
    if (status < 0 && status != UV_ECANCELED && !s->t_closing) {
        /* the peer reset or left: noticed now, even while its reads are stopped */
        log_debug(s->id, "socket write: %s", uv_strerror(status));
        session_peer_gone(s, false);
    }
    bridge_update_reads(s);
    session_unref(s);
}

static void sock_flush(struct session *s)
{
    struct batch *b = sock_batch;
    int r;

    if (!b)
        return;
    sock_batch = NULL;
    if (b->niov == 0 || s->t_closing) {
        batch_put(b);
        return;
    }
    b->w.cb = sock_write_done;
    b->w.data = b;
    r = s->t->ops->write(s->t, &b->w, b->iov, b->niov);
    if (r) {
        log_debug(s->id, "socket write: %s", uv_strerror(r));
        batch_put(b);
        return;
    }
    s->inflight_sock++;
    session_ref(s);
}

static struct batch *sock_batch_for(struct session *s, size_t hlen, size_t plen, struct buf *buf,
                                    bool heap)
{
    if (sock_batch && (sock_batch->s != s || !batch_fits(sock_batch, hlen, plen, buf, heap)))
        sock_flush(sock_batch->s);
    if (!sock_batch)
        sock_batch = batch_get(s);
    return sock_batch;
}

void bridge_flush(struct session *s)
{
    if (sock_batch && sock_batch->s == s)
        sock_flush(s);
}

int bridge_send_copy(struct session *s, const uint8_t *frame, size_t len)
{
    if (s->t_closing)
        return 0;
    if (len > BATCH_ARENA) {
        /* never for control frames (<= 131 bytes); a large response is copied to the heap */
        uint8_t *copy = malloc(len);
        struct batch *b;
        if (!copy)
            return WS_E_NOMEM;
        memcpy(copy, frame, len);
        b = sock_batch_for(s, 0, 0, NULL, true);
        if (!b) {
            free(copy);
            return WS_E_NOMEM;
        }
        b->heap[b->nheap++] = copy;
        b->iov[b->niov++] = uv_buf_init((char *)copy, (unsigned)len);
        b->bytes += len;
    } else {
        struct batch *b = sock_batch_for(s, len, 0, NULL, false);
        if (!b)
            return WS_E_NOMEM;
        batch_copy(b, frame, len);
    }
    if (!in_socket_data) /* inside a read, the frames of the whole read go out together */
        sock_flush(s);
    return 0;
}

/* One data frame: header + payload (in buf, static, or a heap copy the batch frees). */
static void send_frame(struct session *s, enum ws_opcode op, bool fin, const uint8_t *p, size_t n,
                       struct buf *buf, void *heap)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    struct batch *b;
    int h;

    b = sock_batch_for(s, WS_FRAME_HEADER_MAX, n, buf, heap != NULL);
    if (!b) {
        free(heap);
        return;
    }
    h = ws_stream_data_header(&s->ws, hdr, op, fin, n, NULL);
    if (h < 0) {
        free(heap);
        return;
    }
    batch_copy(b, hdr, (size_t)h);
    if (heap)
        b->heap[b->nheap++] = heap;
    batch_ref(b, p, n, heap ? NULL : buf);
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

/* ---------------------------------------------------------------- stdout -> socket */

static struct buf *emit_buf;                 /* the buffer the line cutter is working in */
static void pass_give_up(struct session *s); /* --passstderr, below */

/* Bytes at the end of p that start an incomplete UTF-8 sequence (p valid so far). */
static size_t utf8_tail(const uint8_t *p, size_t n)
{
    size_t i = n;
    while (i > 0 && n - i < 3 && (p[i - 1] & 0xC0) == 0x80)
        i--;
    return i > 0 ? n - i + 1 : 0;
}

static void emit_text(void *ctx, const uint8_t *p, size_t n, bool fin)
{
    struct session *s = ctx;
    struct buf *buf = (p == &cr_byte) ? NULL : emit_buf;

    if (s->discard_out)
        return;
    if (s->repair.npending == 0) {
        struct ws_utf8 v;
        ws_utf8_init(&v);
        size_t ok = ws_utf8_feed(&v, p, n);
        if (ok == n && ws_utf8_complete(&v)) {
            send_frame(s, WS_OP_TEXT, fin, p, n, buf, NULL);
            goto out;
        }
        if (ok == n && !fin) {
            size_t tail = utf8_tail(p, n);
            if (n - tail > 0)
                send_frame(s, WS_OP_TEXT, false, p, n - tail, buf, NULL);
            memcpy(s->repair.pending, p + n - tail, tail);
            s->repair.npending = (uint8_t)tail;
            s->repair.v = v;
            return;
        }
    }
    /* Slow path: invalid bytes, or a character split across pieces. */
    uint8_t *out = malloc(3 * n + 8);
    if (!out)
        return;
    size_t o = ws_utf8_repair(&s->repair, p, n, out);
    if (fin)
        o += ws_utf8_repair_end(&s->repair, out + o);
    if (o == 0 && !fin) {
        free(out);
        return;
    }
    send_frame(s, WS_OP_TEXT, fin, out, o, NULL, out);
out:
    if (fin)
        ws_utf8_repair_init(&s->repair);
}

/* Reads go on in the buffer that holds the partial line (s->carry, at carry_off + carry_len);
 * the read takes its own reference on it. */
static struct buf *stdout_alloc(struct child *c, enum child_stream st, size_t *off)
{
    struct session *s = c->data;
    struct buf *b = s->carry;

    (void)st;
    if (b && BUF_SIZE - (s->carry_off + s->carry_len) >= BUF_SIZE / 4) {
        /* room after the partial line: read on in the same buffer */
    } else if (b) {
        struct buf *nb = buf_get();
        if (!nb)
            return NULL;
        memcpy(nb->data, b->data + s->carry_off, s->carry_len);
        buf_unref(b);
        s->carry = b = nb;
        s->carry_off = 0;
    } else {
        /* a new buffer; a short partial line waits in the session (carry_small) */
        b = buf_get();
        if (!b)
            return NULL;
        memcpy(b->data, s->carry_small, s->carry_len);
        s->carry = b;
        s->carry_off = 0;
    }
    *off = s->carry_off + s->carry_len;
    buf_ref(b);
    return b;
}

/* Gives the read buffer back unless it holds a long partial line: a short one is copied into
 * the session, so a child waiting after a prompt pins no buffer. */
static void stdout_keep_or_drop(struct session *s)
{
    if (s->carry && s->carry_len <= sizeof s->carry_small) {
        memcpy(s->carry_small, s->carry->data + s->carry_off, s->carry_len);
        buf_unref(s->carry);
        s->carry = NULL;
        s->carry_off = 0;
    }
}

void bridge_stdout_eof(struct session *s)
{
    if (s->stdout_eof)
        return;
    if (s->pass) {
        pass_give_up(s);
        return;
    }
    if (!s->discard_out && !s->srv->cfg->binary) {
        emit_buf = s->carry;
        bridge_lines_finish(&s->lines, s->carry ? s->carry->data + s->carry_off : s->carry_small,
                            s->carry_len, emit_text, s);
        emit_buf = NULL;
        sock_flush(s);
    }
    s->carry_len = 0;
    stdout_keep_or_drop(s);
    s->stdout_eof = true;
    s->stdout_reading = false;
    child_close_stdout(&s->child);
    session_stdout_done(s);
}

static void stdout_read(struct child *c, enum child_stream st, ssize_t nread, struct buf *rb,
                        size_t off)
{
    struct session *s = c->data;
    struct buf *b = s->carry; /* == rb (stdout_alloc's): the read's reference is dropped here */

    (void)st;
    (void)off; /* == carry_off + carry_len */
    buf_unref(rb);
    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug(s->id, "stdout: %s", uv_strerror((int)nread));
        session_ref(s);
        bridge_stdout_eof(s);
        session_unref(s);
        return;
    }
    if (nread == 0 || !b) {
        stdout_keep_or_drop(s);
        return;
    }
    session_ref(s);
    if (s->discard_out) {
        s->carry_len = 0;
    } else if (s->srv->cfg->binary) {
        send_frame(s, WS_OP_BINARY, true, b->data + s->carry_off + s->carry_len, (size_t)nread, b,
                   NULL);
        s->carry_len = 0;
    } else {
        const uint8_t *region = b->data + s->carry_off;
        size_t len = s->carry_len + (size_t)nread;
        size_t keep;

        emit_buf = b;
        keep =
            bridge_lines_cut(&s->lines, region, len, s->carry_len, BRIDGE_CARRY_MAX, emit_text, s);
        emit_buf = NULL;
        s->carry_off = (uint32_t)(region + len - keep - b->data);
        s->carry_len = (uint32_t)keep;
    }
    sock_flush(s);
    stdout_keep_or_drop(s);
    bridge_update_reads(s);
    session_unref(s);
}

/* ---------------------------------------------------------------- --passstderr */

/*
 * Both streams go out as JSON text messages (stdout as raw binary messages
 * with --binary). A long line is a fragmented message, and WebSocket cannot
 * interleave two messages: the stream whose message is open owns the
 * socket, and the other one holds what it read and stops reading until the
 * owner's line ends. Each stream keeps at most one read buffer.
 */
enum { PASS_NONE, PASS_OUT, PASS_ERR };

#define PASS_SMALL 64u /* a partial line up to this long waits in the session, no buffer pinned */

struct bridge_src {
    struct buf *buf; /* bytes not yet sent: buf->data[off..off+len) */
    uint32_t off, len;
    uint32_t scanned;          /* leading bytes of that region known to hold no '\n' */
    uint8_t small[PASS_SMALL]; /* buf == NULL: len bytes here */
    struct bridge_lines lines;
    struct ws_utf8_repair repair;
    uint8_t id;   /* PASS_OUT or PASS_ERR */
    bool open;    /* this stream's JSON message is open (fin not sent) */
    bool blocked; /* holds bytes while the other stream's message is open */
    bool reading, eof, done;
};

struct bridge_pass {
    struct bridge_src src[2]; /* [0] stdout, [1] stderr */
    uint8_t owner;            /* PASS_*: the stream whose fragmented message is open */
    bool all_done;            /* session_stdout_done() was called */
};

static const char *const pass_prefix[] = {"", "{\"stream\":\"stdout\",\"data\":\"",
                                          "{\"stream\":\"stderr\",\"data\":\""};

struct pass_emit {
    struct session *s;
    struct bridge_src *src;
};

/* JSON string escaping of valid UTF-8 (only ASCII bytes change). out NULL: measure only. */
static size_t json_escape(const uint8_t *p, size_t n, uint8_t *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        char e = 0;
        switch (c) {
        case '"':
            e = '"';
            break;
        case '\\':
            e = '\\';
            break;
        case '\n':
            e = 'n';
            break;
        case '\r':
            e = 'r';
            break;
        case '\t':
            e = 't';
            break;
        case '\b':
            e = 'b';
            break;
        case '\f':
            e = 'f';
            break;
        default:
            break;
        }
        if (e) {
            if (out) {
                out[o] = '\\';
                out[o + 1] = (uint8_t)e;
            }
            o += 2;
        } else if (c < 0x20 || c == 0x7f) {
            if (out)
                memcpy(out + o,
                       (const uint8_t[]){'\\', 'u', '0', '0', (uint8_t)hex[c >> 4],
                                         (uint8_t)hex[c & 15]},
                       6);
            o += 6;
        } else {
            if (out)
                out[o] = c;
            o++;
        }
    }
    return o;
}

/* One piece of a line of src: repaired to UTF-8, escaped, wrapped in the JSON prefix (first
 * piece) and suffix (last piece), sent as one frame of a text message. */
static void emit_json(void *ctx, const uint8_t *p, size_t n, bool fin)
{
    struct pass_emit *e = ctx;
    struct session *s = e->s;
    struct bridge_src *src = e->src;
    const char *prefix = src->open ? "" : pass_prefix[src->id];
    size_t plen = strlen(prefix);
    /* short lines (most of them) cost no allocation: a payload up to BATCH_COPY_MAX is copied
     * into the write batch */
    uint8_t tmp_small[1024], out_small[BATCH_COPY_MAX];
    uint8_t *tmp, *out;
    size_t m, esc, total;

    if (s->discard_out)
        return;
    if (!src->open && src->id == PASS_ERR)
        log_error(s->id, "stderr: %.*s", (int)(n > 1500 ? 1500 : n), (const char *)p);
    tmp = 3 * n + 8 <= sizeof tmp_small ? tmp_small : malloc(3 * n + 8);
    out = NULL;
    if (!tmp)
        goto oom;
    m = ws_utf8_repair(&src->repair, p, n, tmp);
    if (fin)
        m += ws_utf8_repair_end(&src->repair, tmp + m);
    esc = json_escape(tmp, m, NULL);
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
    json_escape(tmp, m, out + plen);
    if (fin)
        memcpy(out + plen + esc, "\"}", 2);
    if (tmp != tmp_small)
        free(tmp);
    send_frame(s, WS_OP_TEXT, fin, out, total, NULL, out == out_small ? NULL : out);
    src->open = !fin;
    s->pass->owner = fin ? PASS_NONE : src->id;
    return;
oom:
    /* a message cannot be left open half-sent: the session ends */
    if (tmp != tmp_small)
        free(tmp);
    log_error(s->id, "out of memory while sending the program's output: closing");
    session_peer_gone(s, false);
}

static uint8_t *src_region(struct bridge_src *src)
{
    return src->buf ? src->buf->data + src->off : src->small;
}

/* The region is empty or short: give the read buffer back (a short partial line is copied). */
static void src_shrink(struct bridge_src *src)
{
    if (src->buf && src->len <= PASS_SMALL) {
        memcpy(src->small, src->buf->data + src->off, src->len);
        buf_unref(src->buf);
        src->buf = NULL;
        src->off = 0;
    }
}

static void src_set_reading(struct session *s, struct bridge_src *src, bool on);

/* Sends what src holds, unless the other stream's message is open. After EOF, the rest. */
static void src_run(struct session *s, struct bridge_src *src)
{
    struct bridge_pass *ps = s->pass;
    struct pass_emit e = {s, src};

    if (src->done)
        return;
    if (s->discard_out) {
        ps->owner = PASS_NONE; /* nothing is sent anymore: nobody waits for anybody */
    } else if (ps->owner != PASS_NONE && ps->owner != src->id) {
        if (src->len || src->eof) {
            src->blocked = true;
            src_set_reading(s, src, false);
        }
        return;
    }
    src->blocked = false;
    if (s->discard_out) {
        src->len = src->scanned = 0;
    } else if (src->id == PASS_OUT && s->srv->cfg->binary) {
        if (src->len)
            send_frame(s, WS_OP_BINARY, true, src_region(src), src->len, src->buf, NULL);
        src->len = src->scanned = 0;
    } else {
        size_t keep = bridge_lines_cut(&src->lines, src_region(src), src->len, src->scanned,
                                       BRIDGE_CARRY_MAX, emit_json, &e);
        if (src->buf)
            src->off += src->len - (uint32_t)keep;
        else
            memmove(src->small, src->small + src->len - keep, keep);
        src->len = src->scanned = (uint32_t)keep;
        if (src->eof) {
            bridge_lines_finish(&src->lines, src_region(src), src->len, emit_json, &e);
            src->len = src->scanned = 0;
        }
    }
    if (!src->eof) {
        src_shrink(src);
        return;
    }
    if (ps->owner == src->id) /* the line could not be ended (out of memory): let go */
        ps->owner = PASS_NONE;
    src->open = false;
    src->done = true;
    src_set_reading(s, src, false);
    buf_unref(src->buf);
    src->buf = NULL;
    if (src->id == PASS_OUT)
        child_close_stdout(&s->child);
    else
        child_close_stderr(&s->child);
}

/* Runs whichever stream can go on, then reports the end once both are done. */
static void pass_pump(struct session *s)
{
    struct bridge_pass *ps = s->pass;

    for (int round = 0; round < 4; round++) {
        bool progress = false;
        for (int i = 0; i < 2; i++) {
            struct bridge_src *src = &ps->src[i];
            if (src->blocked &&
                (ps->owner == PASS_NONE || ps->owner == src->id || s->discard_out)) {
                src_run(s, src);
                progress = true;
            }
        }
        if (!progress)
            break;
    }
    sock_flush(s);
    if (ps->src[0].done && ps->src[1].done && !ps->all_done) {
        ps->all_done = true;
        s->stdout_eof = true;
        s->stderr_eof = true;
        session_stdout_done(s);
    }
}

/* src->buf, after what it holds; the read takes its own reference. */
static struct buf *pass_alloc(struct child *c, enum child_stream st, size_t *off)
{
    struct session *s = c->data;
    struct bridge_src *src = &s->pass->src[st];
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

static void pass_read(struct child *c, enum child_stream st, ssize_t nread, struct buf *rb,
                      size_t off)
{
    struct session *s = c->data;
    struct bridge_src *src = &s->pass->src[st];

    (void)off;     /* == src->off + src->len */
    buf_unref(rb); /* pass_alloc's: src->buf holds its own */
    session_ref(s);
    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug(s->id, "%s: %s", src->id == PASS_OUT ? "stdout" : "stderr",
                      uv_strerror((int)nread));
        src->eof = true;
        src_set_reading(s, src, false);
    } else if (nread > 0 && src->buf) {
        src->len += (uint32_t)nread;
    }
    if (nread != 0)
        src_run(s, src);
    else
        src_shrink(src);
    pass_pump(s);
    bridge_update_reads(s);
    session_unref(s);
}

static void src_set_reading(struct session *s, struct bridge_src *src, bool on)
{
    enum child_stream st = src->id == PASS_OUT ? CHILD_STDOUT : CHILD_STDERR;

    if (on == src->reading)
        return;
    if (on) {
        if (child_read_start(&s->child, st) == 0)
            src->reading = true;
    } else {
        child_read_stop(&s->child, st);
        src->reading = false;
    }
}

/* Reads on while the socket's queue allows, the stream is not held, and its pipe is open. */
static void pass_update_reads(struct session *s, size_t tq)
{
    for (int i = 0; i < 2; i++) {
        struct bridge_src *src = &s->pass->src[i];
        if (src->done || src->eof || !child_stream_open(&s->child, (enum child_stream)i))
            continue;
        bool want = !src->blocked && (s->discard_out || tq < CHILD_LOW_WATER ||
                                      (src->reading && tq <= CHILD_HIGH_WATER));
        src_set_reading(s, src, want);
    }
}

/* Gives up on both streams (the program exited and something holds them open): what was read
 * goes out, the stream whose message is open first. */
static void pass_give_up(struct session *s)
{
    struct bridge_pass *ps = s->pass;

    if (ps->owner != PASS_NONE) {
        ps->src[ps->owner - 1].eof = true;
        src_run(s, &ps->src[ps->owner - 1]);
    }
    for (int i = 0; i < 2; i++) {
        ps->src[i].eof = true;
        src_run(s, &ps->src[i]);
    }
    pass_pump(s);
}

static int pass_start(struct session *s)
{
    struct bridge_pass *ps = calloc(1, sizeof *ps);

    if (!ps)
        return UV_ENOMEM;
    s->pass = ps;
    for (int i = 0; i < 2; i++) {
        ps->src[i].id = (uint8_t)(i == 0 ? PASS_OUT : PASS_ERR);
        bridge_lines_init(&ps->src[i].lines);
        ws_utf8_repair_init(&ps->src[i].repair);
    }
    src_set_reading(s, &ps->src[0], true);
    src_set_reading(s, &ps->src[1], true);
    return ps->src[0].reading && ps->src[1].reading ? 0 : UV_EIO;
}

static void pass_release(struct session *s)
{
    if (!s->pass)
        return;
    for (int i = 0; i < 2; i++)
        buf_unref(s->pass->src[i].buf);
    free(s->pass);
    s->pass = NULL;
}

/* ---------------------------------------------------------------- socket -> stdin */

static struct batch *stdin_batch;
static struct buf *sock_rbuf; /* the socket read buffer being parsed */

static void stdin_write_done(struct child_write *w, int status)
{
    struct batch *b = w->data;
    struct session *s = b->s;

    s->inflight_stdin--;
    if (status < 0 && status != UV_ECANCELED) {
        log_debug(s->id, "stdin: %s", uv_strerror(status));
        session_stdin_dead(s);
    }
    batch_put(b);
    bridge_update_reads(s);
    session_unref(s);
}

static void stdin_flush(struct session *s)
{
    struct batch *b = stdin_batch;
    int r;

    if (!b)
        return;
    stdin_batch = NULL;
    if (b->niov == 0 || s->stdin_dead || !child_stdin_open(&s->child)) {
        batch_put(b);
        return;
    }
    b->cw.data = b;
    r = child_write(&s->child, &b->cw, b->iov, b->niov, stdin_write_done);
    if (r) {
        log_debug(s->id, "stdin: %s", uv_strerror(r));
        batch_put(b);
        session_stdin_dead(s);
        return;
    }
    s->inflight_stdin++;
    session_ref(s);
}

static void stdin_add(struct session *s, const uint8_t *p, size_t n, struct buf *buf)
{
    if (s->stdin_dead || !child_stdin_open(&s->child) || n == 0)
        return;
    if (stdin_batch && !batch_fits(stdin_batch, 0, n, buf, false))
        stdin_flush(s);
    if (!stdin_batch && !(stdin_batch = batch_get(s)))
        return;
    batch_ref(stdin_batch, p, n, buf);
}

static int on_message_begin(struct ws_stream *ws, enum ws_opcode opcode, uint8_t rsv)
{
    struct session *s = ws->data;
    (void)rsv;
    s->in_text = opcode == WS_OP_TEXT;
    return 0;
}

static int on_message_data(struct ws_stream *ws, uint8_t *data, size_t len)
{
    stdin_add(ws->data, data, len, sock_rbuf);
    return 0;
}

static const uint8_t newline = '\n';

static int on_message_end(struct ws_stream *ws)
{
    struct session *s = ws->data;

    if (s->in_text && !s->srv->cfg->binary)
        stdin_add(s, &newline, 1, NULL);
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
    struct session *s = ws->data;

    log_debug(s->id, "peer closed: %u %.*s", code, (int)len, (const char *)reason);
    session_peer_gone(s, true);
    return 0;
}

static void on_fail(struct ws_stream *ws, uint16_t code, const char *reason)
{
    struct session *s = ws->data;

    log_info(s->id, "protocol error: closing with %u (%s)", code, reason);
    session_peer_gone(s, true);
}

static int on_write(struct ws_stream *ws, const uint8_t *frame, size_t len)
{
    return bridge_send_copy(ws->data, frame, len) ? -1 : 0;
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

void bridge_socket_data(struct session *s, struct buf *owner, uint8_t *data, size_t len)
{
    session_ref(s);
    sock_rbuf = owner;
    in_socket_data = true;
    ws_stream_execute(&s->ws, data, len);
    in_socket_data = false;
    sock_rbuf = NULL;
    stdin_flush(s);
    sock_flush(s);
    bridge_update_reads(s);
    session_unref(s);
}

/* ---------------------------------------------------------------- reads on/off */

static void stdout_set(struct session *s, bool on)
{
    if (on == s->stdout_reading)
        return;
    if (on) {
        if (child_read_start(&s->child, CHILD_STDOUT) == 0)
            s->stdout_reading = true;
    } else {
        child_read_stop(&s->child, CHILD_STDOUT);
        s->stdout_reading = false;
    }
}

void bridge_update_reads(struct session *s)
{
    if (s->phase == SESSION_WS && !s->t_closing) {
        /* The child's stdin queue, and our own send queue: a peer that sends pings (or
         * anything) but never reads cannot make us queue pongs without bound. */
        size_t q = s->t->ops->write_queue_size(s->t);
        if (s->has_child && !s->stdin_dead && child_stdin_open(&s->child)) {
            size_t iq = child_stdin_queued(&s->child);
            q = iq > q ? iq : q;
        }
        if (!s->sock_paused && q > CHILD_HIGH_WATER) {
            s->t->ops->read_stop(s->t);
            s->sock_paused = true;
            session_reads_paused(s, true);
        } else if (s->sock_paused && q < CHILD_LOW_WATER) {
            s->sock_paused = false;
            s->t->ops->read_start(s->t);
            session_reads_paused(s, false);
        }
    }
    if (s->pass && s->has_child && s->child.pid > 0) {
        pass_update_reads(s, s->t_closing ? 0 : s->t->ops->write_queue_size(s->t));
    } else if (s->has_child && !s->stdout_eof && child_stream_open(&s->child, CHILD_STDOUT)) {
        size_t tq = s->t_closing ? 0 : s->t->ops->write_queue_size(s->t);
        bool want =
            s->discard_out || tq < CHILD_LOW_WATER || (s->stdout_reading && tq <= CHILD_HIGH_WATER);
        stdout_set(s, want);
    }
}

static const struct child_io_settings plain_io = {.on_alloc = stdout_alloc, .on_read = stdout_read};
static const struct child_io_settings pass_io = {.on_alloc = pass_alloc, .on_read = pass_read};

int bridge_start(struct session *s)
{
    int r;

    bridge_lines_init(&s->lines);
    ws_utf8_repair_init(&s->repair);
    ws_stream_init(&s->ws, WS_ROLE_SERVER, &stream_settings);
    s->ws.data = s;
    s->ws.max_message = s->srv->cfg->maxframesize;
    if (s->srv->cfg->passstderr) {
        s->child.io = &pass_io;
        return pass_start(s);
    }
    s->child.io = &plain_io;
    stdout_set(s, true);
    if (!s->stdout_reading)
        return UV_EIO;
    r = child_log_stderr(&s->child, s->id, "stderr");
    if (r == 0)
        s->stderr_reading = true;
    return r;
}

void bridge_release(struct session *s)
{
    pass_release(s);
    if (s->carry) {
        buf_unref(s->carry);
        s->carry = NULL;
    }
    s->carry_len = 0;
}
