/*
 * transport_tcp: the transport on a libuv stream, a uv_tcp_t or (a Unix
 * socket connection) a uv_pipe_t. Only accept and peer() differ.
 */
#include "build-config.h"

#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>

struct transport_tcp {
    struct transport base;
    union {
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_shutdown_t shutdown_req;
    transport_done_cb shutdown_cb;
    transport_done_cb close_cb;
    /* writes that went out whole at once, their callbacks not yet run (linked through
     * uv.data), and this transport's place in the list of those that have some */
    struct transport_write *done_head, *done_tail;
    struct buf *rd; /* from alloc_cb, for the read_cb that follows */
    struct transport_tcp *done_prev, *done_next;
    bool done_listed;
    /* reads stopped: this transport's place in the list the hangup watch polls */
    struct transport_tcp *paused_prev, *paused_next;
    struct transport_tcp *hangup_next; /* on_paused_poll's list of those to report */
    int hangup_status;
    bool paused_listed;
    bool reading;
    bool closing;
};

#define TCP_OF(t) ((struct transport_tcp *)(t))

/* libuv calls the two in pairs: the buffer handed out is the one the read fills. */
static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct transport_tcp *tt = h->data;

    (void)suggested;
    buf_unref(tt->rd); /* never set here; kept safe all the same */
    tt->rd = tt->base.alloc_cb(&tt->base);
    *buf = tt->rd ? uv_buf_init((char *)tt->rd->data, BUF_SIZE) : uv_buf_init(NULL, 0);
}

static void tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct transport_tcp *tt = s->data;
    struct buf *b = tt->rd;

    (void)buf;
    tt->rd = NULL;
    tt->base.read_cb(&tt->base, nread, b);
}

/*
 * The hangup watch. A stopped socket is out of epoll's read interest, so a peer that closes
 * or resets is not seen until reads resume -- and a peer that is gone never lets them resume
 * when it is the one we wait for (a program that does not read its stdin). Once a second,
 * every stopped socket is polled (poll(2) with no wait: the kernel knows of a FIN or a reset
 * while unread data is still queued before it) and a hangup is reported through read_cb.
 * One timer for the process, running only while some socket is stopped.
 */
#define PAUSED_POLL_MS 1000u

static struct {
    uv_timer_t timer;
    bool init;
    struct transport_tcp *head;
} paused;

static void paused_unlist(struct transport_tcp *tt)
{
    if (!tt->paused_listed)
        return;
    if (tt->paused_prev)
        tt->paused_prev->paused_next = tt->paused_next;
    else
        paused.head = tt->paused_next;
    if (tt->paused_next)
        tt->paused_next->paused_prev = tt->paused_prev;
    tt->paused_prev = tt->paused_next = NULL;
    tt->paused_listed = false;
    if (!paused.head && paused.init)
        uv_timer_stop(&paused.timer);
}

/* 0 while the peer is there, else the status to report: UV_EOF (FIN) or UV_ECONNRESET. */
static int hangup_status(struct transport_tcp *tt)
{
    uv_os_fd_t fd;
    struct pollfd p;

    if (uv_fileno((const uv_handle_t *)&tt->h.stream, &fd) != 0)
        return 0;
    p.fd = fd;
    p.events = POLLRDHUP;
    p.revents = 0;
    if (poll(&p, 1, 0) != 1)
        return 0;
    if (p.revents & (POLLERR | POLLHUP))
        return p.revents & POLLERR ? UV_ECONNRESET : UV_EOF;
    return p.revents & POLLRDHUP ? UV_EOF : 0;
}

static void on_paused_poll(uv_timer_t *h)
{
    struct transport_tcp *tt = paused.head, *report = NULL, **tail = &report;

    (void)h;
    /* First collect, then report: a read_cb may stop or start any transport's reads (a
     * transport is freed only in its close callback, on a later loop phase). */
    while (tt) {
        struct transport_tcp *next = tt->paused_next;
        int st = hangup_status(tt);
        if (st) {
            paused_unlist(tt);
            tt->hangup_status = st;
            tt->hangup_next = NULL;
            *tail = tt;
            tail = &tt->hangup_next;
        }
        tt = next;
    }
    while ((tt = report)) {
        report = tt->hangup_next;
        if (!tt->closing && !tt->reading) /* reported once; restarted reads see it themselves */
            tt->base.read_cb(&tt->base, tt->hangup_status, NULL);
    }
}

