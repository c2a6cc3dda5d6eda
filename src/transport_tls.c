/*
 * transport_tls: TLS over another transport, through two memory BIOs (see
 * tls.h). The inner transport carries ciphertext only; SSL never touches a
 * descriptor.
 *
 * Reads: ciphertext from the inner transport is appended to net_in, then
 * pump() runs the handshake or decrypts into the user's buffers for as long
 * as the user wants bytes. read_stop() stops the inner transport too, so
 * net_in holds at most one inner read beyond the stop; read_start() resumes
 * what is already buffered from an idle handle, on a later tick, never
 * from inside the call.
 *
 * Writes: the plaintext is encrypted at once (in pieces of at most
 * TLS_PIECE bytes, so a large write does not double in memory). SSL's
 * write BIO is our own: it appends the records to tt->out, a buffer sized
 * for the piece before SSL_write, which then goes down as the inner write
 * itself (no copy, no growth by reallocation, nothing kept while idle);
 * the user's request completes with the inner write that carries its last
 * bytes.
 * Everything SSL produces on its own (handshake messages, alerts, session
 * tickets, close_notify) goes down the same way, in order; a fatal error's
 * alert before the user hears the end, and after a failed handshake the end
 * waits until the alert is written (the user's close would cancel it).
 */
#include "build-config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "log.h"
#include "tls.h"

#define TLS_PIECE (64u * 1024u)

struct transport_tls;

/* One inner write: ciphertext, and the user's request it completes (or NULL). */
struct tls_out {
    struct transport_write w;
    struct transport_tls *tt;
    struct transport_write *user;
    size_t len, cap;
    char data[];
};

struct transport_tls {
    struct transport base;
    struct transport *inner;
    SSL *ssl;
    BIO *net_in;         /* ciphertext from the peer, for SSL to read */
    BIO *net_out;        /* SSL's write BIO: appends to out */
    struct tls_out *out; /* ciphertext not handed down yet, or NULL */
    uv_idle_t pump;      /* read_start(): delivers what is already buffered, on a later tick */
    transport_done_cb shutdown_cb;
    transport_done_cb close_cb;
    int write_error;  /* the first failed inner write: later writes fail with it */
    int inner_status; /* the inner transport's end (UV_EOF or an error), 0 before */
    int end_status;   /* what the user gets after the last plaintext: UV_EOF, UV_EPROTO... */
    unsigned closes_pending;
    unsigned inflight;  /* inner writes not completed */
    bool want_read;     /* between the user's read_start and read_stop */
    bool inner_reading; /* the inner transport is started */
    bool handshaken;
    bool fatal;         /* SSL failed: no more SSL calls that write (no close_notify) */
    bool end_delivered; /* read_cb had end_status */
    bool end_held;      /* a failed handshake's end waits for its alert to be written */
    bool shutting;
    bool closing;
    char *subject; /* the client certificate's, once asked for */
    char peer[64]; /* "1.2.3.4:5678", for the log */
    char peer_host[48]; /* the inner transport's answer, asked once (a system call each time) */
    int peer_port, peer_error;
};

#define TLS_OF(t) ((struct transport_tls *)(t))

/* The reason of OpenSSL's last error, and the queue emptied (it is per thread, shared). */
static const char *ssl_reason(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();

    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "%s", fallback);
    ERR_clear_error();
    return buf;
}

/*
 * A memory BIO keeps the largest allocation it ever needed: one big write (or read) would pin
 * up to TLS_PIECE bytes and more for the connection's life. Once empty, a BIO that grew past
 * TLS_KEEP is replaced by a fresh one, so an idle connection holds no large buffer.
 */
#define TLS_KEEP 4096u

static BIO *fresh_bio(BIO *old)
{
    BUF_MEM *bm = NULL;
    BIO *b;

    if (BIO_ctrl_pending(old) != 0 || BIO_get_mem_ptr(old, &bm) != 1 || !bm || bm->max <= TLS_KEEP)
        return NULL;
    b = BIO_new(BIO_s_mem());
    if (!b) {
        ERR_clear_error();
        return NULL; /* keep the big one: still correct */
    }
    BIO_set_mem_eof_return(b, -1);
    return b;
}

static void shrink_bios(struct transport_tls *tt)
{
    BIO *b;

    if ((b = fresh_bio(tt->net_in)) != NULL) {
        SSL_set0_rbio(tt->ssl, b); /* frees the old one */
        tt->net_in = b;
    }
}

/* ---------------------------------------------------------------- the write BIO */

/* Room for more bytes in tt->out: exactly that much (sized before an SSL_write), or at least
 * double (SSL writing on its own: handshake, alerts). 0 or -1. */
