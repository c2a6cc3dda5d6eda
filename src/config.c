/*
 * config: websocketd's command line. Flags are a table: name, kind, where
 * the value goes. Parsing stops at the first argument that is not a flag.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-config.h"
#include "clustermsg.h"

enum kind {
    K_BOOL,   /* --x, --x=true|false */
    K_STR,    /* --x=v */
    K_UINT,   /* --x=N, min..max */
    K_PORT,   /* --x=N, 0..65535 */
    K_SIZE,   /* --x=N (64-bit), min..max */
    K_APPEND, /* repeatable --x=v, collected */
    K_LIST,   /* --x=a,b,c */
    K_LEVEL,  /* --loglevel */
    K_LOGFORMAT, /* --logformat */
    K_SHARED, /* --shared, --shared=broadcast|addressed */
    K_FRAMING, /* --framing=lines|json|length */
    K_HELP,
    K_VERSION,
    K_LICENSE,
    K_CONFIG, /* --config=FILE: read before the command line's options are set */
};

/* Where a flag's value goes: one of the config fields, by offset. */
struct flag {
    const char *name;
    enum kind kind;
    size_t off;
    size_t count_off; /* K_APPEND: where the count goes, or 0 */
    unsigned long long min, max; /* K_UINT, K_SIZE: the values taken */
    const char *unit;            /* K_UINT, K_SIZE: what max is, for the message */
};

#define OFF(field) offsetof(struct config, field)

static const struct flag flags[] = {
    {"port", K_PORT, OFF(port), 0},
    {"address", K_APPEND, OFF(addresses), OFF(naddresses)},
    {"unixsocket", K_STR, OFF(unixsocket), 0},
    {"ssl", K_BOOL, OFF(ssl), 0},
    {"sslcert", K_STR, OFF(sslcert), 0},
    {"sslkey", K_STR, OFF(sslkey), 0},
    {"sslca", K_STR, OFF(sslca), 0},
    {"redirport", K_PORT, OFF(redirport), 0},
    {"dir", K_STR, OFF(dir), 0},
    {"staticdir", K_STR, OFF(staticdir), 0},
    {"cgidir", K_STR, OFF(cgidir), 0},
    {"devconsole", K_BOOL, OFF(devconsole), 0},
    {"maxforks", K_UINT, OFF(maxforks), 0, 0, UINT_MAX, NULL},
    {"closems", K_UINT, OFF(closems), 0, 0, CONFIG_MS_MAX, "one hour"},
    {"pingms", K_UINT, OFF(pingms), 0, 0, CONFIG_MS_MAX, "one hour"},
    {"idle-timeout", K_UINT, OFF(idle_timeout_ms), 0, 0, CONFIG_LIFETIME_MAX, "one week"},
    {"max-lifetime", K_UINT, OFF(max_lifetime_ms), 0, 0, CONFIG_LIFETIME_MAX, "one week"},
    {"maxframesize", K_SIZE, OFF(maxframesize), 0, 0, UINT64_MAX, NULL},
    {"binary", K_BOOL, OFF(binary), 0},
    {"passstderr", K_BOOL, OFF(passstderr), 0},
    {"framing", K_FRAMING, OFF(framing), 0},
    {"deflate", K_BOOL, OFF(deflate), 0},
    {"deflate-params", K_STR, OFF(deflate_params), 0},
    {"pty", K_BOOL, OFF(pty), 0},
    {"unbuffered", K_BOOL, OFF(unbuffered), 0},
    {"trust-proxy", K_STR, OFF(trust_proxy_list), 0},
    {"handshake-timeout", K_UINT, OFF(handshake_timeout_ms), 0, 0, CONFIG_MS_MAX, "one hour"},
    {"cgi-timeout", K_UINT, OFF(cgi_timeout_ms), 0, 1, CONFIG_MS_MAX, "one hour"},
    {"workers", K_UINT, OFF(workers), 0, 0, UINT_MAX, NULL}, /* 1-256: validate() */
    {"max-header-bytes", K_SIZE, OFF(max_header_bytes), 0, 1, CONFIG_HEADER_BYTES_MAX, "1 MiB"},
    {"max-headers", K_UINT, OFF(max_headers), 0, 1, CONFIG_HEADERS_MAX, NULL},
    {"shared", K_SHARED, OFF(shared), 0},
    {"slow-client", K_STR, OFF(slow_client), 0},
    {"slow-client-queue", K_SIZE, OFF(slow_client_queue), 0, 131072, 1ull << 30, "1 GiB"},
    {"shared-linger", K_UINT, OFF(shared_linger_ms), 0, 0, CONFIG_MS_MAX, "one hour"},
    {"redis", K_STR, OFF(redis), 0},
    {"passenv", K_LIST, OFF(passenv), 0},
    {"reverselookup", K_BOOL, OFF(reverselookup), 0},
    {"origin", K_LIST, OFF(origins), 0},
    {"sameorigin", K_BOOL, OFF(sameorigin), 0},
    {"subprotocol", K_LIST, OFF(subprotocols), 0},
    {"subprotocol-required", K_BOOL, OFF(subprotocol_required), 0},
    {"authorizer", K_STR, OFF(authorizer), 0},
    {"authorizer-scope", K_STR, OFF(authorizer_scope), 0},
    {"authorizer-timeout", K_UINT, OFF(authorizer_timeout_ms), 0, 1, CONFIG_MS_MAX, "one hour"},
    {"authorizer-max", K_UINT, OFF(authorizer_max), 0, 1, 10000, NULL},
    {"header", K_APPEND, OFF(headers), 0},
    {"header-ws", K_APPEND, OFF(headers_ws), 0},
    {"header-http", K_APPEND, OFF(headers_http), 0},
    {"loglevel", K_LEVEL, OFF(loglevel), 0},
    {"logformat", K_LOGFORMAT, OFF(logformat), 0},
    {"metrics", K_STR, OFF(metrics), 0},
    {"config", K_CONFIG, OFF(config_file), 0},
    {"help", K_HELP, 0, 0},
    {"h", K_HELP, 0, 0}, /* Go's flag package: -h is -help */
    {"version", K_VERSION, 0, 0},
    {"license", K_LICENSE, 0, 0},
};

static const char license_text[] =
    "wsbridge " PACKAGE_VERSION "\n"
    "MIT License\n\n"
    "Copyright (c) 2026 the wsbridge developers\n\n"
    "Permission is hereby granted, free of charge, to any person obtaining a copy\n"
    "of this software and associated documentation files (the \"Software\"), to deal\n"
    "in the Software without restriction, including without limitation the rights\n"
    "to use, copy, modify, merge, publish, distribute, sublicense, and/or sell\n"
    "copies of the Software, and to permit persons to whom the Software is\n"
    "furnished to do so, subject to the following conditions:\n\n"
    "The above copyright notice and this permission notice shall be included in all\n"
    "copies or substantial portions of the Software.\n\n"
    "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\n"
    "IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\n"
    "FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\n"
    "AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\n"
    "LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\n"
    "OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\n"
    "SOFTWARE.\n";

