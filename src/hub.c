/*
 * hub: a shared program and its clients (see hub.h).
 *
 * The log: chunks (a pool buffer each) filled with encoded frames back to
 * back; h->end is the log position after the last byte. A member's cursor
 * is (chunk, off) and its log position pos; chunk->cursors counts the
 * members in it, so the head chunks nobody is in can be let go (writes in
 * flight hold their own buffer references). In the addressed mode every
 * frame also has a record (offset, length, target) in its chunk, and a
 * member's cursor is the index of the next record.
 */
#include "build-config.h"

#include "hub.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "buf.h"
#include "child.h"
#include "cluster.h"
#include "hubmsg.h"
#include "hubz.h"
#include "log.h"
#include "ws_error.h"
#include "ws_frame.h"
#include "ws_utf8.h"

#define HUB_FRAME_MAX (16u * 1024u) /* payload per frame: a header of at most 4 bytes */
#define HUB_SLICE 4096u             /* text repaired this much at a time */
#define HUB_LINE_MAX (1u << 20)     /* addressed mode: the longest output line taken */
#define HUB_BACKOFF_MIN 100u
#define HUB_BACKOFF_MAX 10000u
#define HUB_STABLE_MS 10000u /* a run this long resets the backoff */
#define HUB_CLOSE_RESTART 1012
/* stdout is read while the fastest member is less than this behind: a read (up to BUF_SIZE,
 * plus frame headers) then leaves it well inside the queue limit */
#define HUB_READ_MARK                                                                              \
    (options.queue / 4) /* "Service Restart" (IANA WebSocket close code registry) */

/* Addressed mode: who one frame is for (to: only that id; except: all but it; 0: unset). */
struct hub_target {
    uint32_t off, len;
    unsigned long to, except;
    bool fin; /* the frame ends a message */
};

struct hub_chunk {
    struct hub_chunk *next;
    struct buf *buf;
    uint64_t pos;  /* log position of buf->data[0] */
    uint64_t msgs; /* messages ended before it */
    uint32_t fill;
    unsigned cursors;
    bool boundary; /* data[0] starts a message */
    struct hub_target *tg;
    uint32_t ntg, tgcap;
};

struct hub_run; /* one run of the program */

/* An output message in progress (out_skip). */
struct out_msg {
    bool open; /* its first piece came, its last not yet */
    bool skip; /* it began while nobody listened here: dropped whole */
};

/* Addressed mode: an output line being collected (up to HUB_LINE_MAX). */
struct hub_line {
    uint8_t *p;
    size_t len;
    bool skip;
};

struct hub {
    struct hub *next; /* the process's hubs */
    char *file;
    char **argv;
    char **env; /* for the next spawn */
    struct hub_member *members;
    unsigned nmembers;   /* in the list */
    unsigned nlive;      /* of them, not closing: the program's current clients */
    struct hub_run *run; /* the running program, or NULL */
    uv_timer_t timer;    /* linger, then backoff */
    bool timer_linger, timer_backoff, closing;
    uint64_t started_ms;
    unsigned backoff_ms;
    /* the log */
    struct hub_chunk *head, *tail;
    uint64_t end, nmsgs;
    uint64_t msg_start; /* where the open message began (msg_open) */
    bool msg_open;
    bool fresh; /* a message was abandoned: the next frame starts a chunk (its boundary) */
    unsigned nwaiting;
    struct hubz *z; /* compressed mirrors of the log for deflate members (hubz.h) */
    /* stdin */
    bool in_paused;
    /* --redis: the program runs on one instance (cluster.h) */
    struct cluster *cl;
    struct ws_utf8_repair rrepair; /* output read from Redis */
    struct out_msg rmsg;
    struct hub_line rline; /* addressed: a line of it */
    /* owner: the whole lines of one stdout read, published as one entry (pub_flush) */
    uint8_t *pub;
    size_t pub_len, pub_cap;
    bool pub_open; /* a line's piece was published, its end not yet */
};

struct hub_run {
    struct child c;
    struct hub *hub; /* NULL once detached (stopping) */
    /* stdout */
    struct buf *rbuf;
    uint32_t roff, rlen, rscanned;
    struct bridge_lines lines;
    struct ws_utf8_repair repair;
    /* --framing: the decoders; json: a decoded message waiting to enter the log (ready: its
     * FRAMING_TEXT/BINARY, 0 none; fed: its parts in the log), read no further meanwhile */
    struct bridge_json json;
    int ready;
    unsigned fed;
    struct framing_len_dec len;
    struct out_msg msg; /* the output's message in progress */
    bool bad; /* the output broke the framing: the run is over (bad_reason: the close's) */
    char bad_reason[FRAMING_REASON_MAX + 1];
    struct hub_line line; /* addressed mode: the line being collected */
    bool reading, eof, paused, resuming;
    unsigned writes; /* stdin writes in flight */
    bool closed;
};

struct hub_member {
    struct hub_member *prev, *next;
    struct hub *hub;
    struct bridge *br;
    const struct hub_member_events *ev;
    void *ctx;
    unsigned long id;   /* its ID in the addressed mode (--redis: from the cluster; 0: none yet) */
    unsigned long conn; /* its connection id (the log's) */
    char **env; /* addressed: for the join event; freed after it */
    bool joined; /* addressed: its join went to the program */
    bool remote; /* addressed, --redis: its events go through Redis (cluster_send_client) */
    struct hub_chunk *chunk;
    uint32_t off, idx;
    uint64_t pos, msgs, drops;
    bool waiting; /* joined inside a message: starts at the next one */
    /* permessage-deflate: the mirror it is sent from, or per client (its own window) */
    struct hubz *z;
    bool deflate_own;
    bool open;    /* part of a message was sent, its end not yet */
    /* the program it was a client of is over: closed once sent up to close_pos */
    bool closing;
    uint16_t close_code;
    uint64_t close_pos;
    char *close_reason;
    /* inbound: the message as it will be written to stdin (encoded per --framing) */
    uint8_t *in;
    size_t in_len, in_cap;
    size_t rec; /* length: where the open record's header is in in */
    struct framing_json_enc enc;
    bool in_text, in_lost;
};

static struct hub_options options;
static struct hub *hubs;
static unsigned nruns; /* programs not yet closed, the detached ones too */

static void hub_update_reads(struct hub *h);
static bool hub_want_output(struct hub *h);
static void hub_fan_out(struct hub *h);
static void out_release(struct hub_run *r);
static void out_eof_check(struct hub_run *r);
static void hub_maybe_free(struct hub *h);
static int hub_spawn(struct hub *h, const struct route *rt);

void hub_configure(const struct hub_options *opt)
{
    options = *opt;
}

/* ---------------------------------------------------------------- the log */

static struct hub_chunk *chunk_new(struct hub *h)
{
    struct hub_chunk *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->buf = buf_get();
    if (!c->buf) {
        free(c);
        return NULL;
    }
    c->pos = h->end;
    c->msgs = h->nmsgs;
    c->boundary = !h->msg_open;
    if (h->tail)
        h->tail->next = c;
    else
        h->head = c;
    h->tail = c;
    return c;
}

static void chunk_free(struct hub_chunk *c)
{
    buf_unref(c->buf);
    free(c->tg);
    free(c);
}

/* Lets go of the head chunks no cursor is in (the tail stays). */
static void log_trim(struct hub *h)
{
    while (h->head && h->head != h->tail && h->head->cursors == 0) {
        struct hub_chunk *c = h->head;
        h->head = c->next;
        chunk_free(c);
    }
    hubz_trim(h->z, h->head ? h->head->pos : h->end);
}

static void log_free(struct hub *h)
{
    while (h->head) {
        struct hub_chunk *c = h->head;
        h->head = c->next;
        chunk_free(c);
    }
    h->tail = NULL;
}