static int out_reserve(struct transport_tls *tt, size_t more, bool exact)
{
    struct tls_out *o = tt->out;
    size_t len = o ? o->len : 0, cap = len + more;

    if (o && cap <= o->cap)
        return 0;
    if (!exact && o && cap < 2 * o->cap)
        cap = 2 * o->cap;
    if (!exact && cap < 1024)
        cap = 1024;
    o = realloc(o, sizeof *o + cap);
    if (!o)
        return -1; /* tt->out unchanged */
    o->len = len;
    o->cap = cap;
    tt->out = o;
    return 0;
}

static int outbio_write(BIO *b, const char *data, int len)
{
    struct transport_tls *tt = BIO_get_data(b);

    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    if (out_reserve(tt, (size_t)len, false) != 0)
        return -1; /* SSL_write fails: the connection ends */
    memcpy(tt->out->data + tt->out->len, data, (size_t)len);
    tt->out->len += (size_t)len;
    return len;
}

static long outbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct transport_tls *tt = BIO_get_data(b);

    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* flush_out() sends when we decide */
    case BIO_CTRL_PENDING:
    case BIO_CTRL_WPENDING:
        return tt && tt->out ? (long)tt->out->len : 0;
    default:
        return 0;
    }
}

static int outbio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* Made once, kept for the process's life (OpenSSL's BIO methods are never per connection). */
static BIO_METHOD *outbio_method(void)
{
    static BIO_METHOD *m;

    if (!m) {
        m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsbridge ciphertext");
        if (m && (!BIO_meth_set_write(m, outbio_write) || !BIO_meth_set_ctrl(m, outbio_ctrl) ||
                  !BIO_meth_set_create(m, outbio_create))) {
            BIO_meth_free(m);
            m = NULL;
        }
    }
    return m;
}

/* ---------------------------------------------------------------- writes */

static void on_pump(uv_idle_t *h);

static void out_done(struct transport_write *w, int status)
{
    struct tls_out *o = w->data;
    struct transport_tls *tt = o->tt;
    struct transport_write *user = o->user;

    if (status && !tt->write_error)
        tt->write_error = status;
    free(o);
    tt->inflight--;
    if (tt->end_held && tt->inflight == 0 && !tt->closing) {
        tt->end_held = false; /* the alert is out: now the user may hear the end (and close) */
        if (tt->want_read)
            uv_idle_start(&tt->pump, on_pump);
    }
    if (user)
        user->cb(user, status ? status : tt->write_error);
}

/* Sends tt->out (and completes user with it). 0 or a UV error. */
static int flush_out(struct transport_tls *tt, struct transport_write *user)
{
    struct tls_out *o;
    uv_buf_t b;
    int r;

    if ((!tt->out || tt->out->len == 0) && !user)
        return 0;
    if (tt->closing) {
        free(tt->out);
        tt->out = NULL;
        return UV_ECANCELED;
    }
    if (!tt->out && out_reserve(tt, 0, true) != 0)
        return UV_ENOMEM;
    o = tt->out;
    tt->out = NULL; /* the inner write owns it now */
    o->tt = tt;
    o->user = user;
    o->w.cb = out_done;
    o->w.data = o;
    b = uv_buf_init(o->data, (unsigned)o->len);
    r = tt->inner->ops->write(tt->inner, &o->w, &b, 1);
    if (r) {
        free(o);
        if (!tt->write_error)
            tt->write_error = r;
    } else {
        tt->inflight++;
    }
    return r;
}

/* Small buffers (a frame header, a short message) are gathered here into whole records: one
 * SSL_write each would cost a record (22+ bytes, a tag computation) per iovec. Always empty
 * between calls (one loop thread): scratch memory, not state. */
static char stage[16384];

/* SSL_write of n bytes, into tt->out (sized for left more bytes to come). 0 or a UV error. */
static int encrypt(struct transport_tls *tt, const char *data, size_t n, size_t left)
{
    char why[256];
    size_t want;
    int r;

    /* what is there goes down first once it makes a piece */
    if (tt->out && tt->out->len >= TLS_PIECE && (r = flush_out(tt, NULL)) != 0)
        return r;
    /* room for the records: 64 bytes of header, tag and padding per 16 KiB record is more
     * than TLS 1.2 or 1.3 adds; sized once per piece, not grown record by record */
    want = n + (n / 16384 + 2) * 64;
    if (!tt->out || tt->out->cap - tt->out->len < want) {
        size_t piece = left < TLS_PIECE ? left : TLS_PIECE;
        if (out_reserve(tt, (piece > n ? piece : n) + (piece / 16384 + 2) * 64 + want - n, true))
            return UV_ENOMEM;
    }
    ERR_clear_error();
    r = SSL_write(tt->ssl, data, (int)n);
    if (r != (int)n) { /* memory BIO semantics: all or an error */
        log_info(0, "TLS write to %s: %s", tt->peer, ssl_reason(why, sizeof why, "failed"));
        tt->fatal = true;
        /* the stream is broken: the reader hears it too, on the next tick */
        if (!tt->end_status)
            tt->end_status = UV_EPROTO;
        if (tt->want_read)
            uv_idle_start(&tt->pump, on_pump);
        return UV_EPROTO;
    }
    return 0;
}

