/*
 * tls: the server's SSL_CTX (see tls.h).
 */
#include "build-config.h"

#include "tls.h"

#include <stdbool.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "log.h"

/* Logs and empties OpenSSL's error queue: one line per reason. */
static void log_ssl_errors(const char *what)
{
    unsigned long e;
    char buf[256];
    int n = 0;

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof buf);
        log_error(0, "%s: %s", what, buf);
        n++;
    }
    if (n == 0)
        log_error(0, "%s: failed", what);
}

/*
 * The session ticket keys every context of this server uses: name (16), HMAC (32) and AES (32)
 * bytes, OpenSSL's layout for SSL_CTX_set_tlsext_ticket_keys(). Without them each SSL_CTX makes
 * its own, so with --workers a ticket from one worker was refused by the others (about half of
 * resumptions failed with two workers) and a SIGHUP reload made every ticket useless.
 */
static unsigned char ticket_keys[80];
static bool ticket_keys_set;

int tls_ticket_keys_init(void)
{
    if (ticket_keys_set)
        return 0;
    if (RAND_bytes(ticket_keys, sizeof ticket_keys) != 1) {
        log_ssl_errors("TLS session ticket keys");
        return -1;
    }
    ticket_keys_set = true;
    return 0;
}

SSL_CTX *tls_ctx_new(const char *cert, const char *key, const char *ca)
{
    static const unsigned char sid_ctx[] = "wsbridge";
    SSL_CTX *ctx;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        log_ssl_errors("TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Renegotiation would make a read produce writes at any time: refused (TLS 1.3 has none). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* An idle connection keeps no 16 KiB record buffers. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Without an id context, resuming a session fails once client certificates are verified. */
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    /*
     * TLS 1.3: one session ticket per handshake (OpenSSL sends two after a full one; Go's
     * servers, websocketd among them, one). Each ticket costs an encryption, a MAC and a key
     * derivation on both sides; a client that resumes gets a fresh one each time, which is all
     * one client needs for its next connection. TLS 1.3 suites in Mozilla's recommended order
     * (AES-128-GCM first, as Go's servers pick): SHA-256 (hardware on x86) for the key schedule
     * and the transcript instead of SHA-384; AES-256-GCM and ChaCha20 stay available.
     */
    if (SSL_CTX_set_num_tickets(ctx, 1) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                      "TLS_CHACHA20_POLY1305_SHA256") != 1) {
        log_ssl_errors("TLS 1.3 settings");
        goto fail;
    }
    if (tls_ticket_keys_init() != 0 ||
        SSL_CTX_set_tlsext_ticket_keys(ctx, ticket_keys, sizeof ticket_keys) != 1) {
        log_ssl_errors("TLS session ticket keys");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        log_ssl_errors(cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        log_ssl_errors(key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        log_ssl_errors("--sslkey does not match --sslcert");
        goto fail;
    }
    if (ca) {
        STACK_OF(X509_NAME) * names;

        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            log_ssl_errors(ca);
            goto fail;
        }
        /* the CAs named to the client, so it can pick its certificate */
        names = SSL_load_client_CA_file(ca);
        if (!names) {
            log_ssl_errors(ca);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        /* websocketd: RequireAndVerifyClientCert */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;

fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_ctx_reload(SSL_CTX **ctx, const char *cert, const char *key, const char *ca)
{
    SSL_CTX *fresh = tls_ctx_new(cert, key, ca);

    if (!fresh)
        return -1;
    SSL_CTX_free(*ctx); /* each connection holds its own reference */
    *ctx = fresh;
    return 0;
}