static void paused_list(struct transport_tcp *tt)
{
    if (tt->paused_listed)
        return;
    if (!paused.init) {
        uv_timer_init(tt->h.stream.loop, &paused.timer);
        uv_unref((uv_handle_t *)&paused.timer);
        paused.init = true;
    }
    if (!paused.head)
        uv_timer_start(&paused.timer, on_paused_poll, PAUSED_POLL_MS, PAUSED_POLL_MS);
    tt->paused_next = paused.head;
    if (paused.head)
        paused.head->paused_prev = tt;
    paused.head = tt;
    tt->paused_listed = true;
}

static int tcp_read_start(struct transport *t)
{
    struct transport_tcp *tt = TCP_OF(t);
    int r;

    if (tt->reading || tt->closing)
        return 0;
    r = uv_read_start(&tt->h.stream, tcp_alloc, tcp_read);
    if (r == 0) {
        tt->reading = true;
        paused_unlist(tt);
    }
    return r;
}

static void tcp_read_stop(struct transport *t)
{
    struct transport_tcp *tt = TCP_OF(t);

    if (!tt->reading)
        return;
    uv_read_stop(&tt->h.stream);
    tt->reading = false;
    paused_list(tt);
}

/*
 * Writes that the kernel took whole at once (uv_try_write). libuv 1.44 re-arms a socket's
 * epoll watcher (epoll_ctl MOD) after every write callback it runs, one system call per
 * message on a reading socket; a write finished here costs none. Its callback still runs
 * later, never from inside write(): from a check handle at the end of this loop iteration
 * (an idle handle keeps the poll from blocking meanwhile), or earlier when a later write of
 * the same transport completes through libuv (callbacks stay in order), or at close.
 */
static struct {
    uv_check_t check;
    uv_idle_t idle;
    bool running;
    struct transport_tcp *head;
} finished;

static void done_unlist(struct transport_tcp *tt)
{
    if (!tt->done_listed)
        return;
    if (tt->done_prev)
        tt->done_prev->done_next = tt->done_next;
    else
        finished.head = tt->done_next;
    if (tt->done_next)
        tt->done_next->done_prev = tt->done_prev;
    tt->done_prev = tt->done_next = NULL;
    tt->done_listed = false;
}

/* Runs tt's finished writes' callbacks, oldest first (each may write or close). */
static void done_run(struct transport_tcp *tt)
{
    done_unlist(tt);
    while (tt->done_head) {
        struct transport_write *w = tt->done_head;
        tt->done_head = w->uv.data;
        if (!tt->done_head)
            tt->done_tail = NULL;
        w->cb(w, 0);
    }
}

static void on_finished_check(uv_check_t *h)
{
    (void)h;
    /* one pass over the transports listed now; those that write again are listed afresh */
    struct transport_tcp *tt = finished.head;
    finished.head = NULL;
    while (tt) {
        struct transport_tcp *next = tt->done_next;
        tt->done_listed = false;
        tt->done_prev = tt->done_next = NULL;
        done_run(tt);
        tt = next;
    }
    if (!finished.head)
        uv_idle_stop(&finished.idle);
}

static void on_finished_idle(uv_idle_t *h)
{
    (void)h; /* only there so that the poll does not block while callbacks wait */
}