void config_usage(FILE *out)
{
    fputs("Usage: wsbridge [OPTIONS] COMMAND [ARGS...]\n"
          "       wsbridge [OPTIONS] --dir=DIR\n"
          "       wsbridge [OPTIONS] --staticdir=DIR and/or --cgidir=DIR\n"
          "\n"
          "Serves COMMAND over WebSocket: one process per connection; each text message\n"
          "is a line on its stdin, each line it prints is a text message.\n"
          "Options are websocketd's: -x and --x are the same, values as --x=v or --x v;\n"
          "options end at COMMAND (or at --): ours written after COMMAND go to the program,\n"
          "with a warning. Boolean options take no value, or =true/=false.\n"
          "\n"
          "Listening:\n"
          "  --port=N               TCP port (default 80, 443 with --ssl; 0: the kernel picks)\n"
          "  --address=ADDR         listen on ADDR only; repeatable; IPv6 as [::1]; a host\n"
          "                         name: each of its addresses (default: all interfaces)\n"
          "  --ssl                  serve wss:// (TLS 1.2 or newer) on --port; needs --sslcert\n"
          "                         and --sslkey (PEM files; SIGHUP reads them again)\n"
          "  --sslcert=FILE         the certificate chain\n"
          "  --sslkey=FILE          its private key\n"
          "  --sslca=FILE           require client certificates signed by these CAs\n"
          "  --redirport=N          also listen on N (each address) and answer 301 to\n"
          "                         https://HOST:PORT/ (http:// without --ssl)\n"
          "  --unixsocket=PATH      also listen on a Unix socket (plain, REMOTE_ADDR=unix-socket);\n"
          "                         without --address and --port, only there\n"
          "\n"
          "Sessions:\n"
          "  --workers=N            N server processes sharing the port (default: one per\n"
          "                         CPU; 1: a single process)\n"
          "  --maxforks=N           at most N sessions at once; more get 429 (default: no limit)\n"
          "  --binary               binary mode: raw bytes both ways, no line splitting\n"
          "  --passstderr           send stdout and stderr lines as JSON text messages\n"
          "                         {\"stream\":\"stdout\"|\"stderr\",\"data\":\"...\"}\n"
          "                         (with --binary: stdout stays binary, stderr is JSON)\n"
          "  --framing=MODE         how messages map to stdin and stdout: lines (default, one\n"
          "                         message a line), json (one JSON value a line both ways:\n"
          "                         \"text\" or {\"binary\":\"BASE64\"}), length (records: a type\n"
          "                         byte 1 text/2 binary, +0x80 more to come, a 4-byte\n"
          "                         big-endian length, the payload). Not with --binary,\n"
          "                         --passstderr, --pty or --shared=addressed; with --shared\n"
          "                         each message goes to every client whole; see wsbridge(1),\n"
          "                         FRAMING\n"
          "  --unbuffered           make the program flush its output per line on a pipe:\n"
          "                         preloads coreutils' libstdbuf (dynamically linked C/C++\n"
          "                         stdio) and sets PYTHONUNBUFFERED=1; not for static or\n"
          "                         setuid programs, nor ones with their own buffering\n"
          "                         (Ruby, Perl, mawk): for those, --pty or flush in code\n"
          "  --pty                  run the program on a pseudo-terminal (stdout and stderr\n"
          "                         both to it): every program line-buffers as on a terminal.\n"
          "                         Lines are still messages (no echo, no CR LF); with --binary\n"
          "                         a terminal for browser terminals: keystrokes in, output\n"
          "                         out, size from ?cols=C&rows=R and {\"resize\":[C,R]}\n"
          "  --closems=MS           added to each step of the stop sequence (default 0)\n"
          "                         (MS values: at most 3600000, one hour)\n"
          "  --pingms=MS            ping every MS; drop a client silent for 2*MS (default: off)\n"
          "  --idle-timeout=MS      close a session with 1001 when no data message went either\n"
          "                         way for MS (pings do not count), then stop the program\n"
          "                         (default 0: off; at most 604800000, one week)\n"
          "  --max-lifetime=MS      close a session with 1001 MS after its upgrade, whatever\n"
          "                         the traffic, then stop the program (default 0: off)\n"
          "  --maxframesize=BYTES   largest inbound message; larger ones close with 1009\n"
          "                         (default: no limit; compressed messages: their inflated size)\n"
          "  --deflate=on|off       negotiate permessage-deflate (RFC 7692) when the client\n"
          "                         offers it (default: on)\n"
          "  --deflate-params=LIST  its parameters, comma-separated: server_max_window_bits=N,\n"
          "                         client_max_window_bits=N (8-15, default 15), mem_level=N\n"
          "                         (1-9, default 8), level=N (0-9, default 1), threshold=BYTES\n"
          "                         (shorter messages go uncompressed, default 64),\n"
          "                         server_context_takeover, client_context_takeover (keep\n"
          "                         zlib state between messages: better ratio, ~300 KiB/session)\n"
          "  --handshake-timeout=MS drop a request not complete in MS, or a keep-alive\n"
          "                         connection idle as long (default 10000; 0: never)\n"
          "  --max-header-bytes=N   largest request header block; larger: 431 (default 16384,\n"
          "                         at most 1048576)\n"
          "  --max-headers=N        most header fields in a request; more: 431 (default 100,\n"
          "                         at most 10000)\n"
          "\n"
          "One program for every client (see wsbridge(1), SHARED PROGRAMS):\n"
          "  --shared               one process per endpoint (COMMAND, or each --dir script)\n"
          "                         serves every client: each line it prints goes to all of\n"
          "                         them; each client's message is a whole line on its stdin\n"
          "                         (--framing=json|length: a whole message, both ways; bad\n"
          "                         output stops the program, its clients get 1011)\n"
          "  --shared=addressed     the same, with JSON lines both ways: the program hears\n"
          "                         join/message/leave events with client ids and sends\n"
          "                         {\"data\":..} to all, {\"to\":ID,..} or {\"except\":ID,..}\n"
          "  --slow-client=POLICY   a client more than --slow-client-queue behind: drop its\n"
          "                         oldest messages (drop, the default) or close it with 1008\n"
          "                         (close)\n"
          "  --slow-client-queue=BYTES  how far behind a client may fall (default 1048576;\n"
          "                         131072 to 1073741824)\n"
          "  --shared-linger=MS     keep the program running MS after its last client left\n"
          "                         (default 0: stop it then)\n"
          "  --redis=URL            share the program with other instances through Redis:\n"
          "                         one instance runs it, every instance's clients get its\n"
          "                         output and send it messages (redis://[:PASSWORD@]HOST\n"
          "                         [:PORT][/DB] or unix://[:PASSWORD@]/PATH[?db=DB]; see\n"
          "                         doc/DEPLOYMENT.md); with --shared=addressed, client ids\n"
          "                         are unique across the instances\n"
          "\n"
          "Serving files and scripts (plain HTTP on the same port):\n"
          "  --dir=DIR              every executable file under DIR is a WebSocket endpoint:\n"
          "                         /a/b.sh/x runs DIR/a/b.sh with PATH_INFO=/x\n"
          "  --staticdir=DIR        serve the files under DIR to plain HTTP GET/HEAD (not\n"
          "                         overlapping --dir)\n"
          "  --cgidir=DIR           run the CGI/1.1 scripts under DIR for plain HTTP requests\n"
          "  --cgi-timeout=MS       stop a CGI script silent for MS, or whose request body is\n"
          "                         not whole MS after the request; 504/408 if it had not\n"
          "                         answered yet (default 60000)\n"
          "  --devconsole           answer every plain GET/HEAD with an HTML console to try the\n"
          "                         program from a browser (not with --staticdir/--cgidir)\n"
          "\n"
          "Requests:\n"
          "  --trust-proxy=LIST     peers (addresses, ADDR/BITS, loopback, private, unix) whose\n"
          "                         Forwarded / X-Forwarded-For headers name the client\n"
          "                         (REMOTE_ADDR, REMOTE_PORT); others' are ignored\n"
          "  --origin=LIST          accept only these origins (comma-separated host[:port],\n"
          "                         optionally with scheme); others get 403\n"
          "  --sameorigin           accept only an Origin equal to the Host header; else 403\n"
          "  --subprotocol=LIST     subprotocols spoken, comma-separated, preferred first:\n"
          "                         the first the client offers is answered and is the\n"
          "                         program's SEC_WEBSOCKET_PROTOCOL; none in common: no header\n"
          "  --subprotocol-required refuse (400) a client offering none of --subprotocol's\n"
          "  --authorizer=PROGRAM   run PROGRAM (one process per request, the request's CGI\n"
          "                         environment) before each upgrade: its output allows or\n"
          "                         refuses (see wsbridge(1), AUTHORIZER)\n"
          "  --authorizer-scope=S   upgrade (default), or all: plain HTTP requests too\n"
          "  --authorizer-timeout=MS  no answer in MS: 503, PROGRAM stopped (default 5000)\n"
          "  --authorizer-max=N     at most N authorizers at once per worker; more requests\n"
          "                         wait (default 16)\n"
          "  --header='N: V'        add a header to every response; repeatable\n"
          "  --header-ws='N: V'     add a header to 101 (WebSocket) responses only\n"
          "  --header-http='N: V'   add a header to plain HTTP responses only\n"
          "\n"
          "The program's environment:\n"
          "  --passenv=LIST         the parent's variables the program sees\n"
          "                         (default PATH,LD_LIBRARY_PATH)\n"
          "  --reverselookup        set REMOTE_HOST by reverse DNS (default: off)\n"
          "\n"
          "Logging:\n"
          "  --loglevel=LEVEL       debug, trace, access, info, error or fatal (default access)\n"
          "  --logformat=FORMAT     text (default) or json: one JSON object per line, typed\n"
          "                         fields; the access line's fields are in wsbridge(1)\n"
          "  --metrics=ADDR:PORT    Prometheus metrics at http://ADDR:PORT/metrics, a listener\n"
          "                         of its own (PORT alone: 127.0.0.1); default off\n"
          "\n"
          "Configuration file:\n"
          "  --config=FILE          read options from FILE first: one a line, without the\n"
          "                         \"--\" (port=8080, binary, # comments), the program on a\n"
          "                         line command=PROGRAM ARGS...; the command line wins.\n"
          "                         SIGHUP reads it again and applies what needs no restart\n"
          "                         (origins, headers, --maxforks, timeouts, COMMAND...)\n"
          "\n"
          "Under systemd, the sockets it passes (socket activation) replace --port,\n"
          "--address, --unixsocket and --redirport; readiness, reloads, stopping and the\n"
          "watchdog are notified (NOTIFY_SOCKET).\n"
          "\n"
          "  --help, -h             this text\n"
          "  --version              the version\n"
          "  --license              the license\n"
          "\n"
          "See wsbridge(1) for the environment, the lifecycle and the differences from\n"
          "websocketd.\n",
          out);
}

