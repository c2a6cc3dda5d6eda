/*
 * clustermsg: --redis's keys, URLs, stream ids and entries (see clustermsg.h).
 */
#include "clustermsg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- the URL */

static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out);

/* A decimal in s[0..n) no larger than max. */
static bool parse_uint(const char *s, size_t n, unsigned long max, unsigned long *out)
{
    uint64_t v;

    if (!parse_u64(s, n, &v) || v > max)
        return false;
    *out = (unsigned long)v;
    return true;
}

void clustermsg_addr_free(struct clustermsg_addr *a)
{
    free(a->host);
    free(a->path);
    free(a->password);
    a->host = a->path = a->password = NULL;
}

/* ":PASSWORD@" at the start of *p (moved past it). NULL, or why it is refused. */
static const char *parse_password(const char **p, struct clustermsg_addr *a)
{
    const char *s = *p, *at = strchr(s, '@');

    if (!at)
        return NULL;
    if (*s != ':')
        return "a user name is not supported (write redis://:PASSWORD@HOST)";
    if (memchr(s + 1, '/', (size_t)(at - s - 1)) || at == s + 1)
        return "an empty password, or one with '/'";
    if (!(a->password = dup_n(s + 1, (size_t)(at - s - 1))))
        return "out of memory";
    *p = at + 1;
    if (strchr(*p, '@'))
        return "a password with '@'";
    return NULL;
}

static const char *parse_unix(const char *s, struct clustermsg_addr *a)
{
    const char *q = strchr(s, '?');
    size_t n = q ? (size_t)(q - s) : strlen(s);
    unsigned long db = 0;

    if (n < 2 || s[0] != '/')
        return "unix:// needs an absolute path (unix:///run/redis/redis.sock)";
    if (n > 107)
        return "the socket path is longer than 107 bytes";
    if (q && (strncmp(q, "?db=", 4) != 0 || !parse_uint(q + 4, strlen(q + 4), 1u << 20, &db)))
        return "the only query taken is ?db=N";
    a->db = (unsigned)db;
    if (!(a->path = dup_n(s, n)))
        return "out of memory";
    return NULL;
}

static const char *parse_tcp(const char *s, struct clustermsg_addr *a)
{
    const char *host = s, *end, *rest;
    size_t hn;
    unsigned long v;

    if (*s == '[') {
        end = strchr(s, ']');
        if (!end)
            return "an IPv6 address without its ']'";
        host = s + 1;
        hn = (size_t)(end - host);
        rest = end + 1;
    } else {
        hn = strcspn(s, ":/");
        rest = s + hn;
    }
    if (hn == 0)
        return "no host";
    a->port = 6379;
    if (*rest == ':') {
        size_t pn = strcspn(rest + 1, "/");
        if (!parse_uint(rest + 1, pn, 65535, &v) || v == 0)
            return "the port is not a number from 1 to 65535";
        a->port = (int)v;
        rest += 1 + pn;
    }
    if (*rest == '/' && rest[1]) {
        if (!parse_uint(rest + 1, strlen(rest + 1), 1u << 20, &v))
            return "the database (after the '/') is not a number";
        a->db = (unsigned)v;
    } else if (*rest && strcmp(rest, "/") != 0) {
        return "unexpected text after the host";
    }
    for (size_t i = 0; i < hn; i++)
        if (host[i] <= ' ' || host[i] == '@' || host[i] == '?' || host[i] == '#')
            return "a host with a blank or a reserved character";
    if (!(a->host = dup_n(host, hn)))
        return "out of memory";
    return NULL;
}

const char *clustermsg_url_parse(const char *url, struct clustermsg_addr *a)
{
    const char *why, *p;

    memset(a, 0, sizeof *a);
    if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else if (strncmp(url, "unix://", 7) == 0) {
        p = url + 7;
    } else {
        return "not a redis:// or unix:// URL (rediss:// is not supported: see "
               "doc/DEPLOYMENT.md for a TLS tunnel)";
    }
    why = parse_password(&p, a);
    if (!why)
        why = url[0] == 'u' ? parse_unix(p, a) : parse_tcp(p, a);
    if (why)
        clustermsg_addr_free(a);
    return why;
}