static void finished_add(struct transport_tcp *tt, struct transport_write *w)
{
    if (!finished.running) {
        uv_loop_t *loop = tt->h.stream.loop;
        /* on Unix these only fill in the structs: they cannot fail */
        uv_check_init(loop, &finished.check);
        uv_idle_init(loop, &finished.idle);
        uv_check_start(&finished.check, on_finished_check);
        uv_unref((uv_handle_t *)&finished.check);
        uv_unref((uv_handle_t *)&finished.idle);
        finished.running = true;
    }
    w->uv.data = NULL;
    if (tt->done_tail)
        tt->done_tail->uv.data = w;
    else
        tt->done_head = w;
    tt->done_tail = w;
    if (!tt->done_listed) {
        tt->done_next = finished.head;
        if (finished.head)
            finished.head->done_prev = tt;
        finished.head = tt;
        tt->done_listed = true;
    }
    uv_idle_start(&finished.idle, on_finished_idle);
}

void transport_tcp_cleanup(void)
{
    if (paused.init) {
        paused.init = false;
        uv_close((uv_handle_t *)&paused.timer, NULL);
    }
    if (!finished.running)
        return;
    finished.running = false;
    uv_close((uv_handle_t *)&finished.check, NULL);
    uv_close((uv_handle_t *)&finished.idle, NULL);
}

static void tcp_write_done(uv_write_t *req, int status)
{
    struct transport_write *w =
        (struct transport_write *)((char *)req - offsetof(struct transport_write, uv));
    struct transport_tcp *tt = req->handle->data;

    done_run(tt); /* the writes queued before this one first */
    w->cb(w, status);
}

static size_t tcp_write_queue_size(const struct transport *t)
{
    const struct transport_tcp *tt = (const struct transport_tcp *)t;
    return uv_stream_get_write_queue_size(&tt->h.stream);
}

static int tcp_write(struct transport *t, struct transport_write *w, const uv_buf_t *bufs,
                     unsigned nbufs)
{
    struct transport_tcp *tt = TCP_OF(t);
    uv_buf_t rest[8];
    size_t total = 0;
    int n;

    if (tt->closing)
        return UV_ECANCELED;
    if (nbufs > 8 || tcp_write_queue_size(t) != 0)
        return uv_write(&w->uv, &tt->h.stream, bufs, nbufs, tcp_write_done);
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    n = uv_try_write(&tt->h.stream, bufs, nbufs);
    if (n >= 0 && (size_t)n == total) {
        finished_add(tt, w);
        return 0;
    }
    if (n <= 0)
        return uv_write(&w->uv, &tt->h.stream, bufs, nbufs, tcp_write_done);
    /* partly sent: libuv sends the rest (the buffers stay the caller's until the callback) */
    unsigned k = 0;
    size_t skip = (size_t)n;
    for (unsigned i = 0; i < nbufs; i++) {
        if (skip >= bufs[i].len) {
            skip -= bufs[i].len;
            continue;
        }
        rest[k++] = uv_buf_init(bufs[i].base + skip, (unsigned)(bufs[i].len - skip));
        skip = 0;
    }
    return uv_write(&w->uv, &tt->h.stream, rest, k, tcp_write_done);
}

static void tcp_shutdown_done(uv_shutdown_t *req, int status)
{
    struct transport_tcp *tt = req->data;
    (void)status;
    if (tt->shutdown_cb)
        tt->shutdown_cb(&tt->base);
}

static int tcp_shutdown(struct transport *t, transport_done_cb cb)
{
    struct transport_tcp *tt = TCP_OF(t);

    if (tt->closing)
        return UV_ECANCELED;
    tt->shutdown_cb = cb;
    tt->shutdown_req.data = tt;
    return uv_shutdown(&tt->shutdown_req, &tt->h.stream, tcp_shutdown_done);
}

static void tcp_closed(uv_handle_t *h)
{
    struct transport_tcp *tt = h->data;
    transport_done_cb cb = tt->close_cb;

    done_run(tt); /* every write's callback before the close's */
    buf_unref(tt->rd);
    if (cb)
        cb(&tt->base);
    free(tt);
}

