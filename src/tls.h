/*
 * tls: the server's TLS context (--ssl, --sslcert, --sslkey, --sslca) and
 * the TLS transport.
 *
 * tls_ctx_new() builds an SSL_CTX for a server: TLS 1.2 or newer, the
 * certificate chain and key from PEM files (the key must match), and with
 * a CA file client certificates required and verified against it. On
 * failure it returns NULL after logging every reason (OpenSSL's error
 * queue) at ERROR. An SSL_CTX is reference counted by OpenSSL: each
 * connection holds its own reference, so a reload that swaps the server's
 * context frees the old one only once its last connection is gone.
 *
 * transport_tls_new() wraps a connected transport (TCP or Unix socket):
 * the ciphertext comes in through a memory BIO and goes out through a BIO
 * of ours that hands SSL's records down as inner writes, so the inner
 * transport and everything above (the session, the bridge) never see TLS. The handshake
 * runs before the first plaintext byte is delivered; a failed handshake is
 * logged (INFO) and reported to read_cb as UV_EPROTO. write() before the
 * handshake is complete returns UV_ENOTCONN (nothing to answer in
 * plaintext), as does shutdown(). shutdown() sends close_notify then FIN.
 * write_queue_size() is the ciphertext queued below, so the bridge's
 * high-water marks apply unchanged. On success the TLS transport owns
 * inner (closing it closes inner); on failure inner is untouched and the
 * caller still owns it.
 */
#ifndef TLS_H
#define TLS_H

#include <openssl/ssl.h>
#include <uv.h>

#include "transport.h"

/*
 * Makes the session ticket keys that every later tls_ctx_new() of this process, and of the
 * processes it forks afterwards, installs: a ticket issued by one --workers process or before a
 * SIGHUP reload resumes anywhere after. Call it before forking workers; tls_ctx_new() calls it
 * when nobody has. 0, or -1 when OpenSSL's random generator fails (logged). Idempotent.
 */
int tls_ticket_keys_init(void);

/* NULL on failure (logged). ca may be NULL (no client certificates asked for). */
SSL_CTX *tls_ctx_new(const char *cert, const char *key, const char *ca);

/*
 * Rebuilds *ctx from the files (SIGHUP): on success the old context is
 * released (connections that use it keep it until they end) and 0 is
 * returned; on failure *ctx is unchanged and -1 is returned (logged).
 */
int tls_ctx_reload(SSL_CTX **ctx, const char *cert, const char *key, const char *ca);

/* 0, or a UV error (UV_ENOMEM, UV_EPROTO when OpenSSL refuses): see above. */
int transport_tls_new(uv_loop_t *loop, SSL_CTX *ctx, struct transport *inner,
                      struct transport **out);

#endif
