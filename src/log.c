/*
 * log: one line per event on stderr, written with a single write(2) so lines
 * from the server never interleave mid-line.
 */
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level threshold = LOG_ACCESS;

static const char *const level_names[] = {"DEBUG", "ACCESS", "INFO", "ERROR", "FATAL"};

void log_set_level(enum log_level level)
{
    threshold = level;
}

enum log_level log_get_level(void)
{
    return threshold;
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
 * surrogate, past U+10FFFF, cut short) or a C1 control (U+0080-U+009F: some terminals obey). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp, min;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2, cp = p[0] & 0x1fu, min = 0xa0;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3, cp = p[0] & 0x0fu, min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4, cp = p[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
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

void log_vmsg(enum log_level level, unsigned long conn, const char *suffix, const char *fmt,
              va_list ap)
{
    char line[2048], msg[2048];
    struct timeval tv;
    struct tm tm;
    size_t n, m = 0;
    int r;

    if (level < threshold)
        return;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    r = snprintf(line + n, sizeof line - n, ".%03ld | %-6s | ", (long)(tv.tv_usec / 1000),
                 level_names[level]);
    n += (size_t)r;
    if (conn) {
        r = snprintf(line + n, sizeof line - n, "[conn %lu] ", conn);
        n += (size_t)r;
    }
    /* The message carries what others chose (a program's stderr, URLs, headers): formatted
     * first, then escaped into the line, so no byte of it can end the line, forge another or
     * drive a terminal. */
    r = vsnprintf(msg, sizeof msg, fmt, ap);
    if (r > 0)
        m = (size_t)r < sizeof msg ? (size_t)r : sizeof msg - 1;
    if (suffix) {
        r = snprintf(msg + m, sizeof msg - m, "%s", suffix);
        if (r > 0)
            m = m + (size_t)r < sizeof msg ? m + (size_t)r : sizeof msg - 1;
    }
    n += log_escape(line + n, sizeof line - n - 1, msg, m);
    line[n++] = '\n';
    /* one write: a line is never split by another writer; a short write is not retried */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
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
