/*
 * test_child_env: the CGI environment a child sees (child_env_build).
 */
#include <stdlib.h>
#include <string.h>

#include "child_env.h"
#include "handshake.h"
#include "tap.h"

static const char *get(char **env, const char *name)
{
    size_t n = strlen(name);
    for (; *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

static int count(char **env, const char *prefix)
{
    int c = 0;
    for (; *env; env++)
        c += strncmp(*env, prefix, strlen(prefix)) == 0;
    return c;
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof n - 1, v, sizeof v - 1                                                           \
    }

static void is_str(const char *got, const char *want, const char *name)
{
    if (!ok(got && want ? strcmp(got, want) == 0 : got == want, "%s", name))
        diag("  got '%s' want '%s'", got ? got : "(null)", want ? want : "(null)");
}

int main(void)
{
    struct handshake_header hdrs[] = {
        H("Host", "example.com:8080"),
        H("X-A", "1"),
        H("X_A", "2"),
        H("Proxy", "http://evil"),
        H("X-Multi", "a"),
        H("x-multi", "b"),
        H("Bad Name", "v"),
        H("X-Crlf", "a\r\nb"),
        H("User-Agent", "t"),
    };
    const char *passenv[] = {"WSB_TEST_KEEP", NULL};
    struct child_env_request r = {
        .server_software = "wsbridge/9",
        .passenv = passenv,
        .remote_addr = "127.0.0.1",
        .remote_port = 4242,
        .script_name = "/",
        .path = "/a%20b?q=1",
        .path_len = 6,
        .query = "q=1",
        .url = "/a%20b?q=1",
        .headers = hdrs,
        .nheaders = sizeof hdrs / sizeof hdrs[0],
        .unique_id = 77,
    };
    char **env;

    setenv("WSB_TEST_KEEP", "kept", 1);
    setenv("WSB_TEST_DROP", "dropped", 1);
    env = child_env_build(&r);
    ok(env != NULL, "built");
    is_str(get(env, "WSB_TEST_KEEP"), "kept", "passenv kept");
    is_str(get(env, "WSB_TEST_DROP"), NULL, "other parent variables dropped");
    is_str(get(env, "SERVER_SOFTWARE"), "wsbridge/9", "SERVER_SOFTWARE");
    is_str(get(env, "GATEWAY_INTERFACE"), "CGI/1.1", "GATEWAY_INTERFACE");
    is_str(get(env, "REQUEST_METHOD"), "GET", "REQUEST_METHOD");
    is_str(get(env, "SERVER_NAME"), "example.com", "SERVER_NAME from Host");
    is_str(get(env, "SERVER_PORT"), "8080", "SERVER_PORT from Host");
    is_str(get(env, "REMOTE_ADDR"), "127.0.0.1", "REMOTE_ADDR");
    is_str(get(env, "REMOTE_HOST"), "127.0.0.1", "REMOTE_HOST defaults to the address");
    is_str(get(env, "REMOTE_PORT"), "4242", "REMOTE_PORT");
    is_str(get(env, "SCRIPT_NAME"), "/", "SCRIPT_NAME");
    is_str(get(env, "PATH_INFO"), "/a b", "PATH_INFO decoded, without the query");
    is_str(get(env, "QUERY_STRING"), "q=1", "QUERY_STRING raw");
    is_str(get(env, "REQUEST_URI"), "/a%20b?q=1", "REQUEST_URI raw");
    is_str(get(env, "UNIQUE_ID"), "77", "UNIQUE_ID");
    is_str(get(env, "AUTH_TYPE"), "", "AUTH_TYPE empty");
    is_str(get(env, "HTTPS"), NULL, "no HTTPS without TLS");
    is_str(get(env, "HTTP_X_A"), "1", "X-A -> HTTP_X_A; X_A cannot shadow it");
    is_int(count(env, "HTTP_X_A="), 1, "HTTP_X_A once");
    is_str(get(env, "HTTP_PROXY"), NULL, "no HTTP_PROXY (httpoxy)");
    is_str(get(env, "HTTP_X_MULTI"), "a, b", "repeated headers joined with ', '");
    is_int(count(env, "HTTP_BAD"), 0, "non-token header name dropped");
    is_str(get(env, "HTTP_X_CRLF"), "a  b", "CR/LF in values -> space");
    is_str(get(env, "HTTP_USER_AGENT"), "t", "HTTP_USER_AGENT");
    free(env);

    hdrs[0] = (struct handshake_header)H("Host", "[::1]");
    r.https = true;
    env = child_env_build(&r);
    is_str(get(env, "SERVER_NAME"), "[::1]", "IPv6 Host without port");
    is_str(get(env, "SERVER_PORT"), "443", "port defaults to 443 under TLS");
    is_str(get(env, "HTTPS"), "on", "HTTPS=on under TLS");
    is_str(get(env, "LD_PRELOAD"), NULL, "no LD_PRELOAD without --unbuffered");
    is_str(get(env, "PYTHONUNBUFFERED"), NULL, "no PYTHONUNBUFFERED without --unbuffered");
    is_str(get(env, "TERM"), NULL, "no TERM without --pty");
    is_str(get(env, "SEC_WEBSOCKET_PROTOCOL"), NULL, "no subprotocol: no SEC_WEBSOCKET_PROTOCOL");
    is_str(get(env, "REMOTE_USER"), "", "REMOTE_USER empty without an authorizer");
    free(env);

    /* what an --authorizer hands on, and a subprotocol */
    char user[] = "AUTHZ_USER=alice", keep[] = "WSB_TEST_KEEP=from the authorizer",
         ctl[] = "AUTHZ_X=a\nb";
    char *const extra[] = {user, keep, ctl, NULL};
    r.extra_env = extra;
    r.remote_user = "alice";
    r.subprotocol = "chat.v2";
    env = child_env_build(&r);
    is_str(get(env, "AUTHZ_USER"), "alice", "an authorizer's variable");
    is_str(get(env, "AUTHZ_X"), "a b", "... its control bytes become spaces");
    is_str(get(env, "WSB_TEST_KEEP"), "from the authorizer",
           "the authorizer's value, not passenv's");
    is_int(count(env, "WSB_TEST_KEEP="), 1, "... and only once");
    is_str(get(env, "REMOTE_USER"), "alice", "REMOTE_USER from the authorizer");
    is_str(get(env, "SEC_WEBSOCKET_PROTOCOL"), "chat.v2", "SEC_WEBSOCKET_PROTOCOL");
    free(env);

    /* --unbuffered: ours replace passed ones, a passed LD_PRELOAD keeps its entries first */
    {
        const char *pass2[] = {"LD_PRELOAD", "PYTHONUNBUFFERED", "TERM", NULL};
        r.passenv = pass2;
        r.stdbuf_lib = "/usr/libexec/coreutils/libstdbuf.so";
        r.term = "dumb";
        unsetenv("LD_PRELOAD");
        setenv("PYTHONUNBUFFERED", "", 1);
        setenv("TERM", "vt100", 1);
        env = child_env_build(&r);
        is_str(get(env, "LD_PRELOAD"), "/usr/libexec/coreutils/libstdbuf.so",
               "--unbuffered: LD_PRELOAD is libstdbuf");
        is_str(get(env, "_STDBUF_O"), "L", "--unbuffered: _STDBUF_O=L (stdbuf -oL)");
        is_str(get(env, "_STDBUF_E"), NULL, "stderr left unbuffered");
        is_str(get(env, "PYTHONUNBUFFERED"), "1", "--unbuffered: PYTHONUNBUFFERED=1 replaces ''");
        is_int(count(env, "PYTHONUNBUFFERED="), 1, "PYTHONUNBUFFERED once");
        is_str(get(env, "TERM"), "vt100", "a passed TERM wins over --pty's");
        free(env);

        setenv("LD_PRELOAD", "/a.so /b.so", 1);
        unsetenv("TERM");
        env = child_env_build(&r);
        is_str(get(env, "LD_PRELOAD"), "/a.so /b.so:/usr/libexec/coreutils/libstdbuf.so",
               "a passed LD_PRELOAD keeps its entries, libstdbuf after them");
        is_int(count(env, "LD_PRELOAD="), 1, "LD_PRELOAD once");
        is_str(get(env, "TERM"), "dumb", "--pty's TERM when none is passed");
        free(env);

        r.passenv = passenv; /* LD_PRELOAD not passed: the parent's is not used */
        env = child_env_build(&r);
        is_str(get(env, "LD_PRELOAD"), "/usr/libexec/coreutils/libstdbuf.so",
               "an LD_PRELOAD not passed stays the server's");
        free(env);
        unsetenv("LD_PRELOAD");
    }
    return tap_done();
}
