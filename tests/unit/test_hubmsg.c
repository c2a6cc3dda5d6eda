/*
 * Unit tests of hubmsg: the addressed shared mode's JSON lines, parsed at a guard page (a read
 * past the line crashes), and the event lines built for the program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "hubmsg.h"
#include "tap.h"

/* Parses s (no NUL: the line ends at a guard page); returns the reason or NULL. */
static const char *parse(const char *s, struct hubmsg_out *o)
{
    size_t n = strlen(s);
    uint8_t *g = guard_alloc(n);
    memcpy(g, s, n);
    const char *why = hubmsg_parse_out(g, n, o);
    guard_free(g, n);
    return why;
}

static void good(const char *line, unsigned long to, unsigned long except, const char *data,
                 size_t dlen)
{
    struct hubmsg_out o;
    const char *why = parse(line, &o);
    ok(why == NULL && o.to == to && o.except == except && o.len == dlen &&
           memcmp(o.data, data, dlen) == 0,
       "accepted: %s (%s; to %lu except %lu, %zu bytes)", line, why ? why : "ok", o.to, o.except,
       o.len);
    hubmsg_out_free(&o);
}

static void bad(const char *line, const char *want)
{
    struct hubmsg_out o;
    const char *why = parse(line, &o);
    ok(why && strcmp(why, want) == 0, "refused: %s (%s)", line, why ? why : "accepted");
    hubmsg_out_free(&o);
}

static void test_parse(void)
{
    good("{\"data\":\"hi\"}", 0, 0, "hi", 2);
    good(" { \"to\" : 7 , \"data\" : \"x\" } ", 7, 0, "x", 1);
    good("{\"data\":\"x\",\"except\":9007199254740992}", 0, 9007199254740992ul, "x", 1);
    good("{\"data\":\"\"}", 0, 0, "", 0);
    good("{\"data\":\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\"}", 0, 0, "a\"b\\c/d\n\t\r\b\f", 12);
    good("{\"data\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}", 0, 0,
         "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    good("{\"data\":\"\\ud800x\"}", 0, 0, "\xef\xbf\xbdx", 4); /* a lone surrogate */
    good("{\"x\":[1,{\"y\":[true,false,null,\"s\\\"\"]},-2.5e3],\"data\":\"k\",\"z\":{}}", 0, 0,
         "k", 1);
    good("{\"data\":\"caf\xc3\xa9\"}", 0, 0, "caf\xc3\xa9", 5);
    bad("", "not a JSON object");
    bad("[1]", "not a JSON object");
    bad("{\"data\":\"x\"", "not a JSON object");
    bad("{\"data\":\"x\"} z", "bytes after the object");
    bad("{}", "no \"data\"");
    bad("{\"to\":1}", "no \"data\"");
    bad("{\"data\":1}", "\"data\" is not a string");
    bad("{\"data\":\"x\",\"data\":\"y\"}", "\"data\" twice");
    bad("{\"to\":0,\"data\":\"x\"}", "an id must be an integer from 1 to 2^53");
    bad("{\"to\":-1,\"data\":\"x\"}", "an id must be an integer from 1 to 2^53");
    bad("{\"to\":1.5,\"data\":\"x\"}", "an id must be an integer from 1 to 2^53");
    bad("{\"to\":9007199254740993,\"data\":\"x\"}", "an id must be an integer from 1 to 2^53");
    bad("{\"to\":\"1\",\"data\":\"x\"}", "an id must be an integer from 1 to 2^53");
    bad("{\"to\":1,\"except\":2,\"data\":\"x\"}", "both \"to\" and \"except\"");
    bad("{\"data\":\"\\q\"}", "bad string");
    bad("{\"data\":\"\\u12\"}", "bad string");
    bad("{\"data\":\"a\nb\"}", "bad string");
    bad("{\"data\":\"abc", "bad string");
    bad("{data:\"x\"}", "a key is not a string");
    bad("{\"x\" 1}", "no ':' after a key");
    bad("{\"x\":[1,,2],\"data\":\"k\"}", "bad JSON value");
    bad("{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],\"data\":"
        "\"\"}",
        "bad JSON value");
    bad("{\"x\":tru,\"data\":\"\"}", "bad JSON value");
    /* every prefix of a good line is refused, none read past its end */
    const char *line = "{\"to\":12,\"x\":[{\"a\":\"\\u00e9\"}],\"data\":\"\\ud83d\\ude00 ok\"}";
    unsigned refused = 0;
    for (size_t n = 0; n < strlen(line); n++) {
        char cut[128];
        struct hubmsg_out o;
        snprintf(cut, sizeof cut, "%.*s", (int)n, line);
        refused += parse(cut, &o) != NULL;
        hubmsg_out_free(&o);
    }
    is_int(refused, strlen(line), "every proper prefix of a good line is refused");
}

static void test_events(void)
{
    size_t n;
    uint8_t *p;
    char e1[] = "REMOTE_ADDR=127.0.0.1", e2[] = "HTTP_X=a\"b\\c\x01", e3[] = "NOEQUALS";
    char *const env[] = {e1, e2, e3, NULL};

    p = hubmsg_event_join(7, env, &n);
    const char *want = "{\"event\":\"join\",\"id\":7,\"env\":{\"REMOTE_ADDR\":\"127.0.0.1\","
                       "\"HTTP_X\":\"a\\\"b\\\\c\\u0001\"}}\n";
    is_mem(p, n, want, strlen(want), "join: the env as a JSON object, escaped");
    free(p);
    p = hubmsg_event_message(12, (const uint8_t *)"hi\n\xff", 4, false, &n);
    want = "{\"event\":\"message\",\"id\":12,\"data\":\"hi\\n\xef\xbf\xbd\"}\n";
    is_mem(p, n, want, strlen(want), "message: text escaped, invalid UTF-8 replaced");
    free(p);
    p = hubmsg_event_message(3, (const uint8_t *)"\x00\x01\xff", 3, true, &n);
    want = "{\"event\":\"message\",\"id\":3,\"base64\":\"AAH/\"}\n";
    is_mem(p, n, want, strlen(want), "message: binary as base64");
    free(p);
    p = hubmsg_event_leave(4, &n);
    want = "{\"event\":\"leave\",\"id\":4}\n";
    is_mem(p, n, want, strlen(want), "leave");
    free(p);
}

int main(void)
{
    test_parse();
    test_events();
    return tap_done();
}