/* An empty log (no member is left in it). */
static void log_reset(struct hub *h)
{
    log_free(h);
    hubz_reset(h->z);
    h->end = h->nmsgs = 0;
    h->msg_open = h->fresh = false;
    /* the rest of a message in progress is not one for a client that joins now */
    if (h->run)
        h->run->msg.skip = true;
    h->rmsg.skip = true;
}

/* Puts m's cursor at the log's end (a new member; one that waited for a message start). */
static void cursor_to_end(struct hub_member *m)
{
    struct hub *h = m->hub;

    if (m->chunk)
        m->chunk->cursors--;
    m->chunk = h->tail;
    m->chunk->cursors++;
    m->off = m->chunk->fill;
    m->idx = m->chunk->ntg;
    m->pos = h->end;
    m->msgs = h->nmsgs;
    m->open = false;
}

static void cursor_to_chunk(struct hub_member *m, struct hub_chunk *c)
{
    m->chunk->cursors--;
    c->cursors++;
    m->chunk = c;
    m->off = 0;
    m->idx = 0;
    m->pos = c->pos;
    m->msgs = c->msgs;
}

/* A message ended: members that joined inside it start now. */
static void log_message_end(struct hub *h)
{
    h->nmsgs++;
    h->msg_open = false;
    if (h->nwaiting == 0)
        return;
    for (struct hub_member *m = h->members; m; m = m->next)
        if (m->waiting) {
            m->waiting = false;
            cursor_to_end(m);
        }
    h->nwaiting = 0;
}

/* The open message ends without its last frame (the program's output broke the framing, or
 * its run ended elsewhere): nobody is sent more of it; the next frame starts a message, in a
 * chunk of its own (a boundary for --slow-client=drop). Members waiting for its end start
 * after it. */
static void log_abandon(struct hub *h)
{
    if (!h->msg_open)
        return;
    h->msg_open = false;
    h->fresh = true;
    hubz_abandon(h->z, h->end);
    for (struct hub_member *m = h->members; m && h->nwaiting; m = m->next)
        if (m->waiting) {
            m->waiting = false;
            h->nwaiting--;
            cursor_to_end(m);
        }
}

/* Appends one frame (payload n <= HUB_FRAME_MAX) of a text (else binary) message for tg
 * (NULL: everyone). */
static int log_frame(struct hub *h, bool text, bool fin, const uint8_t *p, size_t n,
                     const struct hub_target *tg)
{
    struct hub_chunk *c = h->tail;
    enum ws_opcode op = h->msg_open ? WS_OP_CONT : text ? WS_OP_TEXT : WS_OP_BINARY;
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t hl = ws_frame_write_header(hdr, fin, 0, op, n, NULL);

    if (!c || BUF_SIZE - c->fill < hl + n || (h->fresh && !h->msg_open)) {
        c = chunk_new(h);
        if (!c)
            return -1;
        h->fresh = false;
    }
    if (!h->msg_open)
        h->msg_start = h->end;
    if (tg) {
        if (c->ntg == c->tgcap) {
            uint32_t cap = c->tgcap ? 2 * c->tgcap : 64;
            struct hub_target *t = realloc(c->tg, cap * sizeof *t);
            if (!t)
                return -1;
            c->tg = t;
            c->tgcap = cap;
        }
        c->tg[c->ntg] = *tg;
        c->tg[c->ntg].off = c->fill;
        c->tg[c->ntg].len = (uint32_t)(hl + n);
        c->tg[c->ntg].fin = fin;
        c->ntg++;
    }
    memcpy(c->buf->data + c->fill, hdr, hl);
    if (n)
        memcpy(c->buf->data + c->fill + hl, p, n);
    hubz_frame(h->z, h->end, (uint32_t)(hl + n), text, op != WS_OP_CONT, fin, p, n);
    c->fill += (uint32_t)(hl + n);
    h->end += hl + n;
    h->msg_open = !fin;
    if (fin)
        log_message_end(h);
    return 0;
}

/* One piece of a text (else binary) message (fin: its last), cut into frames; text is
 * repaired to UTF-8 with rep (NULL: valid already, as --framing's decoders give it). */
static int log_piece(struct hub *h, struct ws_utf8_repair *rep, bool text, const uint8_t *p,
                     size_t n, bool fin, const struct hub_target *tg)
{
    uint8_t tmp[3 * HUB_SLICE + 8];

    if (!text || !rep) {
        do {
            size_t k = n > HUB_FRAME_MAX ? HUB_FRAME_MAX : n;
            if (log_frame(h, text, fin && k == n, p, k, tg))
                return -1;
            p += k;
            n -= k;
        } while (n);
        return 0;
    }
    do {
        size_t k = n > HUB_SLICE ? HUB_SLICE : n;
        size_t o = ws_utf8_repair(rep, p, k, tmp);
        bool last = k == n;
        if (last && fin)
            o += ws_utf8_repair_end(rep, tmp + o);
        if ((o || (last && fin)) && log_frame(h, true, fin && last, tmp, o, tg))
            return -1;
        p += k;
        n -= k;
    } while (n);
    return 0;
}

/* ---------------------------------------------------------------- members: sending */

static bool for_member(const struct hub_target *t, unsigned long id)
{
    return t->to ? t->to == id : t->except != id;
}

/* The next bytes for m in its chunk (*p, *n; false: none there) and where its cursor goes. */
static bool member_span(struct hub_member *m, uint32_t *off, uint32_t *len, unsigned *nmsg)
{
    struct hub_chunk *c = m->chunk;
    /* a closing member goes no further than where its program's output ended */
    uint32_t end = c->fill;

    if (m->closing && m->close_pos < c->pos + end)
        end = (uint32_t)(m->close_pos - c->pos);
    if (!options.addressed) {
        *off = m->off;
        *len = end - m->off;
        m->off = end;
        return *len > 0;
    }
    while (m->idx < c->ntg && c->tg[m->idx].off < end && !for_member(&c->tg[m->idx], m->id))
        m->idx++;
    *off = m->idx < c->ntg ? c->tg[m->idx].off : end;
    *len = 0;
    while (m->idx < c->ntg && c->tg[m->idx].off < end && for_member(&c->tg[m->idx], m->id)) {
        *nmsg += c->tg[m->idx].fin;
        *len += c->tg[m->idx++].len;
    }
    m->off = m->idx < c->ntg && c->tg[m->idx].off < end ? c->tg[m->idx].off : end;
    return *len > 0;
}

static void member_kick(struct hub_member *m, uint16_t code, const char *reason);

/* A closing member with everything sent: closed now. */
static bool member_finished(struct hub_member *m)
{
    if (!m->closing || m->pos < m->close_pos)
        return false;
    char *reason = m->close_reason;
    m->close_reason = NULL;
    member_kick(m, m->close_code, reason ? reason : "program exited");
    free(reason);
    return true;
}

/* Sends m the log's bytes c->buf->data[off..off+len) (whole frames, nmsg messages ending), or
 * their compressed form when m agreed permessage-deflate. */
static int member_send(struct hub_member *m, struct hub_chunk *c, uint32_t off, uint32_t len,
                       unsigned nmsg)
{
    const uint8_t *p = c->buf->data + off;

    if (m->z)
        return hubz_send(m->z, m->br, c->pos + off, c->buf, p, len);
    if (m->deflate_own)
        return hubz_send_each(m->br, c->buf, p, len);
    return bridge_send_frames(m->br, c->buf, p, len, nmsg);
}

/* Hands m what follows its cursor while its socket's queue is short. Returns false when m is
 * gone (a closing member sent everything: closed and freed). */
