/*
 * wsbridge-bench: a WebSocket load client built on wsbridge's own core in
 * client role (ws_stream masks what it sends and checks what it gets).
 *
 * Modes:
 *   echo     -c connections, each keeping -d messages of -s bytes in flight;
 *            every reply is checked byte for byte, in order (the server runs
 *            a line echo such as cat, so payloads never contain '\n').
 *   raw      the same over plain TCP with '\n'-terminated lines, for the
 *            raw relay (bench/relay) that bounds what any bridge can do.
 *   connect  -c loops of connect, handshake, one echo, close, server close.
 *
 * Reports messages/s, MB/s, latency percentiles from a log-linear
 * histogram, handshake time, errors, close codes, its own CPU use and,
 * with --server-pid, the server's and its children's RSS. One summary and
 * one JSON line per run.
 */
#include "build-config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <openssl/evp.h>
#include <uv.h>

#include "handshake.h"
#include "ws_stream.h"

enum mode { M_ECHO, M_RAW, M_CONNECT };

/* ------------------------------------------------------------------ histogram */

/* Log-linear: 16 linear steps per power of two of nanoseconds. */
#define H_SUB 16
#define H_BUCKETS (64 * H_SUB)
struct hist {
    uint64_t count[H_BUCKETS];
    uint64_t n, max;
};

static unsigned h_index(uint64_t v)
{
    if (v < H_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)) */
    unsigned sub = (unsigned)((v >> (e - 4)) & (H_SUB - 1));
    return (e - 3) * H_SUB + sub;
}

static uint64_t h_value(unsigned i) /* upper bound of bucket i */
{
    if (i < H_SUB)
        return i;
    unsigned e = i / H_SUB + 3, sub = i % H_SUB;
    return ((uint64_t)(H_SUB + sub + 1) << (e - 4)) - 1;
}

static void h_add(struct hist *h, uint64_t v)
{
    h->count[h_index(v)]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

static double h_pct(const struct hist *h, double p)
{
    uint64_t want = (uint64_t)(p * (double)h->n + 0.5), acc = 0;
    if (h->n == 0)
        return 0;
    if (want == 0)
        want = 1;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        acc += h->count[i];
        if (acc >= want)
            return (double)h_value(i) / 1e3; /* microseconds */
    }
    return (double)h->max / 1e3;
}

/* ------------------------------------------------------------------ state */

struct bench;

struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct bench *b;
    struct ws_stream ws;
    int phase; /* 0 connecting, 1 handshake, 2 open, 3 closing, 4 done */
    char key[32];
    char hs[1024];
    size_t hslen;
    uint64_t t_connect;
    uint64_t next_send, next_recv; /* message sequence numbers */
    uint64_t *sent_at;             /* ring of -d send times */
    size_t rx_off;                 /* bytes of the current reply checked */
    bool warm;                     /* the first echo came back: the child is running */
    char rbuf[65536];
    bool closed;
};

struct bench {
    uv_loop_t *loop;
    enum mode mode;
    struct sockaddr_storage addr;
    const char *host, *path;
    int conns, depth;
    size_t size;
    bool binary;
    double seconds;
    uint64_t count; /* stop after this many messages in all (0: use seconds) */
    int server_pid;
    bool json_only;

    struct conn *c;
    uint64_t t_start, t_end;
    bool stopping;
    int open_conns;
    int ready; /* connections past their handshake: timing starts when all are */
    uint64_t msgs, bytes, errors_proto, errors_conn, errors_verify, cycles;
    unsigned closes[16];
    uint16_t close_code[16];
    struct hist lat, hs_lat, cycle_lat;
    uv_timer_t stop_timer;
};

static void conn_start(struct bench *b, struct conn *c);
static void on_stop(uv_timer_t *t);

/*
 * Rates exclude the ramp-up: the clock starts once every connection has had
 * its first echo answered. Not at connect or at the 101: a relay (and
 * websocketd) spawn the child after that point, so 200 spawns of a few ms
 * each would fall inside the timed window, with the first messages waiting
 * seconds for their `cat` (the relay measured 0-650 msg/s at c=200 so).
 */
static void conn_ready(struct bench *b)
{
    if (++b->ready != b->conns || b->mode == M_CONNECT)
        return;
    b->msgs = b->bytes = 0;
    memset(&b->lat, 0, sizeof b->lat);
    b->t_start = uv_hrtime();
    uv_timer_start(&b->stop_timer, on_stop, (uint64_t)(b->seconds * 1000), 0);
}
static void send_message(struct conn *c);

