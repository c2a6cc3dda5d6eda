/*
 * Unit tests of clustermsg: --redis URLs, keys, stream ids, and entries written with
 * clustermsg_xadd() read back through hiredis's reply parser as Redis would answer them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clustermsg.h"
#include "tap.h"

static void url_good(const char *url, const char *host, int port, const char *path,
                     const char *pw, unsigned db)
{
    struct clustermsg_addr a;
    const char *why = clustermsg_url_parse(url, &a);
    ok(!why && (host ? a.host && strcmp(a.host, host) == 0 : !a.host) && a.port == port &&
           (path ? a.path && strcmp(a.path, path) == 0 : !a.path) &&
           (pw ? a.password && strcmp(a.password, pw) == 0 : !a.password) && a.db == db,
       "URL %s (%s: host %s port %d path %s password %s db %u)", url, why ? why : "ok",
       a.host ? a.host : "-", a.port, a.path ? a.path : "-", a.password ? a.password : "-", a.db);
    clustermsg_addr_free(&a);
}

static void url_bad(const char *url)
{
    struct clustermsg_addr a;
    const char *why = clustermsg_url_parse(url, &a);
    ok(why && !a.host && !a.path && !a.password, "URL refused: %s (%s)", url, why ? why : "taken");
    clustermsg_addr_free(&a);
}

static void test_url(void)
{
    url_good("redis://127.0.0.1:6380", "127.0.0.1", 6380, NULL, NULL, 0);
    url_good("redis://localhost", "localhost", 6379, NULL, NULL, 0);
    url_good("redis://localhost/", "localhost", 6379, NULL, NULL, 0);
    url_good("redis://:s3cret@10.0.0.1:7000/2", "10.0.0.1", 7000, NULL, "s3cret", 2);
    url_good("redis://[::1]:6379/0", "::1", 6379, NULL, NULL, 0);
    url_good("unix:///run/redis/redis.sock", NULL, 0, "/run/redis/redis.sock", NULL, 0);
    url_good("unix://:pw@/tmp/r.sock?db=3", NULL, 0, "/tmp/r.sock", "pw", 3);
    url_bad("");
    url_bad("rediss://host:6379");
    url_bad("http://host");
    url_bad("redis://");
    url_bad("redis://:6379");
    url_bad("redis://host:0");
    url_bad("redis://host:65536");
    url_bad("redis://host:port");
    url_bad("redis://host/db");
    url_bad("redis://user:pw@host");
    url_bad("redis://:@host");
    url_bad("redis://:p@w@host");
    url_bad("redis://[::1");
    url_bad("redis://host:1/2/3");
    url_bad("unix://relative.sock");
    url_bad("unix:///tmp/r.sock?x=1");
}

static void test_ids(void)
{
    struct clustermsg_id id, a = {5, 7}, b;
    char s[CLUSTERMSG_ID_MAX];

    ok(clustermsg_id_parse("1700000000000-3", 15, &id) && id.ms == 1700000000000ull && id.seq == 3,
       "an id parsed");
    ok(clustermsg_id_parse("42", 2, &id) && id.ms == 42 && id.seq == 0, "MS alone: SEQ 0");
    ok(clustermsg_id_parse("18446744073709551615-18446744073709551615", 41, &id) &&
           id.ms == UINT64_MAX && id.seq == UINT64_MAX,
       "the largest id");
    ok(!clustermsg_id_parse("18446744073709551616-0", 22, &id), "an overflowing id refused");
    ok(!clustermsg_id_parse("1-", 2, &id) && !clustermsg_id_parse("-1", 2, &id) &&
           !clustermsg_id_parse("", 0, &id) && !clustermsg_id_parse("1-2-3", 5, &id) &&
           !clustermsg_id_parse("a-1", 3, &id),
       "malformed ids refused");
    clustermsg_id_format(&a, s);
    ok(strcmp(s, "5-7") == 0, "formatted: %s", s);
    b = clustermsg_id_next(&a, 4);
    ok(b.ms == 5 && b.seq == 8, "a clock behind the last id: the sequence goes on");
    b = clustermsg_id_next(&a, 9);
    ok(b.ms == 9 && b.seq == 0, "a clock ahead: its time, sequence 0");
    a.seq = UINT64_MAX;
    b = clustermsg_id_next(&a, 5);
    ok(b.ms == 6 && b.seq == 0 && clustermsg_id_less(&a, &b), "the sequence's end: the next ms");
    char *k = clustermsg_key("/usr/bin/cat", "out");
    ok(k && strcmp(k, "wsbridge:{/usr/bin/cat}:out") == 0, "the key: %s", k ? k : "NULL");
    free(k);
}

/* Parses RESP text with hiredis's reader (as an async reply would be). */
static redisReply *resp(const char *text, size_t n)
{
    redisReader *r = redisReaderCreate();
    void *reply = NULL;

    redisReaderFeed(r, text, n);
    if (redisReaderGetReply(r, &reply) != REDIS_OK)
        reply = NULL;
    redisReaderFree(r);
    return reply;
}