static bool member_pump(struct hub_member *m)
{
    struct hub *h = m->hub;
    size_t queued;

    if (member_finished(m))
        return false;
    if (!m->br || m->waiting || !m->chunk)
        return true;
    queued = bridge_send_queued(m->br);
    while (queued < CHILD_LOW_WATER && !(m->closing && m->pos >= m->close_pos)) {
        struct hub_chunk *c = m->chunk;
        uint32_t off, len;
        unsigned nmsg = 0;
        uint64_t msgs = m->msgs;
        if (m->off == c->fill && m->idx == c->ntg) {
            if (!c->next)
                break;
            cursor_to_chunk(m, c->next);
            continue;
        }
        bool any = member_span(m, &off, &len, &nmsg);
        m->pos = c->pos + m->off;
        m->msgs = c == h->tail ? h->nmsgs : c->next->msgs;
        if (!options.addressed) /* broadcast: every message ended in the span */
            nmsg = (unsigned)(m->msgs - msgs);
        m->open = c == h->tail ? h->msg_open : !c->next->boundary;
        if (any) {
            int e = member_send(m, c, off, len, nmsg);
            if (e == WS_E_NOMEM) {
                member_kick(m, WS_CLOSE_INTERNAL_ERROR, "out of memory");
                return false;
            }
            if (e != 0)
                break;
            queued += len;
        }
    }
    bridge_flush(m->br);
    if (member_finished(m))
        return false;
    log_trim(h);
    return true;
}

static void member_event(struct hub_member *m, char kind, uint8_t *line, size_t n);

static void member_unlink(struct hub_member *m)
{
    struct hub *h = m->hub;

    /* Addressed: the program hears it left (also a client closed for being slow). Through
     * Redis also when its run is over: if its join is still unread, the next run reads it,
     * then this leave; if not, the owner drops the leave of a client it does not know. */
    if (options.addressed && m->joined && (m->remote || !m->closing)) {
        size_t n;
        uint8_t *line = hubmsg_event_leave(m->id, &n);
        member_event(m, 'l', line, n);
    }
    if (m->prev)
        m->prev->next = m->next;
    else
        h->members = m->next;
    if (m->next)
        m->next->prev = m->prev;
    h->nmembers--;
    if (!m->closing)
        h->nlive--;
    if (m->waiting)
        h->nwaiting--;
    if (m->chunk)
        m->chunk->cursors--;
    m->chunk = NULL;
    hubz_put(&h->z, m->z);
    m->z = NULL;
    if (m->drops)
        log_info(m->conn, "--slow-client=drop: %llu messages dropped for this client",
                 (unsigned long long)m->drops);
    free(m->in);
    free(m->env);
    free(m->close_reason);
}

/* The hub ends m (it is freed here): its owner sends the close. */
static void member_kick(struct hub_member *m, uint16_t code, const char *reason)
{
    const struct hub_member_events *ev = m->ev;
    void *ctx = m->ctx;
    struct hub *h = m->hub;

    member_unlink(m);
    free(m);
    ev->close(ctx, code, reason);
    log_trim(h);
}

/* m's backlog is over the limit: drop its oldest messages, or close it. */
static void member_too_slow(struct hub_member *m)
{
    struct hub *h = m->hub;
    uint64_t behind = h->end - m->pos;
    char reason[64];

    if (m->closing) {
        member_kick(m, WS_CLOSE_POLICY, "too slow");
        return;
    }
    if (options.slow == HUB_SLOW_DROP && !m->open && m->chunk) {
        for (struct hub_chunk *c = m->chunk->next; c; c = c->next) {
            if (c->boundary && h->end - c->pos <= options.queue) {
                m->drops += c->msgs - m->msgs;
                log_debug(m->conn, "too slow: %llu bytes behind, %llu messages dropped",
                          (unsigned long long)behind, (unsigned long long)(c->msgs - m->msgs));
                cursor_to_chunk(m, c);
                return;
            }
        }
    }
    snprintf(reason, sizeof reason, "too slow: %llu bytes behind", (unsigned long long)behind);
    log_info(m->conn, "--slow-client=%s: closing with 1008 (%s)",
             options.slow == HUB_SLOW_DROP ? "drop" : "close", reason);
    member_kick(m, WS_CLOSE_POLICY, reason);
}

/* After output was appended: every member is handed what it can take; the slow are dealt
 * with. */
static void hub_fan_out(struct hub *h)
{
    struct hub_member *m = h->members, *next;

    for (; m; m = next) {
        next = m->next;
        if (!member_pump(m))
            continue;
        if (!m->waiting && h->end - m->pos > options.queue)
            member_too_slow(m);
    }
    log_trim(h);
}

/* ---------------------------------------------------------------- the program's output */

static struct hub_run *run_of(struct child *c)
{
    return (struct hub_run *)((char *)c - offsetof(struct hub_run, c));
}

/* Addressed mode: one whole output line, an instruction. */
static void addressed_line(struct hub *h, const uint8_t *line, size_t len)
{
    struct hubmsg_out o;
    struct hub_target tg = {0, 0, 0, 0};
    struct ws_utf8_repair rep;
    const char *why = hubmsg_parse_out(line, len, &o);

    if (why) {
        log_error(0, "--shared=addressed: output line skipped (%s): %.*s", why,
                  (int)(len > 200 ? 200 : len), (const char *)line);
        hubmsg_out_free(&o);
        return;
    }
    tg.to = o.to;
    tg.except = o.except;
    ws_utf8_repair_init(&rep);
    if (log_piece(h, &rep, !options.binary, o.data, o.len, true, &tg))
        log_error(0, "out of memory: a message lost");
    hubmsg_out_free(&o);
}

/* Collects pieces of a line (addressed mode) up to HUB_LINE_MAX; a whole one is obeyed when
 * some client is here to get it. */
static void collect_line(struct hub *h, struct hub_line *l, const uint8_t *p, size_t n, bool fin)
{
    if (!l->skip && l->len + n > HUB_LINE_MAX) {
        log_error(0, "--shared=addressed: an output line over %u bytes skipped", HUB_LINE_MAX);
        l->skip = true;
    }
    if (!l->skip && n) {
        uint8_t *nl = realloc(l->p, l->len + n);
        if (!nl) {
            l->skip = true;
        } else {
            l->p = nl;
            memcpy(l->p + l->len, p, n);
            l->len += n;
        }
    }
    if (!fin)
        return;
    if (!l->skip && h->nlive)
        addressed_line(h, l->p, l->len);
    free(l->p);
    l->p = NULL;
    l->len = 0;
    l->skip = false;
}

#define HUB_PUB_MAX (256u * 1024u) /* --redis: the most bytes of lines in one entry */

/* --redis: the lines gathered from a stdout read go to Redis as one entry. */
static void pub_flush(struct hub *h)
{
    if (h->cl && h->pub_len)
        cluster_publish_lines(h->cl, h->pub, h->pub_len);
    h->pub_len = 0;
}

/* --redis: a piece of output for the other instances: whole lines are gathered, a line's
 * pieces (a long line, --binary) go as they are, in order. */
static void pub_piece(struct hub *h, const uint8_t *p, size_t n, bool fin)
{
    if (!options.binary && fin && !h->pub_open && h->pub_len + n + 1 <= HUB_PUB_MAX) {
        if (h->pub_len + n + 1 > h->pub_cap) {
            size_t cap = h->pub_cap ? h->pub_cap : 4096;
            while (cap < h->pub_len + n + 1)
                cap *= 2;
            uint8_t *np = realloc(h->pub, cap);
            if (np) {
                h->pub = np;
                h->pub_cap = cap;
            }
        }
        if (h->pub_len + n + 1 <= h->pub_cap) {
            if (n)
                memcpy(h->pub + h->pub_len, p, n);
            h->pub_len += n;
            h->pub[h->pub_len++] = '\n';
            return;
        }
    }
    pub_flush(h);
    if (!options.binary && fin && !h->pub_open && n + 1 <= HUB_PUB_MAX && h->pub_cap >= n + 1) {
        pub_piece(h, p, n, fin); /* the buffer was full: it has room now */
        return;
    }
    cluster_publish(h->cl, options.binary, p, n, fin);
    h->pub_open = !fin;
}