static const struct flag *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

/* Parsing state for messages: the --config file's line being read ("" on the command line),
 * and whether SIGHUP is reading it (messages then go to the log). */
static char where[PATH_MAX + 24];
static bool reloading, reload_quiet;

static int vreport(int code, const char *fmt, va_list ap)
{
    char msg[1024];

    vsnprintf(msg, sizeof msg, fmt, ap);
    if (reloading)
        log_msg(reload_quiet ? LOG_DEBUG : LOG_ERROR, 0, "SIGHUP: %s%s", where, msg);
    else
        fprintf(stderr, "wsbridge: %s%s\n", where, msg);
    return code;
}

/* A message to stderr (the log under SIGHUP), prefixed with the file and line; returns code. */
static int report(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int report(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(code, fmt, ap);
    va_end(ap);
    return code;
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(CONFIG_EXIT_BAD, fmt, ap);
    va_end(ap);
    return CONFIG_EXIT_BAD;
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A K_UINT or K_SIZE value: a decimal number in f's range, else the reason is printed (-1). */
static int parse_number(const struct flag *f, const char *name, const char *v,
                        unsigned long long *out)
{
    if (parse_u64(v, UINT64_MAX, out)) {
        bad("--%s needs a number, not '%s'", name, v);
        return -1;
    }
    if (*out < f->min || *out > f->max) {
        bad("--%s must be %llu to %llu%s%s%s, not %s", name, f->min, f->max, f->unit ? " (" : "",
            f->unit ? f->unit : "", f->unit ? ")" : "", v);
        return -1;
    }
    return 0;
}

/* Appends a string to a NULL-terminated array owned by c. */
static int append(const char ***arr, size_t *count, const char *v)
{
    size_t n = 0;
    while (*arr && (*arr)[n])
        n++;
    const char **a = realloc(*arr, (n + 2) * sizeof *a);
    if (!a)
        return -1;
    a[n] = v;
    a[n + 1] = NULL;
    *arr = a;
    if (count)
        *count = n + 1;
    return 0;
}

/* Splits "a,b,c" into a new NULL-terminated array (into c->owned strings). */
static int split_list(struct config *c, const char ***arr, const char *v)
{
    char *copy = strdup(v), *save = NULL;
    if (!copy || append((const char ***)&c->owned, NULL, copy))
        return -1;
    free(*arr);
    *arr = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t l = strlen(t);
        while (l && t[l - 1] == ' ')
            t[--l] = '\0';
        if (*t && append(arr, NULL, t))
            return -1;
    }
    if (!*arr)
        return append(arr, NULL, NULL) == 0 ? 0 : -1; /* empty list: an empty array */
    return 0;
}

#define TOKEN_CHARS "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

static bool header_line_valid(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line || strpbrk(line, "\r\n"))
        return false;
    for (const char *p = line; p < colon; p++)
        if (!strchr(TOKEN_CHARS, *p))
            return false;
    return true;
}

/* Whether s equals one of the NULL-terminated arguments. */
static bool string_in(const char *s, ...) __attribute__((sentinel));
static bool string_in(const char *s, ...)
{
    va_list ap;
    bool found = false;
    va_start(ap, s);
    for (const char *w; !found && (w = va_arg(ap, const char *)) != NULL;)
        found = strcmp(s, w) == 0;
    va_end(ap);
    return found;
}

/* --subprotocol: at least one name, each an RFC 6455 token (RFC 9110's tchar). */
static int check_subprotocols(const char **names)
{
    if (!names[0])
        return bad("--subprotocol needs at least one name (comma-separated)");
    for (; *names; names++)
        if (strspn(*names, TOKEN_CHARS) != strlen(*names))
            return bad("--subprotocol: '%s' is not a token (letters, digits, !#$%%&'*+-.^_`|~)",
                       *names);
    return -1;
}