/* The RESP of an XREAD reply with one entry whose fields are argv[first..argc) of an XADD. */
static size_t xread_resp(char *out, size_t cap, const char *id, int first, int argc,
                         const char **argv, const size_t *len)
{
    size_t n = (size_t)snprintf(out, cap, "*1\r\n*2\r\n$3\r\nkey\r\n*1\r\n*2\r\n$%zu\r\n%s\r\n*%d\r\n",
                                strlen(id), id, argc - first);
    for (int i = first; i < argc; i++) {
        n += (size_t)snprintf(out + n, cap - n, "$%zu\r\n", len[i]);
        memcpy(out + n, argv[i], len[i]);
        n += len[i];
        memcpy(out + n, "\r\n", 2);
        n += 2;
    }
    return n;
}

static void roundtrip(enum clustermsg_type t, bool fin, uint16_t code, const char *data, size_t dn)
{
    struct clustermsg_entry e = {.type = t, .fin = fin, .code = code, .origin = "host:1:ab",
                                 .origin_len = 9, .data = (const uint8_t *)data, .len = dn};
    struct clustermsg_entry d;
    struct clustermsg_scratch s;
    struct clustermsg_id id = {1700000000123ull, 4};
    const char *argv[CLUSTERMSG_ARGV_MAX];
    size_t len[CLUSTERMSG_ARGV_MAX];
    char buf[4096];
    redisReply *const *es;
    size_t n;
    int argc = clustermsg_xadd("wsbridge:{x}:out", 10000, &id, &e, &s, argv, len);

    ok(argc <= CLUSTERMSG_ARGV_MAX && strcmp(argv[0], "XADD") == 0 && strcmp(argv[4], "10000") == 0 &&
           strcmp(argv[5], "1700000000123-4") == 0,
       "XADD key MAXLEN ~ 10000 with our id (%d arguments)", argc);
    redisReply *r = resp(buf, xread_resp(buf, sizeof buf, argv[5], 6, argc, argv, len));
    const char *why = clustermsg_read_reply(r, &es, &n);
    ok(!why && n == 1, "the XREAD reply taken (%s, %zu entries)", why ? why : "ok", n);
    why = n == 1 ? clustermsg_entry_decode(es[0], &d) : "no entry";
    ok(!why && d.type == t && d.fin == fin && d.code == (t == CLUSTERMSG_OVER ? code : 0) &&
           d.len == dn && memcmp(d.data, data, dn) == 0 && d.origin_len == 9 &&
           memcmp(d.origin, "host:1:ab", 9) == 0 && d.id.ms == id.ms && d.id.seq == id.seq &&
           strcmp(d.ids, "1700000000123-4") == 0,
       "the entry read back (type %d, %zu bytes): %s", t, dn, why ? why : "same");
    freeReplyObject(r);
}

