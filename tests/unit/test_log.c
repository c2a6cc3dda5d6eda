/*
 * test_log: what others wrote (a program's stderr, a URL, a header) reaches the log as one
 * line with no control byte and no invalid UTF-8: escaped by log_escape(), through log_msg()
 * and log_errno() too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

/* log_escape of in (len bytes) as a string (cap bytes of room at most). */
static const char *esc(const char *in, size_t len, size_t cap)
{
    static char out[4096];
    size_t n = log_escape(out, cap, in, len);
    out[n] = '\0';
    return out;
}

#define ESC_IS(in, want, name)                                                                     \
    do {                                                                                           \
        const char *g_ = esc((in), sizeof(in) - 1, 4000);                                          \
        if (!ok(strcmp(g_, (want)) == 0, "%s", (name)))                                            \
            diag("  got \"%s\", want \"%s\"", g_, (want));                                         \
    } while (0)

static void escapes(void)
{
    ESC_IS("plain text, 100% ASCII ~", "plain text, 100% ASCII ~", "printable ASCII as is");
    ESC_IS("\x1b[31mfake\r\nINFO forged", "\\x1b[31mfake\\r\\nINFO forged",
           "ESC, CR, LF: escaped, no line break");
    ESC_IS("a\tb", "a\\tb", "TAB as \\t");
    ESC_IS("bell\a del\x7f", "bell\\x07 del\\x7f", "BEL and DEL as \\xNN");
    ESC_IS("\x01\x1f", "\\x01\\x1f", "other C0 controls");
    ESC_IS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
           "valid UTF-8 (2, 3, 4 bytes) as is");
    ESC_IS("\xff\xfe", "\\xff\\xfe", "bytes never in UTF-8");
    ESC_IS("\xc3", "\\xc3", "a sequence cut at the end");
    ESC_IS("\xc3(", "\\xc3(", "a lead byte without its continuation");
    ESC_IS("\x80x", "\\x80x", "a lone continuation byte");
    ESC_IS("\xc0\xaf", "\\xc0\\xaf", "overlong '/'");
    ESC_IS("\xe0\x80\xaf", "\\xe0\\x80\\xaf", "overlong, 3 bytes");
    ESC_IS("\xed\xa0\x80", "\\xed\\xa0\\x80", "a UTF-16 surrogate");
    ESC_IS("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", "past U+10FFFF");
    ESC_IS("\xc2\x9b[31m", "\\xc2\\x9b[31m", "a C1 control (CSI) in UTF-8");
    ESC_IS("\xc2\xa0", "\xc2\xa0", "U+00A0, the first code point after C1, as is");

    const char nul[] = {'a', 0, 'b'};
    const char *g = esc(nul, 3, 100);
    ok(strcmp(g, "a\\x00b") == 0, "NUL as \\x00, and what follows it kept");

    /* room: an item is written whole or not at all */
    ok(strcmp(esc("ab\x1b", 3, 5), "ab") == 0, "an escape that does not fit is not cut");
    ok(strcmp(esc("ab\x1b", 3, 6), "ab\\x1b") == 0, "and fits with exactly its room");
    ok(strcmp(esc("a\xe2\x82\xac", 4, 3), "a") == 0, "a UTF-8 sequence is not cut");
    ok(strcmp(esc("abc", 3, 0), "") == 0, "no room: nothing");
}