char *clustermsg_key(const char *endpoint, const char *part)
{
    size_t n = strlen("wsbridge:{}:") + strlen(endpoint) + strlen(part) + 1;
    char *k = malloc(n);

    if (k)
        snprintf(k, n, "wsbridge:{%s}:%s", endpoint, part);
    return k;
}

/* ---------------------------------------------------------------- ids */

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool clustermsg_id_parse(const char *s, size_t n, struct clustermsg_id *id)
{
    const char *dash = memchr(s, '-', n);

    if (!dash) {
        id->seq = 0;
        return parse_u64(s, n, &id->ms);
    }
    return parse_u64(s, (size_t)(dash - s), &id->ms) &&
           parse_u64(dash + 1, n - (size_t)(dash - s) - 1, &id->seq);
}

void clustermsg_id_format(const struct clustermsg_id *id, char *out)
{
    snprintf(out, CLUSTERMSG_ID_MAX, "%" PRIu64 "-%" PRIu64, id->ms, id->seq);
}

struct clustermsg_id clustermsg_id_next(const struct clustermsg_id *last, uint64_t now_ms)
{
    struct clustermsg_id n = *last;

    if (now_ms > last->ms) {
        n.ms = now_ms;
        n.seq = 0;
    } else if (last->seq == UINT64_MAX) {
        n.ms++;
        n.seq = 0;
    } else {
        n.seq++;
    }
    return n;
}

bool clustermsg_id_less(const struct clustermsg_id *a, const struct clustermsg_id *b)
{
    return a->ms < b->ms || (a->ms == b->ms && a->seq < b->seq);
}

/* ---------------------------------------------------------------- replies */

static bool is_array(const redisReply *r, size_t n)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements == n && (n == 0 || r->element);
}

static bool is_string(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING && (r->str || r->len == 0);
}

const char *clustermsg_read_reply(const redisReply *r, redisReply *const **entries, size_t *n)
{
    *entries = NULL;
    *n = 0;
    if (!r)
        return "no reply";
    if (r->type == REDIS_REPLY_ERROR)
        return "an error reply";
    if (r->type == REDIS_REPLY_NIL)
        return NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !r->element)
        return "not an array of streams";
    const redisReply *s = r->element[0];
    if (!is_array(s, 2) || !is_string(s->element[0]))
        return "a stream is not [key, entries]";
    const redisReply *es = s->element[1];
    if (!es || es->type != REDIS_REPLY_ARRAY || (es->elements && !es->element))
        return "a stream's entries are not an array";
    *entries = es->element;
    *n = es->elements;
    return NULL;
}

/* The id of an entry reply ([id, ...]). */
static const char *entry_id(const redisReply *e, struct clustermsg_id *id, char *ids)
{
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !e->element)
        return "an entry is not [id, fields]";
    const redisReply *i = e->element[0];
    if (!is_string(i) || i->len >= CLUSTERMSG_ID_MAX || !clustermsg_id_parse(i->str, i->len, id))
        return "an entry's id is not MS-SEQ";
    if (ids) {
        memcpy(ids, i->str, i->len);
        ids[i->len] = '\0';
    }
    return NULL;
}

const char *clustermsg_top_reply(const redisReply *r, struct clustermsg_id *id, bool *found)
{
    id->ms = id->seq = 0;
    *found = false;
    if (!r)
        return "no reply";
    if (r->type == REDIS_REPLY_ERROR)
        return "an error reply";
    if (r->type != REDIS_REPLY_ARRAY || (r->elements && !r->element))
        return "not an array of entries";
    if (r->elements == 0)
        return NULL;
    *found = true;
    return entry_id(r->element[r->elements - 1], id, NULL);
}