/* An input entry added once (EVAL of the script): its arguments, its fields read back. */
static void roundtrip_once(char kind, uint64_t client, const char *data)
{
    struct clustermsg_entry e = {.type = CLUSTERMSG_TEXT, .fin = true, .origin = "host:1:ab",
                                 .origin_len = 9, .data = (const uint8_t *)data,
                                 .len = strlen(data), .seq = 9007199254740993ull,
                                 .kind = kind, .client = client};
    const char *keys[3] = {"wsbridge:{x}:in", "wsbridge:{x}:inseq", "wsbridge:{x}:inseen"};
    struct clustermsg_entry d;
    struct clustermsg_scratch s;
    const char *argv[CLUSTERMSG_ARGV_MAX];
    size_t len[CLUSTERMSG_ARGV_MAX];
    char buf[4096];
    redisReply *const *es;
    size_t n;
    int argc = clustermsg_xadd_once(keys, 10000, 100000000000ull, &e, &s, argv, len);

    ok(argc <= CLUSTERMSG_ARGV_MAX && strcmp(argv[0], "EVAL") == 0 &&
           argv[1] == CLUSTERMSG_ADD_ONCE_LUA && strcmp(argv[2], "3") == 0 &&
           strcmp(argv[3], keys[0]) == 0 && strcmp(argv[5], keys[2]) == 0 &&
           len[6] == 9 && memcmp(argv[6], "host:1:ab", 9) == 0 &&
           strcmp(argv[7], "9007199254740993") == 0 && strcmp(argv[8], "100000000000") == 0 &&
           strcmp(argv[9], "99913600000") == 0 && strcmp(argv[10], "10000") == 0,
       "EVAL script 3 in inseq inseen INSTANCE SEQ NOW OLD MAXLEN fields (%d arguments)", argc);
    redisReply *r = resp(buf, xread_resp(buf, sizeof buf, "5-1", 11, argc, argv, len));
    const char *why = clustermsg_read_reply(r, &es, &n);
    why = why ? why : n == 1 ? clustermsg_entry_decode(es[0], &d) : "no entry";
    ok(!why && d.seq == e.seq && d.kind == kind && d.client == client && d.len == e.len &&
           memcmp(d.data, data, e.len) == 0 && d.origin_len == 9,
       "the input entry read back (kind %c, client %llu): %s", kind ? kind : '-',
       (unsigned long long)client, why ? why : "same");
    freeReplyObject(r);
}

static void entry_bad(const char *fields, const char *want)
{
    char buf[1024];
    struct clustermsg_entry d;
    snprintf(buf, sizeof buf, "*2\r\n$3\r\n1-1\r\n%s", fields);
    redisReply *r = resp(buf, strlen(buf));
    const char *why = r ? clustermsg_entry_decode(r, &d) : "no reply";
    ok(why && strcmp(why, want) == 0, "entry refused: %s (%s)", want, why ? why : "taken");
    freeReplyObject(r);
}