/* Runs fn with stderr into a pipe; the bytes written, NUL-terminated, in buf. */
static size_t capture(void (*fn)(void), char *buf, size_t cap)
{
    int fds[2], saved = dup(STDERR_FILENO);
    ssize_t r;
    size_t n = 0;

    if (saved < 0 || pipe(fds) != 0)
        return 0;
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    while (n + 1 < cap && (r = read(fds[0], buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    close(fds[0]);
    buf[n] = '\0';
    return n;
}

static void log_forged(void)
{
    log_error(7, "stderr: %s", "\x1b[31mfake\r\nINFO forged\a");
}

static void log_errno_forged(void)
{
    log_errno(LOG_INFO, 0, ENOENT, "open %s", "bad\nname");
}

static void log_long(void)
{
    static char big[3000];
    memset(big, '\x1b', sizeof big - 1);
    log_error(0, "%s", big);
}

static size_t count_byte(const char *s, size_t n, char b)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == b;
    return c;
}

static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

static void lines(void)
{
    char buf[8192];
    size_t n;

    log_set_level(LOG_DEBUG);
    n = capture(log_forged, buf, sizeof buf);
    ok(n > 0 && count_byte(buf, n, '\n') == 1 && buf[n - 1] == '\n', "one line, one newline");
    ok(strstr(buf, "| ERROR  | [conn 7] stderr: \\x1b[31mfake\\r\\nINFO forged\\x07\n") != NULL,
       "the message escaped after the prefix");
    if (!ok(!has_control(buf, n - 1), "no control byte before the newline"))
        diag("  got %s", buf);

    n = capture(log_errno_forged, buf, sizeof buf);
    ok(strstr(buf, "open bad\\nname: No such file or directory\n") != NULL &&
           count_byte(buf, n, '\n') == 1,
       "log_errno: escaped, the suffix kept");

    n = capture(log_long, buf, sizeof buf);
    ok(n <= 2048 && count_byte(buf, n, '\n') == 1 && buf[n - 1] == '\n',
       "a long message: one line of at most 2048 bytes (%zu)", n);
    ok(!has_control(buf, n - 1) && strstr(buf, "\\x1b\\x1b\n") != NULL,
       "cut between escapes, never inside one");
}

/* log_json_escape of in as a string. */
static const char *jesc(const char *in, size_t len, size_t cap)
{
    static char out[4096];
    size_t n = log_json_escape(out, cap, in, len);
    out[n] = '\0';
    return out;
}

#define JESC_IS(in, want, name)                                                                    \
    do {                                                                                           \
        const char *g_ = jesc((in), sizeof(in) - 1, 4000);                                         \
        if (!ok(strcmp(g_, (want)) == 0, "json: %s", (name)))                                      \
            diag("  got \"%s\", want \"%s\"", g_, (want));                                         \
    } while (0)

static void json_escapes(void)
{
    JESC_IS("plain ~ text", "plain ~ text", "printable ASCII as is");
    JESC_IS("say \"hi\" \\o/", "say \\\"hi\\\" \\\\o/", "quote and backslash");
    JESC_IS("a\tb\r\n", "a\\tb\\r\\n", "TAB, CR, LF");
    JESC_IS("\x1b[31m\a\x7f", "\\u001b[31m\\u0007\\u007f", "ESC, BEL, DEL as \\u00XX");
    JESC_IS("\xc2\x9b!", "\\u009b!", "a C1 control as \\u009b (both bytes)");
    JESC_IS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "valid UTF-8 as is");
    JESC_IS("\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd", "invalid bytes: one U+FFFD each");
    JESC_IS("\xc3(", "\xef\xbf\xbd(", "a lead byte without its continuation");
    JESC_IS("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "a surrogate: three");
    JESC_IS("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "overlong");
    JESC_IS("end \xe2\x82", "end \xef\xbf\xbd\xef\xbf\xbd", "a sequence cut at the end");

    const char nul[] = {'a', 0, 'b'};
    ok(strcmp(jesc(nul, 3, 100), "a\\u0000b") == 0, "json: NUL as \\u0000, the rest kept");
    ok(strcmp(jesc("ab\x01", 3, 7), "ab") == 0, "json: an escape that does not fit is not cut");
    ok(strcmp(jesc("ab\x01", 3, 8), "ab\\u0001") == 0, "json: and fits with its room");
    ok(strcmp(jesc("a\xe2\x82\xac", 4, 3), "a") == 0, "json: a UTF-8 sequence is not cut");
    ok(strcmp(jesc("a\xff", 2, 3), "a") == 0, "json: nor a U+FFFD");
}

static void log_json_lines(void)
{
    log_error(7, "stderr: %s", "\x1b[31m \"q\" \xff");
    log_info(0, "no connection");
}

static void log_json_access(void)
{
    struct log_access a = {.conn = 3,
                           .remote_addr = "127.0.0.1",
                           .remote_port = 4242,
                           .method = "GET",
                           .path = "/a\"b\x01",
                           .status = 101,
                           .duration_ms = 1234,
                           .bytes_in = 10,
                           .bytes_out = 20,
                           .msgs_in = 1,
                           .msgs_out = 2,
                           .close_code = 1011,
                           .closed_by = "server",
                           .program = true,
                           .started = true,
                           .exited = true,
                           .term_signal = 9,
                           .end_reason = "program-exit"};
    log_access_record(&a);
    a.term_signal = 0;
    a.exit_status = 3;
    a.closed_by = NULL;
    a.end_reason = NULL;
    log_access_record(&a);
}

static void log_text_access(void)
{
    struct log_access a = {.conn = 5,
                           .remote_addr = "::1",
                           .remote_port = 80,
                           .method = "GET",
                           .path = "/x",
                           .status = 403,
                           .duration_ms = 5,
                           .bytes_in = 100,
                           .bytes_out = 50,
                           .end_reason = "refused"};
    log_access_record(&a);
    a.plain_http = true;
    a.status = 404;
    a.incomplete = true;
    log_access_record(&a);
}

static void json_lines(void)
{
    char buf[8192];
    size_t n;

    log_set_level(LOG_DEBUG);
    log_set_format(LOG_FORMAT_JSON);
    n = capture(log_json_lines, buf, sizeof buf);
    ok(count_byte(buf, n, '\n') == 2 && buf[n - 1] == '\n', "json: two lines");
    ok(strncmp(buf, "{\"time\":\"", 9) == 0 && strstr(buf, "Z\",\"ts\":") != NULL,
       "json: time first, in UTC");
    ok(strstr(buf, "\"level\":\"error\",\"pid\":") != NULL &&
           strstr(buf, ",\"conn\":7,\"msg\":\"stderr: \\u001b[31m \\\"q\\\" \xef\xbf\xbd\"}\n") !=
               NULL,
       "json: level, conn and the message escaped");
    if (!ok(strstr(buf, "\"level\":\"info\"") && !strstr(strchr(buf, '\n'), "\"conn\""),
            "json: no conn field without a connection"))
        diag("  got %s", buf);

    n = capture(log_json_access, buf, sizeof buf);
    ok(strstr(buf, "\"level\":\"access\",\"pid\":") != NULL &&
           strstr(
               buf,
               ",\"conn\":3,\"msg\":\"access\",\"remote_addr\":\"127.0.0.1\",\"remote_port\":4242,"
               "\"method\":\"GET\",\"path\":\"/a\\\"b\\u0001\",\"status\":101,\"duration\":1.234,"
               "\"bytes_in\":10,\"bytes_out\":20,\"messages_in\":1,\"messages_out\":2,"
               "\"close_code\":1011,\"closed_by\":\"server\",\"exit_status\":null,\"signal\":9,"
               "\"signal_name\":\"SIGKILL\",\"end_reason\":\"program-exit\"}\n") != NULL,
       "json: an access record, typed");
    if (!ok(strstr(buf, "\"closed_by\":null,\"exit_status\":3,\"signal\":null,\"signal_name\":null,"
                        "\"end_reason\":null}\n") != NULL,
            "json: nulls for what does not apply"))
        diag("  got %s", buf);

    log_set_format(LOG_FORMAT_TEXT);
    n = capture(log_text_access, buf, sizeof buf);
    ok(strstr(buf,
              "| ACCESS | [conn 5] ::1:80 \"/x\" 403 0.005s in=100 out=50 - close=- method=GET "
              "msgs_in=0 msgs_out=0 closed_by=- end=refused\n") != NULL,
       "text: today's line, the new fields at its end");
    if (!ok(strstr(buf, "| ACCESS | [conn 5] ::1:80 \"GET /x\" 404 0.005s out=50 (incomplete)\n") !=
                NULL,
            "text: a plain-HTTP request's line"))
        diag("  got %s", buf);
    (void)n;
}

int main(void)
{
    escapes();
    lines();
    json_escapes();
    json_lines();
    return tap_done();
}
