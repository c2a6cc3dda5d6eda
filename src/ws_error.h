/*
 * ws_error: the one error table of wsbridge.
 *
 * Every function that can fail returns 0 or one of the negative codes
 * below. Names and messages are generated from the same X-macro, so a new
 * error is one line here. Only *local* failures are errors: a peer that
 * breaks the protocol is state (a queued close frame), see ws_stream.h.
 */
#ifndef WS_ERROR_H
#define WS_ERROR_H

#define WS_ERROR_MAP(XX)                                                                           \
    XX(NOMEM, -1, "out of memory")                                                                 \
    XX(INVAL, -2, "invalid argument")                                                              \
    XX(STATE, -3, "call not allowed in this state")                                                \
    XX(PROTO, -4, "peer violated the protocol")                                                    \
    XX(TOOBIG, -5, "size limit exceeded")                                                          \
    XX(CLOSED, -6, "connection is closed")                                                         \
    XX(PAUSED, -7, "paused by a callback")                                                         \
    XX(AGAIN, -8, "more input needed")                                                             \
    XX(CRYPTO, -9, "cryptographic library failure")                                                \
    XX(IO, -10, "input/output error")                                                              \
    XX(SPAWN, -11, "cannot start the program")                                                     \
    XX(LIMIT, -12, "too many concurrent sessions")                                                 \
    XX(CONFIG, -13, "invalid configuration")

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