/* Whether a piece of the output (fin: a message's last) is dropped here: a message that began
 * while nobody listened is dropped whole, so a client joining then gets none of it. */
static bool out_skip(struct hub *h, struct out_msg *o, bool fin)
{
    if (!o->open)
        o->skip = h->nlive == 0;
    o->open = !fin;
    return o->skip;
}

/* One piece of an output line (bridge_lines_cut's emit). */
static void emit_line(void *ctx, const uint8_t *p, size_t n, bool fin)
{
    struct hub_run *r = ctx;
    struct hub *h = r->hub;

    if (h && h->cl)
        pub_piece(h, p, n, fin); /* for the other instances */
    if (!h || out_skip(h, &r->msg, fin))
        return; /* nobody listens here: dropped */
    if (options.addressed) {
        collect_line(h, &r->line, p, n, fin);
        return;
    }
    if (log_piece(h, &r->repair, !options.binary, p, n, fin, NULL))
        log_error(0, "out of memory: output lost");
}

/* ---------------------------------------------------------------- the output: --framing */

/* A piece of a message decoded from the output (text: valid UTF-8 so far), for this instance's
 * clients and the others. */
static void framed_piece(struct hub_run *r, bool text, const uint8_t *p, size_t n, bool fin)
{
    struct hub *h = r->hub;

    if (h->cl)
        cluster_publish(h->cl, !text, p, n, fin);
    if (!out_skip(h, &r->msg, fin) && log_piece(h, NULL, text, p, n, fin, NULL))
        log_error(0, "out of memory: output lost");
}

/* length: a piece of a record's payload (framing_len_feed's). */
static void len_piece(void *ctx, bool text, const uint8_t *p, size_t n, bool fin)
{
    framed_piece(ctx, text, p, n, fin);
}

/* The output broke the framing (e; NULL: out of memory): nothing more of it is taken; the run
 * ends (out_eof_check) with 1011 for every client. */
static void framed_bad(struct hub_run *r, const struct framing_error *e)
{
    r->bad = true;
    if (e)
        framing_error_text(e, r->bad_reason, sizeof r->bad_reason);
    else
        snprintf(r->bad_reason, sizeof r->bad_reason, "out of memory");
    log_error(0, "shared program %s: %s", r->hub->file, r->bad_reason);
    bridge_json_drop(&r->json);
    r->ready = 0;
}

/* json: the decoded message enters the log a part (a pool buffer) at a time while some
 * member can take more, as stdout is read (hub_want_output). Returns true once it is all in. */
static bool json_feed(struct hub_run *r)
{
    struct hub *h = r->hub;
    struct bridge_json *j = &r->json;

    while (r->ready) {
        bool last = r->fed + 1 >= j->nparts;
        if (!hub_want_output(h))
            return false;
        if (j->nparts == 0)
            framed_piece(r, r->ready == FRAMING_TEXT, NULL, 0, true);
        else
            framed_piece(r, r->ready == FRAMING_TEXT, j->parts[r->fed]->data,
                         last ? j->last : BUF_SIZE, last);
        r->fed++;
        if (last) {
            bridge_json_drop(j);
            r->ready = 0;
        }
        hub_fan_out(h);
    }
    return true;
}

/* length: the bytes at the end of p[0..n) that begin a short record not all read yet (the
 * decoder being between records): carried to the next read, so that a short message enters
 * the log whole -- as lines mode carries a partial line -- and a slow client can be dropped
 * whole messages rather than closed in the middle of one. */
static size_t len_carry(const struct framing_len_dec *d, const uint8_t *p, size_t n)
{
    size_t off = 0, len = 0;

    if (d->nhdr || d->left)
        return 0;
    while (n - off >= FRAMING_REC_HEADER) {
        const uint8_t *h = p + off;
        len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
        if (len > n - off - FRAMING_REC_HEADER)
            break;
        off += FRAMING_REC_HEADER + len;
    }
    if (n - off >= FRAMING_REC_HEADER && FRAMING_REC_HEADER + len > BRIDGE_CARRY_MAX)
        return 0;
    if (off < n && (p[off] & ~FRAMING_REC_MORE) != FRAMING_REC_TEXT &&
        (p[off] & ~FRAMING_REC_MORE) != FRAMING_REC_BINARY)
        return 0; /* not a record: the decoder says so now */
    return n - off;
}

/* --framing: decodes what the read region holds. json stops at a message that cannot enter
 * the log whole yet (the rest of the region waits with it). */
static void framed_cut(struct hub_run *r, const uint8_t *region)
{
    size_t used = 0;
    int res = FRAMING_TEXT;

    if (r->bad || !r->hub) {
        used = r->rlen;
    } else if (options.framing == FRAMING_LENGTH) {
        used = r->rlen - (r->eof ? 0 : len_carry(&r->len, region, r->rlen));
        if ((used && framing_len_feed(&r->len, region, used, len_piece, r) == FRAMING_BAD) ||
            (r->eof && framing_len_finish(&r->len) == FRAMING_BAD))
            framed_bad(r, &r->len.err);
    } else {
        while (!r->bad && res != FRAMING_MORE && json_feed(r)) {
            const uint8_t *p = r->rlen > used ? region + used : NULL;
            used += bridge_json_feed(&r->json, p, r->rlen - used, r->eof, &res);
            if (res == FRAMING_BAD) {
                framed_bad(r, &r->json.dec.err);
            } else if (res == BRIDGE_JSON_NOMEM) {
                framed_bad(r, NULL);
            } else if (res != FRAMING_MORE) {
                r->ready = res;
                r->fed = 0;
            }
        }
        if (r->bad)
            used = r->rlen;
    }
    r->roff += (uint32_t)used;
    r->rlen -= (uint32_t)used;
}

static struct buf *out_alloc(struct child *c, enum child_stream cs, size_t *off)
{
    struct hub_run *r = run_of(c);
    struct buf *b = r->rbuf;

    (void)cs;
    if (!b || BUF_SIZE - (r->roff + r->rlen) < BUF_SIZE / 4) {
        struct buf *nb = buf_get();
        if (!nb)
            return NULL;
        if (b)
            memcpy(nb->data, b->data + r->roff, r->rlen);
        buf_unref(b);
        r->rbuf = b = nb;
        r->roff = 0;
    }
    *off = r->roff + r->rlen;
    buf_ref(b);
    return b;
}

static void out_cut(struct hub_run *r)
{
    uint8_t *region = r->rbuf ? r->rbuf->data + r->roff : NULL;
    size_t keep = 0;

    if (options.framing != FRAMING_LINES) {
        framed_cut(r, region);
        return;
    }
    if (r->rlen && options.binary && !options.addressed) {
        emit_line(r, region, r->rlen, true);
    } else if (r->rlen) {
        keep = bridge_lines_cut(&r->lines, region, r->rlen, r->rscanned, BRIDGE_CARRY_MAX,
                                emit_line, r);
    }
    r->roff += r->rlen - (uint32_t)keep;
    r->rlen = r->rscanned = (uint32_t)keep;
    if (r->eof) {
        if (!options.binary || options.addressed)
            bridge_lines_finish(&r->lines, region ? region + r->roff : NULL, r->rlen, emit_line, r);
        r->rlen = r->rscanned = 0;
    }
}

static void out_read(struct child *c, enum child_stream cs, ssize_t nread, struct buf *b,
                     size_t off)
{
    struct hub_run *r = run_of(c);
    struct hub *h = r->hub;

    (void)cs;
    (void)off;
    buf_unref(b);
    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug(0, "stdout: %s", uv_strerror((int)nread));
        r->eof = true;
        r->reading = false;
    } else if (nread > 0 && r->rbuf) {
        r->rlen += (uint32_t)nread;
    }
    if (nread != 0)
        out_cut(r);
    if (h)
        pub_flush(h);
    out_release(r);
    if (h) {
        hub_fan_out(h);
        hub_update_reads(h);
    }
}