static int set_flag(struct config *c, const struct flag *f, const char *name, const char *v)
{
    char *base = (char *)c;
    unsigned long long n;

    switch (f->kind) {
    case K_BOOL:
        /* the values Go's strconv.ParseBool takes, as websocketd does */
        if (!v || string_in(v, "1", "t", "T", "true", "TRUE", "True", "on", NULL))
            *(bool *)(base + f->off) = true;
        else if (string_in(v, "0", "f", "F", "false", "FALSE", "False", "off", NULL))
            *(bool *)(base + f->off) = false;
        else
            return bad("--%s takes no value, true/false or on/off, not '%s'", name, v);
        return -1;
    case K_STR:
        *(const char **)(base + f->off) = v;
        return -1;
    case K_SHARED:
        if (!v || string_in(v, "broadcast", "true", NULL))
            c->shared = CONFIG_SHARED_BROADCAST;
        else if (strcmp(v, "addressed") == 0)
            c->shared = CONFIG_SHARED_ADDRESSED;
        else if (strcmp(v, "false") == 0)
            c->shared = CONFIG_SHARED_OFF;
        else
            return bad("--shared takes no value, broadcast or addressed, not '%s'", v);
        return -1;
    case K_UINT:
        if (parse_number(f, name, v, &n))
            return CONFIG_EXIT_BAD;
        *(unsigned *)(base + f->off) = (unsigned)n;
        if (f->off == OFF(workers))
            c->workers_set = true;
        return -1;
    case K_PORT:
        if (parse_u64(v, 65535, &n))
            return bad("--%s needs a port number 0-65535, not '%s'", name, v);
        *(int *)(base + f->off) = (int)n;
        if (f->off == OFF(port))
            c->port_set = true;
        return -1;
    case K_SIZE:
        if (parse_number(f, name, v, &n))
            return CONFIG_EXIT_BAD;
        if (f->off == OFF(max_header_bytes))
            *(size_t *)(base + f->off) = (size_t)n;
        else
            *(uint64_t *)(base + f->off) = n;
        return -1;
    case K_APPEND:
        if (f->off != OFF(addresses) && !header_line_valid(v))
            return bad("--%s needs 'Name: value' with a token name, not '%s'", name, v);
        if (f->off == OFF(addresses)) {
            /* IPv6 as [::1]: stored without the brackets */
            size_t l = strlen(v);
            if (l >= 2 && v[0] == '[' && v[l - 1] == ']') {
                char *s = strndup(v + 1, l - 2);
                if (!s || append((const char ***)&c->owned, NULL, s))
                    return bad("out of memory");
                v = s;
            }
        }
        if (append((const char ***)(base + f->off),
                   f->count_off ? (size_t *)(base + f->count_off) : NULL, v))
            return bad("out of memory");
        return -1;
    case K_LIST:
        if (split_list(c, (const char ***)(base + f->off), v))
            return bad("out of memory");
        /* an empty --origin would refuse every browser: a mistake, not a policy */
        if (f->off == OFF(origins) && !c->origins[0])
            return bad("--origin needs at least one origin (host[:port], comma-separated)");
        if (f->off == OFF(subprotocols))
            return check_subprotocols(c->subprotocols);
        return -1;
    case K_LEVEL: {
        int level = log_level_parse(v);
        if (level < 0)
            return bad("--loglevel must be debug, trace, access, info, error or fatal, not '%s'",
                       v);
        c->loglevel = (enum log_level)level;
        return -1;
    }
    case K_FRAMING:
        if (framing_mode_parse(v, &c->framing) != 0)
            return bad("--framing must be lines, json or length, not '%s'", v);
        return -1;
    case K_LOGFORMAT: {
        int format = log_format_parse(v);
        if (format < 0)
            return bad("--logformat must be text or json, not '%s'", v);
        c->logformat = (enum log_format)format;
        return -1;
    }
    case K_HELP:
        config_usage(stdout);
        return CONFIG_EXIT_OK;
    case K_VERSION:
        printf("wsbridge %s\n", PACKAGE_VERSION);
        return CONFIG_EXIT_OK;
    case K_LICENSE:
        fputs(license_text, stdout);
        return CONFIG_EXIT_OK;
    case K_CONFIG:
        if (!*v)
            return bad("--config needs a file name");
        c->config_file = v;
        return -1;
    }
    return -1;
}

/* COMMAND as a path when it has a '/', else looked up on PATH. */
static char *resolve_command(const char *cmd)
{
    char buf[PATH_MAX];
    struct stat st;

    if (strchr(cmd, '/')) {
        if (stat(cmd, &st) == 0 && S_ISREG(st.st_mode) && access(cmd, X_OK) == 0)
            return realpath(cmd, NULL);
        return NULL;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t dlen = end ? (size_t)(end - path) : strlen(path);
        int n = snprintf(buf, sizeof buf, "%.*s/%s", (int)dlen, dlen ? path : ".", cmd);
        if (n > 0 && (size_t)n < sizeof buf && stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
            access(buf, X_OK) == 0)
            return realpath(buf, NULL);
        path += dlen + (end ? 1 : 0);
    }
    return NULL;
}

/* --dir, --staticdir, --cgidir: must be directories; replaced by their real paths (the routing
 * compares real paths to refuse symlinks out of them). */
