/*
 * log: one line per event on stderr, written with a single write(2) so lines
 * from the server never interleave mid-line.
 */
#include "log.h"

#include <errno.h>
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

void log_vmsg(enum log_level level, unsigned long conn, const char *suffix, const char *fmt,
              va_list ap)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    size_t n;
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
    r = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    if (r > 0)
        n = n + (size_t)r < sizeof line - 1 ? n + (size_t)r : sizeof line - 2;
    if (suffix) {
        r = snprintf(line + n, sizeof line - n - 1, "%s", suffix);
        if (r > 0)
            n = n + (size_t)r < sizeof line - 1 ? n + (size_t)r : sizeof line - 2;
    }
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