/* json: output waiting for the members: a message not all in the log yet (and the rest of
 * the read region after it). */
static bool out_waiting(const struct hub_run *r)
{
    return r->ready != 0;
}

/* At the end of stdout, once everything read is taken: the pipe and buffer go. */
static void out_release(struct hub_run *r)
{
    if (!r->eof || (!r->bad && out_waiting(r)))
        return;
    buf_unref(r->rbuf);
    r->rbuf = NULL;
    r->rlen = r->roff = 0;
    if (child_stream_open(&r->c, CHILD_STDOUT))
        child_close_stdout(&r->c);
}

/* json: the members took some output: what waited goes on (then stdout is read again). */
static void out_resume(struct hub_run *r)
{
    framed_cut(r, r->rbuf ? r->rbuf->data + r->roff : NULL);
    out_release(r);
    hub_fan_out(r->hub);
    out_eof_check(r);
}

/* Some member can take more output (or nobody listens here, so it is dropped), and Redis
 * keeps up. */
static bool hub_want_output(struct hub *h)
{
    if (h->cl && cluster_busy(h->cl))
        return false; /* Redis takes the output slower than the program prints: wait */
    if (h->nlive == 0)
        return true;
    for (struct hub_member *m = h->members; m; m = m->next)
        if (!m->closing && (m->waiting || h->end - m->pos < HUB_READ_MARK))
            return true;
    return false;
}

/* Reads stdout while some member has room (or nobody listens); json: first what waits. */
static void hub_update_reads(struct hub *h)
{
    struct hub_run *r = h->run;
    bool want;

    if (r && out_waiting(r) && !r->resuming && hub_want_output(h)) {
        r->resuming = true;
        out_resume(r);
        r->resuming = false;
        r = h->run; /* the run may be over now */
    }
    if (!r || r->eof || !child_stream_open(&r->c, CHILD_STDOUT))
        return;
    want = !r->bad && !out_waiting(r) && hub_want_output(h);
    if (want && !r->reading) {
        r->reading = child_read_start(&r->c, CHILD_STDOUT) == 0;
    } else if (!want && r->reading) {
        child_read_stop(&r->c, CHILD_STDOUT);
        r->reading = false;
    }
    r->paused = !want;
}

/* ---------------------------------------------------------------- stdin */

struct hub_write {
    struct child_write cw;
    struct hub_run *run;
    uint8_t *data;
};

static void every_member_update_reads(struct hub *h)
{
    for (struct hub_member *m = h->members; m; m = m->next)
        bridge_update_reads(m->br);
}

static void stdin_done(struct child_write *w, int status)
{
    struct hub_write *hw = w->data;
    struct hub_run *r = hw->run;
    struct hub *h = r->hub;

    if (status < 0 && status != UV_ECANCELED)
        log_debug(0, "stdin: %s", uv_strerror(status));
    free(hw->data);
    free(hw);
    r->writes--;
    if (r->closed && r->writes == 0) {
        free(r);
        return;
    }
    if (h && h->in_paused && child_stdin_queued(&r->c) < CHILD_LOW_WATER) {
        h->in_paused = false;
        every_member_update_reads(h);
    }
    if (h && h->cl && child_stdin_queued(&r->c) < CHILD_LOW_WATER)
        cluster_input_resume(h->cl);
}

/* Writes data[0..n) (taken: freed after the write) to the program's stdin as one write. */
static void stdin_put(struct hub *h, uint8_t *data, size_t n, unsigned long id)
{
    struct hub_write *hw;
    uv_buf_t b;

    if (!h->run || !child_stdin_open(&h->run->c) || !(hw = malloc(sizeof *hw))) {
        log_debug(id, "the program's stdin is closed: a message dropped");
        free(data);
        return;
    }
    hw->run = h->run;
    hw->data = data;
    hw->cw.data = hw;
    b = uv_buf_init((char *)data, (unsigned)n);
    if (child_write(&h->run->c, &hw->cw, &b, 1, stdin_done) != 0) {
        free(data);
        free(hw);
        return;
    }
    h->run->writes++;
}

/* Addressed mode: an event line to stdin (built by hubmsg). */
static void stdin_event(struct hub *h, uint8_t *line, size_t n, unsigned long id)
{
    if (!line) {
        log_error(id, "out of memory: an event for the program lost");
        return;
    }
    stdin_put(h, line, n, id);
}

/* Addressed mode: an event line of m (built by hubmsg; taken) to the program: through Redis
 * for a member whose program ran elsewhere when it joined (its events keep that one path,
 * in order), else to stdin. */
static void member_event(struct hub_member *m, char kind, uint8_t *line, size_t n)
{
    struct hub *h = m->hub;

    if (m->remote && line) {
        cluster_send_client(h->cl, kind, m->id, line, n);
        free(line);
        return;
    }
    stdin_event(h, line, n, m->conn);
}

/* Addressed mode: the program hears that m joined, with its environment (once m is attached
 * and has its id: --redis hands them out). */
static void member_join(struct hub_member *m)
{
    struct hub *h = m->hub;
    uint8_t *line;
    size_t n;

    if (m->joined || !m->br || !m->id || m->closing)
        return;
    m->remote = h->cl && !(cluster_owner(h->cl) && h->run);
    m->joined = true;
    if (h->cl)
        log_debug(m->conn, "--shared=addressed: client id %lu", m->id);
    line = hubmsg_event_join(m->id, m->env, &n);
    member_event(m, 'j', line, n);
    free(m->env);
    m->env = NULL;
}

/* ---------------------------------------------------------------- the sink (members' input) */

/* Room for n more bytes of m's inbound message. false: out of memory (the message is lost:
 * dropped at its end, never written in part). */
static bool in_room(struct hub_member *m, size_t n)
{
    if (m->in_lost)
        return false;
    if (m->in_len + n > m->in_cap) {
        size_t cap = m->in_cap ? m->in_cap : 256;
        while (cap < m->in_len + n)
            cap *= 2;
        uint8_t *nb = realloc(m->in, cap);
        if (!nb) {
            m->in_lost = true;
            return false;
        }
        m->in = nb;
        m->in_cap = cap;
    }
    return true;
}

/* length: a record's header goes at m->in + m->rec, for the payload after it. */
static void in_record_end(struct hub_member *m, bool more)
{
    framing_rec_header(m->in + m->rec, m->in_text, more,
                       (uint32_t)(m->in_len - m->rec - FRAMING_REC_HEADER));
}

/* length: a record starts (its header is written at its end). */
static void in_record_begin(struct hub_member *m)
{
    if (!in_room(m, FRAMING_REC_HEADER))
        return;
    m->rec = m->in_len;
    m->in_len += FRAMING_REC_HEADER;
}

void hub_in_begin(struct hub_member *m, bool text)
{
    if (!m)
        return;
    m->in_text = text;
    m->in_len = 0;
    m->in_lost = false;
    if (options.addressed)
        return;
    if (options.framing == FRAMING_JSON && in_room(m, FRAMING_JSON_OPEN_MAX))
        m->in_len += framing_json_enc_begin(&m->enc, text, m->in + m->in_len);
    else if (options.framing == FRAMING_LENGTH)
        in_record_begin(m);
}

/* length: p[0..n) into the open record (a record holds at most 4 GiB - 1: then another). */
static void in_record_data(struct hub_member *m, const uint8_t *p, size_t n)
{
    while (n > 0 && in_room(m, n)) {
        size_t room = UINT32_MAX - (m->in_len - m->rec - FRAMING_REC_HEADER);
        size_t k = n < room ? n : room;
        memcpy(m->in + m->in_len, p, k);
        m->in_len += k;
        p += k;
        n -= k;
        if (n) {
            in_record_end(m, true);
            in_record_begin(m);
        }
    }
}

