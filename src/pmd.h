/*
 * pmd: permessage-deflate (RFC 7692), sans I/O.
 *
 * Three parts, all pure computation (zlib is computation: no descriptor, no
 * event loop):
 *
 * 1. Negotiation. pmd_negotiate() reads every Sec-WebSocket-Extensions
 *    offer of a request (several offers per header, several headers), and
 *    against the server's policy picks the first acceptable
 *    permessage-deflate offer. An offer is declined (the next one is
 *    tried; none left: no extension, never a refusal) when it has an
 *    unknown parameter, a parameter twice, a value where none is allowed
 *    (the *_no_context_takeover ones), no value where one is required
 *    (server_max_window_bits), or a window size that is not 8..15 written
 *    as 1*DIGIT without a leading zero (a quoted-string value is unquoted
 *    first, section 7.1). A malformed element (not token *(";" param))
 *    declines that offer only: parsing resumes at the next top-level comma.
 *    The response:
 *      - server_no_context_takeover: when offered, or when the policy does
 *        not keep a deflate context between messages (the default);
 *      - client_no_context_takeover: when the policy does not keep an
 *        inflate context between messages (the default; section 7.1.1.2
 *        lets a server send it in any response), or when offered and the
 *        policy has nothing against it;
 *      - server_max_window_bits=N: when offered (N = min(offer, policy)),
 *        or when the policy's is under 15;
 *      - client_max_window_bits=N: only when offered (with or without a
 *        value): N = min(policy, the offer's value if any).
 *    A server_max_window_bits of 8 is honoured by sending every message
 *    uncompressed (zlib cannot deflate with a 256-byte window; RFC 7692
 *    allows uncompressed messages at any time).
 *
 * 2. The policy (--deflate-params): pmd_policy_parse() reads a comma list
 *    of server_max_window_bits=N, client_max_window_bits=N (8..15),
 *    mem_level=N (1..9), level=N (0..9), threshold=BYTES,
 *    server_context_takeover, client_context_takeover.
 *
 * 3. The codec. struct pmd_deflate / struct pmd_inflate are zlib streams
 *    for one direction of one connection. Without context takeover (the
 *    default) a stream holds zlib state only while a message is in flight:
 *    it borrows one from a small per-process free list at the message's
 *    first byte and gives it back (reset) at its end, so an idle session
 *    holds none and a busy server does not allocate per message. With
 *    context takeover the state is the connection's until pmd_*_end().
 *    Deflate output with no context takeover depends only on the payload
 *    and on (level, window, mem_level): several connections with equal
 *    pmd_deflate_key() values may share one compressed payload (a fan-out
 *    compresses a message once, see hubz.h).
 *
 * The per-process free lists are the only global state (one event loop per
 * process); pmd_pool_drain() frees them at exit for leak checkers.
 */
#ifndef PMD_H
#define PMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct handshake;

#define PMD_TAIL_LEN 4u /* 00 00 ff ff: stripped from each compressed message (7.2.1) */

/* The server's side of the negotiation and the codec's knobs (--deflate-params). */
struct pmd_policy {
    bool enabled;                   /* --deflate (default on) */
    bool server_context_takeover;   /* keep the deflate context between messages (costs memory) */
    bool client_context_takeover;   /* let the client keep its context (we keep an inflate one) */
    uint8_t server_max_window_bits; /* 8..15: the deflate window we use at most */
    uint8_t client_max_window_bits; /* 8..15: the client window we ask for when we may */
    uint8_t mem_level;              /* 1..9: zlib's memLevel for deflate */
    int8_t level;                   /* 0..9: zlib's compression level */
    uint32_t threshold;             /* messages shorter than this go out uncompressed */
};

/* The defaults: enabled, no context takeover both ways, windows 15, mem_level 8, level 1,
 * threshold 64. */
void pmd_policy_init(struct pmd_policy *p);

/* Parses an --deflate-params value into p (on top of what it holds). 0, or -1 with *err a
 * static message naming what is wrong. */
int pmd_policy_parse(struct pmd_policy *p, const char *s, const char **err);

/* What was agreed for one connection. */
struct pmd_params {
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    uint8_t server_max_window_bits; /* 8..15 (15: not limited) */
    uint8_t client_max_window_bits; /* 8..15 (15: not limited) */
};

/* One offer's parameters, as parsed (pmd_offer_parse, for the tests and the fuzzer). */
struct pmd_offer {
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    uint8_t server_max_window_bits; /* 0: absent */
    uint8_t client_max_window_bits; /* 0: absent; PMD_BITS_NO_VALUE: present without a value */
};
#define PMD_BITS_NO_VALUE 255u

/*
 * Parses the comma-separated extension list s[0..len) (one header's value) and calls
 * on_offer for each permessage-deflate offer that is valid (in order; a nonzero return stops).
 * Other extensions and invalid offers are skipped. Returns the number of valid offers seen.
 */