static void tcp_close(struct transport *t, transport_done_cb cb)
{
    struct transport_tcp *tt = TCP_OF(t);

    if (tt->closing)
        return;
    tt->closing = true;
    tt->reading = false;
    paused_unlist(tt);
    tt->shutdown_cb = NULL; /* a pending shutdown completes with ECANCELED: nobody listens */
    tt->close_cb = cb;
    uv_close((uv_handle_t *)&tt->h.stream, tcp_closed);
}

static int tcp_peer(const struct transport *t, char *host, size_t hostlen, int *port)
{
    const struct transport_tcp *tt = (const struct transport_tcp *)t;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int r;

    if (tt->h.stream.type == UV_NAMED_PIPE) {
        /* websocketd's REMOTE_ADDR for a Unix socket client */
        snprintf(host, hostlen, "unix-socket");
        *port = 0;
        return 0;
    }
    r = uv_tcp_getpeername(&tt->h.tcp, (struct sockaddr *)&ss, &len);
    if (r)
        return r;
    if (ss.ss_family == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)&ss)->sin6_addr)) {
        /* an IPv4 client on a dual-stack listener: 127.0.0.1, not ::ffff:127.0.0.1 */
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = a6->sin6_port;
        memcpy(&a.sin_addr, a6->sin6_addr.s6_addr + 12, 4);
        r = uv_ip4_name(&a, host, hostlen);
        *port = ntohs(a.sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        r = uv_ip6_name(a, host, hostlen);
        *port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        r = uv_ip4_name(a, host, hostlen);
        *port = ntohs(a->sin_port);
    }
    return r;
}

static ssize_t tcp_sendfile(struct transport *t, int fd, uint64_t *off, size_t len)
{
    struct transport_tcp *tt = TCP_OF(t);
    uv_os_fd_t sock;
    off_t o = (off_t)*off;
    ssize_t n;

    if (tt->closing || tcp_write_queue_size(t) != 0 ||
        uv_fileno((const uv_handle_t *)&tt->h.stream, &sock) != 0)
        return UV_EAGAIN;
    if (len > (1u << 30))
        len = 1u << 30; /* Linux moves at most 2 GiB - 4 KiB per call */
    do
        n = sendfile(sock, fd, &o, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? UV_EAGAIN : -errno;
    *off = (uint64_t)o;
    return n;
}

static int tcp_send_buffer(struct transport *t, int bytes)
{
    struct transport_tcp *tt = (struct transport_tcp *)t;

    return uv_send_buffer_size((uv_handle_t *)&tt->h.stream, &bytes);
}

static const struct transport_ops tcp_ops = {
    .read_start = tcp_read_start,
    .read_stop = tcp_read_stop,
    .write = tcp_write,
    .write_queue_size = tcp_write_queue_size,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
    .peer = tcp_peer,
    .sendfile = tcp_sendfile,
    .send_buffer = tcp_send_buffer,
};

static void tcp_reject_closed(uv_handle_t *h)
{
    free(h->data);
}

static int stream_accept(uv_stream_t *server, struct transport **out)
{
    struct transport_tcp *tt;
    bool pipe = server->type == UV_NAMED_PIPE;
    int r;

    *out = NULL;
    tt = calloc(1, sizeof *tt);
    if (!tt)
        return UV_ENOMEM;
    r = pipe ? uv_pipe_init(server->loop, &tt->h.pipe, 0) : uv_tcp_init(server->loop, &tt->h.tcp);
    if (r) {
        free(tt);
        return r;
    }
    tt->h.stream.data = tt;
    tt->base.ops = &tcp_ops;
    r = uv_accept(server, &tt->h.stream);
    if (r) {
        uv_close((uv_handle_t *)&tt->h.stream, tcp_reject_closed);
        return r;
    }
    if (!pipe)
        uv_tcp_nodelay(&tt->h.tcp, 1);
    *out = &tt->base;
    return 0;
}

int transport_tcp_accept(uv_stream_t *server, struct transport **out)
{
    return stream_accept(server, out);
}

int transport_pipe_accept(uv_stream_t *server, struct transport **out)
{
    return stream_accept(server, out);
}

size_t transport_tcp_size(void)
{
    return sizeof(struct transport_tcp);
}