void hub_in_data(struct hub_member *m, const uint8_t *p, size_t n)
{
    size_t used;

    if (!m)
        return;
    if (options.addressed || options.framing == FRAMING_LINES) {
        if (in_room(m, n)) {
            memcpy(m->in + m->in_len, p, n);
            m->in_len += n;
        }
    } else if (options.framing == FRAMING_LENGTH) {
        in_record_data(m, p, n);
    } else if (in_room(m, 6 * n + FRAMING_JSON_PIECE_MIN)) {
        /* json: 6 bytes a byte at most (\u00XX), base64 less */
        m->in_len +=
            framing_json_enc_data(&m->enc, p, n, &used, m->in + m->in_len, m->in_cap - m->in_len);
    }
}

void hub_in_end(struct hub_member *m)
{
    struct hub *h;
    uint8_t *data;
    size_t n = 0;

    if (!m)
        return;
    h = m->hub;
    if (m->in_lost || !in_room(m, FRAMING_JSON_CLOSE_MAX)) { /* room for any ending */
        log_error(m->conn, "out of memory: a message dropped");
        m->in_len = 0;
        return;
    }
    if (options.addressed) {
        data = hubmsg_event_message(m->id, m->in, m->in_len, !m->in_text, &n);
        if (m->joined)
            member_event(m, 'm', data, n);
        else
            free(data);
        m->in_len = 0;
        return;
    }
    if (options.framing == FRAMING_JSON)
        m->in_len += framing_json_enc_end(&m->enc, m->in + m->in_len);
    else if (options.framing == FRAMING_LENGTH)
        in_record_end(m, false);
    else if (m->in_text && !options.binary)
        m->in[m->in_len++] = '\n';
    data = m->in;
    n = m->in_len;
    m->in = NULL;
    m->in_len = m->in_cap = 0;
    if (n && h->cl && !cluster_owner(h->cl)) {
        cluster_send_input(h->cl, data, n); /* the program runs on another instance */
        free(data);
    } else if (n) {
        stdin_put(h, data, n, m->conn);
    } else {
        free(data);
    }
}

size_t hub_in_queued(const struct hub_member *m)
{
    struct hub *h;
    size_t q;

    if (!m)
        return 0;
    h = m->hub;
    if (options.addressed && !m->joined)
        return SIZE_MAX; /* waiting for its client id: not read */
    if (h->cl && (options.addressed ? m->remote : !cluster_owner(h->cl))) {
        q = cluster_queued(h->cl); /* toward Redis: drained() resumes */
        if (q > CHILD_HIGH_WATER)
            h->in_paused = true;
        return q;
    }
    if (!h->run || !child_stdin_open(&h->run->c))
        return SIZE_MAX; /* waiting for the program: not read */
    q = child_stdin_queued(&h->run->c);
    if (q > CHILD_HIGH_WATER)
        h->in_paused = true;
    return q;
}

/* ---------------------------------------------------------------- the program's life */

static void run_closed(struct child *c)
{
    struct hub_run *r = run_of(c);

    buf_unref(r->rbuf);
    free(r->line.p);
    bridge_json_free(&r->json);
    r->closed = true;
    nruns--;
    if (r->writes == 0)
        free(r);
}

/* The hub lets go of its run (it exited, or it is being stopped): the run ends on its own. */
static void run_detach(struct hub *h)
{
    struct hub_run *r = h->run;

    if (!r)
        return;
    h->run = NULL;
    r->hub = NULL;
    if (r->reading)
        child_read_stop(&r->c, CHILD_STDOUT);
    r->reading = false;
    if (r->c.exited)
        child_close(&r->c);
    else
        child_stop(&r->c);
}

static void timer_fire(uv_timer_t *t);

/* Every client is closed once it got what the program printed (code, reason). */
static void members_close_all(struct hub *h, uint16_t code, const char *reason)
{
    /* a message the program left unfinished is not sent further */
    uint64_t end = h->msg_open ? h->msg_start : h->end;

    for (struct hub_member *m = h->members; m; m = m->next) {
        if (m->closing)
            continue;
        m->closing = true;
        m->close_pos = end;
        m->close_code = code;
        m->close_reason = strdup(reason);
    }
    log_abandon(h);
    h->nlive = 0;
    if (h->cl)
        cluster_want(h->cl, false);
    hub_fan_out(h);
}

/* The program is over (exited, its output read): every member is told; the next run waits
 * for the backoff. */
static void hub_program_over(struct hub *h)
{
    struct hub_run *r = h->run;
    char st[64], reason[FRAMING_REASON_MAX + 1];
    uint64_t ran = uv_now(options.loop) - h->started_ms;
    uint16_t code;

    if (r->bad)
        snprintf(st, sizeof st, "bad output");
    else
        child_status_string(&r->c, st, sizeof st);
    if (ran >= HUB_STABLE_MS)
        h->backoff_ms = 0;
    else
        h->backoff_ms = h->backoff_ms ? h->backoff_ms * 2 : HUB_BACKOFF_MIN;
    if (h->backoff_ms > HUB_BACKOFF_MAX)
        h->backoff_ms = HUB_BACKOFF_MAX;
    if (r->bad) { /* --framing: it is stopped (run_detach); the next run waits as after an exit */
        code = WS_CLOSE_INTERNAL_ERROR;
        snprintf(reason, sizeof reason, "%s", r->bad_reason);
    } else if (!r->c.term_signal && r->c.exit_status == 0) {
        code = WS_CLOSE_NORMAL;
        snprintf(reason, sizeof reason, "program exited");
    } else {
        code = HUB_CLOSE_RESTART;
        snprintf(reason, sizeof reason, "program %s: restarting", st);
    }
    log_info(0, "shared program %s (%s): closing its %u clients with %u", h->file, st, h->nlive,
             code);
    run_detach(h);
    if (h->cl) { /* every instance's clients are told, and another run may start anywhere */
        cluster_publish_over(h->cl, code, reason);
        cluster_release(h->cl, true);
    }
    members_close_all(h, code, reason);
    if (h->backoff_ms) {
        h->timer_backoff = true;
        h->timer_linger = false;
        uv_timer_start(&h->timer, timer_fire, h->backoff_ms, 0);
    }
    hub_maybe_free(h);
}

static void run_exit(struct child *c)
{
    struct hub_run *r = run_of(c);
    struct hub *h = r->hub;

    if (!h) {
        child_close(c);
        return;
    }
    if (!r->eof) {
        /* what it printed comes first (EOF follows); what is left of its group holding stdout
         * open is told to go */
        child_signal(c, SIGTERM);
        return;
    }
    if (!r->bad && out_waiting(r))
        return; /* json: the rest of its output first (out_eof_check) */
    hub_program_over(h);
}

static void timer_fire(uv_timer_t *t)
{
    struct hub *h = t->data;

    if (h->timer_linger) {
        h->timer_linger = false;
        if (h->nlive == 0 && h->run && h->cl && cluster_others(h->cl)) {
            /* clients on other instances: the program runs on for them */
            h->timer_linger = true;
            uv_timer_start(&h->timer, timer_fire, 2 * CLUSTER_TICK_MS, 0);
        } else if (h->nlive == 0 && h->run) {
            log_debug(0, "no client for %u ms: stopping %s", options.linger_ms, h->file);
            run_detach(h);
            if (h->cl)
                cluster_release(h->cl, true); /* no client anywhere (cluster_others) */
            log_reset(h);
        }
    } else if (h->timer_backoff && h->cl) {
        h->timer_backoff = false;
        cluster_want(h->cl, h->nlive > 0); /* whoever has clients then starts it */
    } else if (h->timer_backoff) {
        h->timer_backoff = false;
        if (h->nlive && !h->run && hub_spawn(h, NULL) != 0) {
            for (struct hub_member *m = h->members, *next; m; m = next) {
                next = m->next;
                if (!m->closing)
                    member_kick(m, WS_CLOSE_INTERNAL_ERROR, "cannot restart the program");
            }
        }
        if (h->run)
            every_member_update_reads(h);
    }
    hub_maybe_free(h);
}