static bool field_is(const redisReply *k, const char *name)
{
    size_t n = strlen(name);
    return k->len == n && memcmp(k->str, name, n) == 0;
}

static bool value_is(const redisReply *v, const char *s)
{
    return field_is(v, s);
}

/* One field of an entry into out; *have_t set by "t". */
static const char *entry_field(const redisReply *k, const redisReply *v,
                               struct clustermsg_entry *out, bool *have_t, bool *have_c)
{
    unsigned long code;

    if (field_is(k, "o")) {
        if (v->len > CLUSTERMSG_INSTANCE_MAX)
            return "an origin longer than an instance id";
        out->origin = v->str;
        out->origin_len = v->len;
    } else if (field_is(k, "t")) {
        if (value_is(v, "text"))
            out->type = CLUSTERMSG_TEXT;
        else if (value_is(v, "binary"))
            out->type = CLUSTERMSG_BINARY;
        else if (value_is(v, "over"))
            out->type = CLUSTERMSG_OVER;
        else if (value_is(v, "lines"))
            out->type = CLUSTERMSG_LINES;
        else
            return "an unknown type";
        *have_t = true;
    } else if (field_is(k, "f")) {
        if (!value_is(v, "0") && !value_is(v, "1"))
            return "f is not 0 or 1";
        out->fin = v->str[0] == '1';
    } else if (field_is(k, "c")) {
        if (!parse_uint(v->str, v->len, 4999, &code) || code < 1000)
            return "a close code out of 1000-4999";
        out->code = (uint16_t)code;
        *have_c = true;
    } else if (field_is(k, "d")) {
        out->data = (const uint8_t *)v->str;
        out->len = v->len;
    } else if (field_is(k, "s")) {
        if (!parse_u64(v->str, v->len, &out->seq) || out->seq == 0)
            return "s is not a sequence number";
    } else if (field_is(k, "k")) {
        if (!value_is(v, "j") && !value_is(v, "m") && !value_is(v, "l"))
            return "k is not j, m or l";
        out->kind = v->str[0];
    } else if (field_is(k, "i")) {
        if (!parse_u64(v->str, v->len, &out->client) || out->client == 0 ||
            out->client > CLUSTERMSG_CLIENT_MAX)
            return "a client id out of 1 to 2^53";
    }
    return NULL;
}

const char *clustermsg_entry_decode(const redisReply *e, struct clustermsg_entry *out)
{
    const char *why;
    bool have_t = false, have_c = false;

    memset(out, 0, sizeof *out);
    out->fin = true;
    out->data = (const uint8_t *)"";
    out->origin = "";
    if ((why = entry_id(e, &out->id, out->ids)))
        return why;
    const redisReply *f = e->element[1];
    if (f && f->type == REDIS_REPLY_NIL)
        return "a deleted entry";
    if (!f || f->type != REDIS_REPLY_ARRAY || f->elements % 2 || (f->elements && !f->element))
        return "an entry's fields are not [field, value, ...]";
    for (size_t i = 0; i < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (!is_string(k) || !is_string(v))
            return "a field or value is not a string";
        if ((why = entry_field(k, v, out, &have_t, &have_c)))
            return why;
    }
    if (!have_t)
        return "no type (t)";
    if (out->type == CLUSTERMSG_OVER && !have_c)
        return "an over entry without a close code";
    if (out->type == CLUSTERMSG_OVER && out->len > CLUSTERMSG_REASON_MAX)
        return "a close reason longer than 123 bytes";
    if (out->type == CLUSTERMSG_LINES && (out->len == 0 || out->data[out->len - 1] != '\n'))
        return "lines that do not end with a newline";
    if (!out->kind != !out->client)
        return "k without i, or i without k";
    return NULL;
}

/* ---------------------------------------------------------------- XADD */

