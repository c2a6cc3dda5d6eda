/*
 * hubz: compressed mirrors of a hub's log (see hubz.h).
 *
 * A mirror's frames lie back to back in pool buffers; each has a record
 * (the log range it stands for, where its bytes are). Records are kept in
 * log order in an array used as a queue (head .. n), so the records of a
 * log range are found by a binary search and are contiguous.
 */
#include "build-config.h"

#include "hubz.h"

#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "buf.h"
#include "ws_error.h"
#include "ws_frame.h"

struct hubz_rec {
    uint64_t pos;     /* the log frame's position */
    uint32_t plen;    /* and length */
    uint32_t off, len; /* the mirror's frame: buf->data[off..off+len) */
    struct buf *buf;  /* one reference per record */
    bool fin;
};

struct hubz {
    struct hubz *next;
    unsigned users;
    uint32_t key;           /* pmd_deflate_key() of the members */
    struct pmd_deflate d;   /* the shared stream (no context takeover) */
    uint64_t start;         /* log position of the first frame recorded */
    bool skip;              /* created inside a message: waiting for its end */
    bool compressing;       /* the message in progress is compressed */
    bool failed;            /* out of memory: stopped */
    struct buf *cur;        /* being filled */
    uint32_t fill;
    struct hubz_rec *rec;
    size_t head, n, cap;    /* rec[head..n) are live */
};

struct hubz *hubz_get(struct hubz **list, const struct pmd_deflate *cfg, uint64_t end,
                      bool msg_open)
{
    uint32_t key = pmd_deflate_key(cfg);
    struct hubz *z;

    for (z = *list; z; z = z->next)
        if (z->key == key && !z->failed) {
            z->users++;
            return z;
        }
    if (!(z = calloc(1, sizeof *z)))
        return NULL;
    z->users = 1;
    z->key = key;
    z->d = *cfg;
    z->d.z = NULL; /* zlib state is borrowed per message (pmd.h) */
    z->start = end;
    z->skip = msg_open;
    z->next = *list;
    *list = z;
    return z;
}

unsigned hubz_users(const struct hubz *z)
{
    return z->users;
}

static void drop_all(struct hubz *z)
{
    for (size_t i = z->head; i < z->n; i++)
        buf_unref(z->rec[i].buf);
    z->head = z->n = 0;
    buf_unref(z->cur);
    z->cur = NULL;
    z->fill = 0;
}

void hubz_put(struct hubz **list, struct hubz *z)
{
    if (!z || --z->users > 0)
        return;
    for (struct hubz **p = list; *p; p = &(*p)->next)
        if (*p == z) {
            *p = z->next;
            break;
        }
    drop_all(z);
    pmd_deflate_end(&z->d);
    free(z->rec);
    free(z);
}

/* Room for one more record. */
static bool rec_room(struct hubz *z)
{
    if (z->head > 0 && z->n == z->cap) { /* slide the live records to the front */
        memmove(z->rec, z->rec + z->head, (z->n - z->head) * sizeof *z->rec);
        z->n -= z->head;
        z->head = 0;
    }
    if (z->n == z->cap) {
        size_t cap = z->cap ? 2 * z->cap : 64;
        struct hubz_rec *r = realloc(z->rec, cap * sizeof *r);
        if (!r)
            return false;
        z->rec = r;
        z->cap = cap;
    }
    return true;
}

/* Room for len bytes in the buffer being filled. */
static bool buf_room(struct hubz *z, size_t len)
{
    if (z->cur && BUF_SIZE - z->fill >= len)
        return true;
    buf_unref(z->cur);
    z->fill = 0;
    return (z->cur = buf_get()) != NULL;
}

/* Appends the mirror's frame for the log frame at pos. false: out of memory. */
static bool mirror_frame(struct hubz *z, uint64_t pos, uint32_t plen, bool text, bool first,
                         bool fin, const uint8_t *p, size_t n)
{
    uint8_t hdr[WS_FRAME_HEADER_MAX], *out = NULL;
    size_t olen = n, hl;
    enum ws_opcode op = !first ? WS_OP_CONT : text ? WS_OP_TEXT : WS_OP_BINARY;
    bool ok = false;

    if (first)
        z->compressing = pmd_deflate_wants(&z->d, n, fin);
    if (z->compressing) {
        if (pmd_deflate_piece(&z->d, p, n, fin, &out, &olen) != 0)
            return false;
        p = out;
    }
    hl = ws_frame_write_header(hdr, fin, z->compressing && first ? WS_RSV1 : 0, op, olen, NULL);
    if (hl + olen <= BUF_SIZE && rec_room(z) && buf_room(z, hl + olen)) {
        struct hubz_rec *r = &z->rec[z->n++];
        memcpy(z->cur->data + z->fill, hdr, hl);
        if (olen)
            memcpy(z->cur->data + z->fill + hl, p, olen);
        *r = (struct hubz_rec){pos, plen, z->fill, (uint32_t)(hl + olen), z->cur, fin};
        buf_ref(z->cur);
        z->fill += (uint32_t)(hl + olen);
        ok = true;
    }
    free(out);
    return ok;
}

