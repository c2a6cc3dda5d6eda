/*
 * log: one line per event on stderr, written with a single write(2) so lines
 * from the server never interleave mid-line.
 */
#include "build-config.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* A text line is at most TEXT_LINE_MAX bytes (as it always was); a JSON line has room for
 * its field names and escapes (\u00XX: 6 bytes for 1) on top. */
#define TEXT_LINE_MAX 2048u
#define LOG_LINE_MAX 8192u

static enum log_level threshold = LOG_ACCESS;
static enum log_format format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"DEBUG", "ACCESS", "INFO", "ERROR", "FATAL"};

void log_set_level(enum log_level level)
{
    threshold = level;
}

enum log_level log_get_level(void)
{
    return threshold;
}

void log_set_format(enum log_format f)
{
    format = f;
}

int log_format_parse(const char *name)
{
    if (strcasecmp(name, "text") == 0)
        return LOG_FORMAT_TEXT;
    if (strcasecmp(name, "json") == 0)
        return LOG_FORMAT_JSON;
    return -1;
}

int log_level_parse(const char *name)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {{"debug", LOG_DEBUG}, {"trace", LOG_DEBUG}, {"access", LOG_ACCESS},
                 {"info", LOG_INFO},   {"error", LOG_ERROR}, {"fatal", LOG_FATAL}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0)
            return (int)names[i].level;
    return -1;
}

/* Length of the valid UTF-8 sequence at p (n bytes left): 2-4, or 0 when invalid (overlong,
 * surrogate, past U+10FFFF, cut short). *cp receives the code point. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t min;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2, *cp = p[0] & 0x1fu, min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3, *cp = p[0] & 0x0fu, min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4, *cp = p[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        *cp = *cp << 6 | (p[i] & 0x3fu);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return len;
}

/* As utf8_decode, but a C1 control (U+0080-U+009F: some terminals obey) is invalid too. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    uint32_t cp = 0;
    size_t len = utf8_decode(p, n, &cp);

    return len == 0 || cp < 0xa0 ? 0 : len;
}

size_t log_escape(char *out, size_t cap, const char *in, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)in, *end = p + len;
    size_t n = 0, u;

    while (p < end) {
        if (*p >= 0x20 && *p < 0x7f) {
            if (n + 1 > cap)
                break;
            out[n++] = (char)*p++;
        } else if (*p >= 0x80 && (u = utf8_len(p, (size_t)(end - p))) != 0) {
            if (n + u > cap)
                break;
            memcpy(out + n, p, u);
            n += u;
            p += u;
        } else if (*p == '\t' || *p == '\r' || *p == '\n') {
            if (n + 2 > cap)
                break;
            out[n++] = '\\';
            out[n++] = *p == '\t' ? 't' : *p == '\r' ? 'r' : 'n';
            p++;
        } else {
            if (n + 4 > cap)
                break;
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
            p++;
        }
    }
    return n;
}

size_t log_json_escape(char *out, size_t cap, const char *in, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)in, *end = p + len;
    size_t n = 0, u = 0;
    uint32_t cp = 0;

    while (p < end) {
        char item[6];
        size_t k;
        const char *src = item;

        if (*p >= 0x80)
            u = utf8_decode(p, (size_t)(end - p), &cp);
        if (*p == '"' || *p == '\\') {
            item[0] = '\\', item[1] = (char)*p, k = 2, u = 1;
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            item[0] = '\\', item[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't', k = 2, u = 1;
        } else if (*p >= 0x20 && *p < 0x7f) {
            src = (const char *)p, k = u = 1;
        } else if (*p >= 0x80 && u != 0 && cp >= 0xa0) {
            src = (const char *)p, k = u;
        } else if (*p < 0x80 || u != 0) {
            /* C0 control, DEL, or a C1 control (cp, u bytes) */
            uint32_t c = *p < 0x80 ? *p : cp;
            memcpy(item, "\\u00", 4);
            item[4] = hex[c >> 4], item[5] = hex[c & 15], k = 6;
            if (*p < 0x80)
                u = 1;
        } else {
            src = "\xef\xbf\xbd", k = 3, u = 1; /* U+FFFD for a byte that starts nothing valid */
        }
        if (n + k > cap)
            break;
        memcpy(out + n, src, k);
        n += k;
        p += u;
    }
    return n;
}

/* A line being built: appends never overrun; what does not fit is dropped. */
struct line {
    char *buf;
    size_t cap, n;
};

static void line_printf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line_printf(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(l->buf + l->n, l->cap - l->n, fmt, ap);
    va_end(ap);
    if (r > 0)
        l->n = l->n + (size_t)r < l->cap ? l->n + (size_t)r : l->cap - 1;
}

