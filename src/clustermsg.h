/*
 * clustermsg: what --redis puts into Redis and takes out of it, pure: no
 * libuv, no I/O. The replies it reads are hiredis's parsed trees
 * (redisReply), checked for their shape before anything is used: nothing
 * a server sends is trusted to be what was asked for.
 *
 * An endpoint E (the shared program's path, the same on every instance)
 * has three keys, one hash tag so that a Redis Cluster keeps them in one slot:
 *   wsbridge:{E}:owner   the instance running the program (SET NX PX)
 *   wsbridge:{E}:run     the instance whose run of it is going on (outlives a dead owner)
 *   wsbridge:{E}:out     the program's output, a stream
 *   wsbridge:{E}:in      the clients' messages for the program, a stream
 *   wsbridge:{E}:clients a sorted set: instance id -> until when (ms) it has clients
 *   wsbridge:{E}:inseq   a hash: instance id -> the last input sequence number it added
 *   wsbridge:{E}:inseen  a sorted set: instance id -> when (ms) it last added input
 *
 * A stream entry's fields (unknown fields are ignored, order is free):
 *   o   the instance that added it (CLUSTERMSG_INSTANCE_MAX bytes at most)
 *   t   "text", "binary" (a piece of a message), "lines" (whole text messages, each ended by
 *       "\n" in d: a read's worth in one entry) or "over" (the program ended)
 *   f   "1": the piece ends its message, "0": more follows (out, text and binary)
 *   c   "over": the close code every client gets (1000-4999)
 *   d   the bytes: a piece (out), a message as written to stdin (in), the close reason (over)
 *   s   in: the adding instance's sequence number (1, 2, ...; see clustermsg_xadd_once)
 *   k   in, --shared=addressed: "j" a client's join, "m" its message, "l" its leave
 *   i   in, with k: the client's id (1 to 2^53)
 *
 * Input entries are added exactly once: an instance numbers its entries 1, 2, ... and adds
 * each with CLUSTERMSG_ADD_ONCE_LUA, which adds it only when its number is above the last one
 * stored for the instance (in the inseq hash), both in one atomic script. A resend after a
 * lost reply (the entry was added, its answer never came) is then refused (the script answers
 * 0): an instance's commands run in order, so the entries stored are a prefix of those sent.
 * The hash stays bounded: the script also drops (8 at most per call) the fields of instances
 * that added nothing for CLUSTERMSG_SEEN_MS (inseen), a day: an instance cut off from Redis
 * longer than that with an add unanswered may add that entry twice.
 */
#ifndef CLUSTERMSG_H
#define CLUSTERMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define CLUSTERMSG_INSTANCE_MAX 64
#define CLUSTERMSG_ID_MAX 44     /* "18446744073709551615-18446744073709551615" and a NUL */
#define CLUSTERMSG_REASON_MAX 123 /* a close reason's bytes (RFC 6455: 125 with the code) */
#define CLUSTERMSG_ARGV_MAX 32    /* the most arguments clustermsg_xadd(_once)() write */
#define CLUSTERMSG_SEEN_MS ((uint64_t)24 * 3600 * 1000) /* an instance's input state kept */
#define CLUSTERMSG_CLIENT_MAX (1ull << 53) /* the largest client id (a JSON-safe integer) */

/* A parsed --redis=URL. The strings are malloc'd (clustermsg_addr_free). */
struct clustermsg_addr {
    char *host;     /* TCP: a name or address (IPv6 without its brackets); NULL for unix */
    int port;       /* TCP, 6379 when not given */
    char *path;     /* unix: the socket's path */
    char *password; /* AUTH, or NULL */
    unsigned db;    /* SELECT when not 0 */
};

/*
 * Parses redis://[:PASSWORD@]HOST[:PORT][/DB] or unix://[:PASSWORD@]/PATH[?db=DB]. HOST may
 * be [IPv6]. PASSWORD is taken as written (no %-decoding) and may not hold '@' or '/'.
 * Returns NULL, or why the URL is refused (a static string); a's strings are then NULL.
 */
const char *clustermsg_url_parse(const char *url, struct clustermsg_addr *a);
void clustermsg_addr_free(struct clustermsg_addr *a);