void hubz_frame(struct hubz *list, uint64_t pos, uint32_t plen, bool text, bool first, bool fin,
                const uint8_t *p, size_t n)
{
    for (struct hubz *z = list; z; z = z->next) {
        if (z->failed)
            continue;
        if (z->skip) {
            if (fin) {
                z->skip = false;
                z->start = pos + plen;
            }
            continue;
        }
        if (!mirror_frame(z, pos, plen, text, first, fin, p, n)) {
            z->failed = true;
            pmd_deflate_end(&z->d);
            drop_all(z);
        }
    }
}

void hubz_trim(struct hubz *list, uint64_t pos)
{
    for (struct hubz *z = list; z; z = z->next) {
        while (z->head < z->n && z->rec[z->head].pos + z->rec[z->head].plen <= pos)
            buf_unref(z->rec[z->head++].buf);
        if (z->head == z->n)
            z->head = z->n = 0;
    }
}

void hubz_reset(struct hubz *list)
{
    for (struct hubz *z = list; z; z = z->next) {
        drop_all(z);
        pmd_deflate_end(&z->d); /* a message cut short by the reset */
        z->start = 0;
        z->skip = false;
    }
}

void hubz_abandon(struct hubz *list, uint64_t pos)
{
    for (struct hubz *z = list; z; z = z->next) {
        pmd_deflate_end(&z->d); /* the message's zlib state */
        z->compressing = false;
        if (z->skip) { /* it was waiting for that message's end */
            z->skip = false;
            z->start = pos;
        }
    }
}

/* The first live record at or after log position pos. */
static size_t rec_find(const struct hubz *z, uint64_t pos)
{
    size_t lo = z->head, hi = z->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->rec[mid].pos < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int hubz_send(struct hubz *z, struct bridge *br, uint64_t pos, struct buf *owner, const uint8_t *p,
              size_t n)
{
    uint64_t end = pos + n;
    size_t i;
    int r;

    if (z->failed)
        return WS_E_NOMEM;
    if (pos < z->start) { /* before the mirror began (it joined inside a message) */
        size_t k = end <= z->start ? n : (size_t)(z->start - pos);
        if ((r = hubz_send_each(br, owner, p, k)) != 0 || k == n)
            return r;
        pos += k;
    }
    for (i = rec_find(z, pos); pos < end; i++) {
        if (i == z->n || z->rec[i].pos != pos)
            return WS_E_NOMEM; /* never: every frame from start on has its record */
        /* a run of records whose frames are adjacent in one buffer goes out as one span */
        size_t j = i;
        unsigned msgs = 0;
        uint32_t len = 0;
        do {
            msgs += z->rec[j].fin;
            len += z->rec[j].len;
            pos += z->rec[j].plen;
            j++;
        } while (pos < end && j < z->n && z->rec[j].buf == z->rec[i].buf &&
                 z->rec[j].off == z->rec[i].off + len);
        r = bridge_send_frames(br, z->rec[i].buf, z->rec[i].buf->data + z->rec[i].off, len, msgs);
        if (r)
            return r;
        i = j - 1;
    }
    return 0;
}

/* The log's own frame at p[0..n): header length and payload length (server frames: unmasked,
 * lengths up to 16 bits, as hub.c writes them). false: not a whole frame. */
static bool log_frame_at(const uint8_t *p, size_t n, size_t *hl, size_t *len)
{
    if (n < 2)
        return false;
    *len = p[1] & 0x7Fu;
    *hl = 2;
    if (*len == 126) {
        if (n < 4)
            return false;
        *len = (size_t)p[2] << 8 | p[3];
        *hl = 4;
    } else if (*len == 127) {
        return false; /* never: hub.c's frames are at most 16 KiB */
    }
    return *hl + *len <= n;
}

int hubz_send_each(struct bridge *br, struct buf *owner, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t hl, len;
        int r;
        if (!log_frame_at(p, n, &hl, &len))
            return WS_E_INVAL;
        /* a CONT frame's type is the message's, which the bridge keeps */
        r = bridge_send_piece(br, (p[0] & 0x0Fu) == WS_OP_TEXT, (p[0] & 0x80u) != 0, p + hl, len,
                              owner);
        if (r)
            return r;
        p += hl + len;
        n -= hl + len;
    }
    return 0;
}