static int tls_write(struct transport *t, struct transport_write *w, const uv_buf_t *bufs,
                     unsigned nbufs)
{
    struct transport_tls *tt = TLS_OF(t);
    size_t left = 0, staged = 0;
    int r = 0;

    if (tt->closing)
        return UV_ECANCELED;
    if (!tt->handshaken || tt->fatal || tt->shutting)
        return UV_ENOTCONN; /* before the handshake there is nobody to answer in plaintext */
    if (tt->write_error)
        return tt->write_error;
    for (unsigned i = 0; i < nbufs; i++)
        left += bufs[i].len;
    for (unsigned i = 0; i < nbufs && r == 0; i++) {
        const char *p = bufs[i].base;
        size_t n = bufs[i].len;

        while (n > 0 && r == 0) {
            size_t c;
            if (staged == 0 && n >= sizeof stage) {
                /* a large buffer: straight from it, a piece at a time */
                c = n < TLS_PIECE ? n : TLS_PIECE;
                r = encrypt(tt, p, c, left);
            } else {
                c = sizeof stage - staged < n ? sizeof stage - staged : n;
                memcpy(stage + staged, p, c);
                staged += c;
                if (staged == sizeof stage) {
                    r = encrypt(tt, stage, staged, left);
                    staged = 0;
                }
            }
            p += c;
            n -= c;
            left -= c;
        }
    }
    if (r == 0 && staged)
        r = encrypt(tt, stage, staged, left);
    return r ? r : flush_out(tt, w);
}

static size_t tls_write_queue_size(const struct transport *t)
{
    const struct transport_tls *tt = (const struct transport_tls *)t;
    /* everything is encrypted and handed down at once: the queue is below, in ciphertext */
    return tt->inner->ops->write_queue_size(tt->inner);
}

/* ---------------------------------------------------------------- reads */

static void handshake_step(struct transport_tls *tt)
{
    char why[256];
    int r, e;

    ERR_clear_error();
    r = SSL_do_handshake(tt->ssl);
    if (r == 1) {
        tt->handshaken = true;
        log_debug(0, "TLS with %s: %s, %s", tt->peer, SSL_get_version(tt->ssl),
                  SSL_get_cipher_name(tt->ssl));
        return;
    }
    e = SSL_get_error(tt->ssl, r);
    if (e == SSL_ERROR_WANT_READ && !tt->inner_status)
        return; /* more ciphertext to come */
    if (e == SSL_ERROR_WANT_READ) {
        /* gone before finishing: a port probe or a health check, not worth an INFO line */
        ERR_clear_error();
        log_debug(0, "TLS handshake with %s: %s", tt->peer,
                  tt->inner_status == UV_EOF ? "the client closed the connection"
                                             : uv_strerror(tt->inner_status));
        tt->end_status = tt->inner_status;
    } else {
        log_info(0, "TLS handshake with %s failed: %s", tt->peer,
                 ssl_reason(why, sizeof why, "handshake failure"));
        tt->end_status = UV_EPROTO;
    }
    tt->fatal = true;
}

/* One SSL_read into a user buffer. false when the loop must stop. */
static bool read_one(struct transport_tls *tt)
{
    char why[256];
    struct buf *b = tt->base.alloc_cb(&tt->base);
    int n, e;

    if (!b) {
        tt->end_delivered = true;
        tt->base.read_cb(&tt->base, UV_ENOBUFS, NULL);
        return false;
    }
    ERR_clear_error();
    n = SSL_read(tt->ssl, b->data, (int)BUF_SIZE);
    if (n > 0) {
        tt->base.read_cb(&tt->base, n, b);
        return true;
    }
    e = SSL_get_error(tt->ssl, n);
    if (e == SSL_ERROR_WANT_READ) {
        if (tt->inner_status)
            tt->end_status =
                tt->inner_status; /* closed without close_notify: an end all the same */
    } else if (e == SSL_ERROR_ZERO_RETURN) {
        tt->end_status = UV_EOF; /* close_notify */
    } else {
        log_info(0, "TLS read from %s: %s", tt->peer, ssl_reason(why, sizeof why, "failed"));
        tt->fatal = true;
        tt->end_status = UV_EPROTO;
    }
    tt->base.read_cb(&tt->base, 0, b); /* gives the buffer back */
    return false;
}