/* The key of endpoint's part ("owner", "out", "in", "clients"), malloc'd. NULL: no memory. */
char *clustermsg_key(const char *endpoint, const char *part);

/* A stream entry id "MS-SEQ". */
struct clustermsg_id {
    uint64_t ms, seq;
};
/* Parses s[0..n) as MS-SEQ (or MS alone: SEQ 0). Returns false when it is not one. */
bool clustermsg_id_parse(const char *s, size_t n, struct clustermsg_id *id);
/* out: CLUSTERMSG_ID_MAX bytes. */
void clustermsg_id_format(const struct clustermsg_id *id, char *out);
/* The next id to add after last at wall-clock time now_ms: strictly greater than last. */
struct clustermsg_id clustermsg_id_next(const struct clustermsg_id *last, uint64_t now_ms);
/* a < b */
bool clustermsg_id_less(const struct clustermsg_id *a, const struct clustermsg_id *b);

enum clustermsg_type { CLUSTERMSG_TEXT, CLUSTERMSG_BINARY, CLUSTERMSG_OVER, CLUSTERMSG_LINES };

/* One entry, decoded: pointers into the reply (valid while it is). */
struct clustermsg_entry {
    struct clustermsg_id id;
    char ids[CLUSTERMSG_ID_MAX]; /* the id as Redis wrote it */
    enum clustermsg_type type;
    bool fin;
    uint16_t code;
    const char *origin;
    size_t origin_len;
    const uint8_t *data;
    size_t len;
    uint64_t seq;       /* in: its sequence number (0: none) */
    char kind;          /* in, addressed: 'j', 'm', 'l'; 0: none */
    uint64_t client;    /* with kind: the client's id */
};

/*
 * The entries of the first (only) stream of an XREAD/XREADGROUP reply: a nil reply (BLOCK
 * timed out) is 0 entries; else [[key, [entry, ...]]]. *entries points into r. Returns NULL,
 * or why the reply is refused (an error reply: its text is not returned, "an error reply").
 */
const char *clustermsg_read_reply(const redisReply *r, redisReply *const **entries, size_t *n);
/* The id of the last entry of an XREVRANGE key + - COUNT 1 reply: false if the stream is empty
 * (*id then 0-0); NULL or why the reply is refused. */
const char *clustermsg_top_reply(const redisReply *r, struct clustermsg_id *id, bool *found);
/* Decodes one entry ([id, [field, value, ...]]) of such a reply. Returns NULL or why not. */
const char *clustermsg_entry_decode(const redisReply *e, struct clustermsg_entry *out);

/*
 * An XADD command into argv/argvlen (CLUSTERMSG_ARGV_MAX slots each; the pointers point into
 * the arguments and scratch, which must outlive the call using argv): key, MAXLEN ~ maxlen,
 * id (NULL: "*"), then the fields of e (e->ids and e->id unused; o is e->origin; f only for
 * text and binary; c only for over). Returns the argument count.
 */
struct clustermsg_scratch {
    char maxlen[24], id[CLUSTERMSG_ID_MAX], code[8], seq[24], client[24], now[24], old[24];
};
int clustermsg_xadd(const char *key, unsigned long maxlen, const struct clustermsg_id *id,
                    const struct clustermsg_entry *e, struct clustermsg_scratch *s,
                    const char **argv, size_t *argvlen);

/* The script that adds an input entry once (see above): KEYS the in stream, the inseq hash,
 * the inseen set; ARGV the instance, the sequence number, now (ms), the time before which an
 * instance's fields go, MAXLEN, then the entry's fields. Answers 1 (added) or 0 (a resend). */
extern const char CLUSTERMSG_ADD_ONCE_LUA[];
/*
 * The EVAL of that script for entry e (e->seq > 0, e->origin the instance) into argv/argvlen
 * as clustermsg_xadd() does: keys in (the in stream), inseq, inseen; now_ms the wall clock.
 * Returns the argument count.
 */
int clustermsg_xadd_once(const char *const keys[3], unsigned long maxlen, uint64_t now_ms,
                         const struct clustermsg_entry *e, struct clustermsg_scratch *s,
                         const char **argv, size_t *argvlen);

#endif
