/*
 * authz_answer: what an --authorizer's output and exit status mean, sans I/O.
 *
 * The authorizer prints a CGI-like answer on stdout: header lines
 * "Name: value" (LF or CRLF), then, after an empty line, an optional body.
 *
 *   Status: NNN [reason]   the decision: none, 101 or 2xx allows; 3xx, 4xx,
 *                          5xx refuse the request with that status
 *   Set-Env: NAME=value    (allowed only) a variable for the session's
 *                          program; NAME must be AUTHZ_ followed by letters,
 *                          digits and '_' (AUTHZ_USER=alice), so an
 *                          authorizer never replaces a CGI variable
 *   Remote-User: name      (allowed only) the program's REMOTE_USER
 *   Content-Type: type     the type of a refusal's body (default text/plain)
 *   Other-Name: value      added to the response: the 101 when allowed
 *                          (Set-Cookie...), the refusal otherwise
 *                          (WWW-Authenticate, Retry-After, Location...)
 *
 * The exit status counts too: non-zero never allows (a Status of 3xx-5xx
 * is used, anything else is 403: "exit 1" is a refusal); killed by a
 * signal is 500. Output the server could misread is 500 and the request
 * refused (fail closed): a line that is not a header, a name that is not a
 * token, a value with control bytes, a bad Status, a Set-Env name outside
 * AUTHZ_, a header the server owns (Connection, Content-Length,
 * Transfer-Encoding, Upgrade, Sec-WebSocket-*), more than AUTHZ_HEADERS_MAX
 * headers or more than AUTHZ_ANSWER_MAX bytes.
 */
#ifndef AUTHZ_ANSWER_H
#define AUTHZ_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#define AUTHZ_ANSWER_MAX 16384u /* bytes of output read; more is a bad answer */
#define AUTHZ_HEADERS_MAX 32u   /* header lines in an answer */
#define AUTHZ_ENV_PREFIX "AUTHZ_"

struct authz_answer {
    int status;               /* 0: allowed; else the HTTP status that refuses the request */
    const char *reason;       /* static, for the log: why ("" when allowed) */
    char **headers;           /* "Name: value" for the response, NULL-terminated (never NULL) */
    char **env;               /* allowed: "AUTHZ_X=value" for the program, NULL-terminated */
    const char *remote_user;  /* allowed: Remote-User, or NULL */
    const char *content_type; /* refused: the body's type, or NULL */
    const char *body;         /* refused: the body (not NUL-terminated), or NULL */
    size_t body_len;
    char *mem; /* private: one allocation for all of the above */
};

/*
 * Decides on out[0..len) (everything the authorizer printed; truncated: it
 * printed more than that) and how it ended: term_signal > 0 (killed), else
 * exit_status. Returns 0 with *a filled (refusals and bad output included),
 * or WS_E_NOMEM with nothing allocated. authz_answer_free() releases it.
 */
int authz_answer_parse(const char *out, size_t len, bool truncated, int exit_status,
                       int term_signal, struct authz_answer *a);
void authz_answer_free(struct authz_answer *a);

/* A refusal's decision when there is no output to read (a timeout: 503, out of memory...):
 * *a holds status and reason only; authz_answer_free() is still safe. */
void authz_answer_refuse(struct authz_answer *a, int status, const char *reason);

/*
 * Writes the whole refusal response for a refused answer: the status line
 * (the status's text), Content-Type and Content-Length of the body (the
 * answer's, or one line naming the status), Connection: close, extra
 * ("Name: value\r\n"... or NULL: the server's --header lines), the answer's
 * headers, the body. Returns the length, or WS_E_TOOBIG when cap is short.
 */
int authz_answer_write_refusal(const struct authz_answer *a, const char *extra, char *out,
                               size_t cap);
/* The size authz_answer_write_refusal() needs for a and extra. */
size_t authz_answer_refusal_size(const struct authz_answer *a, const char *extra);

#endif