typedef int (*pmd_offer_cb)(void *ctx, const struct pmd_offer *o);
unsigned pmd_offers_parse(const char *s, size_t len, pmd_offer_cb on_offer, void *ctx);

/*
 * Negotiates against every Sec-WebSocket-Extensions header of hs (complete). Returns true with
 * *out filled and the response value (no header name, no CRLF: "permessage-deflate; ...") in
 * resp (NUL-terminated, at most PMD_RESPONSE_MAX bytes with the NUL) when an offer was
 * accepted; false when the policy is disabled or no offer is acceptable.
 */
#define PMD_RESPONSE_MAX 160u
bool pmd_negotiate(const struct pmd_policy *p, const struct handshake *hs, struct pmd_params *out,
                   char *resp);
/* The same on one header value (for the tests and the fuzzer). */
bool pmd_negotiate_value(const struct pmd_policy *p, const char *value, size_t len,
                         struct pmd_params *out, char *resp);

/* ---------------------------------------------------------------- the codec */

struct pmd_zstate; /* a zlib stream, private */

/* The outbound direction of one connection. */
struct pmd_deflate {
    struct pmd_zstate *z; /* NULL while idle without context takeover */
    bool takeover;        /* keep z between messages */
    bool disabled;        /* server_max_window_bits=8: every message goes uncompressed */
    uint8_t window_bits, mem_level;
    int8_t level;
    uint32_t threshold;
};

/* The inbound direction of one connection. */
struct pmd_inflate {
    struct pmd_zstate *z;
    bool takeover;
    uint8_t window_bits;
};

/* Sets up both directions from the agreement and the policy (nothing allocated yet). */
void pmd_deflate_init(struct pmd_deflate *d, const struct pmd_params *a,
                      const struct pmd_policy *p);
void pmd_inflate_init(struct pmd_inflate *in, const struct pmd_params *a);

/* Releases the zlib state (back to the free list when it can be reused). Safe when idle. */
void pmd_deflate_end(struct pmd_deflate *d);
void pmd_inflate_end(struct pmd_inflate *in);

/* Should a message whose first piece is n bytes (fin: and its last) be compressed? */
bool pmd_deflate_wants(const struct pmd_deflate *d, size_t n, bool fin);

/* A key equal for two connections whose compressed messages are byte-identical (no context
 * takeover, same level/window/mem_level), else 0 (not shareable). */
uint32_t pmd_deflate_key(const struct pmd_deflate *d);

/*
 * Compresses one piece of a message, p[0..n), into *out (malloc'd, the caller frees it; NULL
 * when *outlen is 0). fin: the message ends with this piece (its output then has the
 * 00 00 ff ff tail removed, and without context takeover the zlib state goes back to the free
 * list). *outlen may be 0 for a piece that is not the last. 0 or WS_E_NOMEM.
 */
int pmd_deflate_piece(struct pmd_deflate *d, const uint8_t *p, size_t n, bool fin, uint8_t **out,
                      size_t *outlen);

/*
 * Decompresses in[0..len), the next bytes of a compressed message; fin: the message ends after
 * them (the 00 00 ff ff tail is appended, and the stream must then be at a block boundary).
 * Output goes, in chunks of at most PMD_INFLATE_CHUNK bytes held by the stream, to
 * emit(ctx, data, n), n > 0. emit returns 0 to go on, 1 to pause (the call returns 1 with
 * *used the input consumed, possibly < len: the caller gives the rest again later; output zlib
 * still holds comes out on that next call), 2 or more to stop for good (returned as is).
 * A pause is not honoured when fin (what is left is the tail's few bytes of output).
 * Returns 0 (*used == len), 1, emit's code >= 2, or a close code: 1007 for a corrupt or
 * truncated stream (RFC 7692 says "fail the connection"; as node ws does, 1007: the payload
 * is not what its type says), 1011 when out of memory. Without context takeover the zlib state
 * goes back to the free list after fin (and after a failure).
 */
#define PMD_INFLATE_CHUNK 16384u
typedef int (*pmd_emit_fn)(void *ctx, uint8_t *data, size_t len);
int pmd_inflate_chunk(struct pmd_inflate *in, const uint8_t *data, size_t len, bool fin,
                      size_t *used, pmd_emit_fn emit, void *ctx);

/* The inbound side as a ws_stream extension (RSV1): ws_stream_set_extension(s, &pmd_stream_ext,
 * &inflate), inflate a struct pmd_inflate that outlives the stream. */
struct ws_stream_ext;
extern const struct ws_stream_ext pmd_stream_ext;

/* Frees the per-process free lists (at exit). */
void pmd_pool_drain(void);

#endif