static void test_entries(void)
{
    roundtrip(CLUSTERMSG_TEXT, true, 0, "hello", 5);
    roundtrip(CLUSTERMSG_TEXT, false, 0, "", 0);
    roundtrip(CLUSTERMSG_BINARY, true, 0, "\0\r\n\xff", 4);
    roundtrip(CLUSTERMSG_OVER, true, 1012, "program exit status 3: restarting", 33);
    roundtrip(CLUSTERMSG_LINES, true, 0, "one\ntwo\n\n", 9);
    entry_bad("*2\r\n$1\r\nt\r\n$5\r\nlines\r\n", "lines that do not end with a newline");
    entry_bad("*4\r\n$1\r\nt\r\n$5\r\nlines\r\n$1\r\nd\r\n$2\r\nab\r\n",
              "lines that do not end with a newline");
    entry_bad("*2\r\n$1\r\nd\r\n$1\r\nx\r\n", "no type (t)");
    entry_bad("*2\r\n$1\r\nt\r\n$4\r\njunk\r\n", "an unknown type");
    entry_bad("*1\r\n$1\r\nt\r\n", "an entry's fields are not [field, value, ...]");
    entry_bad("*2\r\n$1\r\nt\r\n:1\r\n", "a field or value is not a string");
    entry_bad("*2\r\n$1\r\nt\r\n$4\r\nover\r\n", "an over entry without a close code");
    entry_bad("*4\r\n$1\r\nt\r\n$4\r\nover\r\n$1\r\nc\r\n$3\r\n999\r\n",
              "a close code out of 1000-4999");
    entry_bad("*4\r\n$1\r\nt\r\n$4\r\ntext\r\n$1\r\nf\r\n$1\r\n2\r\n", "f is not 0 or 1");
    entry_bad("$-1\r\n", "a deleted entry");
    entry_bad("*4\r\n$1\r\nt\r\n$4\r\ntext\r\n$1\r\ns\r\n$1\r\n0\r\n",
              "s is not a sequence number");
    entry_bad("*4\r\n$1\r\nt\r\n$4\r\ntext\r\n$1\r\nk\r\n$1\r\nx\r\n", "k is not j, m or l");
    entry_bad("*4\r\n$1\r\nt\r\n$4\r\ntext\r\n$1\r\ni\r\n$16\r\n9007199254740993\r\n",
              "a client id out of 1 to 2^53");
    entry_bad("*4\r\n$1\r\nt\r\n$4\r\ntext\r\n$1\r\nk\r\n$1\r\nm\r\n", "k without i, or i without k");
    entry_bad("*4\r\n$1\r\nt\r\n$4\r\ntext\r\n$1\r\ni\r\n$1\r\n7\r\n", "k without i, or i without k");
    roundtrip_once(0, 0, "hello\n");
    roundtrip_once('j', 1, "{\"event\":\"join\",\"id\":1,\"env\":{}}\n");
    roundtrip_once('m', 9007199254740992ull, "");
    roundtrip_once('l', 42, "{\"event\":\"leave\",\"id\":42}\n");

    /* shapes that are not what was asked for */
    struct {
        const char *resp, *why;
    } bad[] = {
        {"-ERR no\r\n", "an error reply"},
        {":1\r\n", "not an array of streams"},
        {"*0\r\n", "not an array of streams"},
        {"*1\r\n$3\r\nkey\r\n", "a stream is not [key, entries]"},
        {"*1\r\n*2\r\n$3\r\nkey\r\n$1\r\nx\r\n", "a stream's entries are not an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        redisReply *r = resp(bad[i].resp, strlen(bad[i].resp)), *const *es;
        size_t n;
        const char *why = clustermsg_read_reply(r, &es, &n);
        ok(why && strcmp(why, bad[i].why) == 0, "reply refused: %s (%s)", bad[i].why,
           why ? why : "taken");
        freeReplyObject(r);
    }
    redisReply *nil = resp("*-1\r\n", 5), *const *es;
    size_t n = 9;
    ok(clustermsg_read_reply(nil, &es, &n) == NULL && n == 0, "a nil reply: BLOCK timed out");
    freeReplyObject(nil);

    struct clustermsg_id top;
    bool found;
    redisReply *t = resp("*1\r\n*2\r\n$4\r\n17-2\r\n*0\r\n", 22);
    ok(clustermsg_top_reply(t, &top, &found) == NULL && found && top.ms == 17 && top.seq == 2,
       "XREVRANGE: the top id");
    freeReplyObject(t);
    t = resp("*0\r\n", 4);
    ok(clustermsg_top_reply(t, &top, &found) == NULL && !found && top.ms == 0,
       "XREVRANGE: an empty stream");
    freeReplyObject(t);
    t = resp("*1\r\n*2\r\n$4\r\nab-c\r\n*0\r\n", 22);
    ok(clustermsg_top_reply(t, &top, &found) != NULL, "XREVRANGE: a malformed id refused");
    freeReplyObject(t);
}

int main(void)
{
    test_url();
    test_ids();
    test_entries();
    return tap_done();
}
