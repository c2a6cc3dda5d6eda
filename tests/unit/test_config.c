/* Unit tests of config_parse: websocketd's syntax, defaults and exit codes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static char err[4096]; /* what the last parse() printed to stderr */

/* Parses a NULL-terminated list of arguments (argv[0] added); stderr captured in err. */
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
    FILE *tmp = tmpfile();
    fflush(stderr);
    dup2(fileno(tmp), 2);
    rc = config_parse(c, argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(err, 1, sizeof err - 1, tmp);
    while (n && err[n - 1] == '\n')
        n--;
    err[n] = '\0';
    fclose(tmp);
    return rc;
}

/* Refused with exit 1 and a message containing want. */
static void refused(int rc, const char *want, const char *what)
{
    ok(rc == CONFIG_EXIT_BAD && strstr(err, want), "%s -> 1 (%s)", what, err);
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
    ok(c.passenv && strcmp(c.passenv[0], "PATH") == 0 &&
           strcmp(c.passenv[1], "LD_LIBRARY_PATH") == 0 && !c.passenv[2],
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
    ok(c.naddresses == 2 && strcmp(c.addresses[0], "::1") == 0 &&
           strcmp(c.addresses[1], "127.0.0.1") == 0,
       "--address repeatable, IPv6 stored without brackets");
    ok(c.headers && strcmp(c.headers[0], "X-A: 1") == 0 && strcmp(c.headers[1], "X-B: 2") == 0,
       "--header repeatable in both forms");
    ok(strcmp(c.passenv[0], "HOME") == 0 && strcmp(c.passenv[1], "TERM") == 0 && !c.passenv[2],
       "--passenv replaces the default, spaces trimmed");
    ok(strcmp(c.origins[0], "a.example") == 0 &&
           strcmp(c.origins[1], "https://b.example:8443") == 0,
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

/* The flags test_syntax does not reach, each in both value forms. */
static void test_every_flag(void)
{
    struct config c;
    int rc = parse(&c, "--handshake-timeout=2500", "-max-header-bytes", "4096", "--max-headers",
                   "7", "--pingms=300", "--header-ws=X-W: w", "-header-http", "X-H: h",
                   "--reverselookup", "--passstderr=f", "--sameorigin=F", "--devconsole=False",
                   "--loglevel=trace", "cat", NULL);
    is_int(rc, -1, "the remaining flags parse");
    is_int(c.handshake_timeout_ms, 2500, "--handshake-timeout=2500");
    is_int(c.max_header_bytes, 4096, "-max-header-bytes 4096");
    is_int(c.max_headers, 7, "--max-headers 7");
    is_int(c.pingms, 300, "--pingms=300");
    ok(c.headers_ws && strcmp(c.headers_ws[0], "X-W: w") == 0 && !c.headers_ws[1], "--header-ws");
    ok(c.headers_http && strcmp(c.headers_http[0], "X-H: h") == 0 && !c.headers_http[1] &&
           !c.headers,
       "--header-http, and --header untouched");
    ok(c.reverselookup && !c.passstderr && !c.sameorigin && !c.devconsole,
       "booleans: bare, =f, =F, =False (Go's forms)");
    is_int(c.loglevel, LOG_DEBUG, "trace is debug");
    config_free(&c);

    rc = parse(&c, "--binary", "false", NULL);
    ok(rc == -1 && c.binary && strcmp(c.command[0], "false") == 0,
       "a boolean never takes the next word: 'false' is COMMAND (/bin/false)");
    config_free(&c);

    /* parsed (syntax and values checked), then refused: not yet served */
    rc = parse(&c, "--ssl", "--sslcert", "c.pem", "--sslkey=k.pem", "--sslca=ca.pem", "cat", NULL);
    ok(rc == -1 && c.ssl && c.port == 443 && c.sslca && strcmp(c.sslca, "ca.pem") == 0,
       "--ssl with cert, key and CA parses; --port defaults to 443");
    config_free(&c);
    refused(parse(&c, "--sslca=ca.pem", "cat", NULL), "--sslca needs --ssl", "--sslca alone");
    rc = parse(&c, "--dir=/tmp/", NULL);
    ok(rc == -1 && c.dir && strcmp(c.dir, "/tmp") == 0 && !c.command,
       "--dir alone parses, to the directory's real path (%s)", c.dir ? c.dir : "-");
    config_free(&c);
    rc = parse(&c, "--staticdir", "/tmp", "-cgidir=/", "--cgi-timeout=5", NULL);
    ok(rc == -1 && c.staticdir && c.cgidir && strcmp(c.cgidir, "/") == 0 && c.cgi_timeout_ms == 5,
       "--staticdir and --cgidir without COMMAND, --cgi-timeout");
    config_free(&c);
    refused(parse(&c, "--dir=/tmp", "cat", NULL), "either COMMAND or --dir", "--dir with COMMAND");
    rc = parse(&c, "cat", NULL);
    ok(rc == -1 && c.workers >= 1 && (long)c.workers == sysconf(_SC_NPROCESSORS_ONLN),
       "--workers defaults to the CPUs (%u)", c.workers);
    config_free(&c);
    rc = parse(&c, "--workers=3", "cat", NULL);
    ok(rc == -1 && c.workers == 3, "--workers=3");
    config_free(&c);
    refused(parse(&c, "--workers=0", "cat", NULL), "--workers must be 1 to 256", "--workers=0");
    refused(parse(&c, "--workers=257", "cat", NULL), "--workers must be 1 to 256", "--workers=257");
    refused(parse(&c, "--staticdir=/nonexistent-wsb", NULL), "--staticdir=/nonexistent-wsb: not a dir",
            "--staticdir must be a directory");
    refused(parse(&c, "--cgidir=/etc/passwd", NULL), "--cgidir=/etc/passwd: not a dir",
            "--cgidir must be a directory");
    rc = parse(&c, "--devconsole", "cat", NULL);
    ok(rc == -1 && c.devconsole, "--devconsole with COMMAND");
    config_free(&c);
    rc = parse(&c, "--redirport", "8081", "--unixsocket=/tmp/ws.sock", "cat", NULL);
    ok(rc == -1 && c.redirport == 8081 && c.unixsocket && strcmp(c.unixsocket, "/tmp/ws.sock") == 0,
       "--redirport 8081, --unixsocket");
    config_free(&c);
    refused(parse(&c, "--redirport=x", "cat", NULL), "--redirport needs a port",
            "--redirport's value is checked first");
    refused(parse(&c, "--unixsocket=", "cat", NULL), "--unixsocket needs a path",
            "--unixsocket empty");
    rc = parse(&c, "--passstderr=t", "cat", NULL);
    ok(rc == -1 && c.passstderr, "--passstderr=t");
    config_free(&c);
    rc = parse(&c, "--trust-proxy", "127.0.0.1, [::1],10.0.0.0/8,loopback,unix", "cat", NULL);
    ok(rc == -1 && c.trust_proxy.n == 6 && proxy_trusted(&c.trust_proxy, "10.9.8.7") &&
           proxy_trusted(&c.trust_proxy, "unix-socket") && !proxy_trusted(&c.trust_proxy, "11.0.0.1"),
       "--trust-proxy LIST parsed into networks");
    config_free(&c);
    rc = parse(&c, "cat", NULL);
    ok(rc == -1 && c.trust_proxy.n == 0 && !proxy_trusted(&c.trust_proxy, "127.0.0.1"),
       "no --trust-proxy: nobody is trusted");
    config_free(&c);
    refused(parse(&c, "--trust-proxy=10.0.0.0/8,example.com", "cat", NULL),
            "--trust-proxy: 'example.com' is not an address", "--trust-proxy names the bad entry");
    rc = parse(&c, "--passenv=", "cat", NULL);
    ok(rc == -1 && c.passenv && !c.passenv[0], "an empty --passenv is an empty list");
    config_free(&c);
    refused(parse(&c, "--origin=", "cat", NULL), "--origin needs at least one origin",
            "an empty --origin is refused (it would refuse every browser)");
    refused(parse(&c, "--origin= , ", "cat", NULL), "--origin needs", "--origin of blanks too");
    rc = parse(&c, "/bin/sh", "-c", "echo", NULL);
    ok(rc == -1 && c.command_path && c.command_path[0] == '/' && strcmp(c.command[1], "-c") == 0,
       "COMMAND with a '/' is used as a path, resolved to an absolute one (%s)",
       c.command_path ? c.command_path : "-");
    config_free(&c);

    is_int(log_level_parse("access"), LOG_ACCESS, "log level names: access");
    is_int(log_level_parse("fatal"), LOG_FATAL, "log level names: fatal");
    is_int(log_level_parse("loud"), -1, "log level names: unknown -> -1");
}

/* Issue 10: values checked and addresses resolved before anything listens. */
static void test_hardening(void)
{
    struct config c;
    int rc = parse(&c, "--closems=3600000", "--pingms=3600000", "--handshake-timeout=0",
                   "--max-header-bytes=1048576", "--max-headers=10000", "cat", NULL);
    ok(rc == -1 && c.closems == 3600000 && c.pingms == 3600000 && c.handshake_timeout_ms == 0 &&
           c.max_header_bytes == 1048576 && c.max_headers == 10000,
       "the maxima and --handshake-timeout=0 are taken");
    config_free(&c);
    refused(parse(&c, "--closems=4294967295", "cat", NULL), "--closems must be 0 to 3600000",
            "the range is in the message");
    rc = parse(&c, "cat", NULL);
    ok(rc == -1 && c.idle_timeout_ms == 0 && c.max_lifetime_ms == 0,
       "--idle-timeout and --max-lifetime are off by default");
    config_free(&c);
    rc = parse(&c, "--idle-timeout=604800000", "-max-lifetime", "250", "cat", NULL);
    ok(rc == -1 && c.idle_timeout_ms == 604800000 && c.max_lifetime_ms == 250,
       "--idle-timeout up to one week, --max-lifetime in either form");
    config_free(&c);
    refused(parse(&c, "--max-lifetime=604800001", "cat", NULL),
            "--max-lifetime must be 0 to 604800000 (one week)", "a lifetime past one week");
    refused(parse(&c, "--idle-timeout=5s", "cat", NULL), "--idle-timeout needs a number",
            "--idle-timeout in milliseconds only");

    rc = parse(&c, "--address=[::1]", "--address=127.0.0.1", "--address=127.0.0.1", "cat", NULL);
    ok(rc == -1 && c.nlisten == 2 && strcmp(c.listen[0].host, "::1") == 0 && c.listen[0].v6 &&
           strcmp(c.listen[1].host, "127.0.0.1") == 0 && !c.listen[1].v6 && !c.listen[1].optional,
       "addresses as written, a duplicate dropped");
    config_free(&c);
    rc = parse(&c, "--address=localhost", "cat", NULL);
    bool v4 = false;
    for (size_t i = 0; rc == -1 && i < c.nlisten; i++)
        v4 |= strcmp(c.listen[i].host, "127.0.0.1") == 0 && strcmp(c.listen[i].given, "localhost") == 0;
    ok(rc == -1 && v4, "--address=localhost resolves to 127.0.0.1 (%zu addresses)", c.nlisten);
    config_free(&c);

    rc = parse(&c, "--dir=/tmp", "--staticdir=/tmp", NULL);
    ok(rc == CONFIG_EXIT_BAD && strstr(err, "overlap"), "--staticdir = --dir refused (%s)", err);
    rc = parse(&c, "--dir=/tmp", "--staticdir=/", NULL);
    ok(rc == CONFIG_EXIT_BAD && strstr(err, "overlap"), "--dir inside --staticdir refused");
    rc = parse(&c, "--dir=/usr", "--staticdir=/usrx-not-inside", NULL);
    ok(rc == CONFIG_EXIT_BAD && strstr(err, "not a directory"), "a prefix is not inside");

    rc = parse(&c, "cat", "--port=8123", "-x", "--maxforks", "3", NULL);
    ok(rc == -1 && strstr(err, "warning: --port=8123 comes after COMMAND") &&
           strstr(err, "warning: --maxforks comes after") && !strstr(err, "-x comes"),
       "our flags after COMMAND are warned about (%s)", err);
    ok(c.port == 80 && strcmp(c.command[1], "--port=8123") == 0, "and still go to the program");
    config_free(&c);
    rc = parse(&c, "--", "cat", "--port=8123", NULL);
    ok(rc == -1 && !strstr(err, "warning"), "not after --");
    config_free(&c);
}

static void test_exit_codes(void)
{
    struct config c;
    is_int(parse(&c, "--nope", "cat", NULL), CONFIG_EXIT_UNKNOWN_FLAG, "unknown flag -> 2");
    ok(strstr(err, "--nope") && strstr(err, "see --help"), "it is named, with 'see --help'");
    refused(parse(&c, "--port=x", "cat", NULL), "--port needs a port number", "bad number");
    /* a bad value: exit 1, and the message names the flag */
    static const struct {
        const char *arg, *what;
    } bad_values[] = {
        {"--port=70000", "port out of range"},
        {"--loglevel=loud", "bad loglevel"},
        {"--maxforks=-1", "negative number"},
        {"--closems=10ms", "trailing garbage"},
        {"--pingms=", "empty number"},
        {"--maxframesize=99999999999999999999999", "number overflow"},
        {"--max-headers=4294967296", "over UINT_MAX"},
        {"--handshake-timeout=1e3", "not a decimal number"},
        {"--max-header-bytes=+5", "a sign"},
        {"--binary=yes", "not a Go boolean"},
        {"--trust-proxy=10.0.0.0/33", "prefix too long"},
        {"--trust-proxy=", "empty trusted list"},
        {"--header=bad header", "--header without a colon"},
        {"--header=X(y): z", "--header with a non-token name"},
        {"--header=X-A: 1\r\nX-B: 2", "--header with CR/LF"},
        {"--header-ws=: v", "--header-ws with no name"},
        {"--header-http=X-A 1", "--header-http without a colon"},
        /* ranges: no 32-bit wrap of closems + a ladder step, no 0 that means nothing */
        {"--closems=4294967295", "--closems past one hour"},
        {"--closems=3600001", "--closems one past the maximum"},
        {"--pingms=3600001", "--pingms past one hour"},
        {"--handshake-timeout=3600001", "--handshake-timeout past one hour"},
        {"--cgi-timeout=0", "--cgi-timeout=0 (would time out at once)"},
        {"--max-header-bytes=0", "--max-header-bytes=0"},
        {"--max-header-bytes=1048577", "--max-header-bytes past 1 MiB"},
        {"--max-headers=0", "--max-headers=0"},
        {"--max-headers=10001", "--max-headers past 10000"},
        {"--address=", "an empty --address"},
        {"--address=127.0.0.300", "an IPv4 address out of range"},
        {"--address=[::zz]", "a bad IPv6 address"},
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        char flag[32];
        snprintf(flag, sizeof flag, "%.*s", (int)strcspn(bad_values[i].arg, "="),
                 bad_values[i].arg);
        refused(parse(&c, bad_values[i].arg, "cat", NULL), flag, bad_values[i].what);
    }
    refused(parse(&c, "--maxforks", NULL), "--maxforks needs a value", "a flag missing its value");
    is_int(parse(&c, "--port=80", NULL), CONFIG_EXIT_BAD, "no COMMAND -> 1");
    refused(parse(&c, "no-such-command-xyz", NULL), "COMMAND not found", "COMMAND not on PATH");
    refused(parse(&c, "--dir=/tmp", "cat", NULL), "COMMAND or --dir", "COMMAND with --dir");
    refused(parse(&c, "--ssl", "cat", NULL), "--ssl needs --sslcert", "--ssl without cert/key");
    refused(parse(&c, "--sslkey=k", "cat", NULL), "need --ssl", "--sslkey without --ssl");
    is_int(parse(&c, "--devconsole", "--cgidir=/tmp", NULL), CONFIG_EXIT_DEVCONSOLE,
           "--devconsole with --cgidir -> 4");
    is_int(parse(&c, "---port=1", "cat", NULL), CONFIG_EXIT_UNKNOWN_FLAG, "three dashes -> 2");
    refused(parse(&c, "--sslcert=c", "cat", NULL), "need --ssl", "--sslcert without --ssl");
    is_int(parse(&c, "--devconsole", "--staticdir=/tmp", NULL), CONFIG_EXIT_DEVCONSOLE,
           "--devconsole with --staticdir -> 4");
    is_int(parse(&c, "/etc/passwd", NULL), CONFIG_EXIT_BAD, "COMMAND not executable -> 1");
    is_int(parse(&c, "/tmp", NULL), CONFIG_EXIT_BAD, "COMMAND a directory -> 1");

    int saved = dup(1);
    freopen("/dev/null", "w", stdout);
    int h = parse(&c, "--help", NULL), v = parse(&c, "-version", NULL),
        l = parse(&c, "--license", NULL);
    int h2 = parse(&c, "-h", NULL), h3 = parse(&c, "--port=1", "-help", "cat", NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ok(h == 0 && v == 0 && l == 0, "--help, -version, --license -> 0 (%d %d %d)", h, v, l);
    ok(h2 == 0 && h3 == 0, "-h and -help -> 0 (%d %d)", h2, h3);
}

/* ---------------------------------------------------------------- --config=FILE */

static char conf_path[64];

/* Writes text (len bytes) to a fresh file; returns "--config=PATH" (static). */
static char *conf_len(const char *text, size_t len)
{
    static char arg[96];
    FILE *f;

    snprintf(conf_path, sizeof conf_path, "/tmp/wsb-test-config-%d.conf", (int)getpid());
    f = fopen(conf_path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    snprintf(arg, sizeof arg, "--config=%s", conf_path);
    return arg;
}

static char *conf(const char *text)
{
    return conf_len(text, strlen(text));
}

/* Refused with exit code want_rc, the message naming the file and line and containing want. */
static void refused_at(int rc, int want_rc, unsigned line, const char *want, const char *what)
{
    char at[96];
    snprintf(at, sizeof at, "%s:%u: ", conf_path, line);
    ok(rc == want_rc && strstr(err, at) && strstr(err, want), "%s -> %d at line %u (%s)", what,
       want_rc, line, err);
}

static void test_config_file(void)
{
    struct config c;
    int rc;

    rc = parse(&c,
               conf("# a comment\n\n  port = 8123 \r\n--maxforks=7\nbinary\nsameorigin=false\n"
                    "header=X-A: 1 # not a comment\nheader=X-B: 2\norigin=a.example, b.example\n"
                    "\t# an indented comment\ncommand=/bin/sh -c 'echo \"$0\" x' \"a b\" c\\ d "
                    "\"q\\\"\\\\\" ''\n"),
               NULL);
    is_int(rc, -1, "a file with comments, blank lines, CR LF, spaces and dashes parses (%s)", err);
    is_int(c.port, 8123, "port=8123 (spaces around '=' and a CR dropped)");
    is_int(c.maxforks, 7, "--maxforks=7: the dashes may be written");
    ok(c.binary && !c.sameorigin, "a boolean alone is on; =false is off");
    ok(c.headers && strcmp(c.headers[0], "X-A: 1 # not a comment") == 0 &&
           strcmp(c.headers[1], "X-B: 2") == 0 && !c.headers[2],
       "repeatable options once a line; '#' inside a value is kept");
    ok(c.origins && strcmp(c.origins[1], "b.example") == 0, "a list option");
    ok(c.command && strcmp(c.command[0], "/bin/sh") == 0 && strcmp(c.command[1], "-c") == 0 &&
           strcmp(c.command[2], "echo \"$0\" x") == 0 && strcmp(c.command[3], "a b") == 0 &&
           strcmp(c.command[4], "c d") == 0 && strcmp(c.command[5], "q\"\\") == 0 &&
           strcmp(c.command[6], "") == 0 && !c.command[7],
       "command= is split as sh splits words, without expansion");
    ok(c.config_file && strstr(c.config_file, conf_path), "config_file is the path");
    config_free(&c);

    /* the command line wins */
    rc = parse(&c, conf("port=8123\nmaxforks=7\nheader=X-A: 1\nheader=X-B: 2\ncommand=/bin/sh\n"),
               "--port=9000", "--header=X-C: 3", "cat", NULL);
    is_int(rc, -1, "the file and the command line together");
    is_int(c.port, 9000, "--port on the command line wins over port=");
    is_int(c.maxforks, 7, "what the command line does not give comes from the file");
    ok(c.headers && strcmp(c.headers[0], "X-C: 3") == 0 && !c.headers[1],
       "a repeatable option on the command line replaces the file's values");
    ok(c.command && strcmp(c.command[0], "cat") == 0, "COMMAND on the command line wins");
    config_free(&c);
    rc = parse(&c, conf("maxforks=7\n"), "--maxforks=2", "cat", NULL);
    is_int(c.maxforks, 2, "order does not matter: the command line still wins");
    config_free(&c);
    rc = parse(&c, "--maxforks=2", conf("maxforks=7\n"), "cat", NULL);
    is_int(c.maxforks, 2, "--config after the option: the command line still wins");
    config_free(&c);

    /* errors name the file and the line */
    static const struct {
        const char *text;
        bool command; /* "cat" on the command line */
        int rc;
        unsigned line;
        const char *want, *what;
    } errors[] = {
        {"port=8123\n\n# x\nprot=8080\n", true, CONFIG_EXIT_UNKNOWN_FLAG, 4,
         "unknown option 'prot' (did you mean 'port'?)", "a misspelt option"},
        {"maxfroks=1\n", true, CONFIG_EXIT_UNKNOWN_FLAG, 1, "did you mean 'maxforks'?",
         "two letters swapped"},
        {"zzzzzzzz=1\n", true, CONFIG_EXIT_UNKNOWN_FLAG, 1,
         "unknown option 'zzzzzzzz' (see wsbridge --help)", "nothing close: no suggestion"},
        {"\nport=http\n", true, CONFIG_EXIT_BAD, 2,
         "--port needs a port number 0-65535, not 'http'", "a bad value"},
        {"maxforks\n", true, CONFIG_EXIT_BAD, 1, "option 'maxforks' needs a value",
         "a value missing"},
        {"help\n", true, CONFIG_EXIT_BAD, 1, "'help' cannot be used in a configuration file",
         "help"},
        {"config=/etc/passwd\n", true, CONFIG_EXIT_BAD, 1, "'config' cannot be used",
         "a file naming another"},
        {"command=sh -c 'echo\n", false, CONFIG_EXIT_BAD, 1, "single quote is not closed",
         "an open quote"},
        {"command=sh \"echo\n", false, CONFIG_EXIT_BAD, 1, "double quote is not closed",
         "an open double quote"},
        {"command=  \n", false, CONFIG_EXIT_BAD, 1, "command needs a program", "an empty command="},
        {"=5\n", true, CONFIG_EXIT_BAD, 1, "without an option name", "a line without a name"},
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        rc = parse(&c, conf(errors[i].text), errors[i].command ? "cat" : NULL, NULL);
        refused_at(rc, errors[i].rc, errors[i].line, errors[i].want, errors[i].what);
    }
    rc = parse(&c, conf_len("port=1\nmax\0forks=1\n", 20), "cat", NULL);
    refused_at(rc, CONFIG_EXIT_BAD, 2, "NUL byte", "a NUL byte");
    rc = parse(&c, "--config=/nonexistent/wsb.conf", "cat", NULL);
    refused(rc, "--config=/nonexistent/wsb.conf: cannot open it", "a missing file");
    rc = parse(&c, "--config=/tmp", "cat", NULL);
    refused(rc, "not a regular file", "a directory");
    rc = parse(&c, "--config=", "cat", NULL);
    refused(rc, "--config needs a file name", "an empty --config");
    rc = parse(&c, conf("port=1\n"), NULL);
    refused(rc, "no COMMAND given", "checked as a whole afterwards");
    ok(!strstr(err, conf_path), "an error of the whole is not blamed on a line (%s)", err);

    /* --help answers even when the file is broken */
    int saved = dup(1);
    FILE *devnull = fopen("/dev/null", "w");
    fflush(stdout);
    dup2(fileno(devnull), 1);
    rc = parse(&c, conf("prot=1\n"), "--help", NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(devnull);
    is_int(rc, CONFIG_EXIT_OK, "--help with a broken file: the help");
    unlink(conf_path);
}

/* config_reload, then config_apply when *napplied is wanted and it succeeded, with the log
 * (at debug) captured in err. */
static int reload_captured(struct config *live, struct config *next, unsigned *napplied)
{
    int saved = dup(2), rc;
    FILE *tmp = tmpfile();

    fflush(stderr);
    dup2(fileno(tmp), 2);
    log_set_level(LOG_DEBUG);
    rc = config_reload(live, next, false);
    if (rc == 0 && napplied)
        *napplied = config_apply(live, next, false);
    log_set_level(LOG_ACCESS);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t got = fread(err, 1, sizeof err - 1, tmp);
    err[got] = '\0';
    fclose(tmp);
    return rc;
}

/* SIGHUP: config_reload + config_apply on a file that changed. */
static void test_config_reload(void)
{
    struct config base, next, live;
    int rc;

    rc = parse(&base,
               conf("port=8123\nmaxforks=1\nheader=X-A: 1\nbinary\npingms=1000\ncommand=cat\n"),
               NULL);
    is_int(rc, -1, "the first file parses");
    live = base;
    conf("port=9000\nmaxforks=5\nheader=X-A: 2\nheader=X-B: 3\npingms=2000\nloglevel=error\n"
         "idle-timeout=30000\ncommand=/bin/sh -c 'exec cat'\n");
    unsigned n = 0;
    rc = reload_captured(&live, &next, &n);
    is_int(rc, 0, "config_reload reads the changed file");
    is_int(n, 6, "six changes applied: maxforks, binary, header, loglevel, idle-timeout, command (%s)",
           err);
    is_int(live.idle_timeout_ms, 30000, "idle-timeout applied (for sessions from now on)");
    is_int(live.maxforks, 5, "maxforks applied");
    ok(!live.binary, "binary (gone from the file) applied");
    ok(live.headers && strcmp(live.headers[1], "X-B: 3") == 0, "headers applied");
    is_int(live.loglevel, LOG_ERROR, "loglevel applied");
    ok(live.command && strcmp(live.command[0], "/bin/sh") == 0 && live.command_path &&
           strcmp(live.command_path, next.command_path) == 0,
       "COMMAND applied, with its resolved path");
    is_int(live.port, 8123, "port needs a restart: unchanged");
    is_int(live.pingms, 1000, "pingms needs a restart: unchanged");
    ok(strstr(err, "SIGHUP: maxforks=5 (was 1)") != NULL, "the log says what changed");
    ok(strstr(err, "SIGHUP: port=9000 needs a restart to take effect (still 8123)") &&
           strstr(err, "SIGHUP: pingms=2000 needs a restart"),
       "and what needs a restart");
    ok(strstr(err, "6 changes applied, 2 need a restart") != NULL, "and counts both");

    /* a broken file changes nothing */
    struct config broken;
    conf("maxforks=9\nprot=1\n");
    rc = reload_captured(&live, &broken, NULL);
    is_int(rc, -1, "a broken file: config_reload fails");
    ok(strstr(err, ":2: unknown option 'prot'") != NULL, "its line is logged (%s)", err);
    is_int(live.maxforks, 5, "and nothing changed");
    config_free(&next);
    config_free(&base);
    unlink(conf_path);
}

int main(void)
{
    test_defaults();
    test_syntax();
    test_every_flag();
    test_hardening();
    test_exit_codes();
    test_config_file();
    test_config_reload();
    return tap_done();
}