static void hub_closed(uv_handle_t *t)
{
    struct hub *h = t->data;

    free(h->file);
    free(h->argv);
    free(h->env);
    free(h->pub);
    free(h->rline.p);
    free(h);
}

/* A hub with no member, no program and no backoff left is removed. */
static void hub_maybe_free(struct hub *h)
{
    if (h->nmembers || h->run || h->timer_backoff || h->timer_linger || h->closing)
        return;
    h->closing = true;
    cluster_free(h->cl);
    h->cl = NULL;
    for (struct hub **p = &hubs; *p; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            break;
        }
    log_free(h);
    uv_close((uv_handle_t *)&h->timer, hub_closed);
}

/* stdout is over: the program is over once it exited too (one that closed its stdout but runs
 * on is stopped, as websocketd does with a session's). */
static void out_eof_check(struct hub_run *r)
{
    if (r->hub && r->bad) {
        hub_program_over(r->hub);
        return;
    }
    if (!r->hub || !r->eof || out_waiting(r))
        return;
    if (r->c.exited)
        hub_program_over(r->hub);
    else
        child_stop(&r->c);
}

static void run_out_read(struct child *c, enum child_stream cs, ssize_t nread, struct buf *b,
                         size_t off)
{
    struct hub_run *r = run_of(c);

    out_read(c, cs, nread, b, off);
    out_eof_check(r);
}

static const struct child_io_settings run_settings = {
    .on_alloc = out_alloc,
    .on_read = run_out_read,
};

static int hub_spawn(struct hub *h, const struct route *rt)
{
    struct hub_run *r = calloc(1, sizeof *r);
    int e;

    if (!r)
        return UV_ENOMEM;
    r->hub = h;
    r->c.data = r;
    r->c.on_exit = run_exit;
    r->c.on_closed = run_closed;
    r->c.io = &run_settings;
    bridge_lines_init(&r->lines);
    ws_utf8_repair_init(&r->repair);
    bridge_json_init(&r->json, FRAMING_JSON_MAX);
    framing_len_dec_init(&r->len);
    if (rt)
        child_exec_checked(&r->c, rt);
    nruns++;
    e = child_spawn(&r->c, options.loop, h->file, h->argv, h->env, options.closems);
    if (e) {
        r->hub = NULL;
        child_close(&r->c); /* run_closed frees r */
        return e;
    }
    h->run = r;
    h->started_ms = uv_now(options.loop);
    h->pub_len = 0;
    h->pub_open = false;
    child_log_stderr(&r->c, 0, "shared program stderr");
    log_info(0, "shared program %s started, pid %d", h->file, r->c.pid);
    hub_update_reads(h);
    return 0;
}

/* ---------------------------------------------------------------- across instances (--redis) */

static void backoff_start(struct hub *h)
{
    h->backoff_ms = h->backoff_ms ? h->backoff_ms * 2 : HUB_BACKOFF_MIN;
    if (h->backoff_ms > HUB_BACKOFF_MAX)
        h->backoff_ms = HUB_BACKOFF_MAX;
    h->timer_backoff = true;
    h->timer_linger = false;
    uv_timer_start(&h->timer, timer_fire, h->backoff_ms, 0);
}

#define HUB_RESTART_REASON "program restarted: the instance running it went away"

/* This instance holds the lock: the program starts here (if anyone still wants it). A run
 * that did not end is not continued silently: its clients, everywhere, are told as a local
 * restart tells them (1012), and the next clients start a new run. */
static void cl_owned(void *ctx, bool restart)
{
    struct hub *h = ctx;
    int e;

    if (h->run)
        return;
    if (restart) {
        log_info(0, "shared program %s: its run on another instance did not end: closing its "
                    "clients with %u",
                 h->file, HUB_CLOSE_RESTART);
        cluster_publish_over(h->cl, HUB_CLOSE_RESTART, HUB_RESTART_REASON);
        cluster_release(h->cl, true);
        members_close_all(h, HUB_CLOSE_RESTART, HUB_RESTART_REASON);
        hub_maybe_free(h);
        return;
    }
    if (h->nlive == 0 || h->timer_backoff) {
        cluster_release(h->cl, true); /* nobody here wants it now: someone else may take it */
        return;
    }
    e = hub_spawn(h, NULL);
    if (e) {
        log_error(0, "shared program %s: cannot start: %s", h->file, uv_strerror(e));
        cluster_publish_over(h->cl, WS_CLOSE_INTERNAL_ERROR, "cannot start the program");
        cluster_release(h->cl, true);
        members_close_all(h, WS_CLOSE_INTERNAL_ERROR, "cannot start the program");
        backoff_start(h);
        hub_maybe_free(h);
        return;
    }
    every_member_update_reads(h);
}

/* The lock went to another instance (or expired): the program stops here, the clients stay
 * and get the new owner's output. */
static void cl_lost(void *ctx)
{
    struct hub *h = ctx;

    if (h->timer_linger) {
        uv_timer_stop(&h->timer);
        h->timer_linger = false;
    }
    run_detach(h);
    every_member_update_reads(h);
    hub_maybe_free(h);
}

static void cl_output(void *ctx, bool binary, const uint8_t *p, size_t n, bool fin)
{
    struct hub *h = ctx;

    if (options.addressed) { /* instructions: each instance obeys them for its own clients */
        collect_line(h, &h->rline, p, n, fin);
        return;
    }
    if (out_skip(h, &h->rmsg, fin))
        return;
    if (log_piece(h, &h->rrepair, !binary, p, n, fin, NULL))
        log_error(0, "out of memory: output lost");
}

static void cl_output_end(void *ctx)
{
    hub_fan_out(ctx); /* once per read from Redis: one write per client for many messages */
}

static void cl_over(void *ctx, uint16_t code, const char *reason)
{
    struct hub *h = ctx;

    log_info(0, "shared program %s ended on another instance: closing its %u clients here with %u",
             h->file, h->nlive, code);
    ws_utf8_repair_init(&h->rrepair);
    h->rmsg.open = false;
    members_close_all(h, code, reason);
    hub_maybe_free(h);
}

static void cl_input(void *ctx, const uint8_t *p, size_t n)
{
    struct hub *h = ctx;
    uint8_t *copy = malloc(n ? n : 1);

    if (!copy) {
        log_error(0, "out of memory: a message for the program lost");
        return;
    }
    memcpy(copy, p, n);
    stdin_put(h, copy, n, 0);
}

static bool cl_input_room(void *ctx)
{
    struct hub *h = ctx;

    return h->run && child_stdin_open(&h->run->c) &&
           child_stdin_queued(&h->run->c) < CHILD_HIGH_WATER;
}

static void cl_drained(void *ctx)
{
    struct hub *h = ctx;

    hub_update_reads(h);
    if (h->in_paused) {
        h->in_paused = false;
        every_member_update_reads(h);
    }
}

/* Client ids came: the members waiting for one join. */
static void cl_ids(void *ctx)
{
    struct hub *h = ctx;

    for (struct hub_member *m = h->members; m; m = m->next) {
        if (m->id || m->closing)
            continue;
        m->id = (unsigned long)cluster_id_take(h->cl);
        if (!m->id)
            break;
        member_join(m);
    }
    every_member_update_reads(h);
}