static void pump(struct transport_tls *tt)
{
    if (!tt->handshaken && !tt->fatal)
        handshake_step(tt);
    while (tt->want_read && !tt->closing && !tt->end_delivered) {
        if (tt->handshaken && !tt->end_status && read_one(tt))
            continue;
        if (!tt->end_status || !tt->want_read || tt->closing || tt->end_delivered)
            break;
        /* The user closes on hearing the end, which cancels queued writes: the alert SSL wrote
         * for a fatal error goes down first; after a failed handshake (only SSL's own few
         * bytes queued) the end waits until they are written, so the client learns why. */
        if (tt->fatal)
            flush_out(tt, NULL);
        if (!tt->handshaken && tt->inflight) {
            tt->end_held = true;
            break;
        }
        tt->end_delivered = true;
        tt->base.read_cb(&tt->base, tt->end_status, NULL);
    }
    flush_out(tt, NULL); /* handshake messages, alerts, tickets: whatever SSL wrote */
    shrink_bios(tt);
}

static void on_pump(uv_idle_t *h)
{
    struct transport_tls *tt = h->data;

    uv_idle_stop(h);
    pump(tt);
}

static struct buf *inner_alloc(struct transport *inner)
{
    (void)inner;
    return buf_get(); /* ciphertext, copied into the BIO at once: back to the pool at once */
}

static void inner_read(struct transport *inner, ssize_t nread, struct buf *b)
{
    struct transport_tls *tt = inner->data;

    if (tt->closing) {
        buf_unref(b);
        return;
    }
    if (nread > 0 && BIO_write(tt->net_in, b->data, (int)nread) != (int)nread) {
        ERR_clear_error();
        tt->inner_status = UV_ENOMEM;
    }
    buf_unref(b);
    if (nread < 0) {
        tt->inner_status = (int)nread;
        if (!tt->want_read && tt->handshaken && !tt->end_delivered) {
            /* the hangup watch below saw the peer leave while our user had reads stopped:
             * reported as it is by the transport below (transport.h, read_stop) */
            tt->end_status = (int)nread;
            tt->end_delivered = true;
            tt->base.read_cb(&tt->base, nread, NULL);
            return;
        }
    }
    if (tt->inner_status && tt->inner_reading) {
        inner->ops->read_stop(inner);
        tt->inner_reading = false;
    }
    pump(tt);
}

static int tls_read_start(struct transport *t)
{
    struct transport_tls *tt = TLS_OF(t);
    int r;

    if (tt->closing || tt->want_read)
        return 0;
    if (!tt->inner_reading && !tt->inner_status) {
        r = tt->inner->ops->read_start(tt->inner);
        if (r)
            return r;
        tt->inner_reading = true;
    }
    tt->want_read = true;
    /* plaintext (or the end) may be waiting from before read_stop: delivered on the next tick */
    if (tt->handshaken || tt->end_status)
        uv_idle_start(&tt->pump, on_pump);
    return 0;
}

static void tls_read_stop(struct transport *t)
{
    struct transport_tls *tt = TLS_OF(t);

    tt->want_read = false;
    if (tt->closing)
        return;
    uv_idle_stop(&tt->pump);
    if (tt->inner_reading) {
        tt->inner->ops->read_stop(tt->inner);
        tt->inner_reading = false;
    }
}

/* ---------------------------------------------------------------- shutdown, close */

static void inner_shutdown_done(struct transport *inner)
{
    struct transport_tls *tt = inner->data;

    if (tt->shutdown_cb && !tt->closing)
        tt->shutdown_cb(&tt->base);
}

static int tls_shutdown(struct transport *t, transport_done_cb cb)
{
    struct transport_tls *tt = TLS_OF(t);

    if (tt->closing)
        return UV_ECANCELED;
    if (!tt->handshaken || tt->shutting)
        return UV_ENOTCONN;
    tt->shutting = true;
    tt->shutdown_cb = cb;
    if (!tt->fatal) {
        ERR_clear_error();
        SSL_shutdown(tt->ssl); /* queues close_notify; the peer's is not waited for */
        ERR_clear_error();
        flush_out(tt, NULL);
    }
    return tt->inner->ops->shutdown(tt->inner, inner_shutdown_done);
}