static uint8_t pattern(uint64_t seq, size_t i)
{
    return (uint8_t)('a' + (seq * 7 + i) % 26);
}

static void count_close(struct bench *b, uint16_t code)
{
    for (unsigned i = 0; i < 16; i++) {
        if (b->closes[i] && b->close_code[i] == code) {
            b->closes[i]++;
            return;
        }
        if (!b->closes[i]) {
            b->close_code[i] = code;
            b->closes[i] = 1;
            return;
        }
    }
}

/* ------------------------------------------------------------------ writes */

struct wreq {
    uv_write_t req;
    char data[];
};

static void on_written(uv_write_t *req, int status)
{
    free(req);
}

static void write_bytes(struct conn *c, const void *data, size_t len)
{
    struct wreq *w = malloc(sizeof *w + len);
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
        free(w);
}

/* ------------------------------------------------------------------ ws callbacks */

static int on_ws_write(struct ws_stream *s, const uint8_t *frame, size_t len)
{
    write_bytes(s->data, frame, len);
    return 0;
}

static void on_mask(struct ws_stream *s, uint8_t mask[4])
{
    uint32_t r = (uint32_t)rand();
    memcpy(mask, &r, 4);
}

static int on_begin(struct ws_stream *s, enum ws_opcode op, uint8_t rsv)
{
    struct conn *c = s->data;
    c->rx_off = 0;
    return 0;
}

static int on_data(struct ws_stream *s, uint8_t *d, size_t len)
{
    struct conn *c = s->data;
    for (size_t i = 0; i < len; i++)
        if (c->rx_off + i >= c->b->size || d[i] != pattern(c->next_recv, c->rx_off + i)) {
            c->b->errors_verify++;
            break;
        }
    c->rx_off += len;
    return 0;
}

static void close_conn(struct conn *c);

static void got_reply(struct conn *c)
{
    struct bench *b = c->b;
    uint64_t now = uv_hrtime();
    h_add(&b->lat, now - c->sent_at[c->next_recv % (uint64_t)b->depth]);
    c->next_recv++;
    b->msgs++;
    b->bytes += b->size;
    if (b->count && b->msgs >= b->count && !b->stopping)
        uv_timer_start(&b->stop_timer, on_stop, 0, 0);
    if (b->mode == M_CONNECT) {
        h_add(&b->cycle_lat, now - c->t_connect);
        ws_stream_close(&c->ws, 1000, NULL);
        c->phase = 3;
        return;
    }
    if (!c->warm) {
        /* the warm-up echo is back: now the -d messages in flight */
        c->warm = true;
        conn_ready(b);
        for (int i = 0; i < b->depth && !b->stopping; i++)
            send_message(c);
    } else if (!b->stopping)
        send_message(c);
    else if (c->next_recv == c->next_send)
        close_conn(c);
}

static int on_end(struct ws_stream *s)
{
    struct conn *c = s->data;
    if (c->rx_off != c->b->size)
        c->b->errors_verify++;
    got_reply(c);
    return 0;
}

static int on_close(struct ws_stream *s, uint16_t code, const uint8_t *r, size_t len)
{
    struct conn *c = s->data;
    count_close(c->b, code);
    return 0;
}

static void on_fail(struct ws_stream *s, uint16_t code, const char *reason)
{
    struct conn *c = s->data;
    c->b->errors_proto++;
    fprintf(stderr, "wsbridge-bench: protocol error from the server: %s\n", reason);
}

static const struct ws_stream_settings ws_settings = {
    .on_message_begin = on_begin,
    .on_message_data = on_data,
    .on_message_end = on_end,
    .on_close = on_close,
    .on_fail = on_fail,
    .on_write = on_ws_write,
    .on_mask = on_mask,
};

/* ------------------------------------------------------------------ sending */

static void send_message(struct conn *c)
{
    struct bench *b = c->b;
    size_t n = b->size;
    uint64_t seq = c->next_send++;
    c->sent_at[seq % (uint64_t)b->depth] = uv_hrtime();

    if (b->mode == M_RAW) {
        struct wreq *w = malloc(sizeof *w + n + 1);
        for (size_t i = 0; i < n; i++)
            w->data[i] = (char)pattern(seq, i);
        w->data[n] = '\n';
        uv_buf_t buf = uv_buf_init(w->data, (unsigned)(n + 1));
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
            free(w);
        return;
    }
    struct wreq *w = malloc(sizeof *w + WS_FRAME_HEADER_MAX + n);
    uint8_t mask[4];
    int h = ws_stream_data_header(&c->ws, (uint8_t *)w->data, b->binary ? WS_OP_BINARY : WS_OP_TEXT,
                                  true, n, mask);
    if (h < 0) {
        free(w);
        return;
    }
    uint8_t *p = (uint8_t *)w->data + h;
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(seq, i);
    ws_frame_mask(p, n, mask, 0);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)(h + n));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
        free(w);
}