/* A client of an instance that died: the program hears it left. */
static void cl_gone(void *ctx, uint64_t id)
{
    struct hub *h = ctx;
    size_t n;
    uint8_t *line = hubmsg_event_leave((unsigned long)id, &n);

    stdin_event(h, line, n, 0);
}

#define HUB_LAPSED_REASON "lost touch with the program (Redis away): connect again"

/* This instance was away from Redis for longer than its mark lasts: the owner may have told
 * the program that its clients left. Those whose events go through Redis are closed (1012),
 * their leaves sent (dropped by an owner that no longer knows them). */
static void hub_left(struct hub *h, bool now);

static void cl_lapsed(void *ctx)
{
    struct hub *h = ctx;
    unsigned kicked = 0;

    for (struct hub_member *m = h->members, *next; m; m = next) {
        next = m->next;
        if (m->remote && m->joined && !m->closing) {
            member_kick(m, HUB_CLOSE_RESTART, HUB_LAPSED_REASON);
            kicked++;
        }
    }
    if (kicked) {
        log_info(0, "redis (%s): this instance was away from Redis too long: %u clients closed "
                    "(the program may have been told they left)",
                 h->file, kicked);
        hub_left(h, false);
    }
}

static const struct cluster_events hub_cluster_events = {
    .owned = cl_owned,
    .lost = cl_lost,
    .output = cl_output,
    .output_end = cl_output_end,
    .over = cl_over,
    .input = cl_input,
    .input_room = cl_input_room,
    .drained = cl_drained,
    .ids = cl_ids,
    .gone = cl_gone,
    .lapsed = cl_lapsed,
};

/* ---------------------------------------------------------------- joining and leaving */

/* A NULL-terminated string array in one allocation (argv, an environment). */
static char **argv_copy(char *const *argv)
{
    size_t n = 0, bytes = 0;
    char **out, *p;

    while (argv[n])
        bytes += strlen(argv[n++]) + 1;
    out = malloc((n + 1) * sizeof *out + bytes);
    if (!out)
        return NULL;
    p = (char *)(out + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(argv[i]) + 1;
        memcpy(p, argv[i], l);
        out[i] = p;
        p += l;
    }
    out[n] = NULL;
    return out;
}

static struct hub *hub_find(const char *file)
{
    for (struct hub *h = hubs; h; h = h->next)
        if (!h->closing && strcmp(h->file, file) == 0)
            return h;
    return NULL;
}

static struct hub *hub_new(const char *file, char *const *argv)
{
    struct hub *h = calloc(1, sizeof *h);

    if (!h)
        return NULL;
    h->file = strdup(file);
    h->argv = argv_copy(argv);
    if (!h->file || !h->argv) {
        free(h->file);
        free(h->argv);
        free(h);
        return NULL;
    }
    ws_utf8_repair_init(&h->rrepair);
    if (options.redis &&
        !(h->cl = cluster_new(options.loop, options.redis, file, &hub_cluster_events, h))) {
        free(h->file);
        free(h->argv);
        free(h);
        return NULL;
    }
    uv_timer_init(options.loop, &h->timer);
    h->timer.data = h;
    h->next = hubs;
    hubs = h;
    return h;
}

int hub_join(struct hub_member **out, const char *file, char *const *argv, char **env,
             const struct route *rt, unsigned long conn, const struct hub_member_events *ev,
             void *ctx)
{
    struct hub *h = hub_find(file);
    struct hub_member *m;
    int e;

    *out = NULL;
    if (!h && !(h = hub_new(file, argv))) {
        free(env);
        return UV_ENOMEM;
    }
    if (!h->run && (!h->timer_backoff || h->cl)) {
        /* the environment of the client that starts it (kept for restarts) */
        free(h->env);
        h->env = env ? argv_copy(env) : NULL;
        /* --redis: it starts here once this instance holds the lock (cl_owned) */
        e = env && !h->env                                      ? UV_ENOMEM
            : h->cl && (!cluster_owner(h->cl) || h->timer_backoff) ? 0
                                                                  : hub_spawn(h, rt);
        if (e) {
            free(env);
            hub_maybe_free(h);
            return e;
        }
    }
    m = calloc(1, sizeof *m);
    if (!m || (!h->tail && !chunk_new(h))) {
        free(m);
        free(env);
        hub_maybe_free(h);
        return UV_ENOMEM;
    }
    if (h->timer_linger) {
        uv_timer_stop(&h->timer);
        h->timer_linger = false;
    }
    m->hub = h;
    m->ev = ev;
    m->ctx = ctx;
    m->conn = conn;
    m->id = options.addressed && h->cl ? (unsigned long)cluster_id_take(h->cl) : conn;
    m->env = env;
    m->next = h->members;
    if (h->members)
        h->members->prev = m;
    h->members = m;
    h->nmembers++;
    h->nlive++;
    cursor_to_end(m);
    if (h->msg_open) {
        m->waiting = true;
        h->nwaiting++;
    }
    if (h->cl && !h->timer_backoff)
        cluster_want(h->cl, true);
    *out = m;
    return 0;
}

void hub_attach(struct hub_member *m, struct bridge *br)
{
    struct hub *h = m->hub;
    const struct pmd_deflate *d = bridge_deflate(br);

    m->br = br;
    if (d && pmd_deflate_key(d)) /* shareable: compressed once for all alike (hubz.h) */
        m->z = hubz_get(&h->z, d, h->end, h->msg_open);
    m->deflate_own = d && !m->z && !d->disabled; /* per client: its window is its own */
    if (m->z)
        log_debug(m->conn, "permessage-deflate: compressed frames shared by %u clients alike",
                  hubz_users(m->z));
    else if (m->deflate_own)
        log_debug(m->conn, "permessage-deflate: compressed for this client alone");
    if (options.addressed) {
        member_join(m);
    } else {
        free(m->env);
        m->env = NULL;
    }
    hub_update_reads(h);
}

void hub_drained(struct hub_member *m)
{
    struct hub *h;

    if (!m)
        return;
    h = m->hub;
    if (!member_pump(m))
        return;
    if (h->run && h->run->paused && h->end - m->pos < HUB_READ_MARK)
        hub_update_reads(h);
}

/* Members left h (now: the server is shutting down): the program lingers, or stops. */
static void hub_left(struct hub *h, bool now)
{
    log_trim(h);
    if (h->nmembers == 0)
        log_reset(h);
    if (h->nlive == 0 && h->cl)
        cluster_want(h->cl, false);
    if (h->nlive == 0 && h->run) {
        if (now || (options.linger_ms == 0 && !h->cl)) {
            log_debug(0, "last client left: stopping %s", h->file);
            run_detach(h);
            if (h->cl) /* shutting down: clients elsewhere get the next owner's restart */
                cluster_release(h->cl, false);
        } else if (!h->timer_backoff) {
            /* --redis: at least two ticks, so that other instances' clients are known */
            unsigned ms = options.linger_ms;
            if (h->cl && ms < 2 * CLUSTER_TICK_MS)
                ms = 2 * CLUSTER_TICK_MS;
            h->timer_linger = true;
            uv_timer_start(&h->timer, timer_fire, ms, 0);
        }
    } else {
        hub_update_reads(h);
    }
    hub_maybe_free(h);
}

void hub_leave(struct hub_member *m, bool now)
{
    struct hub *h;

    if (!m)
        return;
    h = m->hub;
    member_unlink(m);
    free(m);
    hub_left(h, now);
}

void hub_shutdown_all(void)
{
    for (struct hub *h = hubs, *next; h; h = next) {
        next = h->next;
        uv_timer_stop(&h->timer);
        h->timer_linger = h->timer_backoff = false;
        run_detach(h);
        if (h->cl)
            cluster_release(h->cl, false);
        hub_maybe_free(h);
    }
}

bool hub_idle(void)
{
    return hubs == NULL && nruns == 0;
}