/* ,"key":"value" (escaped; NULL: null), cut to max bytes of input. */
static void json_str(struct line *l, const char *key, const char *v, size_t max)
{
    line_printf(l, ",\"%s\":", key);
    if (!v) {
        line_printf(l, "null");
        return;
    }
    size_t len = strlen(v);
    line_printf(l, "\"");
    /* room for the closing quote, the record's end and the newline stays */
    if (l->cap - l->n > 8)
        l->n += log_json_escape(l->buf + l->n, l->cap - l->n - 8, v, len < max ? len : max);
    line_printf(l, "\"");
}

/* The start of a line: the time, the level, the connection. */
static void line_start(struct line *l, enum log_level level, unsigned long conn)
{
    static const char *const json_levels[] = {"debug", "access", "info", "error", "fatal"};
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    if (format == LOG_FORMAT_JSON) {
        gmtime_r(&tv.tv_sec, &tm);
        l->n = strftime(l->buf, l->cap, "{\"time\":\"%Y-%m-%dT%H:%M:%S", &tm);
        line_printf(l, ".%03ldZ\",\"ts\":%lld.%03ld,\"level\":\"%s\",\"pid\":%ld",
                    (long)(tv.tv_usec / 1000), (long long)tv.tv_sec, (long)(tv.tv_usec / 1000),
                    json_levels[level], (long)getpid());
        if (conn)
            line_printf(l, ",\"conn\":%lu", conn);
        return;
    }
    localtime_r(&tv.tv_sec, &tm);
    l->n = strftime(l->buf, l->cap, "%Y-%m-%d %H:%M:%S", &tm);
    line_printf(l, ".%03ld | %-6s | ", (long)(tv.tv_usec / 1000), level_names[level]);
    if (conn)
        line_printf(l, "[conn %lu] ", conn);
}

/* Ends the line and writes it. */
static void line_write(struct line *l)
{
    if (format == LOG_FORMAT_JSON) {
        if (l->n > l->cap - 3)
            l->n = l->cap - 3;
        l->buf[l->n++] = '}';
    } else if (l->n > l->cap - 1) {
        l->n = l->cap - 1;
    }
    l->buf[l->n++] = '\n';
    /* one write: a line is never split by another writer; a short write is not retried */
    ssize_t w = write(STDERR_FILENO, l->buf, l->n);
    (void)w;
}

/* Writes the line of a message of m bytes (any bytes: escaped here). */
static void log_emit(enum log_level level, unsigned long conn, const char *msg, size_t m)
{
    char buf[LOG_LINE_MAX];
    struct line l = {buf, sizeof buf, 0};

    line_start(&l, level, conn);
    /* The message carries what others chose (a program's stderr, URLs, headers): escaped into
     * the line, so no byte of it can end the line, forge another or drive a terminal. */
    if (format == LOG_FORMAT_JSON) {
        line_printf(&l, ",\"msg\":\"");
        l.n += log_json_escape(l.buf + l.n, l.cap - l.n - 8, msg, m);
        line_printf(&l, "\"");
    } else {
        l.n += log_escape(l.buf + l.n, TEXT_LINE_MAX - l.n - 1, msg, m);
    }
    line_write(&l);
}

void log_vmsg(enum log_level level, unsigned long conn, const char *suffix, const char *fmt,
              va_list ap)
{
    char msg[2048];
    size_t m = 0;
    int r;

    if (level < threshold)
        return;
    r = vsnprintf(msg, sizeof msg, fmt, ap);
    if (r > 0)
        m = (size_t)r < sizeof msg ? (size_t)r : sizeof msg - 1;
    if (suffix) {
        r = snprintf(msg + m, sizeof msg - m, "%s", suffix);
        if (r > 0)
            m = m + (size_t)r < sizeof msg ? m + (size_t)r : sizeof msg - 1;
    }
    log_emit(level, conn, msg, m);
}

void log_bytes(enum log_level level, unsigned long conn, const char *prefix, const char *data,
               size_t len)
{
    char msg[2048];
    int r;
    size_t m;

    if (level < threshold)
        return;
    r = snprintf(msg, sizeof msg, "%s: ", prefix);
    m = r < 0 ? 0 : (size_t)r < sizeof msg ? (size_t)r : sizeof msg - 1;
    if (len > sizeof msg - m)
        len = sizeof msg - m;
    memcpy(msg + m, data, len);
    log_emit(level, conn, msg, m + len);
}

