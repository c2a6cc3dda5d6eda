/*
 * ws_error: the error table of the sans-I/O core (ws_*, handshake,
 * upgrade, httpmsg, route's callers) and of the shell's calls into it.
 *
 * A core function that can fail returns 0 or one of the negative codes
 * below. Names and messages are generated from the same X-macro, so a new
 * error is one line here. Only *local* failures are errors: a peer that
 * breaks the protocol is state (a queued close frame, see ws_stream.h; an
 * HTTP status, see handshake.h).
 *
 * The shell (everything on libuv: transports, child, session, server)
 * returns libuv's codes (UV_E*, negative errno values) and names them with
 * uv_strerror(). Both are small negative numbers and they overlap (-1 is
 * WS_E_NOMEM here and UV_EPERM there), so a code means something only
 * with the function that returned it: the shell never passes a core code
 * on as its own; it names it with ws_error_message() where it reports it.
 */
#ifndef WS_ERROR_H
#define WS_ERROR_H

#define WS_ERROR_MAP(XX)                                                                           \
    XX(NOMEM, -1, "out of memory")                                                                 \
    XX(INVAL, -2, "invalid argument")                                                              \
    XX(STATE, -3, "call not allowed in this state")                                                \
    XX(TOOBIG, -5, "size limit exceeded")                                                          \
    XX(CLOSED, -6, "connection is closed")                                                         \
    XX(CRYPTO, -9, "cryptographic library failure")

enum ws_error {
#define WS_ERROR_ENUM(name, code, msg) WS_E_##name = (code),
    WS_ERROR_MAP(WS_ERROR_ENUM)
#undef WS_ERROR_ENUM
};

/* "WS_E_NOMEM" etc.; "WS_E_UNKNOWN" for a code not in the table. 0 -> "OK". */
const char *ws_error_name(int err);
/* Human-readable message; never NULL. */
const char *ws_error_message(int err);

#endif
