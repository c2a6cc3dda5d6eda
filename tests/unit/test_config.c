/* Unit tests of config_parse: websocketd's syntax, defaults and exit codes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

/* Parses a NULL-terminated list of arguments (argv[0] added); stderr silenced. */
static int parse(struct config *c, ...)
{
    static char name[] = "wsbridge";
    static char *argv[32]; /* config points into argv, as into main's */
    memset(argv, 0, sizeof argv);
    argv[0] = name;
    int argc = 1, saved = dup(2), rc;
    va_list ap;
    va_start(ap, c);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    fflush(stderr);
    freopen("/dev/null", "w", stderr);
    rc = config_parse(c, argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return rc;
}

static void test_defaults(void)
{
    struct config c;
    int rc = parse(&c, "cat", NULL);
    is_int(rc, -1, "a COMMAND alone parses");
    is_int(c.port, 80, "port defaults to 80");
    ok(c.command && strcmp(c.command[0], "cat") == 0 && c.command[1] == NULL, "COMMAND is argv");
    ok(c.command_path && c.command_path[0] == '/' && strstr(c.command_path, "cat"),
       "COMMAND resolved on PATH to an absolute path (%s)", c.command_path ? c.command_path : "-");
    ok(c.passenv && strcmp(c.passenv[0], "PATH") == 0 && strcmp(c.passenv[1], "LD_LIBRARY_PATH") == 0 &&
           !c.passenv[2],
       "passenv defaults to PATH,LD_LIBRARY_PATH");
    is_int(c.handshake_timeout_ms, 10000, "handshake timeout 10 s");
    is_int(c.max_header_bytes, 16384, "max header bytes");
    is_int(c.max_headers, 100, "max headers");
    is_int(c.loglevel, LOG_ACCESS, "loglevel access");
    ok(!c.binary && !c.sameorigin && !c.origins && c.maxforks == 0 && c.naddresses == 0,
       "everything else off");
    config_free(&c);
}

static void test_syntax(void)
{
    struct config c;
    int rc = parse(&c, "-port", "8080", "--binary", "--maxforks=7", "-closems=50", "--address",
                   "[::1]", "--address=127.0.0.1", "--header=X-A: 1", "--header", "X-B: 2",
                   "--passenv=HOME, TERM", "--origin=a.example,https://b.example:8443",
                   "--maxframesize=1048576", "--loglevel", "error", "cat", "--port=1", "-x", NULL);
    is_int(rc, -1, "every form parses");
    is_int(c.port, 8080, "-port 8080 (one dash, separate value)");
    ok(c.binary, "--binary");
    is_int(c.maxforks, 7, "--maxforks=7");
    is_int(c.closems, 50, "-closems=50");
    ok(c.naddresses == 2 && strcmp(c.addresses[0], "::1") == 0 && strcmp(c.addresses[1], "127.0.0.1") == 0,
       "--address repeatable, IPv6 stored without brackets");
    ok(c.headers && strcmp(c.headers[0], "X-A: 1") == 0 && strcmp(c.headers[1], "X-B: 2") == 0,
       "--header repeatable in both forms");
    ok(strcmp(c.passenv[0], "HOME") == 0 && strcmp(c.passenv[1], "TERM") == 0 && !c.passenv[2],
       "--passenv replaces the default, spaces trimmed");
    ok(strcmp(c.origins[0], "a.example") == 0 && strcmp(c.origins[1], "https://b.example:8443") == 0,
       "--origin list");
    ok(c.maxframesize == 1048576, "--maxframesize");
    is_int(c.loglevel, LOG_ERROR, "--loglevel error");
    ok(strcmp(c.command[0], "cat") == 0 && strcmp(c.command[1], "--port=1") == 0 &&
           strcmp(c.command[2], "-x") == 0,
       "parsing stops at COMMAND: later flags are its own");
    config_free(&c);

    rc = parse(&c, "--port=0", "--", "-weird-name-but-command", NULL);
    ok(rc == 1, "after --, a dash word is COMMAND (here: not found -> 1)");
    rc = parse(&c, "--port=0", "cat", NULL);
    ok(rc == -1 && c.port == 0, "an explicit --port=0 stays 0 (the kernel picks)");
    config_free(&c);
    rc = parse(&c, "--binary=false", "--sameorigin=true", "cat", NULL);
    ok(rc == -1 && !c.binary && c.sameorigin, "booleans take =true/=false");
    config_free(&c);
}

static void test_exit_codes(void)
{
    struct config c;
    is_int(parse(&c, "--nope", "cat", NULL), CONFIG_EXIT_UNKNOWN_FLAG, "unknown flag -> 2");
    is_int(parse(&c, "--port=x", "cat", NULL), CONFIG_EXIT_BAD, "bad number -> 1");
    is_int(parse(&c, "--port=70000", "cat", NULL), CONFIG_EXIT_BAD, "port out of range -> 1");
    is_int(parse(&c, "--loglevel=loud", "cat", NULL), CONFIG_EXIT_BAD, "bad loglevel -> 1");
    is_int(parse(&c, "--port=80", NULL), CONFIG_EXIT_BAD, "no COMMAND -> 1");
    is_int(parse(&c, "no-such-command-xyz", NULL), CONFIG_EXIT_BAD, "COMMAND not on PATH -> 1");
    is_int(parse(&c, "--dir=/tmp", "cat", NULL), CONFIG_EXIT_BAD, "COMMAND with --dir -> 1");
    is_int(parse(&c, "--ssl", "cat", NULL), CONFIG_EXIT_BAD, "--ssl without cert/key -> 1");
    is_int(parse(&c, "--sslkey=k", "cat", NULL), CONFIG_EXIT_BAD, "--sslkey without --ssl -> 1");
    is_int(parse(&c, "--devconsole", "--cgidir=/tmp", NULL), CONFIG_EXIT_DEVCONSOLE,
           "--devconsole with --cgidir -> 4");
    is_int(parse(&c, "--header=bad header", "cat", NULL), CONFIG_EXIT_BAD, "--header without a colon -> 1");
    is_int(parse(&c, "--header=X(y): z", "cat", NULL), CONFIG_EXIT_BAD, "--header with a non-token name -> 1");
    is_int(parse(&c, "--maxforks", NULL), CONFIG_EXIT_BAD, "a flag missing its value -> 1");
    ok(parse(&c, "--ssl", "--sslcert=c", "--sslkey=k", "cat", NULL) == -1 && c.port == 443,
       "--ssl makes the default port 443");
    config_free(&c);

    int saved = dup(1);
    freopen("/dev/null", "w", stdout);
    int h = parse(&c, "--help", NULL), v = parse(&c, "-version", NULL), l = parse(&c, "--license", NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ok(h == 0 && v == 0 && l == 0, "--help, -version, --license -> 0 (%d %d %d)", h, v, l);
}

int main(void)
{
    test_defaults();
    test_syntax();
    test_exit_codes();
    return tap_done();
}
