/*
 * Unit tests of upgrade: the origin policy, the 101 response and its extra
 * headers, on requests parsed by handshake.
 */
#include "handshake.h"
#include "tap.h"
#include "upgrade.h"
#include "ws_error.h"

#include <stdlib.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/* the fixed part of the 101 for KEY */
#define HEAD_101                                                                                   \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"            \
    "Sec-WebSocket-Accept: " ACCEPT "\r\n"

/* A checked upgrade request with Host host and the header lines extra ("Name: v\r\n"...). */
static void request_with(struct handshake *h, const char *host, const char *extra)
{
    char req[1024];
    size_t consumed;
    int n = snprintf(req, sizeof req,
                     "GET /x HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     host, extra);
    if (handshake_init(h, NULL) != 0 ||
        handshake_execute(h, req, (size_t)n, &consumed) != HANDSHAKE_COMPLETE ||
        handshake_check(h) != 0)
        abort();
}

/* ... with Origin origin unless NULL. */
static void request(struct handshake *h, const char *host, const char *origin)
{
    char extra[512] = "";

    if (origin)
        snprintf(extra, sizeof extra, "Origin: %s\r\n", origin);
    request_with(h, host, extra);
}

static int decide(const struct upgrade_policy *p, const char *host, const char *origin)
{
    struct handshake h;
    struct upgrade_verdict v;
    int status;

    request(&h, host, origin);
    if (upgrade_decide(p, &h, &v) != 0)
        abort();
    status = v.status;
    if (status == 101 && (v.response == NULL || v.response_len == 0))
        status = -1;
    if (status != 101 && v.response != NULL)
        status = -2;
    upgrade_verdict_free(&v);
    handshake_free(&h);
    return status;
}

static void test_origin_matches(void)
{
    static const struct {
        const char *origin, *entry;
        bool want;
    } cases[] = {
        {"http://example.com", "example.com", true},
        {"https://example.com", "example.com", true},
        {"HTTPS://EXAMPLE.com", "example.COM", true},
        {"ftp://example.com", "example.com", false},
        {"http://example.com:8080", "example.com", true},
        {"http://example.com:8080", "example.com:8080", true},
        {"http://example.com:8081", "example.com:8080", false},
        {"http://example.com", "example.com:80", true},
        {"https://example.com", "example.com:443", true},
        {"https://example.com", "example.com:80", false},
        {"http://example.com", "https://example.com", false},
        {"https://example.com", "https://example.com", true},
        {"http://example.org", "example.com", false},
        {"http://sub.example.com", "example.com", false},
        {"http://example.com.evil", "example.com", false},
        {"http://[::1]:8080", "[::1]:8080", true},
        {"http://[::1]", "[::1]:8080", false},
        {"http://[::1]", "[::1]", true},
        {"http://example.com/path", "example.com", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ok(upgrade_origin_matches(cases[i].origin, cases[i].entry) == cases[i].want,
           "origin %s against --origin=%s: %s", cases[i].origin, cases[i].entry,
           cases[i].want ? "matches" : "does not match");
}

static void test_policy(void)
{
    static const char *const one[] = {"example.com", NULL};
    static const char *const two[] = {"https://a.example", "b.example:9000", NULL};
    struct upgrade_policy any = {0}, listed = {.origins = one}, listed2 = {.origins = two},
                          same = {.sameorigin = true}, both = {.origins = one, .sameorigin = true};

    is_int(decide(&any, "h", NULL), 101, "no policy: no Origin is fine");
    is_int(decide(&any, "h", "http://evil.example"), 101, "no policy: any Origin");
    is_int(decide(&listed, "h", NULL), 403, "--origin: no Origin is refused");
    is_int(decide(&listed, "h", ""), 403, "--origin: an empty Origin is refused");
    is_int(decide(&listed, "h", "null"), 403, "--origin: Origin null is refused");
    is_int(decide(&listed, "h", "http://example.com"), 101, "--origin: a listed origin");
    is_int(decide(&listed, "h", "http://other.com"), 403, "--origin: another origin");
    is_int(decide(&listed2, "h", "https://a.example"), 101, "second list: scheme matches");
    is_int(decide(&listed2, "h", "http://a.example"), 403, "second list: scheme differs");
    is_int(decide(&listed2, "h", "http://b.example:9000"), 101, "second list: port matches");
    is_int(decide(&listed2, "h", "http://b.example"), 403, "second list: default port differs");
    is_int(decide(&same, "host.example:8080", "http://host.example:8080"), 101,
           "--sameorigin: Origin host:port equals Host");
    is_int(decide(&same, "HOST.example:8080", "http://host.example:8080"), 101,
           "--sameorigin: case-insensitive");
    is_int(decide(&same, "host.example:8080", "http://host.example:8081"), 403,
           "--sameorigin: another port");
    is_int(decide(&same, "host.example", "http://evil.example"), 403, "--sameorigin: another host");
    is_int(decide(&same, "host.example", NULL), 403, "--sameorigin: no Origin");
    is_int(decide(&both, "example.com", "http://example.com"), 101, "both policies pass");
    is_int(decide(&both, "other.com", "http://example.com"), 403, "listed but not same origin");
}

static void test_response(void)
{
    static const char *const all[] = {"X-A: 1", "X-B: two", NULL};
    static const char *const ws[] = {"X-Ws: yes", NULL};
    struct upgrade_policy p = {.headers = all, .headers_ws = ws};
    struct handshake h;
    struct upgrade_verdict v;
    static const char want[] = HEAD_101 "X-A: 1\r\nX-B: two\r\nX-Ws: yes\r\n"
                                        "\r\n";

    request(&h, "h", NULL);
    is_int(upgrade_decide(&p, &h, &v), 0, "decided");
    is_int(v.status, 101, "101");
    is_mem(v.response, v.response_len, want, sizeof want - 1,
           "the 101 response: accept key (RFC 6455's example), then --header, --header-ws");
    upgrade_verdict_free(&v);
    ok(v.response == NULL && v.response_len == 0, "free clears the verdict");
    upgrade_verdict_free(&v); /* twice is safe */

    p.headers = p.headers_ws = NULL;
    is_int(upgrade_decide(&p, &h, &v), 0, "decided without extra headers");
    ok(v.response_len > 0 && strstr(v.response, "X-A") == NULL, "no extra header lines");
    upgrade_verdict_free(&v);
    handshake_free(&h);

    char *lines = upgrade_header_lines(all, NULL);
    ok(lines && strcmp(lines, "X-A: 1\r\nX-B: two\r\n") == 0, "header lines of one list");
    free(lines);
    ok(upgrade_header_lines(NULL, NULL) == NULL, "no lists: NULL");
}

/* The name selected for the offer in extra, "-" for none. */
static const char *select_for(const char *const *server, const char *extra)
{
    struct handshake h;
    const char *got;

    request_with(&h, "h", extra);
    got = upgrade_subprotocol_select(server, &h);
    handshake_free(&h);
    return got ? got : "-";
}

static void test_subprotocol_select(void)
{
    static const char *const pref[] = {"v2.chat", "v1.chat", "json", NULL};
    static const struct {
        const char *extra, *want, *name;
    } cases[] = {
        {"", "-", "nothing offered"},
        {"Sec-WebSocket-Protocol: v1.chat\r\n", "v1.chat", "one offered, known"},
        {"Sec-WebSocket-Protocol: mqtt\r\n", "-", "one offered, unknown"},
        {"Sec-WebSocket-Protocol: v1.chat, v2.chat\r\n", "v2.chat",
         "the server's preference wins over the client's order"},
        {"Sec-WebSocket-Protocol: json,v1.chat\r\n", "v1.chat", "no space after the comma"},
        {"Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Protocol: json\r\n", "json",
         "offers in two headers"},
        {"sec-websocket-protocol:  \t json \t \r\n", "json", "header name case, whitespace"},
        {"Sec-WebSocket-Protocol: JSON\r\n", "-", "names are case-sensitive"},
        {"Sec-WebSocket-Protocol: v1.chatx, xv1.chat, v1\r\n", "-", "no prefix or suffix match"},
        {"Sec-WebSocket-Protocol: ,, ,\r\n", "-", "empty elements"},
        {"Sec-WebSocket-Protocol: a,,json,\r\n", "json", "empty elements around a match"},
        {"X-Protocol: json\r\n", "-", "another header is no offer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = select_for(pref, cases[i].extra);
        if (!ok(strcmp(got, cases[i].want) == 0, "select: %s", cases[i].name))
            diag("  got %s, want %s", got, cases[i].want);
    }
    ok(strcmp(select_for(NULL, "Sec-WebSocket-Protocol: json\r\n"), "-") == 0,
       "select: no server list, nothing chosen");
}

static void test_subprotocol_verdict(void)
{
    static const char *const pref[] = {"v2", "v1", NULL};
    static const char *const ws[] = {"X-Ws: yes", NULL};
    struct upgrade_policy p = {.subprotocols = pref, .headers_ws = ws};
    struct handshake h;
    struct upgrade_verdict v;
    static const char want[] = HEAD_101 "X-Ws: yes\r\n"
                                        "Sec-WebSocket-Protocol: v1\r\n"
                                        "\r\n";

    request_with(&h, "h", "Sec-WebSocket-Protocol: v0, v1\r\n");
    is_int(upgrade_decide(&p, &h, &v), 0, "subprotocol: decided");
    is_int(v.status, 101, "subprotocol: 101");
    ok(v.subprotocol == pref[1], "subprotocol: the verdict names the server's string");
    is_mem(v.response, v.response_len, want, sizeof want - 1,
           "subprotocol: the 101 echoes the chosen name after the extra headers");
    upgrade_verdict_free(&v);
    handshake_free(&h);

    request_with(&h, "h", "Sec-WebSocket-Protocol: v0\r\n");
    is_int(upgrade_decide(&p, &h, &v), 0, "none in common: decided");
    is_int(v.status, 101, "none in common, not required: 101");
    ok(v.subprotocol == NULL && strstr(v.response, "Sec-WebSocket-Protocol") == NULL,
       "none in common: no header, no name");
    upgrade_verdict_free(&v);
    p.subprotocol_required = true;
    is_int(upgrade_decide(&p, &h, &v), 0, "required: decided");
    is_int(v.status, 400, "required, none in common: 400");
    ok(v.response == NULL && v.subprotocol == NULL, "400: nothing allocated");
    handshake_free(&h);

    request_with(&h, "h", "");
    is_int(upgrade_decide(&p, &h, &v), 0, "required, nothing offered: decided");
    is_int(v.status, 400, "required, nothing offered: 400");
    handshake_free(&h);

    p.subprotocols = NULL;
    p.subprotocol_required = false;
    request_with(&h, "h", "Sec-WebSocket-Protocol: v1\r\n");
    is_int(upgrade_decide(&p, &h, &v), 0, "no --subprotocol: decided");
    ok(v.status == 101 && !v.subprotocol && !strstr(v.response, "Sec-WebSocket-Protocol"),
       "no --subprotocol: an offer is not echoed (websocketd)");
    upgrade_verdict_free(&v);
    handshake_free(&h);
}

int main(void)
{
    test_origin_matches();
    test_policy();
    test_response();
    test_subprotocol_select();
    test_subprotocol_verdict();
    return tap_done();
}