static void part_closed(struct transport_tls *tt)
{
    transport_done_cb cb = tt->close_cb;

    if (--tt->closes_pending)
        return;
    if (cb)
        cb(&tt->base);
    SSL_free(tt->ssl); /* and both BIOs */
    free(tt->out);
    free(tt->subject);
    free(tt);
}

static void inner_closed(struct transport *inner)
{
    part_closed(inner->data);
}

static void pump_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

static void tls_close(struct transport *t, transport_done_cb cb)
{
    struct transport_tls *tt = TLS_OF(t);

    if (tt->closing)
        return;
    tt->closing = true;
    tt->want_read = false;
    tt->close_cb = cb;
    uv_close((uv_handle_t *)&tt->pump, pump_closed);
    tt->inner->ops->close(tt->inner, inner_closed); /* cancels the inner writes: out_done */
}

/* ---------------------------------------------------------------- identity */

static int tls_peer(const struct transport *t, char *host, size_t hostlen, int *port)
{
    const struct transport_tls *tt = (const struct transport_tls *)t;

    if (tt->peer_error)
        return tt->peer_error;
    snprintf(host, hostlen, "%s", tt->peer_host);
    *port = tt->peer_port;
    return 0;
}

static const char *tls_subject(struct transport *t)
{
    struct transport_tls *tt = TLS_OF(t);
    X509 *cert;
    BIO *mem;
    char *p = NULL;
    long n;

    if (tt->subject)
        return tt->subject;
    cert = SSL_get0_peer_certificate(tt->ssl);
    if (!cert || SSL_get_verify_result(tt->ssl) != X509_V_OK)
        return "";
    mem = BIO_new(BIO_s_mem());
    if (mem && X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0 &&
        (n = BIO_get_mem_data(mem, &p)) > 0 && (tt->subject = malloc((size_t)n + 1)) != NULL) {
        /* the BIO's bytes are not NUL-terminated: copied, not strndup()ed (which may look
         * one byte past them) */
        memcpy(tt->subject, p, (size_t)n);
        tt->subject[n] = '\0';
    }
    BIO_free(mem);
    ERR_clear_error();
    return tt->subject ? tt->subject : "";
}

/* The ciphertext's socket. */
static int tls_send_buffer(struct transport *t, int bytes)
{
    struct transport *inner = ((struct transport_tls *)t)->inner;

    return inner->ops->send_buffer ? inner->ops->send_buffer(inner, bytes) : 0;
}

static const struct transport_ops tls_ops = {
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .write = tls_write,
    .write_queue_size = tls_write_queue_size,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .peer = tls_peer,
    .tls_subject = tls_subject,
    .send_buffer = tls_send_buffer,
};

const char *transport_tls_subject(struct transport *t)
{
    return t->ops->tls_subject ? t->ops->tls_subject(t) : NULL;
}

int transport_tls_new(uv_loop_t *loop, SSL_CTX *ctx, struct transport *inner,
                      struct transport **out)
{
    struct transport_tls *tt;

    *out = NULL;
    tt = calloc(1, sizeof *tt);
    if (!tt)
        return UV_ENOMEM;
    ERR_clear_error();
    tt->ssl = SSL_new(ctx);
    tt->net_in = BIO_new(BIO_s_mem());
    tt->net_out = outbio_method() ? BIO_new(outbio_method()) : NULL;
    if (!tt->ssl || !tt->net_in || !tt->net_out) {
        BIO_free(tt->net_in);
        BIO_free(tt->net_out);
        SSL_free(tt->ssl);
        free(tt);
        ERR_clear_error();
        return UV_ENOMEM;
    }
    /* an empty BIO means "wait for more", not end of file */
    BIO_set_mem_eof_return(tt->net_in, -1);
    BIO_set_data(tt->net_out, tt);
    SSL_set_bio(tt->ssl, tt->net_in, tt->net_out);
    SSL_set_accept_state(tt->ssl);
    uv_idle_init(loop, &tt->pump);
    tt->pump.data = tt;
    tt->closes_pending = 2;
    tt->inner = inner;
    tt->base.ops = &tls_ops;
    tt->peer_error = inner->ops->peer(inner, tt->peer_host, sizeof tt->peer_host, &tt->peer_port);
    if (tt->peer_error)
        snprintf(tt->peer, sizeof tt->peer, "unknown:0");
    else
        snprintf(tt->peer, sizeof tt->peer, "%s:%d", tt->peer_host, tt->peer_port);
    inner->data = tt;
    inner->alloc_cb = inner_alloc;
    inner->read_cb = inner_read;
    *out = &tt->base;
    return 0;
}