/* ------------------------------------------------------------------ reading */

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    struct conn *c = h->data;
    buf->base = c->rbuf;
    buf->len = sizeof c->rbuf;
}

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct bench *b = c->b;
    b->open_conns--;
    if (b->mode == M_CONNECT && !b->stopping && c->phase == 4) {
        b->cycles++;
        conn_start(b, c); /* next cycle */
        return;
    }
    if (b->open_conns == 0 && b->stopping)
        uv_close((uv_handle_t *)&b->stop_timer, NULL);
}

static void close_conn(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void raw_read(struct conn *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            if (c->rx_off != c->b->size)
                c->b->errors_verify++;
            c->rx_off = 0;
            got_reply(c);
        } else {
            if (c->rx_off >= c->b->size || (uint8_t)p[i] != pattern(c->next_recv, c->rx_off))
                c->b->errors_verify++;
            c->rx_off++;
        }
    }
}

static void on_handshake_done(struct conn *c, const char *rest, size_t n)
{
    struct bench *b = c->b;
    char want[29];
    const char *acc = strcasestr(c->hs, "\r\nSec-WebSocket-Accept:");
    handshake_accept_key(c->key, strlen(c->key), want);
    if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0 || !acc || !strstr(acc, want)) {
        b->errors_conn++;
        fprintf(stderr, "wsbridge-bench: handshake refused: %.40s\n", c->hs);
        close_conn(c);
        return;
    }
    h_add(&b->hs_lat, uv_hrtime() - c->t_connect);
    c->phase = 2;
    if (b->mode == M_CONNECT)
        conn_ready(b);
    ws_stream_init(&c->ws, WS_ROLE_CLIENT, &ws_settings);
    c->ws.data = c;
    if (!b->stopping)
        send_message(c); /* connect mode: the one echo; others: the warm-up echo */
    if (n)
        ws_stream_execute(&c->ws, (uint8_t *)rest, n);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    struct bench *b = c->b;
    if (n < 0) {
        if (c->phase != 3 && !b->stopping)
            b->errors_conn++;
        c->phase = 4;
        close_conn(c);
        return;
    }
    if (b->mode == M_RAW) {
        raw_read(c, buf->base, (size_t)n);
        return;
    }
    if (c->phase == 1) {
        size_t take = (size_t)n;
        if (c->hslen + take >= sizeof c->hs)
            take = sizeof c->hs - 1 - c->hslen;
        memcpy(c->hs + c->hslen, buf->base, take);
        c->hslen += take;
        c->hs[c->hslen] = '\0';
        char *end = strstr(c->hs, "\r\n\r\n");
        if (!end) {
            if (c->hslen >= sizeof c->hs - 1) {
                b->errors_conn++;
                close_conn(c);
            }
            return;
        }
        size_t head = (size_t)(end + 4 - c->hs), before = c->hslen - take;
        on_handshake_done(c, buf->base + (head - before), (size_t)n - (head - before));
    } else {
        ws_stream_execute(&c->ws, (uint8_t *)buf->base, (size_t)n);
    }
    if (c->phase >= 2 && ws_stream_finished(&c->ws)) {
        c->phase = 4;
        close_conn(c);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    struct bench *b = c->b;
    if (status == UV_ECANCELED && b->stopping) {
        close_conn(c);
        return;
    }
    if (status < 0) {
        b->errors_conn++;
        fprintf(stderr, "wsbridge-bench: connect: %s\n", uv_strerror(status));
        close_conn(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (b->mode == M_RAW) {
        c->phase = 2;
        send_message(c); /* the warm-up echo */
        return;
    }
    uint8_t raw[16];
    for (int i = 0; i < 16; i++)
        raw[i] = (uint8_t)rand();
    EVP_EncodeBlock((unsigned char *)c->key, raw, 16);
    char req_buf[512];
    int len =
        snprintf(req_buf, sizeof req_buf,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 b->path, b->host, c->key);
    c->phase = 1;
    write_bytes(c, req_buf, (size_t)len);
}

static void conn_start(struct bench *b, struct conn *c)
{
    uint64_t *ring = c->sent_at;
    memset(c, 0, sizeof *c);
    c->sent_at = ring;
    c->b = b;
    uv_tcp_init(b->loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    c->t_connect = uv_hrtime();
    b->open_conns++;
    uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&b->addr, on_connect);
}

/* ------------------------------------------------------------------ run and report */

static void on_stop(uv_timer_t *t)
{
    struct bench *b = t->data;
    b->stopping = true;
    b->t_end = uv_hrtime();
    for (int i = 0; i < b->conns; i++) {
        struct conn *c = &b->c[i];
        if (c->closed)
            continue;
        if (b->mode != M_RAW && c->phase == 2)
            ws_stream_close(&c->ws, 1000, NULL);
        c->phase = 3;
        close_conn(c);
    }
    if (b->open_conns == 0)
        uv_close((uv_handle_t *)t, NULL);
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = atol(line + 6);
    if (f)
        fclose(f);
    return v;
}

static void usage(FILE *out)
{
    fputs("Usage: wsbridge-bench [OPTIONS] ws://HOST:PORT/PATH | tcp://HOST:PORT\n"
          "  -m, --mode=MODE     echo (default), raw (tcp:// line echo), connect\n"
          "  -c, --connections=N connections (default 1)\n"
          "  -d, --depth=N       messages in flight per connection (default 1)\n"
          "  -s, --size=BYTES    payload size (default 16)\n"
          "  -b, --binary        binary messages (default text)\n"
          "  -t, --time=SECONDS  run time (default 5)\n"
          "  -n, --count=N       stop after N messages in all\n"
          "  -p, --server-pid=PID  report the server's RSS and its children's\n"
          "  -j, --json          print only the JSON line\n"
          "  -h, --help\n"
          "The server must echo lines (e.g. wsbridge ... cat). Every reply is checked.\n"
          "The client reports its own CPU use: near 100% means it, not the server,\n"
          "is the bottleneck.\n",
          out);
}

static long children_rss(int pid)
{
    char cmd[128], buf[64];
    long total = 0;
    snprintf(cmd, sizeof cmd, "ps -o rss= --ppid %d 2>/dev/null", pid);
    FILE *p = popen(cmd, "r");
    while (p && fgets(buf, sizeof buf, p))
        total += atol(buf);
    if (p)
        pclose(p);
    return total;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"mode", 1, 0, 'm'},   {"connections", 1, 0, 'c'},
                                         {"depth", 1, 0, 'd'},  {"size", 1, 0, 's'},
                                         {"binary", 0, 0, 'b'}, {"time", 1, 0, 't'},
                                         {"count", 1, 0, 'n'},  {"server-pid", 1, 0, 'p'},
                                         {"json", 0, 0, 'j'},   {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct bench *b = calloc(1, sizeof *b);
    int o;
    b->conns = 1, b->depth = 1, b->size = 16, b->seconds = 5;
    while ((o = getopt_long(argc, argv, "m:c:d:s:bt:n:p:jh", opts, NULL)) != -1) {
        switch (o) {
        case 'm':
            b->mode = strcmp(optarg, "raw") == 0       ? M_RAW
                      : strcmp(optarg, "connect") == 0 ? M_CONNECT
                                                       : M_ECHO;
            if (b->mode == M_ECHO && strcmp(optarg, "echo") != 0) {
                fprintf(stderr, "wsbridge-bench: unknown mode %s\n", optarg);
                return 2;
            }
            break;
        case 'c':
            b->conns = atoi(optarg);
            break;
        case 'd':
            b->depth = atoi(optarg);
            break;
        case 's':
            b->size = (size_t)atol(optarg);
            break;
        case 'b':
            b->binary = true;
            break;
        case 't':
            b->seconds = atof(optarg);
            break;
        case 'n':
            b->count = (uint64_t)atoll(optarg);
            break;
        case 'p':
            b->server_pid = atoi(optarg);
            break;
        case 'j':
            b->json_only = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || b->conns < 1 || b->depth < 1 || b->size < 1) {
        usage(stderr);
        return 2;
    }
    char host[256];
    int port = 0;
    const char *url = argv[optind], *rest = strstr(url, "://");
    if (!rest || sscanf(rest + 3, "%255[^:/]:%d", host, &port) != 2) {
        fprintf(stderr, "wsbridge-bench: bad URL %s\n", url);
        return 2;
    }
    const char *path = strchr(rest + 3, '/');
    b->path = path ? path : "/";
    b->host = host;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&b->addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&b->addr) != 0) {
        fprintf(stderr, "wsbridge-bench: %s is not an IP address\n", host);
        return 2;
    }
    if (b->mode == M_RAW && strncmp(url, "tcp://", 6) != 0) {
        fprintf(stderr, "wsbridge-bench: raw mode needs tcp://\n");
        return 2;
    }

    long rss0 = b->server_pid ? rss_kib(b->server_pid) : -1;
    long crss0 = b->server_pid ? children_rss(b->server_pid) : -1;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    b->loop = uv_default_loop();
    b->c = calloc((size_t)b->conns, sizeof *b->c);
    uv_timer_init(b->loop, &b->stop_timer);
    b->stop_timer.data = b;
    b->t_start = uv_hrtime();
    for (int i = 0; i < b->conns; i++) {
        b->c[i].sent_at = calloc((size_t)b->depth, sizeof(uint64_t));
        conn_start(b, &b->c[i]);
    }
    /* connect mode times from the start; the others once all are open (60 s at most to get there)
     */
    uv_timer_start(&b->stop_timer, on_stop,
                   (uint64_t)(b->seconds * 1000) + (b->mode == M_CONNECT ? 0 : 60000), 0);
    uv_run(b->loop, UV_RUN_DEFAULT);
    getrusage(RUSAGE_SELF, &ru1);
    long rss1 = b->server_pid ? rss_kib(b->server_pid) : -1;
    long crss1 = b->server_pid ? children_rss(b->server_pid) : -1;

    double secs = (double)(b->t_end - b->t_start) / 1e9;
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                          ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                          ru0.ru_stime.tv_usec) /
                     1e6;
    double rate = (double)b->msgs / secs, mbs = (double)b->bytes / secs / 1e6;
    uint64_t errors = b->errors_proto + b->errors_conn + b->errors_verify;
    const char *mname = b->mode == M_RAW ? "raw" : b->mode == M_CONNECT ? "connect" : "echo";
    if (!b->json_only) {
        printf("%s c=%d d=%d s=%zu %s: %.0f msg/s, %.2f MB/s over %.2f s\n", mname, b->conns,
               b->depth, b->size, b->binary ? "binary" : "text", rate, mbs, secs);
        printf("  latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", h_pct(&b->lat, .5),
               h_pct(&b->lat, .9), h_pct(&b->lat, .99), (double)b->lat.max / 1e3);
        if (b->mode != M_RAW)
            printf("  handshake us: p50 %.0f  p99 %.0f\n", h_pct(&b->hs_lat, .5),
                   h_pct(&b->hs_lat, .99));
        if (b->mode == M_CONNECT)
            printf("  cycles: %" PRIu64 " (%.0f/s), cycle us p50 %.0f p99 %.0f\n", b->cycles,
                   (double)b->cycles / secs, h_pct(&b->cycle_lat, .5), h_pct(&b->cycle_lat, .99));
        printf("  errors: protocol %" PRIu64 ", connection %" PRIu64 ", verify %" PRIu64 "\n",
               b->errors_proto, b->errors_conn, b->errors_verify);
        printf("  client CPU: %.0f%%\n", 100.0 * cpu / secs);
        if (b->server_pid)
            printf("  server RSS: %ld -> %ld KiB, children: %ld -> %ld KiB\n", rss0, rss1, crss0,
                   crss1);
    }
    printf("{\"mode\":\"%s\",\"c\":%d,\"d\":%d,\"s\":%zu,\"binary\":%s,\"seconds\":%.3f,"
           "\"messages\":%" PRIu64
           ",\"msg_per_s\":%.1f,\"mb_per_s\":%.3f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
           "\"max_us\":%.1f,\"handshake_p50_us\":%.1f,\"cycles\":%" PRIu64 ",\"cycles_per_s\":%.1f,"
           "\"errors\":%" PRIu64 ",\"client_cpu_pct\":%.1f,\"server_rss_kib\":[%ld,%ld],"
           "\"children_rss_kib\":[%ld,%ld],\"close_codes\":{",
           mname, b->conns, b->depth, b->size, b->binary ? "true" : "false", secs, b->msgs, rate,
           mbs, h_pct(&b->lat, .5), h_pct(&b->lat, .9), h_pct(&b->lat, .99),
           (double)b->lat.max / 1e3, h_pct(&b->hs_lat, .5), b->cycles, (double)b->cycles / secs,
           errors, 100.0 * cpu / secs, rss0, rss1, crss0, crss1);
    for (unsigned i = 0; i < 16 && b->closes[i]; i++)
        printf("%s\"%u\":%u", i ? "," : "", b->close_code[i], b->closes[i]);
    printf("}}\n");
    return errors ? 1 : 0;
}