const char CLUSTERMSG_ADD_ONCE_LUA[] =
    "local last = tonumber(redis.call('hget', KEYS[2], ARGV[1]) or '0') "
    "if tonumber(ARGV[2]) <= last then return 0 end "
    "redis.call('hset', KEYS[2], ARGV[1], ARGV[2]) "
    "redis.call('zadd', KEYS[3], ARGV[3], ARGV[1]) "
    "local old = redis.call('zrangebyscore', KEYS[3], '-inf', '(' .. ARGV[4], 'LIMIT', 0, 8) "
    "for _, o in ipairs(old) do redis.call('hdel', KEYS[2], o) redis.call('zrem', KEYS[3], o) end "
    "redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', unpack(ARGV, 6)) "
    "return 1";

#define ARG(p, l) (argv[n] = (p), argvlen[n] = (l), n++)
#define ARGS(p) ARG(p, strlen(p))

/* The entry's fields (o, t, f or c, [s, k, i,] d) from argv[n]. Returns the new count. */
static int entry_fields(int n, const struct clustermsg_entry *e, struct clustermsg_scratch *s,
                        const char **argv, size_t *argvlen)
{
    static const char *const types[] = {"text", "binary", "over", "lines"};
    static const char kinds[][2] = {"j", "m", "l"};

    ARGS("o");
    ARG(e->origin, e->origin_len);
    ARGS("t");
    ARGS(types[e->type]);
    if (e->type == CLUSTERMSG_OVER) {
        snprintf(s->code, sizeof s->code, "%u", e->code);
        ARGS("c");
        ARGS(s->code);
    } else {
        ARGS("f");
        ARGS(e->fin ? "1" : "0");
    }
    if (e->seq) {
        snprintf(s->seq, sizeof s->seq, "%" PRIu64, e->seq);
        ARGS("s");
        ARGS(s->seq);
    }
    if (e->kind) {
        ARGS("k");
        ARGS(kinds[e->kind == 'j' ? 0 : e->kind == 'm' ? 1 : 2]);
        snprintf(s->client, sizeof s->client, "%" PRIu64, e->client);
        ARGS("i");
        ARGS(s->client);
    }
    ARGS("d");
    ARG(e->len ? (const char *)e->data : "", e->len);
    return n;
}

int clustermsg_xadd(const char *key, unsigned long maxlen, const struct clustermsg_id *id,
                    const struct clustermsg_entry *e, struct clustermsg_scratch *s,
                    const char **argv, size_t *argvlen)
{
    int n = 0;

    ARGS("XADD");
    ARGS(key);
    ARGS("MAXLEN");
    ARGS("~");
    snprintf(s->maxlen, sizeof s->maxlen, "%lu", maxlen);
    ARGS(s->maxlen);
    if (id) {
        clustermsg_id_format(id, s->id);
        ARGS(s->id);
    } else {
        ARGS("*");
    }
    return entry_fields(n, e, s, argv, argvlen);
}

int clustermsg_xadd_once(const char *const keys[3], unsigned long maxlen, uint64_t now_ms,
                         const struct clustermsg_entry *e, struct clustermsg_scratch *s,
                         const char **argv, size_t *argvlen)
{
    int n = 0;

    ARGS("EVAL");
    ARGS(CLUSTERMSG_ADD_ONCE_LUA);
    ARGS("3");
    for (int k = 0; k < 3; k++)
        ARGS(keys[k]);
    ARG(e->origin, e->origin_len);
    snprintf(s->seq, sizeof s->seq, "%" PRIu64, e->seq);
    ARGS(s->seq);
    snprintf(s->now, sizeof s->now, "%" PRIu64, now_ms);
    ARGS(s->now);
    snprintf(s->old, sizeof s->old, "%" PRIu64,
             now_ms > CLUSTERMSG_SEEN_MS ? now_ms - CLUSTERMSG_SEEN_MS : 0);
    ARGS(s->old);
    snprintf(s->maxlen, sizeof s->maxlen, "%lu", maxlen);
    ARGS(s->maxlen);
    return entry_fields(n, e, s, argv, argvlen);
}
#undef ARGS
#undef ARG
