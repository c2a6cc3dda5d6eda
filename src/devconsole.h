/*
 * devconsole: the HTML test console that --devconsole serves for every
 * plain GET/HEAD (not an upgrade), whatever the path.
 *
 * The page is self-contained (inline style and script, no external asset)
 * and comes from src/devconsole.html, built into the binary. It offers a
 * URL box prefilled with this request's ws:// or wss:// URL, connect and
 * disconnect (with a close code and reason), a send box with history
 * (Up/Down), text or binary (hex) messages, and a log of what goes in and
 * out, binary messages as hex, and each close with its code and reason.
 *
 * What is reflected, and how it is made harmless:
 *  - the URL is scheme "://" host target; bytes that cannot stand in a URL
 *    (controls, space, DEL, and every byte >= 0x80, so no invalid UTF-8,
 *    NUL, U+2028 or U+2029 reaches the page) are percent-encoded;
 *  - it goes into exactly one place, the value attribute of the URL box,
 *    with & < > " ' ` written as character references. The script reads it
 *    from the DOM, so no request byte is ever in script context;
 *  - the page carries a Content-Security-Policy (meta) that allows only the
 *    page's own script and style (by their SHA-256) and connections to ws:
 *    and wss:, so even a markup injection could not run script;
 *  - the response carries DEVCONSOLE_HEADERS: no other site may frame the
 *    page (clickjacking), which only a response header can say (a meta
 *    CSP ignores frame-ancestors).
 * No global state; safe to call from any thread.
 */
#ifndef DEVCONSOLE_H
#define DEVCONSOLE_H

#include <stddef.h>

/* The console response's header fields (CRLF-terminated): the page may be framed by itself
 * only, said both ways (CSP level 2 and the older X-Frame-Options). */
#define DEVCONSOLE_HEADERS                                                                         \
    "Content-Security-Policy: frame-ancestors 'self'\r\n"                                          \
    "X-Frame-Options: SAMEORIGIN\r\n"

/*
 * The console page for a request: the ws URL is built from scheme ("wss"
 * gives wss, anything else ws), the Host header value (may be NULL: then
 * "localhost") and the raw request target (target_len bytes, NUL allowed;
 * the origin form "/path?query" as received; an absolute form
 * "http://host/path" contributes its path, anything else gives "/").
 * Everything reflected is escaped for its context (see above), so no input
 * can inject markup or script. Returns a malloc'd body (NUL-terminated, for
 * convenience; the NUL is not counted) and its length via *len, or NULL
 * when out of memory (or libcrypto failed to hash). Content-Type is
 * text/html; charset=utf-8.
 */
char *devconsole_page(const char *scheme, const char *host, const char *target, size_t target_len,
                      size_t *len);

#endif