/* The PROGRAM field of the text line. */
static void program_text(const struct log_access *a, char *buf, size_t len)
{
    if (!a->program)
        snprintf(buf, len, "-");
    else if (!a->exited)
        snprintf(buf, len, a->started ? "running" : "not started");
    else if (a->term_signal)
        snprintf(buf, len, "killed by signal %d (SIG%s)", a->term_signal,
                 sigabbrev_np(a->term_signal) ? sigabbrev_np(a->term_signal) : "?");
    else
        snprintf(buf, len, "exit status %d", a->exit_status);
}

static void access_text(const struct log_access *a)
{
    uint64_t ms = a->duration_ms;
    char prog[64], close[16] = "-";

    if (a->plain_http) {
        log_access(a->conn, "%s:%d \"%s %s\" %d %" PRIu64 ".%03" PRIu64 "s out=%" PRIu64 "%s",
                   a->remote_addr ? a->remote_addr : "-", a->remote_port,
                   a->method ? a->method : "-", a->path ? a->path : "-", a->status, ms / 1000,
                   ms % 1000, a->bytes_out, a->incomplete ? " (incomplete)" : "");
        return;
    }
    program_text(a, prog, sizeof prog);
    if (a->close_code)
        snprintf(close, sizeof close, "%u", a->close_code);
    log_access(a->conn,
               "%s:%d \"%s\" %d %" PRIu64 ".%03" PRIu64 "s in=%" PRIu64 " out=%" PRIu64
               " %s close=%s method=%s msgs_in=%" PRIu64 " msgs_out=%" PRIu64
               " closed_by=%s end=%s",
               a->remote_addr ? a->remote_addr : "-", a->remote_port, a->path ? a->path : "-",
               a->status, ms / 1000, ms % 1000, a->bytes_in, a->bytes_out, prog, close,
               a->method ? a->method : "-", a->msgs_in, a->msgs_out,
               a->closed_by ? a->closed_by : "-", a->end_reason ? a->end_reason : "-");
}

static void access_json(const struct log_access *a)
{
    char buf[LOG_LINE_MAX];
    struct line l = {buf, sizeof buf, 0};

    line_start(&l, LOG_ACCESS, a->conn);
    line_printf(&l, ",\"msg\":\"access\"");
    json_str(&l, "remote_addr", a->remote_addr, 64);
    line_printf(&l, ",\"remote_port\":%d", a->remote_port);
    json_str(&l, "method", a->method, 32);
    json_str(&l, "path", a->path, 1024);
    line_printf(&l, ",\"status\":%d,\"duration\":%" PRIu64 ".%03" PRIu64, a->status,
                a->duration_ms / 1000, a->duration_ms % 1000);
    line_printf(&l, ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64, a->bytes_in, a->bytes_out);
    if (a->plain_http) {
        line_printf(&l, ",\"messages_in\":null,\"messages_out\":null,\"incomplete\":%s",
                    a->incomplete ? "true" : "false");
    } else {
        line_printf(&l, ",\"messages_in\":%" PRIu64 ",\"messages_out\":%" PRIu64, a->msgs_in,
                    a->msgs_out);
    }
    if (a->close_code)
        line_printf(&l, ",\"close_code\":%u", a->close_code);
    else
        line_printf(&l, ",\"close_code\":null");
    json_str(&l, "closed_by", a->closed_by, 16);
    if (a->program && a->exited && !a->term_signal)
        line_printf(&l, ",\"exit_status\":%d", a->exit_status);
    else
        line_printf(&l, ",\"exit_status\":null");
    if (a->program && a->exited && a->term_signal) {
        char name[16];
        snprintf(name, sizeof name, "SIG%s",
                 sigabbrev_np(a->term_signal) ? sigabbrev_np(a->term_signal) : "?");
        line_printf(&l, ",\"signal\":%d", a->term_signal);
        json_str(&l, "signal_name", name, sizeof name);
    } else {
        line_printf(&l, ",\"signal\":null,\"signal_name\":null");
    }
    json_str(&l, "end_reason", a->end_reason, 64);
    line_write(&l);
}

void log_access_record(const struct log_access *a)
{
    if (LOG_ACCESS < threshold)
        return;
    if (format == LOG_FORMAT_JSON)
        access_json(a);
    else
        access_text(a);
}

void log_msg(enum log_level level, unsigned long conn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, conn, NULL, fmt, ap);
    va_end(ap);
}

void log_errno(enum log_level level, unsigned long conn, int err, const char *fmt, ...)
{
    char suffix[128];
    va_list ap;
    /* libuv reports -errno; plain calls report errno */
    snprintf(suffix, sizeof suffix, ": %s", strerror(err < 0 ? -err : err));
    va_start(ap, fmt);
    log_vmsg(level, conn, suffix, fmt, ap);
    va_end(ap);
}
