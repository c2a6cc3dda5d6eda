/*
 * ws_frame: the incremental frame parser, the header writer and masking.
 *
 * The parser is a switch on its state with one small function per state.
 * A header is at most 14 bytes; it is gathered in p->hdr across calls (only
 * as many bytes as the header needs, never payload), then decoded and
 * checked once whole. Payload is handed out in the caller's buffer.
 */
#include "ws_frame.h"

#include <string.h>

enum {
    ST_HEADER,  /* gathering header bytes */
    ST_PAYLOAD, /* handing out payload */
    ST_ERROR,   /* protocol violation: stopped for good */
};

void ws_frame_parser_init(struct ws_frame_parser *p, enum ws_role role,
                          const struct ws_frame_settings *settings)
{
    memset(p, 0, sizeof *p);
    p->settings = settings;
    p->role = role;
    p->state = ST_HEADER;
    p->hdr_need = 2;
}

bool ws_frame_parser_idle(const struct ws_frame_parser *p)
{
    return p->state == ST_HEADER && p->hdr_have == 0;
}

static void fail(struct ws_frame_parser *p, const char *reason)
{
    p->state = ST_ERROR;
    p->error_code = WS_CLOSE_PROTOCOL_ERROR;
    p->error_reason = reason;
}

static bool opcode_known(unsigned op)
{
    return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

/* Bytes the header needs in total, known once the first two have arrived. */
static uint8_t header_size(const uint8_t *hdr)
{
    uint8_t n = 2;
    unsigned len7 = hdr[1] & 0x7Fu;
    if (len7 == 126)
        n += 2;
    else if (len7 == 127)
        n += 8;
    if (hdr[1] & 0x80u)
        n += 4;
    return n;
}

/* Checks the first two bytes as soon as they are here: fail fast. */
static bool check_first_bytes(struct ws_frame_parser *p)
{
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
    unsigned op = b0 & 0x0Fu, rsv = (b0 >> 4) & 0x7u;
    bool fin = (b0 & 0x80u) != 0, masked = (b1 & 0x80u) != 0;

    if (rsv & ~(unsigned)p->allowed_rsv) {
        fail(p, "reserved bits set without a negotiated extension");
        return false;
    }
    if (!opcode_known(op)) {
        fail(p, "reserved opcode");
        return false;
    }
    if (ws_opcode_is_control(op)) {
        if (!fin) {
            fail(p, "fragmented control frame");
            return false;
        }
        if ((b1 & 0x7Fu) > WS_CONTROL_MAX) {
            fail(p, "control frame longer than 125 bytes");
            return false;
        }
    }
    if (p->role == WS_ROLE_SERVER && !masked) {
        fail(p, "client frame not masked");
        return false;
    }
    if (p->role == WS_ROLE_CLIENT && masked) {
        fail(p, "server frame masked");
        return false;
    }
    return true;
}

static bool decode_header(struct ws_frame_parser *p)
{
    const uint8_t *h = p->hdr;
    struct ws_frame_header *f = &p->cur;
    unsigned len7 = h[1] & 0x7Fu, off = 2;

    f->fin = (h[0] & 0x80u) != 0;
    f->rsv = (uint8_t)((h[0] >> 4) & 0x7u);
    f->opcode = (uint8_t)(h[0] & 0x0Fu);
    f->masked = (h[1] & 0x80u) != 0;
    if (len7 == 126) {
        f->length = ((uint64_t)h[2] << 8) | h[3];
        off = 4;
    } else if (len7 == 127) {
        f->length = 0;
        for (unsigned i = 0; i < 8; i++)
            f->length = (f->length << 8) | h[2 + i];
        off = 10;
        if (f->length >> 63) {
            fail(p, "64-bit payload length with the top bit set");
            return false;
        }
    } else {
        f->length = len7;
    }
    if (f->masked)
        memcpy(f->mask, h + off, 4);
    else
        memset(f->mask, 0, 4);
    return true;
}

/* Returns the bytes consumed; sets *stop when a callback asked to stop. */
static size_t on_header_bytes(struct ws_frame_parser *p, const uint8_t *data, size_t len,
                              bool *stop)
{
    size_t take = p->hdr_need - p->hdr_have;
    if (take > len)
        take = len;
    memcpy(p->hdr + p->hdr_have, data, take);
    p->hdr_have = (uint8_t)(p->hdr_have + take);
    if (p->hdr_have < p->hdr_need)
        return take;

    if (p->hdr_need == 2) {
        if (!check_first_bytes(p))
            return take;
        p->hdr_need = header_size(p->hdr);
        if (p->hdr_have < p->hdr_need)
            return take;
    }
    if (!decode_header(p))
        return take;

    p->remaining = p->cur.length;
    p->mask_offset = 0;
    p->hdr_have = 0;
    p->hdr_need = 2;
    p->state = ST_PAYLOAD;
    if (p->settings->on_header && p->settings->on_header(p, &p->cur) != 0)
        *stop = true;
    if (p->state == ST_PAYLOAD && p->remaining == 0) {
        p->state = ST_HEADER;
        if (!*stop && p->settings->on_frame_end && p->settings->on_frame_end(p) != 0)
            *stop = true;
        else if (*stop)
            p->state = ST_PAYLOAD; /* deliver the end on the next call */
    }
    return take;
}

static size_t on_payload_bytes(struct ws_frame_parser *p, uint8_t *data, size_t len, bool *stop)
{
    size_t take = len;

    if (p->remaining == 0) { /* a zero-length frame whose end was deferred by a stop */
        p->state = ST_HEADER;
        if (p->settings->on_frame_end && p->settings->on_frame_end(p) != 0)
            *stop = true;
        return 0;
    }
    if (take > p->remaining)
        take = (size_t)p->remaining;
    uint32_t mask_start = p->mask_offset;
    if (p->cur.masked)
        p->mask_offset = (uint32_t)(ws_frame_mask(data, take, p->cur.mask, p->mask_offset) & 3u);
    p->remaining -= take;
    p->payload_unused = 0;
    if (p->settings->on_payload && p->settings->on_payload(p, data, take) != 0) {
        *stop = true;
        if (p->payload_unused > 0 && p->payload_unused <= take) {
            /* the callback took only a prefix: the rest is masked back and read again */
            size_t keep = take - p->payload_unused;
            if (p->cur.masked) {
                ws_frame_mask(data + keep, p->payload_unused, p->cur.mask, mask_start + keep);
                p->mask_offset = (uint32_t)((mask_start + keep) & 3u);
            }
            p->remaining += p->payload_unused;
            take = keep;
        }
        p->payload_unused = 0;
    }
    if (p->state == ST_PAYLOAD && p->remaining == 0 && !*stop) {
        p->state = ST_HEADER;
        if (p->settings->on_frame_end && p->settings->on_frame_end(p) != 0)
            *stop = true;
    }
    return take;
}

size_t ws_frame_parser_execute(struct ws_frame_parser *p, uint8_t *data, size_t len)
{
    size_t used = 0;
    bool stop = false;

    while (!stop) {
        switch (p->state) {
        case ST_HEADER:
            if (used == len)
                return used;
            used += on_header_bytes(p, data + used, len - used, &stop);
            break;
        case ST_PAYLOAD:
            if (used == len && p->remaining != 0)
                return used;
            used += on_payload_bytes(p, data + used, len - used, &stop);
            break;
        default: /* ST_ERROR */
            return used;
        }
    }
    return used;
}

size_t ws_frame_write_header(uint8_t *out, bool fin, uint8_t rsv, enum ws_opcode opcode,
                             uint64_t len, const uint8_t *mask)
{
    size_t n = 2;
    out[0] = (uint8_t)((fin ? 0x80u : 0) | ((rsv & 0x7u) << 4) | ((unsigned)opcode & 0x0Fu));
    if (len < 126) {
        out[1] = (uint8_t)len;
    } else if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = 127;
        for (unsigned i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        out[1] |= 0x80u;
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

uint64_t ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    size_t i = 0;
    unsigned k = (unsigned)(offset & 3u);

    /* Byte at a time until data is 8-byte aligned, then words. */
    while (i < len && ((uintptr_t)(data + i) & 7u) != 0) {
        data[i++] ^= mask[k];
        k = (k + 1) & 3u;
    }
    if (len - i >= 8) {
        uint8_t rot[8];
        uint64_t m;
        for (unsigned j = 0; j < 8; j++)
            rot[j] = mask[(k + j) & 3u];
        memcpy(&m, rot, 8);
        /* 4 words per round lets the compiler keep the loop tight. */
        for (; len - i >= 32; i += 32) {
            uint64_t w[4];
            memcpy(w, data + i, 32);
            w[0] ^= m, w[1] ^= m, w[2] ^= m, w[3] ^= m;
            memcpy(data + i, w, 32);
        }
        for (; len - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, data + i, 8);
            w ^= m;
            memcpy(data + i, &w, 8);
        }
    }
    while (i < len) {
        data[i++] ^= mask[k];
        k = (k + 1) & 3u;
    }
    return offset + len;
}
