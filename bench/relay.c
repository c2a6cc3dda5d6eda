/*
 * relay: the ceiling for any stdin/stdout bridge. Accepts TCP, spawns `cat`
 * per connection and copies bytes both ways, with no WebSocket at all.
 * Driven by wsbridge-bench in raw mode. Not a product: no limits, no logs.
 *
 * It must be a fair ceiling, not a naive one: reads go into one static
 * buffer and are written at once with uv_try_write; only what the kernel
 * did not take is copied and queued. (A 64 KiB malloc per read made glibc
 * grow and trim its heap on every message: malloc and page faults took a
 * fifth of the relay's time at c=200, below wsbridge's own figure.)
 *
 *   bench/relay PORT        (listens on 127.0.0.1; prints "listening on PORT")
 */
#include "build-config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct rconn {
    uv_tcp_t tcp;
    uv_process_t proc;
    uv_pipe_t in, out;
    int closing;
};

struct wr {
    uv_write_t req;
    uv_stream_t *from; /* resumed when `to` has drained */
    char data[];
};

/* Past this many queued bytes to one side, stop reading the other side. */
#define HIGH_WATER (1u << 20)

static uv_loop_t *loop;
static char rbuf[65536]; /* every read lands here; callbacks never nest */

static void on_free_close(uv_handle_t *h)
{
    struct rconn *c = h->data;
    if (++c->closing == 4)
        free(c);
}

static void close_all(struct rconn *c)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&c->tcp, (uv_handle_t *)&c->in, (uv_handle_t *)&c->out,
                         (uv_handle_t *)&c->proc};
    for (int i = 0; i < 4; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_free_close);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    b->base = rbuf;
    b->len = sizeof rbuf;
}

static void on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
static void on_out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void resume(uv_stream_t *from)
{
    struct rconn *c = from->data;
    if (!uv_is_closing((uv_handle_t *)from))
        uv_read_start(from, on_alloc, from == (uv_stream_t *)&c->tcp ? on_tcp_read : on_out_read);
}

static void on_written(uv_write_t *req, int status)
{
    struct wr *w = (struct wr *)req;
    if (status == 0 && req->handle->write_queue_size < HIGH_WATER / 2)
        resume(w->from);
    free(w);
}

/* Copies what one side read into the other, with flow control. */
static void forward(uv_stream_t *to, uv_stream_t *from, ssize_t n, const uv_buf_t *buf)
{
    struct rconn *c = from->data;
    if (n <= 0) {
        if (n < 0)
            close_all(c);
        return;
    }
    int done = uv_try_write(to, &(uv_buf_t){.base = buf->base, .len = (size_t)n}, 1);
    if (done == n)
        return;
    if (done < 0 && done != UV_EAGAIN) {
        close_all(c);
        return;
    }
    size_t off = done > 0 ? (size_t)done : 0, left = (size_t)n - off;
    struct wr *w = malloc(sizeof *w + left);
    if (!w) {
        close_all(c);
        return;
    }
    w->from = from;
    memcpy(w->data, buf->base + off, left);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)left);
    if (uv_write(&w->req, to, &b, 1, on_written) != 0) {
        free(w);
        close_all(c);
        return;
    }
    if (to->write_queue_size > HIGH_WATER)
        uv_read_stop(from);
}

static void on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct rconn *c = s->data;
    forward((uv_stream_t *)&c->in, s, n, b);
}

static void on_out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct rconn *c = s->data;
    forward((uv_stream_t *)&c->tcp, s, n, b);
}

static void on_exit_cb(uv_process_t *p, int64_t st, int sig)
{
}

static void on_conn(uv_stream_t *srv, int status)
{
    struct rconn *c = calloc(1, sizeof *c);
    static char cat[] = "cat";
    char *args[] = {cat, NULL};
    uv_stdio_container_t stdio[3];
    uv_process_options_t o = {0};

    uv_tcp_init(loop, &c->tcp);
    uv_pipe_init(loop, &c->in, 0);
    uv_pipe_init(loop, &c->out, 0);
    c->tcp.data = c->in.data = c->out.data = c->proc.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        close_all(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&c->in;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&c->out;
    stdio[2].flags = UV_IGNORE;
    o.file = "cat";
    o.args = args;
    o.stdio = stdio;
    o.stdio_count = 3;
    o.exit_cb = on_exit_cb;
    if (uv_spawn(loop, &c->proc, &o) != 0) {
        close_all(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_tcp_read);
    uv_read_start((uv_stream_t *)&c->out, on_alloc, on_out_read);
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    uv_tcp_t srv;
    int port = argc > 1 ? atoi(argv[1]) : 0, len = sizeof a;

    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_init(loop, &srv);
    if (uv_tcp_bind(&srv, (struct sockaddr *)&a, 0) ||
        uv_listen((uv_stream_t *)&srv, 511, on_conn)) {
        fprintf(stderr, "relay: cannot listen\n");
        return 3;
    }
    uv_tcp_getsockname(&srv, (struct sockaddr *)&a, &len);
    fprintf(stderr, "listening on %d\n", ntohs(a.sin_port));
    return uv_run(loop, UV_RUN_DEFAULT);
}
