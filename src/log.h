/*
 * log: leveled logging to stderr, printf-checked.
 *
 * One line per event: "2026-11-25 06:40:01.123 | LEVEL | [conn 12] message".
 * log_errno() appends ": strerror(err)". A libuv error is written by the
 * caller with uv_strerror() in the message (there is no log_uv(): log.c
 * does not depend on libuv).
 * The access line (one per connection) is logged at LOG_ACCESS.
 *
 * The message (after formatting, the errno suffix included) is escaped, so
 * that a program's stderr, a URL or a header cannot forge a log line or
 * drive a terminal: see log_escape(). A line is at most 2 KiB; longer
 * messages are cut (never inside an escape or a UTF-8 sequence).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
    LOG_DEBUG = 0, /* "debug" and "trace" */
    LOG_ACCESS = 1,
    LOG_INFO = 2,
    LOG_ERROR = 3,
    LOG_FATAL = 4,
};

/* Messages below level are dropped. Default LOG_ACCESS. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "debug", "trace", "access", "info", "error", "fatal" -> level; -1 if unknown. */
int log_level_parse(const char *name);

/* conn: connection id, or 0 for none. */
void log_msg(enum log_level level, unsigned long conn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_errno(enum log_level level, unsigned long conn, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_vmsg(enum log_level level, unsigned long conn, const char *suffix, const char *fmt,
              va_list ap) __attribute__((format(printf, 4, 0)));

/*
 * Copies len bytes of in to out (cap bytes) as they should appear in a log line: printable
 * ASCII and valid UTF-8 (no overlong form, surrogate or C1 control) as they are; TAB, CR and
 * LF as \t \r \n; every other byte (controls 0x00-0x1f, DEL, C1 controls, invalid UTF-8)
 * as \xNN, lowercase hex. Stops before an item that does not fit whole. Returns the bytes
 * written (no NUL is added). Pure; safe from any thread.
 */
size_t log_escape(char *out, size_t cap, const char *in, size_t len);

#define log_debug(conn, ...) log_msg(LOG_DEBUG, (conn), __VA_ARGS__)
#define log_access(conn, ...) log_msg(LOG_ACCESS, (conn), __VA_ARGS__)
#define log_info(conn, ...) log_msg(LOG_INFO, (conn), __VA_ARGS__)
#define log_error(conn, ...) log_msg(LOG_ERROR, (conn), __VA_ARGS__)
#define log_fatal(conn, ...) log_msg(LOG_FATAL, (conn), __VA_ARGS__)

#endif
