/*
 * Unit tests of authz_answer: an --authorizer's output and exit status into
 * a decision, and the refusal response written from it.
 */
#include "authz_answer.h"
#include "tap.h"
#include "ws_error.h"

#include <stdlib.h>

/* The decision for out (a string) and exit status st: the status, 0 for allowed. */
static int status_of(const char *out, int st)
{
    struct authz_answer a;
    int r;

    if (authz_answer_parse(out, strlen(out), false, st, 0, &a) != 0)
        abort();
    r = a.status;
    authz_answer_free(&a);
    return r;
}

static void test_decisions(void)
{
    static const struct {
        const char *out;
        int exit_status, want;
        const char *name;
    } cases[] = {
        {"", 0, 0, "no output, exit 0: allowed"},
        {"", 1, 403, "no output, exit 1: 403"},
        {"", 7, 403, "no output, exit 7: 403"},
        {"Status: 200\n", 0, 0, "Status: 200 allows"},
        {"Status: 204 No Content\n", 0, 0, "another 2xx allows"},
        {"Status: 101\n", 0, 0, "Status: 101 allows"},
        {"Status: 401 Unauthorized\n", 0, 401, "Status: 401 refuses"},
        {"Status: 401 Unauthorized\r\n", 0, 401, "CRLF lines"},
        {"status:429\n", 0, 429, "the name is case-insensitive, the space optional"},
        {"Status: 302 Found\nLocation: /login\n", 0, 302, "a redirect"},
        {"Status: 503\n", 0, 503, "a 5xx"},
        {"Status: 401\n", 1, 401, "exit 1 with a 4xx: that status"},
        {"Status: 200\n", 1, 403, "exit 1 with a 2xx: never allowed, 403"},
        {"Set-Env: AUTHZ_X=1\n", 1, 403, "exit 1 with variables: 403"},
        {"Status: 100\n", 0, 500, "Status 100: bad"},
        {"Status: 600\n", 0, 500, "Status 600: bad"},
        {"Status: 40\n", 0, 500, "Status of two digits: bad"},
        {"Status: 4011\n", 0, 500, "Status of four digits: bad"},
        {"Status: abc\n", 0, 500, "Status not a number: bad"},
        {"Status: 200\nStatus: 401\n", 0, 500, "two Status lines: bad"},
        {"hello world\n", 0, 500, "garbage: not a header line"},
        {": value\n", 0, 500, "an empty name"},
        {"Bad Name: x\n", 0, 500, "a name with a space"},
        {"X-A: a\x01b\n", 0, 500, "a control byte in a value"},
        {"X-A: a\tb\n", 0, 0, "a tab in a value is fine"},
        {"Set-Env: USER=alice\n", 0, 500, "Set-Env outside AUTHZ_"},
        {"Set-Env: PATH=/evil\n", 0, 500, "Set-Env of PATH"},
        {"Set-Env: AUTHZ_=x\n", 0, 500, "Set-Env of the bare prefix"},
        {"Set-Env: AUTHZ_A-B=x\n", 0, 500, "Set-Env name with '-'"},
        {"Set-Env: AUTHZ_X\n", 0, 500, "Set-Env without '='"},
        {"Connection: keep-alive\n", 0, 500, "Connection is the server's"},
        {"content-length: 5\n", 0, 500, "Content-Length is the server's"},
        {"Sec-WebSocket-Accept: x\n", 0, 500, "Sec-WebSocket-* is the server's"},
        {"Upgrade: h2c\n", 0, 500, "Upgrade is the server's"},
        {"Status: 200\n\nbody is ignored when allowed", 0, 0, "a body after an allow"},
        {"\nStatus: 401\n", 0, 0, "an empty first line: no headers, the rest is a body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        is_int(status_of(cases[i].out, cases[i].exit_status), cases[i].want, "%s", cases[i].name);
}

static void test_allowed(void)
{
    static const char out[] = "Set-Env: AUTHZ_USER=alice\r\n"
                              "Remote-User:   alice  \n"
                              "Set-Cookie: s=1; HttpOnly\n"
                              "Set-Env: AUTHZ_ROLE= a=b \n"
                              "X-Tight:v\n";
    struct authz_answer a;

    is_int(authz_answer_parse(out, sizeof out - 1, false, 0, 0, &a), 0, "allowed: parsed");
    is_int(a.status, 0, "allowed");
    ok(a.remote_user && strcmp(a.remote_user, "alice") == 0, "Remote-User, trimmed");
    ok(a.env[0] && strcmp(a.env[0], "AUTHZ_USER=alice") == 0, "first variable");
    ok(a.env[1] && strcmp(a.env[1], "AUTHZ_ROLE= a=b") == 0,
       "second variable: its value verbatim after the =");
    ok(a.env[2] == NULL, "two variables");
    ok(a.headers[0] && strcmp(a.headers[0], "Set-Cookie: s=1; HttpOnly") == 0,
       "a response header for the 101");
    ok(a.headers[1] && strcmp(a.headers[1], "X-Tight:v") == 0, "no space to add: kept as is");
    ok(a.headers[2] == NULL, "two headers: Set-Env and Remote-User are not response headers");
    ok(a.body == NULL, "no body when allowed");
    authz_answer_free(&a);
    ok(a.mem == NULL, "freed");
    authz_answer_free(&a);
}

static void test_refused(void)
{
    static const char out[] = "Status: 401 Unauthorized\n"
                              "WWW-Authenticate: Bearer realm=\"chat\"\n"
                              "Set-Env: AUTHZ_USER=mallory\n"
                              "Remote-User: mallory\n"
                              "Content-Type: application/json\n"
                              "\n"
                              "{\"error\":\"token expired\"}\n";
    static const char want[] = "HTTP/1.1 401 Unauthorized\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 26\r\n"
                               "Connection: close\r\n"
                               "X-Server: 1\r\n"
                               "WWW-Authenticate: Bearer realm=\"chat\"\r\n"
                               "\r\n"
                               "{\"error\":\"token expired\"}\n";
    struct authz_answer a;
    char buf[1024];
    int n;

    is_int(authz_answer_parse(out, sizeof out - 1, false, 0, 0, &a), 0, "refused: parsed");
    is_int(a.status, 401, "401");
    ok(a.env[0] == NULL && a.remote_user == NULL, "a refusal hands nothing to a program");
    n = authz_answer_write_refusal(&a, "X-Server: 1\r\n", buf, sizeof buf);
    is_mem(buf, n > 0 ? (size_t)n : 0, want, sizeof want - 1,
           "the response: status, the body's type and length, --header, the answer's headers, "
           "the body");
    ok(authz_answer_refusal_size(&a, "X-Server: 1\r\n") >= sizeof want - 1, "the size is enough");
    is_int(authz_answer_write_refusal(&a, NULL, buf, 40), WS_E_TOOBIG, "too small: WS_E_TOOBIG");
    authz_answer_free(&a);

    memset(&a, 0, sizeof a);
    authz_answer_refuse(&a, 503, "timeout");
    n = authz_answer_write_refusal(&a, NULL, buf, sizeof buf);
    static const char want503[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Length: 24\r\n"
                                  "Connection: close\r\n"
                                  "\r\n"
                                  "503 Service Unavailable\n";
    is_mem(buf, n > 0 ? (size_t)n : 0, want503, sizeof want503 - 1,
           "a refusal without output: a line naming the status");
    authz_answer_free(&a);
}

static void test_ends(void)
{
    struct authz_answer a;
    char big[AUTHZ_ANSWER_MAX + 10];
    char many[64 * 16];
    size_t n = 0;

    is_int(authz_answer_parse("", 0, false, 0, 9, &a), 0, "killed: parsed");
    is_int(a.status, 500, "killed by a signal: 500");
    authz_answer_free(&a);
    is_int(authz_answer_parse("Status: 200\n", 12, false, 0, 11, &a), 0, "crashed after OK");
    is_int(a.status, 500, "killed after printing an allow: still 500");
    authz_answer_free(&a);
    is_int(authz_answer_parse("", 0, true, 0, 0, &a), 0, "truncated: parsed");
    is_int(a.status, 500, "truncated output: 500");
    authz_answer_free(&a);
    memset(big, 'x', sizeof big);
    is_int(authz_answer_parse(big, sizeof big, false, 0, 0, &a), 0, "longer than the limit");
    is_int(a.status, 500, "more than AUTHZ_ANSWER_MAX: 500");
    authz_answer_free(&a);
    is_int(authz_answer_parse("X-A: 1\0X-B: 2\n", 14, false, 0, 0, &a), 0, "a NUL byte");
    is_int(a.status, 500, "a NUL byte in a line: 500");
    authz_answer_free(&a);
    for (unsigned i = 0; i <= AUTHZ_HEADERS_MAX; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "X-H%u: v\n", i);
    is_int(authz_answer_parse(many, n, false, 0, 0, &a), 0, "many headers");
    is_int(a.status, 500, "more than AUTHZ_HEADERS_MAX headers: 500");
    authz_answer_free(&a);
    is_int(authz_answer_parse("X-A: 1", 6, false, 0, 0, &a), 0, "no final newline");
    ok(a.status == 0 && a.headers[0] && strcmp(a.headers[0], "X-A: 1") == 0,
       "the last line without a newline counts");
    authz_answer_free(&a);
}

int main(void)
{
    test_decisions();
    test_allowed();
    test_refused();
    test_ends();
    return tap_done();
}
