/*
 * log: leveled logging to stderr, printf-checked.
 *
 * One line per event: "2026-11-25 06:40:01.123 | LEVEL | [conn 12] message".
 * log_errno() appends ": strerror(err)". A libuv error is written by the
 * caller with uv_strerror() in the message (there is no log_uv(): log.c
 * does not depend on libuv).
 * The access line (one per connection, or per plain-HTTP request) is logged at
 * LOG_ACCESS from a struct log_access (log_access_record), so that both
 * formats carry the same typed fields.
 *
 * --logformat=json (log_set_format): every line is one JSON object instead,
 *   {"time":"2026-11-25T06:40:01.123Z","ts":1795588801.123,"level":"info",
 *    "pid":4242,"conn":12,"msg":"..."}
 * time in UTC (RFC 3339, milliseconds), ts the same instant as a number of
 * seconds since the epoch, level in lower case, conn only when there is one;
 * an access line has "msg":"access" and the record's fields (log_access).
 * Strings are JSON-escaped: '"', '\\', \n, \r, \t, the other C0 controls, DEL
 * and the C1 controls as \u00XX; invalid UTF-8 becomes U+FFFD.
 *
 * The message (after formatting, the errno suffix included) is escaped, so
 * that a program's stderr, a URL or a header cannot forge a log line or
 * drive a terminal: see log_escape(). A line is at most 2 KiB; longer
 * messages are cut (never inside an escape or a UTF-8 sequence).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

enum log_format {
    LOG_FORMAT_TEXT = 0,
    LOG_FORMAT_JSON = 1,
};

/* Default LOG_FORMAT_TEXT. */
void log_set_format(enum log_format format);
/* "text", "json" -> format; -1 if unknown. */
int log_format_parse(const char *name);

/*
 * One access line. The session fills it when a connection ends (a WebSocket session, or
 * a request answered with an error), http_serve.c for each plain-HTTP request. Strings are
 * borrowed for the call; NULL prints "-" in text and null in JSON.
 *
 * Text (the fields from method on were added later, at the end, so that the start of the
 * line stays what it was):
 *   WebSocket or refused: ADDR:PORT "PATH" STATUS 1.234s in=N out=N PROGRAM close=CODE|-
 *                         method=M msgs_in=N msgs_out=N closed_by=WHO|- end=REASON|-
 *   plain HTTP:           ADDR:PORT "METHOD PATH" STATUS 0.012s out=N[ (incomplete)]
 * where PROGRAM is "-", "not started", "running", "exit status N" or
 * "killed by signal N (SIGX)".
 * JSON fields: remote_addr, remote_port, method, path, status, duration (seconds, ms
 * precision), bytes_in, bytes_out, messages_in, messages_out, close_code, closed_by,
 * exit_status, signal (number), signal_name, end_reason; and incomplete for plain HTTP.
 * Each is null when it does not apply (no program: exit_status null; not a WebSocket:
 * close_code null).
 */
struct log_access {
    unsigned long conn;
    const char *remote_addr;
    int remote_port;
    const char *method;
    const char *path; /* the request target without its query */
    int status;       /* HTTP status answered (101: WebSocket); 0: none */
    uint64_t duration_ms;
    uint64_t bytes_in, bytes_out;
    uint64_t msgs_in, msgs_out; /* WebSocket messages (not control frames) */
    unsigned close_code;        /* 0: not a WebSocket session */
    const char *closed_by;      /* "client", "server"; NULL: no close frame */
    bool plain_http;            /* a plain-HTTP request (the second text shape) */
    bool incomplete;            /* plain HTTP: the connection ended before the response */
    bool program;               /* a program belongs to the line (else PROGRAM is "-") */
    bool started, exited;       /* it was started; it was reaped */
    int exit_status;            /* when exited without a signal */
    int term_signal;            /* when exited: the signal that killed it, or 0 */
    const char *end_reason;     /* why the connection ended ("idle-timeout", ...); NULL: none */
};

/* Logs a at LOG_ACCESS. */
void log_access_record(const struct log_access *a);

/* conn: connection id, or 0 for none. */
void log_msg(enum log_level level, unsigned long conn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_errno(enum log_level level, unsigned long conn, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "prefix: data": data is len bytes, any bytes (a NUL too), escaped like a message; cut at
 * about 2 KiB. For what a program wrote. */
void log_bytes(enum log_level level, unsigned long conn, const char *prefix, const char *data,
               size_t len);
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

/*
 * As log_escape(), for a JSON string's contents: '"' and '\\' with a backslash; \n \r \t;
 * other C0 controls, DEL and C1 controls as \u00XX; invalid UTF-8 (each byte that cannot
 * start a valid sequence) as U+FFFD; other valid UTF-8 as is. Stops before an item that does
 * not fit whole. Returns the bytes written (no NUL). Pure.
 */
size_t log_json_escape(char *out, size_t cap, const char *in, size_t len);

#define log_debug(conn, ...) log_msg(LOG_DEBUG, (conn), __VA_ARGS__)
#define log_access(conn, ...) log_msg(LOG_ACCESS, (conn), __VA_ARGS__)
#define log_info(conn, ...) log_msg(LOG_INFO, (conn), __VA_ARGS__)
#define log_error(conn, ...) log_msg(LOG_ERROR, (conn), __VA_ARGS__)
#define log_fatal(conn, ...) log_msg(LOG_FATAL, (conn), __VA_ARGS__)

#endif