static int real_dir(struct config *c, const char *flag, const char **dir)
{
    struct stat st;
    char *real;

    if (!*dir)
        return -1;
    if (stat(*dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return bad("--%s=%s: not a directory", flag, *dir);
    real = realpath(*dir, NULL);
    if (!real || append((const char ***)&c->owned, NULL, real)) {
        free(real);
        return bad("out of memory");
    }
    *dir = real;
    return -1;
}

/* Whether the real path inner is outer or lies beneath it. */
static bool path_within(const char *outer, const char *inner)
{
    size_t n = strlen(outer);
    if (n == 1 && outer[0] == '/')
        return true;
    return strncmp(outer, inner, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

/*
 * COMMAND as exec will see it: an ELF file, or "#!interpreter" naming an executable file
 * (a CR before the newline is a DOS line ending: exec looks for "sh\r"). A text file without
 * "#!" fails with ENOEXEC on every connection. Other binary formats (binfmt_misc) pass.
 */
static int check_executable(const char *what, const char *path)
{
    char head[256], interp[PATH_MAX];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return bad("%s %s: cannot read it: %s", what, path, strerror(errno));
    n = read(fd, head, sizeof head);
    close(fd);
    if (n < 0)
        return bad("%s %s: cannot read it: %s", what, path, strerror(errno));
    if (n >= 4 && memcmp(head, "\177ELF", 4) == 0)
        return -1;
    if (n >= 2 && head[0] == '#' && head[1] == '!') {
        size_t i = 2, len = 0;
        while (i < (size_t)n && (head[i] == ' ' || head[i] == '\t'))
            i++;
        while (i < (size_t)n && head[i] != '\n' && head[i] != ' ' && head[i] != '\t' &&
               head[i] != '\r' && len + 1 < sizeof interp)
            interp[len++] = head[i++];
        interp[len] = '\0';
        size_t eol = i;
        while (eol < (size_t)n && head[eol] != '\n' && head[eol] != '\r')
            eol++;
        if (eol < (size_t)n && head[eol] == '\r')
            return bad("%s %s: its #! line ends in CR LF (DOS line endings): exec would look "
                       "for an interpreter named \"%s\\r\"; convert the file (e.g. dos2unix)",
                       what, path, interp);
        if (!len)
            return bad("%s %s: its #! line names no interpreter", what, path);
        if (access(interp, X_OK) != 0)
            return bad("%s %s: its interpreter %s (the #! line): %s", what, path, interp,
                       strerror(errno));
        return -1;
    }
    if (memchr(head, '\0', (size_t)n))
        return -1; /* some other binary format: the kernel may know it */
    return bad("%s %s: a text file without a #! line: exec cannot run it (add e.g. "
               "#!/bin/sh as its first line)",
               what, path);
}

static int check_authorizer(struct config *c)
{
    char *p;
    int rc;

    if (c->authorizer_scope && strcmp(c->authorizer_scope, "upgrade") != 0 &&
        strcmp(c->authorizer_scope, "all") != 0)
        return bad("--authorizer-scope must be upgrade or all, not '%s'", c->authorizer_scope);
    if (!c->authorizer)
        return c->authorizer_scope ? bad("--authorizer-scope needs --authorizer") : -1;
    c->authorize_http = c->authorizer_scope && strcmp(c->authorizer_scope, "all") == 0;
    p = resolve_command(c->authorizer);
    if (!p || append((const char ***)&c->owned, NULL, p)) {
        free(p);
        return bad("--authorizer=%s: not found or not executable", c->authorizer);
    }
    c->authorizer_path = p;
    if ((rc = check_executable("--authorizer", p)) >= 0)
        return rc;
    return -1;
}

static int add_listen(struct config *c, const char *given, const char *host, bool optional)
{
    struct config_address *a;

    for (size_t i = 0; i < c->nlisten; i++)
        if (strcmp(c->listen[i].host, host) == 0)
            return -1; /* twice: one listener */
    a = realloc(c->listen, (c->nlisten + 1) * sizeof *a);
    if (!a)
        return bad("out of memory");
    c->listen = a;
    a += c->nlisten++;
    memset(a, 0, sizeof *a);
    a->given = given;
    snprintf(a->host, sizeof a->host, "%s", host);
    a->v6 = strchr(host, ':') != NULL;
    a->optional = optional;
    return -1;
}

/*
 * --address: IP addresses as written; a host name is resolved now (as websocketd does), each of
 * its addresses one listener ("localhost": 127.0.0.1 and ::1), those a system lacks skipped
 * at bind time. Everything is checked before anything listens.
 */
static int resolve_addresses(struct config *c)
{
    for (size_t i = 0; i < c->naddresses; i++) {
        const char *given = c->addresses[i];
        struct addrinfo hints, *res = NULL;
        char host[INET6_ADDRSTRLEN];
        int r, rc = -1;

        if (!*given)
            return bad("--address needs an IP address or a host name");
        if (strlen(given) >= sizeof c->listen[0].host)
            return bad("--address=%s: too long", given);
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST;
        if (getaddrinfo(given, NULL, &hints, &res) == 0) {
            freeaddrinfo(res);
            if ((rc = add_listen(c, given, given, false)) >= 0)
                return rc;
            continue;
        }
        if (strchr(given, ':') || strspn(given, "0123456789.") == strlen(given))
            return bad("--address=%s: not an IP address (IPv6 as [::1])", given);
        hints.ai_flags = 0;
        r = getaddrinfo(given, NULL, &hints, &res);
        if (r != 0)
            return bad("--address=%s: cannot resolve the name: %s", given,
                       r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        for (struct addrinfo *ai = res; ai && rc < 0; ai = ai->ai_next) {
            const void *ip = ai->ai_family == AF_INET6
                                 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                 : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
            if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
                inet_ntop(ai->ai_family, ip, host, sizeof host))
                rc = add_listen(c, given, host, res->ai_next != NULL);
        }
        freeaddrinfo(res);
        if (rc >= 0)
            return rc;
    }
    return -1;
}

/* --metrics=ADDR:PORT, [IPv6]:PORT or PORT (127.0.0.1): numeric, never the public port. */
static int parse_metrics(struct config *c)
{
    const char *v = c->metrics, *colon = strrchr(v, ':'), *host = "127.0.0.1";
    size_t hlen = strlen(host);
    unsigned long long port;
    unsigned char addr[16];

    if (colon) {
        host = v;
        hlen = (size_t)(colon - v);
        if (hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']')
            host++, hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof c->metrics_host)
        return bad("--metrics needs ADDR:PORT (a numeric address), not '%s'", v);
    memcpy(c->metrics_host, host, hlen);
    c->metrics_host[hlen] = '\0';
    if (inet_pton(AF_INET, c->metrics_host, addr) != 1 &&
        inet_pton(AF_INET6, c->metrics_host, addr) != 1)
        return bad("--metrics needs ADDR:PORT (a numeric address), not '%s'", v);
    if (parse_u64(colon ? colon + 1 : v, 65535, &port))
        return bad("--metrics needs a port number 0-65535, not '%s'", v);
    c->metrics_port = (int)port;
    if (port && ((int)port == c->port || (int)port == c->redirport))
        return bad("--metrics=%s: not on the public port %d (it needs a listener of its own)", v,
                   (int)port);
    return -1;
}

/* --shared and the options that only mean something with it. */
static int validate_shared(struct config *c)
{
    if (c->slow_client && !string_in(c->slow_client, "drop", "close", NULL))
        return bad("--slow-client takes drop or close, not '%s'", c->slow_client);
    c->slow_close = c->slow_client && strcmp(c->slow_client, "close") == 0;
    if (!c->shared) {
        if (c->slow_client || c->slow_client_queue != 1u << 20 || c->shared_linger_ms)
            return bad("--slow-client, --slow-client-queue and --shared-linger need --shared");
        if (c->redis)
            return bad("--redis needs --shared (it shares one program's output across instances)");
        return -1;
    }
    if (c->redis) {
        struct clustermsg_addr a;
        const char *why = clustermsg_url_parse(c->redis, &a);
        clustermsg_addr_free(&a);
        if (why)
            return bad("--redis=%s: %s", c->redis, why);
    }
    if (c->passstderr)
        return bad("--passstderr cannot be used with --shared (the program's stderr is logged)");
    if (c->pty)
        return bad("--pty cannot be used with --shared (one program for many clients: whose "
                   "terminal would it be?)");
    /* one process holds the hubs: workers would each start the program */
    if (c->workers_set && c->workers > 1)
        return bad("--shared runs each program once, in one process: --workers must be 1");
    c->workers = 1;
    return -1;
}

/* --framing=json|length: the mode says what a message is, both ways, so the options that say
 * it another way are refused rather than half applied. */
static int validate_framing(const struct config *c)
{
    const char *m = framing_mode_name(c->framing);

    if (c->framing == FRAMING_LINES)
        return -1;
    if (c->binary)
        return bad("--framing=%s carries binary messages itself: drop --binary", m);
    if (c->passstderr)
        return bad("--framing=%s frames stdout only (stderr goes to the log): drop --passstderr",
                   m);
    if (c->pty)
        return bad("--framing=%s cannot be used with --pty: a terminal rewrites the bytes (CR "
                   "LF, ^D, 4095-byte lines); use pipes for framed output",
                   m);
    if (c->shared == CONFIG_SHARED_ADDRESSED)
        return bad("--framing=%s cannot be used with --shared=addressed (its stdin and stdout "
                   "are JSON event lines of their own); use --shared",
                   m);
    return -1;
}

/* --unbuffered: coreutils' libstdbuf.so, as `stdbuf -oL` finds it: WSBRIDGE_LIBSTDBUF, the
 * path configure found, then the usual places. Must be an absolute path fit for LD_PRELOAD
 * (no ':' or blank, which separate its entries). */
static int find_stdbuf(struct config *c)
{
    const char *cand[] = {getenv("WSBRIDGE_LIBSTDBUF"),
                          WSB_LIBSTDBUF,
                          "/usr/libexec/coreutils/libstdbuf.so",
                          "/usr/lib/coreutils/libstdbuf.so",
                          "/usr/lib64/coreutils/libstdbuf.so",
                          "/usr/local/libexec/coreutils/libstdbuf.so"};
    const char *env = cand[0];

    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        const char *p = cand[i];
        bool usable = p && p[0] == '/' && !strpbrk(p, ": \t");

        if (!p || !*p)
            continue;
        if (usable && access(p, R_OK) == 0) {
            c->stdbuf_lib = p;
            return -1;
        }
        if (p == env) /* asked for by name: say why it is not used, look no further */
            return bad("--unbuffered: WSBRIDGE_LIBSTDBUF=%s: %s", p,
                       usable ? strerror(errno) : "not an absolute path without ':' or blanks");
    }
    return bad("--unbuffered needs coreutils' libstdbuf.so (what stdbuf -oL preloads), found "
               "neither in /usr/libexec/coreutils nor in /usr/lib/coreutils: install coreutils "
               "(Debian package: coreutils), or name it with WSBRIDGE_LIBSTDBUF=PATH");
}

static int validate(struct config *c)
{
    int rc;

    if (c->command && c->dir)
        return bad("give either COMMAND or --dir, not both");
    if (!c->command && !c->dir && !c->staticdir && !c->cgidir)
        return bad("no COMMAND given (see --help)");
    if (c->ssl && (!c->sslcert || !c->sslkey))
        return bad("--ssl needs --sslcert and --sslkey");
    if (!c->ssl && (c->sslcert || c->sslkey))
        return bad("--sslcert and --sslkey need --ssl");
    if (!c->ssl && c->sslca)
        return bad("--sslca needs --ssl");
    if (c->unixsocket && !c->unixsocket[0])
        return bad("--unixsocket needs a path");
    if (c->devconsole && (c->staticdir || c->cgidir)) {
        fprintf(stderr, "wsbridge: --devconsole cannot be used with --staticdir or --cgidir\n");
        return CONFIG_EXIT_DEVCONSOLE;
    }
    if (c->pty && c->passstderr)
        return bad("--pty and --passstderr cannot be used together: on a terminal the program's "
                   "stdout and stderr are one stream; drop --passstderr");
    if ((rc = validate_framing(c)) >= 0)
        return rc;
    if (c->unbuffered && (rc = find_stdbuf(c)) >= 0)
        return rc;
    if (c->subprotocol_required && !c->subprotocols)
        return bad("--subprotocol-required needs --subprotocol");
    if (c->workers < 1 || c->workers > 256)
        return bad("--workers must be 1 to 256, not %u", c->workers);
    if ((rc = validate_shared(c)) >= 0)
        return rc;
    if ((rc = real_dir(c, "dir", &c->dir)) >= 0 ||
        (rc = real_dir(c, "staticdir", &c->staticdir)) >= 0 ||
        (rc = real_dir(c, "cgidir", &c->cgidir)) >= 0)
        return rc;
    /* the static files would include the programs themselves, served as text */
    if (c->dir && c->staticdir &&
        (path_within(c->dir, c->staticdir) || path_within(c->staticdir, c->dir)))
        return bad("--staticdir=%s and --dir=%s overlap: the programs' source would be served; "
                   "give them separate directories",
                   c->staticdir, c->dir);
    if (c->command) {
        char *p = resolve_command(c->command[0]);
        if (!p)
            return bad("COMMAND not found or not executable: %s", c->command[0]);
        c->command_path = p;
        if ((rc = check_executable("COMMAND", p)) >= 0)
            return rc;
    }
    if ((rc = check_authorizer(c)) >= 0)
        return rc;
    if ((rc = resolve_addresses(c)) >= 0)
        return rc;
    if (c->trust_proxy_list) {
        char why[160];
        if (proxy_trust_parse(&c->trust_proxy, c->trust_proxy_list, why, sizeof why) != 0)
            return bad("--trust-proxy: %s", why);
    }
    if (c->deflate_params) {
        const char *why = NULL;
        if (pmd_policy_parse(&c->pmd, c->deflate_params, &why) != 0)
            return bad("--deflate-params: %s", why);
    }
    c->pmd.enabled = c->deflate;
    if (!c->port_set)
        c->port = c->ssl ? 443 : 80;
    if (c->metrics && (rc = parse_metrics(c)) >= 0)
        return rc;
    return -1;
}

/*
 * `wsbridge ./count.sh --port=8123` gives --port=8123 to the program and serves on port 80: say
 * so (the program still gets it: it may take a --port of its own). -h is too common a program
 * flag to warn about.
 */
static void warn_flags_after_command(char *const *command)
{
    for (size_t j = 1; command[j]; j++) {
        const char *a = command[j], *name;
        if (a[0] != '-' || a[1] == '\0')
            continue;
        name = a + (a[1] == '-' ? 2 : 1);
        const struct flag *f = find_flag(name, strcspn(name, "="));
        if (f && f->kind != K_HELP)
            fprintf(stderr,
                    "wsbridge: warning: %s comes after COMMAND (%s), so it is passed to the "
                    "program, not used by wsbridge; put wsbridge's options before COMMAND\n",
                    a, command[0]);
    }
}

static int parse(struct config *c, int argc, char **argv);

/* On any exit code the struct is released here, so callers need not. */
int config_parse(struct config *c, int argc, char **argv)
{
    int rc = parse(c, argc, argv);
    if (rc >= 0)
        config_free(c);
    return rc;
}

/* ---------------------------------------------------------------- --config=FILE */

#define NFLAGS (sizeof flags / sizeof flags[0])

/* Levenshtein distance between two option names (short: longer ones are cut at 63 bytes). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strnlen(a, 63), lb = strnlen(b, 63), row[64];

    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* The option a misspelt name most likely meant, or NULL when none is close. */
static const char *suggest(const char *name)
{
    const char *best = NULL;
    size_t best_d = 3; /* at most two edits, and fewer than the name has letters */

    for (size_t i = 0; i < NFLAGS; i++) {
        size_t d = distance(name, flags[i].name);
        if (d < best_d && d < strlen(name) && strlen(flags[i].name) > 1) {
            best_d = d;
            best = flags[i].name;
        }
    }
    return best;
}

/* Strips blanks (and a CR) from both ends of s, in place. */
static char *trim(char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* One word of command=, shell-quoted, unquoted in place from *sp to out; *sp moves past it. */
static int unquote_word(char **sp, char *out)
{
    char *s = *sp;

    while (*s && *s != ' ' && *s != '\t') {
        char q = *s;
        if (q == '\'' || q == '"') {
            for (s++; *s && *s != q; *out++ = *s++)
                if (q == '"' && *s == '\\' && s[1] && strchr("\"\\$`", s[1]))
                    s++;
            if (!*s)
                return bad("command: a %s quote is not closed", q == '"' ? "double" : "single");
            s++;
        } else {
            if (q == '\\' && s[1])
                s++;
            *out++ = *s++;
        }
    }
    bool more = *s != '\0';
    *out = '\0'; /* may be the blank after the word: more remembers it */
    *sp = more ? s + 1 : s;
    return -1;
}

/* command=PROG ARGS: COMMAND, split as sh(1) splits words, without expansion. */
static int file_command(struct config *c, char *s)
{
    const char **words = NULL;
    int rc;

    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        char *word = s;
        if ((rc = unquote_word(&s, word)) >= 0) {
            free(words);
            return rc;
        }
        if (append(&words, NULL, word)) {
            free(words);
            return bad("out of memory");
        }
    }
    if (!words)
        return bad("command needs a program (command=PROGRAM ARGS...)");
    if (append((const char ***)&c->owned, NULL, (const char *)words)) {
        free(words);
        return bad("out of memory");
    }
    c->command = (char **)words;
    return -1;
}

/* One line of the file (NUL-terminated, its LF gone). -1, or an exit code after the message. */
static int file_line(struct config *c, char *line, bool *from_file)
{
    char *eq, *name, *value = NULL;
    const struct flag *f;

    line = trim(line);
    if (!*line || *line == '#')
        return -1;
    if ((eq = strchr(line, '='))) {
        *eq = '\0';
        value = trim(eq + 1);
    }
    name = trim(line);
    name += name[0] == '-' ? (name[1] == '-' ? 2 : 1) : 0;
    if (strcmp(name, "command") == 0 && !value)
        return bad("command needs a program (command=PROGRAM ARGS...)");
    if (strcmp(name, "command") == 0)
        return file_command(c, value);
    if (!*name)
        return bad("a line without an option name");
    f = find_flag(name, strlen(name));
    if (!f) {
        const char *near = suggest(name);
        if (near)
            return report(CONFIG_EXIT_UNKNOWN_FLAG, "unknown option '%s' (did you mean '%s'?)",
                          name, near);
        return report(CONFIG_EXIT_UNKNOWN_FLAG, "unknown option '%s' (see wsbridge --help)", name);
    }
    if (f->kind == K_HELP || f->kind == K_VERSION || f->kind == K_LICENSE || f->kind == K_CONFIG)
        return bad("'%s' cannot be used in a configuration file", name);
    if (!value && f->kind != K_BOOL)
        return bad("option '%s' needs a value (%s=...)", name, f->name);
    from_file[f - flags] = true;
    return set_flag(c, f, f->name, value);
}

/* The file's text (len bytes, text[len] writable), line by line; values point into it. */
static int file_text(struct config *c, const char *name, char *text, size_t len, bool *from_file)
{
    unsigned lineno = 0;
    int rc = -1;

    text[len] = '\0';
    for (char *line = text, *next; line && rc < 0; line = next) {
        size_t n = (size_t)(text + len - line);
        char *nul = memchr(line, '\0', n);
        next = memchr(line, '\n', n);
        snprintf(where, sizeof where, "%s:%u: ", name, ++lineno);
        if (nul && nul < text + len && (!next || nul < next))
            rc = bad("a NUL byte: not a text file");
        if (next)
            *next++ = '\0';
        if (rc < 0)
            rc = file_line(c, line, from_file);
    }
    where[0] = '\0';
    return rc;
}

/* --config=FILE read whole into memory c owns, then parsed. */
static int read_file(struct config *c, const char *path, bool *from_file)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
    struct stat st;
    char *text = NULL;
    size_t got = 0;

    if (fd < 0)
        return bad("--config=%s: cannot open it: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)CONFIG_FILE_MAX) {
        close(fd);
        return bad("--config=%s: not a regular file of at most %u bytes", path, CONFIG_FILE_MAX);
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text || append((const char ***)&c->owned, NULL, text)) {
        free(text);
        close(fd);
        return bad("out of memory");
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = errno;
            close(fd);
            return bad("--config=%s: cannot read it: %s", path, n < 0 ? strerror(rc) : "cut short");
        }
        got += (size_t)n;
    }
    close(fd);
    return file_text(c, path, text, got, from_file);
}

/* A command-line option over the file's: a repeatable one replaces the file's values at its
 * first occurrence (a list one always does). */
static int set_given(struct config *c, const struct flag *f, const char *value, bool *from_file)
{
    if (f->kind == K_APPEND && from_file[f - flags]) {
        const char ***arr = (const char ***)((char *)c + f->off);
        free(*arr);
        *arr = NULL;
        if (f->count_off)
            *(size_t *)((char *)c + f->count_off) = 0;
        from_file[f - flags] = false;
    }
    return set_flag(c, f, f->name, value);
}

static int parse(struct config *c, int argc, char **argv)
{
    static const char *const default_passenv[] = {"PATH", "LD_LIBRARY_PATH", NULL};
    bool after_dashes = false, early_exit = false, from_file[NFLAGS] = {false};
    const char *config_file = NULL;
    struct given {
        const struct flag *f;
        const char *value;
    } * given;
    size_t ngiven = 0;
    int i, rc = -1;

    memset(c, 0, sizeof *c);
    c->argc = argc;
    c->argv = argv;
    c->loglevel = LOG_ACCESS;
    c->handshake_timeout_ms = 10000;
    c->cgi_timeout_ms = 60000;
    c->authorizer_timeout_ms = 5000;
    c->authorizer_max = 16;
    {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = ncpu > 0 ? (unsigned)ncpu : 1;
    }
    c->max_header_bytes = 16384;
    c->max_headers = 100;
    c->slow_client_queue = 1u << 20;
    c->deflate = true;
    pmd_policy_init(&c->pmd);
    for (const char *const *p = default_passenv; *p; p++)
        if (append(&c->passenv, NULL, *p))
            return bad("out of memory");

    /* the command line first, into a list: the file's values go in before it */
    given = calloc((size_t)argc + 1, sizeof *given);
    if (!given)
        return bad("out of memory");
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *name, *eq, *value = NULL;
        if (strcmp(arg, "--") == 0) {
            after_dashes = true;
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0')
            break; /* COMMAND */
        name = arg + (arg[1] == '-' ? 2 : 1);
        eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct flag *f = find_flag(name, nlen);
        if (!f) {
            fprintf(stderr, "wsbridge: unknown option %s (see --help)\n", arg);
            free(given);
            return CONFIG_EXIT_UNKNOWN_FLAG;
        }
        if (eq) {
            value = eq + 1;
        } else if (f->kind != K_BOOL && f->kind != K_SHARED && f->kind != K_HELP &&
                   f->kind != K_VERSION && f->kind != K_LICENSE) {
            if (i + 1 >= argc) {
                fprintf(stderr, "wsbridge: option --%s needs a value\n", f->name);
                free(given);
                return CONFIG_EXIT_BAD;
            }
            value = argv[++i];
        }
        early_exit |= f->kind == K_HELP || f->kind == K_VERSION || f->kind == K_LICENSE;
        if (f->kind == K_CONFIG)
            config_file = value;
        given[ngiven].f = f;
        given[ngiven++].value = value;
    }
    /* --help and the like answer even when the file is broken */
    if (config_file && *config_file && !early_exit)
        rc = read_file(c, config_file, from_file);
    for (size_t g = 0; g < ngiven && rc < 0; g++)
        rc = set_given(c, given[g].f, given[g].value, from_file);
    free(given);
    if (rc >= 0)
        return rc;
    if (i < argc) {
        c->command = argv + i;
        if (!after_dashes && !reloading)
            warn_flags_after_command(c->command);
    }
    return validate(c);
}

int config_reload(const struct config *cur, struct config *next, bool quiet)
{
    int rc;

    reloading = true;
    reload_quiet = quiet;
    rc = config_parse(next, cur->argc, cur->argv);
    reloading = false;
    return rc < 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- SIGHUP: what changed */

/* The options that take effect without a restart (config_apply). Every other one, and any new
 * one not named here, is reported as needing a restart. */
static const char *const live_flags[] = {
    "maxforks",
    "closems",
    "maxframesize",
    "binary",
    "passstderr",
    "idle-timeout",
    "max-lifetime",
    "trust-proxy",
    "handshake-timeout",
    "cgi-timeout",
    "max-header-bytes",
    "max-headers",
    "passenv",
    "reverselookup",
    "origin",
    "sameorigin",
    "header",
    "header-ws",
    "header-http",
    "loglevel",
    NULL,
};

static bool is_live(const struct flag *f)
{
    for (const char *const *n = live_flags; *n; n++)
        if (strcmp(*n, f->name) == 0)
            return true;
    return false;
}

static bool same_list(const char *const *a, const char *const *b)
{
    size_t i = 0;

    for (; a && b && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return (!a || !a[i]) && (!b || !b[i]);
}

/* How many bytes of struct config flag f's value takes (K_SIZE: --max-header-bytes is a
 * size_t, the others uint64_t). 0: not a value (help...). */
static size_t value_size(const struct flag *f)
{
    switch (f->kind) {
    case K_BOOL:
        return sizeof(bool);
    case K_STR:
    case K_APPEND:
    case K_LIST:
        return sizeof(const char *);
    case K_UINT:
        return sizeof(unsigned);
    case K_PORT:
        return sizeof(int);
    case K_SIZE:
        return f->off == OFF(max_header_bytes) ? sizeof(size_t) : sizeof(uint64_t);
    case K_LEVEL:
        return sizeof(enum log_level);
    case K_LOGFORMAT:
        return sizeof(enum log_format);
    case K_FRAMING:
        return sizeof(enum framing_mode);
    default:
        return 0;
    }
}

static bool same_value(const struct config *a, const struct config *b, const struct flag *f)
{
    const void *va = (const char *)a + f->off, *vb = (const char *)b + f->off;

    switch (f->kind) {
    case K_STR: {
        const char *sa = *(const char *const *)va, *sb = *(const char *const *)vb;
        return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
    }
    case K_APPEND:
    case K_LIST:
        return same_list(*(const char *const *const *)va, *(const char *const *const *)vb);
    default:
        return memcmp(va, vb, value_size(f)) == 0;
    }
}

/* f's value in c as written in the file, for the log (lists joined with commas, cut short). */
static void format_value(const struct config *c, const struct flag *f, char *buf, size_t n)
{
    static const char *const levels[] = {"debug", "access", "info", "error", "fatal"};
    const void *v = (const char *)c + f->off;
    size_t used = 0;

    buf[0] = '\0';
    switch (f->kind) {
    case K_BOOL:
        snprintf(buf, n, "%s", *(const bool *)v ? "true" : "false");
        break;
    case K_STR:
        snprintf(buf, n, "%s", *(const char *const *)v ? *(const char *const *)v : "(none)");
        break;
    case K_UINT:
        snprintf(buf, n, "%u", *(const unsigned *)v);
        break;
    case K_PORT:
        snprintf(buf, n, "%d", *(const int *)v);
        break;
    case K_SIZE:
        snprintf(buf, n, "%llu",
                 f->off == OFF(max_header_bytes) ? (unsigned long long)*(const size_t *)v
                                                 : (unsigned long long)*(const uint64_t *)v);
        break;
    case K_LEVEL:
        snprintf(buf, n, "%s", levels[*(const enum log_level *)v]);
        break;
    case K_LOGFORMAT:
        snprintf(buf, n, "%s", *(const enum log_format *)v == LOG_FORMAT_JSON ? "json" : "text");
        break;
    case K_FRAMING:
        snprintf(buf, n, "%s", framing_mode_name(*(const enum framing_mode *)v));
        break;
    case K_APPEND:
    case K_LIST:
        for (const char *const *p = *(const char *const *const *)v; p && *p && used < n; p++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "," : "", *p);
        if (!used)
            snprintf(buf, n, "(none)");
        break;
    default:
        break;
    }
}

static void log_change(const struct config *live, const struct config *next, const char *name,
                       const struct flag *f, bool applied, bool quiet)
{
    char was[160], now[160];

    if (f) {
        format_value(live, f, was, sizeof was);
        format_value(next, f, now, sizeof now);
    } else { /* COMMAND */
        snprintf(was, sizeof was, "%s", live->command ? live->command[0] : "(none)");
        snprintf(now, sizeof now, "%s", next->command ? next->command[0] : "(none)");
    }
    if (applied)
        log_msg(quiet ? LOG_DEBUG : LOG_INFO, 0, "SIGHUP: %s=%s (was %s)", name, now, was);
    else
        log_msg(quiet ? LOG_DEBUG : LOG_ERROR, 0,
                "SIGHUP: %s=%s needs a restart to take effect (still %s)", name, now, was);
}

unsigned config_apply(struct config *live, const struct config *next, bool quiet)
{
    unsigned applied = 0, restart = 0;
    bool cmd_live = live->command && next->command;

    for (size_t i = 0; i < NFLAGS; i++) {
        const struct flag *f = &flags[i];
        size_t size = value_size(f);
        bool same;

        if (!size)
            continue;
        same = same_value(live, next, f);
        if (!is_live(f)) {
            restart += !same;
            if (!same)
                log_change(live, next, f->name, f, false, quiet);
            continue;
        }
        if (!same)
            log_change(live, next, f->name, f, true, quiet);
        applied += !same;
        memcpy((char *)live + f->off, (const char *)next + f->off, size);
        if (f->count_off)
            memcpy((char *)live + f->count_off, (const char *)next + f->count_off, sizeof(size_t));
    }
    live->trust_proxy = next->trust_proxy; /* --trust-proxy, parsed */
    if (!same_list((const char *const *)live->command, (const char *const *)next->command)) {
        log_change(live, next, "command", NULL, cmd_live, quiet);
        applied += cmd_live;
        restart += !cmd_live;
    }
    if (cmd_live) {
        live->command = next->command;
        live->command_path = next->command_path;
    }
    log_msg(quiet ? LOG_DEBUG : LOG_INFO, 0,
            "SIGHUP: %s read again: %u changes applied, %u need a restart", live->config_file,
            applied, restart);
    return applied;
}

void config_free(struct config *c)
{
    proxy_trust_free(&c->trust_proxy);
    free(c->addresses);
    free(c->listen);
    free(c->passenv);
    free(c->origins);
    free(c->subprotocols);
    free(c->headers);
    free(c->headers_ws);
    free(c->headers_http);
    free((void *)c->command_path);
    if (c->owned)
        for (size_t i = 0; c->owned[i]; i++)
            free(c->owned[i]);
    free(c->owned);
    memset(c, 0, sizeof *c);
}
