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
 *   tls      wss:// only: -c loops of connect, TLS handshake, close_notify, server
 *            close; no HTTP, no program: what the TLS part of a connect cycle
 *            costs the client and the server (a ceiling for connect).
 *   hold     opens -c connections (--ramp at a time) and keeps them for -t
 *            seconds, each echoing one message every -i seconds; reports how
 *            many are healthy at the end (open, every echo answered) and the
 *            server's memory while all are held.
 *   big      one message of -s bytes (1G is fine), generated as it is sent
 *            in 1 MiB fragments and checked as it comes back; MB/s for the
 *            round trip and the server's peak RSS (VmHWM).
 *
 * Reports messages/s, MB/s, latency percentiles from a log-linear
 * histogram, handshake time, errors, close codes, its own CPU use and,
 * with --server-pid, the server's RSS, PSS and peak RSS and its children's
 * number, RSS and PSS (from /proc) before the run and at its end, while
 * the connections are still open. One summary and one JSON line per run.
 */
#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <uv.h>

#include "bench_deflate.h"
#include "handshake.h"
#include "ws_stream.h"

enum mode { M_ECHO, M_RAW, M_CONNECT, M_HOLD, M_BIG, M_RECV, M_TLS };
static const char *const mode_names[] = {"echo", "raw", "connect", "hold", "big", "recv", "tls"};
#define N_MODES 7

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

/* ------------------------------------------------------------------ payload */

/*
 * Byte i of message seq is 'a' + (seq * 7 + i) % 26: never '\n', and
 * neighbouring messages differ, so a reply out of order is caught. One
 * table of the alphabet repeated lets a piece of any message be generated
 * with memcpy and checked with memcmp (a 1 GiB message costs the client
 * little CPU next to the server it measures).
 */
#define PAT_SPAN ((size_t)1 << 20) /* the largest piece generated or checked at once */
static uint8_t pat[26 + PAT_SPAN];

static void pat_init(void)
{
    for (size_t i = 0; i < sizeof pat; i++)
        pat[i] = (uint8_t)('a' + i % 26);
}

static const uint8_t *pat_at(uint64_t seq, uint64_t off)
{
    return pat + (seq * 7 + off) % 26;
}

/* ------------------------------------------------------------------ /proc */

/*
 * The server is the process given and every descendant running the same
 * executable (wsbridge --workers=N forks N worker processes that hold the
 * sessions); the children are the other descendants (the programs).
 * Memory sums over each group; hwm is the sum of the server processes'
 * peaks.
 */
struct mem {
    long procs, rss, pss, hwm;     /* server processes; KiB; -1 when unreadable */
    long kids, kids_rss, kids_pss; /* the programs: number, sums in KiB */
    double cpu;                    /* server processes: user + system seconds so far */
    double kids_cpu; /* the same of the children they have reaped (the programs that ended) */
};

/* The number after `key` in /proc/PID/FILE, or -1. */
static long proc_field(int pid, const char *file, const char *key)
{
    char path[64], line[256];
    long v = -1;
    size_t kl = strlen(key);
    snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) {
            v = atol(line + kl);
            break;
        }
    fclose(f);
    return v;
}

/* user + system CPU seconds of pid (fields 14 and 15 of /proc/PID/stat); *reaped: those of
 * the children it has waited for (16 and 17) */
static double cpu_of(int pid, double *reaped)
{
    char path[64], line[1024];
    unsigned long ut = 0, st = 0;
    long cut = 0, cst = 0;
    *reaped = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fgets(line, sizeof line, f)) {
        char *p = strrchr(line, ')');
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &ut,
                         &st, &cut, &cst) != 4)
            ut = st = 0, cut = cst = 0;
    }
    fclose(f);
    *reaped = (double)(cut + cst) / (double)sysconf(_SC_CLK_TCK);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int ppid_of(int pid)
{
    char path[64], line[512];
    int ppid = -1;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (fgets(line, sizeof line, f)) {
        char *p = strrchr(line, ')'); /* the name may hold spaces and parentheses */
        if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
            ppid = -1;
    }
    fclose(f);
    return ppid;
}

static bool same_exe(int pid, const char *exe)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return strcmp(buf, exe) == 0;
}

static void mem_add(long *sum, long v)
{
    *sum += v > 0 ? v : 0;
}

static void mem_sample_one(int pid, struct mem *m)
{
    struct pp {
        int pid, ppid;
    } *all = NULL;
    size_t n = 0, cap = 0;
    char path[64], exe[4096];
    int *tree = NULL;
    size_t ntree = 0;

    *m = (struct mem){-1, -1, -1, -1, -1, -1, -1, 0};
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t el = readlink(path, exe, sizeof exe - 1);
    if (el < 0)
        return;
    exe[el] = '\0';
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int p = atoi(e->d_name);
        if (p <= 0)
            continue;
        if (n == cap) {
            struct pp *grown = realloc(all, (cap = cap ? 2 * cap : 1024) * sizeof *all);
            if (!grown)
                break;
            all = grown;
        }
        all[n].pid = p;
        all[n++].ppid = ppid_of(p);
    }
    closedir(d);
    /* the descendants of pid, breadth first: tree[] grows as their children are found */
    tree = malloc((n + 1) * sizeof *tree);
    if (!tree) {
        free(all);
        return;
    }
    tree[ntree++] = pid;
    for (size_t i = 0; i < ntree; i++)
        for (size_t j = 0; j < n; j++)
            if (all[j].ppid == tree[i] && ntree <= n)
                tree[ntree++] = all[j].pid;
    m->procs = m->rss = m->pss = m->hwm = m->kids = m->kids_rss = m->kids_pss = 0;
    for (size_t i = 0; i < ntree; i++) {
        long rss = proc_field(tree[i], "status", "VmRSS:");
        long pss = proc_field(tree[i], "smaps_rollup", "Pss:");
        if (i == 0 || same_exe(tree[i], exe)) {
            m->procs++;
            mem_add(&m->rss, rss);
            mem_add(&m->pss, pss);
            mem_add(&m->hwm, proc_field(tree[i], "status", "VmHWM:"));
            double reaped;
            m->cpu += cpu_of(tree[i], &reaped);
            m->kids_cpu += reaped;
        } else {
            m->kids++;
            mem_add(&m->kids_rss, rss);
            mem_add(&m->kids_pss, pss);
        }
    }
    free(tree);
    free(all);
}

/* Adds v (-1: unknown) to a sum that stays -1 while nothing was known. */
static void mem_acc(long *sum, long v)
{
    if (v >= 0)
        *sum = (*sum < 0 ? 0 : *sum) + v;
}

#define TLS_SESSIONS 64 /* --resume: the unused sessions kept */

/* Several PIDs (a TLS proxy and the server behind it): their samples summed. */
#define MAX_PIDS 4
static void mem_sample(const int *pids, int npids, struct mem *m)
{
    *m = (struct mem){-1, -1, -1, -1, -1, -1, -1, 0};
    for (int i = 0; i < npids; i++) {
        struct mem one;
        mem_sample_one(pids[i], &one);
        mem_acc(&m->procs, one.procs);
        mem_acc(&m->rss, one.rss);
        mem_acc(&m->pss, one.pss);
        mem_acc(&m->hwm, one.hwm);
        mem_acc(&m->kids, one.kids);
        mem_acc(&m->kids_rss, one.kids_rss);
        mem_acc(&m->kids_pss, one.kids_pss);
        m->cpu += one.cpu;
        m->kids_cpu += one.kids_cpu;
    }
}

/* ------------------------------------------------------------------ state */

struct bench;

struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct bench *b;
    struct ws_stream ws;
    struct pmd_inflate inflate; /* --deflate */
    int phase;                  /* 0 connecting, 1 handshake, 2 open, 3 closing, 4 done */
    bool closed;
    bool warm;    /* the first echo came back: the child is running */
    bool settled; /* warm, or failed before: counted once towards the start */
    bool bad;     /* the reply being read differs from what was sent */
    char key[32];
    char hs[1024];
    size_t hslen;
    uint64_t t_connect;
    uint64_t next_send, next_recv; /* message sequence numbers */
    uint64_t *sent_at;             /* ring of -d send times */
    uint64_t rx_off;               /* bytes of the current reply checked */
    uint64_t rx_stamp;             /* recv: the decimal number being read */
    /* While a read is being handled, frames to send gather here and go out in one write at
     * its end: the refills for a batch of replies cost one system call, not one each. */
    bool gathering;
    uint8_t *out;
    size_t out_len, out_cap;
    /* wss://: SSL fed ciphertext through two memory BIOs (owned by ssl); NULL for ws:// */
    SSL *ssl;
    BIO *net_in, *net_out;
    bool tls_up;    /* the TLS handshake is done and the HTTP upgrade request went out */
    bool tls_fatal; /* SSL failed: no close_notify */
};

struct bench {
    uv_loop_t *loop;
    enum mode mode;
    struct sockaddr_storage addr;
    const char *host, *path;
    int conns, depth;
    uint64_t size;
    bool binary;
    bool deflate; /* --deflate: offer permessage-deflate, JSON-like payloads */
    bool json_payload; /* --json-payload: JSON-like payloads without the offer */
    double seconds, interval;
    int ramp;                        /* connections being opened at once */
    uint64_t count;                  /* stop after this many messages in all (0: use seconds) */
    int server_pid[MAX_PIDS], npids; /* -p: the server, or a proxy and the server */
    bool json_only;
    SSL_CTX *ssl_ctx; /* wss:// */
    bool resume;      /* --resume: every connection offers the newest session it may use */
    /* The sessions handed out, newest last (the oldest dropped when full). A TLS 1.3 one is
     * taken by the connection that offers it (single use); a TLS 1.2 one stays. */
    SSL_SESSION *sessions[TLS_SESSIONS];
    size_t nsessions;
    uint64_t tls_full, tls_resumed;
    char tls_proto[16], tls_cipher[64], tls_key[32]; /* of the first connection */

    struct conn *c;
    uint64_t t_start, t_end;
    bool stopping, timing;
    int open_conns, launched, settled, warm;
    uint64_t msgs, bytes, errors_proto, errors_conn, errors_verify, cycles;
    uint64_t healthy, late, unanswered, dropped; /* hold (recv: healthy, dropped) */
    uint64_t big_sent;                           /* big: bytes generated so far */
    int big_inflight;                            /* big: fragments queued to the socket */
    bool big_done;
    unsigned closes[16];
    uint16_t close_code[16];
    struct hist lat, hs_lat, cycle_lat, tls_lat;
    struct mem mem0, mem1, mem_t; /* before, at the end, when the clock started */
    uv_timer_t stop_timer, tick_timer, drain_timer;
    uint64_t tick;
};

static int complaints = 20; /* error lines printed at most: 10,000 failing sessions stay readable */
#define COMPLAIN(...)                                                                              \
    do {                                                                                           \
        if (complaints > 0 && complaints--)                                                        \
            fprintf(stderr, "wsbridge-bench: " __VA_ARGS__);                                       \
    } while (0)

static void conn_start(struct bench *b, struct conn *c);
static void on_stop(uv_timer_t *t);
static void on_tick(uv_timer_t *t);
static void send_message(struct conn *c);
static void close_conn(struct conn *c);
static bool tls_send(struct conn *c, const void *data, size_t len, uv_write_cb cb);

static void send_go(struct bench *b);

/* Opens connections up to the ramp (all at once unless --ramp). */
static void launch(struct bench *b)
{
    while (!b->stopping && b->launched < b->conns && b->launched - b->settled < b->ramp)
        conn_start(b, &b->c[b->launched++]);
}

/*
 * Rates exclude the ramp-up: the clock starts once every connection has had
 * its first echo answered (or failed). Not at connect or at the 101: a relay
 * (and websocketd) spawn the child after that point, so 200 spawns of a few
 * ms each would fall inside the timed window, with the first messages
 * waiting seconds for their `cat` (the relay measured 0-650 msg/s at c=200
 * so).
 */
static void settle(struct conn *c)
{
    struct bench *b = c->b;
    if (c->settled || b->mode == M_CONNECT || b->mode == M_TLS || b->mode == M_BIG)
        return;
    c->settled = true;
    b->settled++;
    b->warm += c->warm;
    launch(b);
    if (b->settled != b->conns || b->stopping)
        return;
    b->msgs = b->bytes = 0;
    memset(&b->lat, 0, sizeof b->lat);
    if (b->npids)
        mem_sample(b->server_pid, b->npids, &b->mem_t); /* the server's CPU from here on */
    b->t_start = uv_hrtime();
    b->timing = true;
    uv_timer_start(&b->stop_timer, on_stop, (uint64_t)(b->seconds * 1000), 0);
    if (b->mode == M_HOLD)
        uv_timer_start(&b->tick_timer, on_tick, 100, 100);
    if (b->mode == M_RECV)
        send_go(b);
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
    uint8_t data[];
};

static void on_written(uv_write_t *req, int status)
{
    free(req);
}

/* Queues a copy of data now (one write); false (and the connection closed) when that fails. */
static bool write_now(struct conn *c, const void *data, size_t len)
{
    if (c->ssl)
        return tls_send(c, data, len, on_written); /* encrypted straight from data */
    struct wreq *w = malloc(sizeof *w + len);
    if (!w) {
        c->b->errors_conn++;
        close_conn(c);
        return false;
    }
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
    if (r != 0) {
        free(w);
        COMPLAIN("write: %s\n", uv_strerror(r));
        c->b->errors_conn++;
        close_conn(c);
        return false;
    }
    return true;
}

/* Where the next len bytes to send go: the gathering buffer, or NULL when it cannot grow. */
static uint8_t *out_reserve(struct conn *c, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        uint8_t *p = realloc(c->out, cap);
        if (!p)
            return NULL;
        c->out = p;
        c->out_cap = cap;
    }
    return c->out + c->out_len;
}

/* Sends what was gathered during a read. */
static void out_flush(struct conn *c)
{
    c->gathering = false;
    if (c->out_len && !c->closed)
        write_now(c, c->out, c->out_len);
    c->out_len = 0;
}

/* Sends data: gathered while a read is handled, else at once. */
static bool write_bytes(struct conn *c, const void *data, size_t len)
{
    if (!c->gathering)
        return write_now(c, data, len);
    uint8_t *p = out_reserve(c, len);
    if (!p) {
        c->b->errors_conn++;
        close_conn(c);
        return false;
    }
    memcpy(p, data, len);
    c->out_len += len;
    return true;
}

/* ------------------------------------------------------------------ replies */

/* Checks len more bytes of the reply being read against what was sent. */
static void check_piece(struct conn *c, const uint8_t *d, size_t len)
{
    if (c->rx_off + len > c->b->size) {
        c->bad = true;
    } else {
        for (size_t done = 0; done < len && !c->bad; done += PAT_SPAN) {
            size_t n = len - done < PAT_SPAN ? len - done : PAT_SPAN;
            if (memcmp(d + done, pat_at(c->next_recv, c->rx_off + done), n) != 0)
                c->bad = true;
        }
    }
    c->rx_off += len;
}

static void close_ws(struct conn *c)
{
    if (c->b->mode != M_RAW && c->phase == 2)
        ws_stream_close(&c->ws, 1000, NULL);
    c->phase = 3;
    close_conn(c);
}

static void got_reply(struct conn *c)
{
    struct bench *b = c->b;
    uint64_t now = uv_hrtime();
    if (c->bad || c->rx_off != b->size)
        b->errors_verify++;
    c->bad = false;
    c->rx_off = 0;
    if (c->next_recv >= c->next_send) {
        COMPLAIN("a reply to no message\n");
        b->errors_verify++;
        return;
    }
    h_add(&b->lat, now - c->sent_at[c->next_recv % (uint64_t)b->depth]);
    c->next_recv++;
    b->msgs++;
    b->bytes += b->size;
    if (b->count && b->msgs >= b->count && !b->stopping)
        uv_timer_start(&b->stop_timer, on_stop, 0, 0);
    if (b->mode == M_CONNECT) {
        /* the cycle ends with the server's close (on_closed) */
        h_add(&b->cycle_lat, now - c->t_connect);
        ws_stream_close(&c->ws, 1000, NULL);
        c->phase = 3;
        return;
    }
    if (b->mode == M_BIG) {
        b->t_end = now;
        b->big_done = true;
        uv_timer_start(&b->stop_timer, on_stop, 0, 0);
        return;
    }
    if (!c->warm) {
        /* the warm-up echo is back: now the -d messages in flight (hold: the ticks send) */
        c->warm = true;
        settle(c);
        for (int i = 0; i < b->depth && !b->stopping && b->mode != M_HOLD; i++)
            send_message(c);
    } else if (!b->stopping) {
        if (b->mode != M_HOLD)
            send_message(c);
        return;
    }
    if (b->stopping && c->next_recv == c->next_send) {
        if (b->mode == M_HOLD && c->phase == 2)
            b->healthy++;
        close_ws(c);
    }
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
    c->rx_off = c->rx_stamp = 0;
    c->bad = false;
    return 0;
}

/* recv: the message is a decimal CLOCK_MONOTONIC time in ns (uv_hrtime's clock), maybe a newline. */
static void stamp_piece(struct conn *c, const uint8_t *d, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (d[i] >= '0' && d[i] <= '9' && c->rx_stamp < UINT64_MAX / 10)
            c->rx_stamp = c->rx_stamp * 10 + (uint64_t)(d[i] - '0');
        else if (d[i] != '\n' && d[i] != '\r')
            c->bad = true;
    }
    c->rx_off += len;
}

/* recv: one broadcast message received; its latency from the program's print to here. */
static void got_stamp(struct conn *c)
{
    struct bench *b = c->b;
    uint64_t now = uv_hrtime();
    if (c->bad || c->rx_stamp == 0 || c->rx_stamp > now) {
        b->errors_verify++; /* not a time stamp of this machine's clock */
    } else if (b->timing && !b->stopping) {
        h_add(&b->lat, now - c->rx_stamp);
        b->msgs++;
        b->bytes += c->rx_off;
        /* A flood keeps one loop iteration in reads (10,000 sockets, each full) long past the
         * stop timer: the time is checked here, and the stop closes every connection at once
         * (libuv drops the pending events of a closed handle; later bytes are not counted). */
        if ((b->count && b->msgs >= b->count) ||
            now - b->t_start >= (uint64_t)(b->seconds * 1e9))
            on_stop(&b->stop_timer);
    }
    c->rx_stamp = c->rx_off = 0;
    c->bad = false;
}

static int on_data(struct ws_stream *s, uint8_t *d, size_t len)
{
    struct conn *c = s->data;
    if (c->b->mode == M_RECV)
        stamp_piece(c, d, len);
    else
        check_piece(c, d, len);
    return 0;
}

static int on_end(struct ws_stream *s)
{
    struct conn *c = s->data;
    if (c->b->mode == M_RECV)
        got_stamp(c);
    else
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
    COMPLAIN("protocol error from the server: %s\n", reason);
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

/* recv: every connection is open; one of them tells the program to start ("go", a line on its
 * stdin: bench/ticker waits for it), so none joins while the server is already flooded. */
static void send_go(struct bench *b)
{
    for (int i = 0; i < b->launched; i++) {
        struct conn *c = &b->c[i];
        uint8_t f[WS_FRAME_HEADER_MAX + 2], mask[4];
        if (c->closed || c->phase != 2)
            continue;
        int h = ws_stream_data_header(&c->ws, f, WS_OP_TEXT, true, 2, mask);
        if (h < 0)
            continue;
        memcpy(f + h, "go", 2);
        ws_frame_mask(f + h, 2, mask, 0);
        write_bytes(c, f, (size_t)h + 2);
        return;
    }
}

static void send_message(struct conn *c)
{
    struct bench *b = c->b;
    size_t n = (size_t)b->size;
    uint64_t seq = c->next_send++;
    size_t max = (b->mode == M_RAW ? 1 : WS_FRAME_HEADER_MAX) + n;
    uint8_t one[WS_FRAME_HEADER_MAX + 256], *p, *big = NULL;
    int h = 0;

    c->sent_at[seq % (uint64_t)b->depth] = uv_hrtime();
    /* built in place: in the gathering buffer, or on the stack (or heap) for one write */
    p = c->gathering ? out_reserve(c, max) : max <= sizeof one ? one : (big = malloc(max));
    if (!p)
        goto fail;
    if (b->mode == M_RAW) {
        memcpy(p, pat_at(seq, 0), n);
        p[n] = '\n';
        h = 1; /* the newline, after the payload */
    } else {
        uint8_t mask[4];
        h = ws_stream_data_header(&c->ws, p, b->binary ? WS_OP_BINARY : WS_OP_TEXT, true, n, mask);
        if (h < 0) {
            free(big);
            return; /* our close is out: nothing more to send */
        }
        memcpy(p + h, pat_at(seq, 0), n);
        ws_frame_mask(p + h, n, mask, 0);
    }
    if (c->gathering) {
        c->out_len += (size_t)h + n;
        return;
    }
    write_now(c, p, (size_t)h + n); /* a failure is counted there, and the connection closed */
    free(big);
    return;
fail:
    b->errors_conn++;
    close_conn(c);
}

/* big: at most this many 1 MiB fragments queued to the socket at once */
#define BIG_INFLIGHT 4

static void big_pump(struct conn *c);

static void on_big_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    free(req);
    c->b->big_inflight--;
    if (status == 0 && !c->closed)
        big_pump(c);
}

/* Generates and queues the next fragments of the one message, as the socket drains. */
static void big_pump(struct conn *c)
{
    struct bench *b = c->b;
    while (b->big_inflight < BIG_INFLIGHT && b->big_sent < b->size && !b->stopping) {
        size_t n = b->size - b->big_sent < PAT_SPAN ? (size_t)(b->size - b->big_sent) : PAT_SPAN;
        bool fin = b->big_sent + n == b->size;
        struct wreq *w = malloc(sizeof *w + WS_FRAME_HEADER_MAX + n);
        uint8_t mask[4];
        if (!w) {
            b->errors_conn++;
            close_conn(c);
            return;
        }
        int h = ws_stream_data_header(&c->ws, w->data, b->binary ? WS_OP_BINARY : WS_OP_TEXT, fin,
                                      n, mask);
        if (h < 0) {
            free(w);
            return;
        }
        memcpy(w->data + h, pat_at(0, b->big_sent), n);
        ws_frame_mask(w->data + h, n, mask, 0);
        if (c->ssl) {
            bool sent = tls_send(c, w->data, (size_t)h + n, on_big_written); /* its records */
            free(w);
            if (!sent)
                return;
        } else {
            w->req.data = c;
            uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)(h + n));
            if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_big_written) != 0) {
                free(w);
                b->errors_conn++;
                close_conn(c);
                return;
            }
        }
        b->big_sent += n;
        b->big_inflight++;
    }
}

/* hold: every 100 ms, one slot of the connections sends its echo (each once per -i). */
static void on_tick(uv_timer_t *t)
{
    struct bench *b = t->data;
    uint64_t slots = b->interval * 10 >= 1 ? (uint64_t)(b->interval * 10) : 1;
    for (uint64_t i = b->tick++ % slots; i < (uint64_t)b->launched; i += slots) {
        struct conn *c = &b->c[i];
        if (c->closed || c->phase != 2 || !c->warm)
            continue;
        if (c->next_send != c->next_recv) {
            b->late++; /* the last echo is not back after a whole interval */
            continue;
        }
        send_message(c);
    }
}

/* ------------------------------------------------------------------ reading */

/* Every read lands here and is consumed before the callback returns. */
static char rbuf[65536];

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    buf->base = rbuf;
    buf->len = sizeof rbuf;
}

static void finish(struct bench *b)
{
    if (!b->stopping || b->open_conns > 0)
        return;
    uv_timer_t *ts[] = {&b->stop_timer, &b->tick_timer, &b->drain_timer};
    for (int i = 0; i < 3; i++)
        if (!uv_is_closing((uv_handle_t *)ts[i]))
            uv_close((uv_handle_t *)ts[i], NULL);
}

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct bench *b = c->b;
    pmd_inflate_end(&c->inflate); /* --deflate: a message cut by the close */
    b->open_conns--;
    SSL_free(c->ssl); /* and its BIOs */
    c->ssl = NULL;
    if ((b->mode == M_CONNECT || b->mode == M_TLS) && !b->stopping && c->phase == 4) {
        b->cycles++;
        conn_start(b, c); /* next cycle */
        return;
    }
    settle(c); /* one that failed before its first echo */
    finish(b);
}

static bool tls_flush(struct conn *c, uv_write_cb cb);

static void close_conn(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    if (c->tls_up && !c->tls_fatal) {
        if (SSL_shutdown(c->ssl) >= 0)
            tls_flush(c, on_written); /* close_notify, when the socket takes it before the close */
        ERR_clear_error();
    }
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void raw_read(struct conn *c, const uint8_t *p, size_t n)
{
    while (n > 0 && !c->closed) {
        const uint8_t *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        check_piece(c, p, k);
        if (!nl)
            return;
        got_reply(c);
        p += k + 1;
        n -= k + 1;
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
        COMPLAIN("handshake refused: %.40s\n", c->hs);
        close_conn(c);
        return;
    }
    h_add(&b->hs_lat, uv_hrtime() - c->t_connect);
    c->phase = 2;
    ws_stream_init(&c->ws, WS_ROLE_CLIENT, &ws_settings);
    c->ws.data = c;
    if (b->deflate && !bench_deflate_start(&c->inflate, c->hs, &c->ws)) {
        b->errors_conn++;
        COMPLAIN("--deflate: the server did not agree to permessage-deflate\n");
        close_conn(c);
        return;
    }
    if (b->mode == M_BIG) {
        /* a big message dwarfs a spawn: the clock starts at the 101 */
        c->warm = true;
        b->warm = 1;
        c->next_send = 1;
        b->t_start = c->sent_at[0] = uv_hrtime();
        b->timing = true;
        big_pump(c);
    } else if (b->mode == M_RECV) {
        /* receive only: open is warm; the clock starts when every connection is */
        c->warm = true;
        settle(c);
    } else if (!b->stopping) {
        send_message(c); /* connect mode: the one echo; others: the warm-up echo */
    }
    if (n && !c->closed)
        ws_stream_execute(&c->ws, (uint8_t *)rest, n);
}

static void handle_read(struct conn *c, ssize_t n, const uv_buf_t *buf)
{
    struct bench *b = c->b;
    if (n < 0) {
        if (c->phase != 3 && !b->stopping) {
            b->errors_conn++;
            b->dropped += c->warm && (b->mode == M_HOLD || b->mode == M_RECV);
            if (c->phase < 2)
                COMPLAIN("connection closed before the handshake was done: %s\n",
                         uv_strerror((int)n));
        } else if (b->stopping && c->phase == 2 && c->next_recv != c->next_send) {
            b->unanswered++;
        }
        c->phase = 4;
        close_conn(c);
        return;
    }
    if (b->mode == M_RAW) {
        raw_read(c, (const uint8_t *)buf->base, (size_t)n);
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
                COMPLAIN("handshake response too long\n");
                close_conn(c);
            }
            return;
        }
        size_t head = (size_t)(end + 4 - c->hs), before = c->hslen - take;
        on_handshake_done(c, buf->base + (head - before), (size_t)n - (head - before));
    } else if (c->phase >= 2) {
        ws_stream_execute(&c->ws, (uint8_t *)buf->base, (size_t)n);
    }
    if (c->phase >= 2 && !c->closed && ws_stream_finished(&c->ws)) {
        c->phase = 4;
        close_conn(c);
    }
}

/* ------------------------------------------------------------------ TLS */

/* OpenSSL's last error (its queue emptied), for a complaint. */
static const char *tls_error(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (!e)
        return "no reason given";
    ERR_error_string_n(e, buf, len);
    return buf;
}

/* Writes the ciphertext SSL has produced, in one write; cb runs when it is out (req->data: c). */
static bool tls_flush(struct conn *c, uv_write_cb cb)
{
    size_t n = BIO_ctrl_pending(c->net_out);
    if (n == 0)
        return true;
    struct wreq *w = malloc(sizeof *w + n);
    int r = UV_ENOMEM;
    if (w && BIO_read(c->net_out, w->data, (int)n) == (int)n) {
        uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)n);
        w->req.data = c;
        if ((r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, cb)) == 0)
            return true;
    }
    free(w);
    COMPLAIN("write: %s\n", uv_strerror(r));
    c->b->errors_conn++;
    close_conn(c);
    return false;
}

/* Encrypts len bytes and writes their records at once; cb runs when they are out. */
static bool tls_send(struct conn *c, const void *data, size_t len, uv_write_cb cb)
{
    char e[256];
    /* a memory BIO never pushes back: SSL_write takes all of it or fails */
    if (SSL_write(c->ssl, data, (int)len) != (int)len) {
        COMPLAIN("TLS write: %s\n", tls_error(e, sizeof e));
        c->b->errors_conn++;
        close_conn(c);
        return false;
    }
    return tls_flush(c, cb);
}

/* TLS 1.2 and 1.3 hand the client sessions to resume; --resume keeps the newest ones. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
    struct bench *b = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (b->nsessions == TLS_SESSIONS) {
        SSL_SESSION_free(b->sessions[0]);
        memmove(b->sessions, b->sessions + 1, --b->nsessions * sizeof b->sessions[0]);
    }
    b->sessions[b->nsessions++] = session;
    return 1; /* the reference is ours */
}

/*
 * --resume: the newest session still resumable, or NULL; the caller owns the reference. OpenSSL's
 * TLS 1.3 client marks a ticket not resumable once a handshake with it is done ("use TLSv1.3
 * tickets once", RFC 8446 C.4), and an OpenSSL server sends its new tickets only after the
 * client's Finished, a round trip later: offering the one newest ticket to every connection made
 * those that started in between offer a spent ticket, i.e. a full handshake (87 % resumed against
 * OpenSSL servers, 99 % against Go's, which sends its ticket with its Finished). So a TLS 1.3
 * ticket goes to one connection; a TLS 1.2 one (reusable) stays for the next.
 */
static SSL_SESSION *take_session(struct bench *b)
{
    while (b->nsessions > 0) {
        SSL_SESSION *s = b->sessions[b->nsessions - 1];
        if (!SSL_SESSION_is_resumable(s)) {
            SSL_SESSION_free(s);
            b->nsessions--;
        } else if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION) {
            b->nsessions--;
            return s;
        } else {
            SSL_SESSION_up_ref(s);
            return s;
        }
    }
    return NULL;
}

/* A client context: TLS 1.2 and 1.3, or only version ("1.2", "1.3"). NULL when unknown. */
static SSL_CTX *tls_context(struct bench *b, const char *version)
{
    int v = 0;
    if (version && strcmp(version, "1.2") == 0)
        v = TLS1_2_VERSION;
    else if (version && strcmp(version, "1.3") == 0)
        v = TLS1_3_VERSION;
    else if (version)
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, v ? v : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, v);          /* 0: the highest */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* a load client: any certificate */
    SSL_CTX_set_app_data(ctx, b);
    if (b->mode == M_HOLD)
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* 10,000 idle sessions */
    if (b->resume) {
        SSL_CTX_set_session_cache_mode(ctx,
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    }
    return ctx;
}

/* The server certificate's key, e.g. "ECDSA 256" or "RSA 2048". */
static void tls_describe_key(SSL *ssl, char *out, size_t len)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    X509 *cert = SSL_get1_peer_certificate(ssl);
#else
    X509 *cert = SSL_get_peer_certificate(ssl);
#endif
    EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
    if (!key) {
        snprintf(out, len, "unknown");
    } else {
        int id = EVP_PKEY_base_id(key);
        snprintf(out, len, "%s %d",
                 id == EVP_PKEY_EC        ? "ECDSA"
                 : id == EVP_PKEY_RSA     ? "RSA"
                 : id == EVP_PKEY_ED25519 ? "Ed25519"
                                          : OBJ_nid2sn(id),
                 EVP_PKEY_bits(key));
    }
    X509_free(cert);
}

static void send_upgrade(struct conn *c);

static void tls_handshake_done(struct conn *c)
{
    struct bench *b = c->b;
    c->tls_up = true;
    h_add(&b->tls_lat, uv_hrtime() - c->t_connect);
    if (SSL_session_reused(c->ssl))
        b->tls_resumed++;
    else
        b->tls_full++;
    if (!b->tls_proto[0]) {
        snprintf(b->tls_proto, sizeof b->tls_proto, "%s", SSL_get_version(c->ssl));
        snprintf(b->tls_cipher, sizeof b->tls_cipher, "%s", SSL_get_cipher_name(c->ssl));
        tls_describe_key(c->ssl, b->tls_key, sizeof b->tls_key);
    }
    if (b->mode == M_TLS) {
        /* the cycle's work is done: close_notify, then the server's close ends it */
        uint64_t now = uv_hrtime();
        h_add(&b->lat, now - c->t_connect);
        h_add(&b->cycle_lat, now - c->t_connect);
        b->msgs++;
        if (b->count && b->msgs >= b->count && !b->stopping)
            uv_timer_start(&b->stop_timer, on_stop, 0, 0);
        c->phase = 3;
        if (SSL_shutdown(c->ssl) >= 0)
            tls_flush(c, on_written);
        ERR_clear_error();
        return;
    }
    send_upgrade(c);
}

/* A TLS failure ends the connection as a lost one would (counted the same way). */
static void tls_fail(struct conn *c, const char *what)
{
    char e[256];
    COMPLAIN("%s: %s\n", what, tls_error(e, sizeof e));
    c->tls_fatal = true;
    if (c->ssl)
        tls_flush(c, on_written); /* the alert, when SSL made one */
    handle_read(c, UV_EPROTO, NULL);
}

/* After the TCP connect: the session, and its ClientHello written. */
static bool tls_start(struct conn *c)
{
    struct bench *b = c->b;
    c->ssl = SSL_new(b->ssl_ctx);
    c->net_in = BIO_new(BIO_s_mem());
    c->net_out = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->net_in || !c->net_out) {
        BIO_free(c->net_in);
        BIO_free(c->net_out);
        SSL_free(c->ssl);
        c->ssl = NULL;
        tls_fail(c, "TLS session");
        return false;
    }
    SSL_set_bio(c->ssl, c->net_in, c->net_out);
    SSL_set_connect_state(c->ssl);
    SSL_SESSION *offer = b->resume ? take_session(b) : NULL;
    if (offer) {
        SSL_set_session(c->ssl, offer); /* takes its own reference */
        SSL_SESSION_free(offer);
    }
    if (SSL_do_handshake(c->ssl) != 1 && SSL_get_error(c->ssl, -1) != SSL_ERROR_WANT_READ) {
        tls_fail(c, "TLS handshake");
        return false;
    }
    return tls_flush(c, on_written);
}

/* Every plaintext read of a wss:// connection lands here, as ciphertext does in rbuf. */
static char pbuf[65536];

/* wss://: ciphertext in; the handshake advances, or the plaintext goes to handle_read. */
static void tls_read(struct conn *c, ssize_t n, const uv_buf_t *buf)
{
    if (n < 0) {
        handle_read(c, n, buf);
        return;
    }
    if (BIO_write(c->net_in, buf->base, (int)n) != (int)n) {
        tls_fail(c, "TLS input");
        return;
    }
    if (!c->tls_up) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
                tls_flush(c, on_written);
            else
                tls_fail(c, "TLS handshake");
            return;
        }
        tls_flush(c, on_written); /* TLS 1.3: the client's Finished */
        if (c->closed)
            return;
        tls_handshake_done(c);
    }
    while (!c->closed) {
        int k = SSL_read(c->ssl, pbuf, sizeof pbuf);
        if (k > 0) {
            uv_buf_t plain = uv_buf_init(pbuf, (unsigned)k);
            handle_read(c, k, &plain);
            continue;
        }
        int e = SSL_get_error(c->ssl, k);
        if (e == SSL_ERROR_ZERO_RETURN)
            handle_read(c, UV_EOF, NULL); /* close_notify: as the end of the stream */
        else if (e != SSL_ERROR_WANT_READ)
            tls_fail(c, "TLS read");
        break;
    }
    if (!c->closed)
        tls_flush(c, on_written); /* what reading made SSL say (a key update's answer) */
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = st->data;

    c->gathering = true;
    if (c->ssl)
        tls_read(c, n, buf);
    else
        handle_read(c, n, buf);
    out_flush(c);
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
        COMPLAIN("connect: %s\n", uv_strerror(status));
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
    c->phase = 1;
    if (b->ssl_ctx)
        tls_start(c); /* the upgrade request follows the TLS handshake */
    else
        send_upgrade(c);
}

/* The HTTP upgrade request. */
static void send_upgrade(struct conn *c)
{
    struct bench *b = c->b;
    uint8_t raw[16];
    for (int i = 0; i < 16; i++)
        raw[i] = (uint8_t)rand();
    EVP_EncodeBlock((unsigned char *)c->key, raw, 16);
    char req_buf[512];
    int len =
        snprintf(req_buf, sizeof req_buf,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                 b->path, b->host, c->key, b->deflate ? BENCH_DEFLATE_OFFER : "");
    write_bytes(c, req_buf, (size_t)len);
}

static void conn_start(struct bench *b, struct conn *c)
{
    uint64_t *ring = c->sent_at;
    uint8_t *out = c->out;
    size_t out_cap = c->out_cap;
    memset(c, 0, sizeof *c);
    c->sent_at = ring;
    c->out = out; /* the gathering buffer is kept from one connect cycle to the next */
    c->out_cap = out_cap;
    c->b = b;
    uv_tcp_init(b->loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    c->t_connect = uv_hrtime();
    b->open_conns++;
    int r = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&b->addr, on_connect);
    if (r != 0) {
        b->errors_conn++;
        COMPLAIN("connect: %s\n", uv_strerror(r));
        c->phase = 4;
        close_conn(c);
    }
}

/* ------------------------------------------------------------------ run and report */

/* hold: the echoes still out when the hold ended had 10 s to come back. */
static void on_drain(uv_timer_t *t)
{
    struct bench *b = t->data;
    for (int i = 0; i < b->launched; i++) {
        struct conn *c = &b->c[i];
        if (c->closed)
            continue;
        if (c->phase == 2 && c->next_recv != c->next_send)
            b->unanswered++;
        close_ws(c);
    }
    finish(b);
}

static void on_stop(uv_timer_t *t)
{
    struct bench *b = t->data;
    bool waiting = false;
    if (b->stopping)
        return;
    b->stopping = true;
    if (!b->big_done)
        b->t_end = uv_hrtime();
    if (b->mode == M_BIG && !b->big_done) {
        b->errors_conn++;
        COMPLAIN("big: the message was not back within -t %.0f s\n", b->seconds);
    }
    uv_timer_stop(&b->tick_timer);
    if (b->npids)
        mem_sample(b->server_pid, b->npids, &b->mem1); /* while the connections are still open */
    for (int i = 0; i < b->launched; i++) {
        struct conn *c = &b->c[i];
        if (c->closed)
            continue;
        if (b->mode == M_HOLD && c->phase == 2 && c->next_recv != c->next_send) {
            waiting = true; /* its echo may still come */
            continue;
        }
        if ((b->mode == M_HOLD || b->mode == M_RECV) && c->phase == 2)
            b->healthy++;
        close_ws(c);
    }
    if (waiting)
        uv_timer_start(&b->drain_timer, on_drain, 10000, 0);
    finish(b);
}

/* Sizes with an optional K, M or G suffix (powers of 1024). 0 when malformed. */
static uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (*end || end == s || v > (UINT64_MAX >> shift))
        return 0;
    return (uint64_t)v << shift;
}

/* -p PID[,PID...]: false when malformed or too many. */
static bool parse_pids(struct bench *b, const char *s)
{
    b->npids = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > INT32_MAX || b->npids == MAX_PIDS || (*end && *end != ','))
            return false;
        b->server_pid[b->npids++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return b->npids > 0;
}

/* A client of N connections needs N descriptors: soft limit up to the hard one (root: raised). */
static void raise_nofile(int conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)conns + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    struct rlimit up = {want, rl.rlim_max > want ? rl.rlim_max : want};
    if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
        up.rlim_cur = up.rlim_max = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &up);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
        fprintf(stderr, "wsbridge-bench: open file limit %lu < %lu: some connections will fail\n",
                (unsigned long)rl.rlim_cur, (unsigned long)want);
}

static void usage(FILE *out)
{
    fputs("Usage: wsbridge-bench [OPTIONS] ws[s]://HOST:PORT/PATH | tcp://HOST:PORT\n"
          "  -m, --mode=MODE     echo (default), raw (tcp:// line echo), connect, hold, big,\n"
          "                      recv (receive only: a shared program's broadcast),\n"
          "                      tls (wss:// TLS handshakes alone: no HTTP, no program)\n"
          "  -c, --connections=N connections (default 1; hold: e.g. 10000)\n"
          "  -d, --depth=N       messages in flight per connection (default 1)\n"
          "  -s, --size=BYTES    payload size, K/M/G suffixes (default 16; big: e.g. 1G)\n"
          "  -b, --binary        binary messages (default text)\n"
          "  -t, --time=SECONDS  run time (default 5); hold: how long all are held;\n"
          "                      big: the time limit (default 600)\n"
          "  -i, --interval=SECONDS  hold: each connection echoes once per interval (default 5)\n"
          "  -r, --ramp=N        connections being opened at once (default: all; hold: 64)\n"
          "  -n, --count=N       stop after N messages in all\n"
          "  -p, --server-pid=PID, --pid=PID  report the server's RSS, PSS and peak RSS and\n"
          "                      its children's, before and at the end (connections open);\n"
          "                      the server is PID and its descendants running the same\n"
          "                      executable (--workers), the children all other descendants;\n"
          "                      PID,PID (at most 4): e.g. a TLS proxy and the server behind\n"
          "                      it, every figure summed over both\n"
          "      --tls-version=V wss://: only TLS 1.2 or only 1.3 (default: either, the\n"
          "                      newest the server takes)\n"
          "      --resume        wss://: each connection offers the newest session the\n"
          "                      server handed out (a ticket; a TLS 1.3 one to one connection\n"
          "                      only, as OpenSSL wants); reports how many were resumed\n"
          "  -j, --json          print only the JSON line\n"
          "      --deflate       offer permessage-deflate (as Chrome does), inflate replies;\n"
          "                      payloads are JSON-like text (sent uncompressed)\n"
          "      --json-payload  the same JSON-like payloads without offering deflate\n"
          "                      (a like-for-like reference for --deflate runs)\n"
          "  -h, --help\n"
          "The server must echo lines (e.g. wsbridge ... cat). Every reply is checked.\n"
          "Timing starts when every connection's first echo is back (the child runs).\n"
          "Each reply is answered by the next message (-d stays full); the messages sent\n"
          "while one read is handled go out in one write, as a real pipelining client's.\n"
          "hold: healthy = still open at the end with every echo answered; late = an echo\n"
          "not back when the next was due. big: one message streamed in 1 MiB fragments,\n"
          "MB/s = its size over the round trip; watch the server's peak RSS.\n"
          "recv: once every connection is open, one of them sends \"go\" (bench/ticker starts\n"
          "printing on it), then nothing; each message must be a decimal CLOCK_MONOTONIC\n"
          "time in ns (bench/ticker prints them), its latency is now minus that time (one\n"
          "machine, one clock); msg/s = messages delivered to all connections together.\n"
          "The clock starts once every connection is open (-r at a time, default 64).\n"
          "The client opens as many descriptors as connections and raises its own limit.\n"
          "With -p, the server's CPU time (user + system, from /proc) per message in the\n"
          "timed window: steadier than msg/s when the machine is shared; also the CPU of\n"
          "the programs it reaped in the window (connect: one per cycle) and the client's\n"
          "own, per message (children_cpu_us_per_msg, client_cpu_us_per_msg).\n"
          "The client reports its own CPU use: near 100% means it, not the server,\n"
          "is the bottleneck. Exit status 1 when any error was counted.\n"
          "wss:// runs every mode over TLS (OpenSSL through memory BIOs; the server's\n"
          "certificate is not verified: a load client). The handshake time then includes\n"
          "the TLS handshake, also reported alone with the version, the cipher, the\n"
          "server's key and the number of full and resumed handshakes.\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"mode", 1, 0, 'm'},
                                         {"connections", 1, 0, 'c'},
                                         {"depth", 1, 0, 'd'},
                                         {"size", 1, 0, 's'},
                                         {"binary", 0, 0, 'b'},
                                         {"time", 1, 0, 't'},
                                         {"interval", 1, 0, 'i'},
                                         {"ramp", 1, 0, 'r'},
                                         {"count", 1, 0, 'n'},
                                         {"server-pid", 1, 0, 'p'},
                                         {"pid", 1, 0, 'p'},
                                         {"json", 0, 0, 'j'},
                                         {"deflate", 0, 0, 'z'},
                                         {"json-payload", 0, 0, 'J'},
                                         {"help", 0, 0, 'h'},
                                         {"tls-version", 1, 0, 'V'},
                                         {"resume", 0, 0, 'R'},
                                         {0, 0, 0, 0}};
    const char *tls_version = NULL;
    static struct bench one; /* static: every early return (a usage error) frees nothing */
    struct bench *b = &one;
    int o;
    bool time_given = false;
    b->conns = 1, b->depth = 1, b->size = 16, b->seconds = 5, b->interval = 5;
    while ((o = getopt_long(argc, argv, "m:c:d:s:bt:i:r:n:p:jh", opts, NULL)) != -1) {
        switch (o) {
        case 'm': {
            unsigned i = 0;
            while (i < N_MODES && strcmp(optarg, mode_names[i]) != 0)
                i++;
            if (i == N_MODES) {
                fprintf(stderr, "wsbridge-bench: unknown mode %s\n", optarg);
                return 2;
            }
            b->mode = (enum mode)i;
            break;
        }
        case 'c':
            b->conns = atoi(optarg);
            break;
        case 'd':
            b->depth = atoi(optarg);
            break;
        case 's':
            b->size = parse_size(optarg);
            break;
        case 'b':
            b->binary = true;
            break;
        case 't':
            b->seconds = atof(optarg), time_given = true;
            break;
        case 'i':
            b->interval = atof(optarg);
            break;
        case 'r':
            b->ramp = atoi(optarg);
            break;
        case 'n':
            b->count = (uint64_t)atoll(optarg);
            break;
        case 'p':
            if (!parse_pids(b, optarg)) {
                fprintf(stderr, "wsbridge-bench: -p wants PID[,PID...] (at most %d)\n", MAX_PIDS);
                return 2;
            }
            break;
        case 'j':
            b->json_only = true;
            break;
        case 'z':
            b->deflate = true;
            break;
        case 'J':
            b->json_payload = true;
            break;
        case 'V':
            tls_version = optarg;
            break;
        case 'R':
            b->resume = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || b->conns < 1 || b->depth < 1 || b->size < 1 || b->seconds <= 0 ||
        b->interval <= 0 || b->ramp < 0) {
        usage(stderr);
        return 2;
    }
    if (b->mode != M_BIG && b->size > 64 << 20) {
        fprintf(stderr, "wsbridge-bench: -s above 64M is for big mode\n");
        return 2;
    }
    if (b->mode == M_HOLD || b->mode == M_BIG)
        b->depth = 1;
    if (b->mode == M_BIG) {
        b->conns = 1;
        if (!time_given)
            b->seconds = 600;
    }
    if (b->ramp == 0)
        b->ramp = b->mode == M_HOLD || b->mode == M_RECV ? 64 : b->conns;
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
    bool tls = strncmp(url, "wss://", 6) == 0;
    if ((b->mode == M_RAW) != (strncmp(url, "tcp://", 6) == 0) ||
        (b->mode != M_RAW && !tls && strncmp(url, "ws://", 5) != 0)) {
        fprintf(stderr, "wsbridge-bench: raw mode needs tcp://, the others ws:// or wss://\n");
        return 2;
    }
    if (!tls && (tls_version || b->resume || b->mode == M_TLS)) {
        fprintf(stderr, "wsbridge-bench: tls mode, --tls-version and --resume need wss://\n");
        return 2;
    }
    if (tls && !(b->ssl_ctx = tls_context(b, tls_version))) {
        fprintf(stderr, "wsbridge-bench: %s\n",
                tls_version ? "--tls-version takes 1.2 or 1.3" : "no TLS context");
        return 2;
    }

    raise_nofile(b->conns);
    pat_init();
    if (b->deflate || b->json_payload)
        bench_deflate_json(pat, sizeof pat);
    b->mem0 = b->mem1 = b->mem_t = (struct mem){-1, -1, -1, -1, -1, -1, -1, 0};
    if (b->npids)
        mem_sample(b->server_pid, b->npids, &b->mem0);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    b->loop = uv_default_loop();
    b->c = calloc((size_t)b->conns, sizeof *b->c);
    if (!b->c)
        return 3;
    uv_timer_init(b->loop, &b->stop_timer);
    uv_timer_init(b->loop, &b->tick_timer);
    uv_timer_init(b->loop, &b->drain_timer);
    b->stop_timer.data = b->tick_timer.data = b->drain_timer.data = b;
    b->t_start = uv_hrtime();
    b->timing = b->mode == M_CONNECT || b->mode == M_TLS;
    b->mem_t = b->mem0; /* connect and big: the server's CPU from the start */
    for (int i = 0; i < b->conns; i++)
        if (!(b->c[i].sent_at = calloc((size_t)b->depth, sizeof(uint64_t))))
            return 3;
    launch(b);
    /*
     * connect and big modes time from the start (big: -t is the limit); the
     * others once all are warm, with 60 s to get there (hold: and 20 ms a
     * connection, as 10,000 spawns take their time)
     */
    uint64_t limit = (uint64_t)(b->seconds * 1000);
    if (b->mode != M_CONNECT && b->mode != M_TLS && b->mode != M_BIG)
        limit += 60000 + (b->mode == M_HOLD || b->mode == M_RECV ? 20 * (uint64_t)b->conns : 0);
    uv_timer_start(&b->stop_timer, on_stop, limit, 0);
    uv_run(b->loop, UV_RUN_DEFAULT);
    getrusage(RUSAGE_SELF, &ru1);
    if (uv_loop_close(b->loop) != 0)
        fprintf(stderr, "wsbridge-bench: handles left open at the end\n");

    if (!b->timing)
        b->t_start = b->t_end; /* never got going: no rates */
    double secs = (double)(b->t_end - b->t_start) / 1e9;
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                          ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                          ru0.ru_stime.tv_usec) /
                     1e6;
    double rate = secs > 0 ? (double)b->msgs / secs : 0,
           mbs = secs > 0 ? (double)b->bytes / secs / 1e6 : 0;
    /* server CPU per message: steadier than msg/s on a loaded machine */
    double srv_cpu = b->npids && b->mem1.procs > 0 ? b->mem1.cpu - b->mem_t.cpu : -1;
    double cpu_msg = srv_cpu >= 0 && b->msgs ? srv_cpu * 1e6 / (double)b->msgs : -1;
    /* the programs' CPU (connect: one per cycle), reaped in the window; and the client's own */
    double kids_msg = srv_cpu >= 0 && b->msgs
                          ? (b->mem1.kids_cpu - b->mem_t.kids_cpu) * 1e6 / (double)b->msgs
                          : -1;
    double cli_msg = b->msgs ? cpu * 1e6 / (double)b->msgs : -1;
    double cps = secs > 0 ? (double)b->cycles / secs : 0,
           cpu_pct = secs > 0 ? 100.0 * cpu / secs : 0;
    uint64_t errors = b->errors_proto + b->errors_conn + b->errors_verify + b->unanswered;
    const char *mname = mode_names[b->mode];
    if (!b->json_only) {
        printf("%s c=%d d=%d s=%" PRIu64 " %s: %.0f msg/s, %.2f MB/s over %.2f s\n", mname,
               b->conns, b->depth, b->size, b->binary ? "binary" : "text", rate, mbs, secs);
        printf("  latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f\n", h_pct(&b->lat, .5),
               h_pct(&b->lat, .9), h_pct(&b->lat, .99), (double)b->lat.max / 1e3);
        if (b->mode != M_RAW)
            printf("  handshake us: p50 %.0f  p99 %.0f\n", h_pct(&b->hs_lat, .5),
                   h_pct(&b->hs_lat, .99));
        if (b->ssl_ctx)
            printf("  TLS: %s %s, server key %s; handshakes %" PRIu64 " full, %" PRIu64
                   " resumed; TLS handshake us p50 %.0f p99 %.0f\n",
                   b->tls_proto[0] ? b->tls_proto : "none", b->tls_cipher, b->tls_key, b->tls_full,
                   b->tls_resumed, h_pct(&b->tls_lat, .5), h_pct(&b->tls_lat, .99));
        if (b->mode == M_CONNECT || b->mode == M_TLS)
            printf("  cycles: %" PRIu64 " (%.0f/s), cycle us p50 %.0f p99 %.0f\n", b->cycles, cps,
                   h_pct(&b->cycle_lat, .5), h_pct(&b->cycle_lat, .99));
        if (b->mode == M_HOLD)
            printf("  hold: %d of %d opened and warm, %" PRIu64 " healthy at the end; late %" PRIu64
                   ", unanswered %" PRIu64 ", dropped %" PRIu64 "\n",
                   b->warm, b->conns, b->healthy, b->late, b->unanswered, b->dropped);
        if (b->mode == M_RECV)
            printf("  recv: %d of %d opened, %" PRIu64 " open at the end, %" PRIu64 " lost\n",
                   b->warm, b->conns, b->healthy, b->dropped);
        if (b->mode == M_BIG)
            printf("  big: %" PRIu64 " bytes %s\n", b->size,
                   !b->big_done       ? "NOT back"
                   : b->errors_verify ? "back, DIFFERENT"
                                      : "back and the same");
        printf("  errors: protocol %" PRIu64 ", connection %" PRIu64 ", verify %" PRIu64
               ", unanswered %" PRIu64 "\n",
               b->errors_proto, b->errors_conn, b->errors_verify, b->unanswered);
        printf("  client CPU: %.0f%%\n", cpu_pct);
        if (srv_cpu >= 0)
            printf("  server CPU: %.2f s in the timed window, %.1f us per message; the programs "
                   "it reaped %.1f us per message; the client %.1f us per message\n",
                   srv_cpu, cpu_msg, kids_msg, cli_msg);
        if (b->npids)
            printf("  server (%ld -> %ld processes) KiB: RSS %ld -> %ld, PSS %ld -> %ld, peak RSS "
                   "%ld; children: %ld -> %ld, RSS %ld -> %ld, PSS %ld -> %ld\n",
                   b->mem0.procs, b->mem1.procs, b->mem0.rss, b->mem1.rss, b->mem0.pss, b->mem1.pss,
                   b->mem1.hwm, b->mem0.kids, b->mem1.kids, b->mem0.kids_rss, b->mem1.kids_rss,
                   b->mem0.kids_pss, b->mem1.kids_pss);
    }
    printf("{\"mode\":\"%s\",\"c\":%d,\"d\":%d,\"s\":%" PRIu64 ",\"binary\":%s,\"seconds\":%.3f,"
           "\"messages\":%" PRIu64 ",\"msg_per_s\":%.1f,\"mb_per_s\":%.3f,\"p50_us\":%.1f,"
           "\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"handshake_p50_us\":%.1f,"
           "\"cycles\":%" PRIu64 ",\"cycles_per_s\":%.1f,\"opened\":%d,\"healthy\":%" PRIu64
           ",\"late\":%" PRIu64 ",\"unanswered\":%" PRIu64 ",\"dropped\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"client_cpu_pct\":%.1f,\"server_cpu_s\":%.3f,"
           "\"server_cpu_us_per_msg\":%.2f,\"children_cpu_us_per_msg\":%.2f,"
           "\"client_cpu_us_per_msg\":%.2f,\"server_procs\":[%ld,%ld],"
           "\"server_rss_kib\":[%ld,%ld],"
           "\"server_pss_kib\":[%ld,%ld],\"server_hwm_kib\":%ld,\"children\":[%ld,%ld],"
           "\"children_rss_kib\":[%ld,%ld],\"children_pss_kib\":[%ld,%ld],",
           mname, b->conns, b->depth, b->size, b->binary ? "true" : "false", secs, b->msgs, rate,
           mbs, h_pct(&b->lat, .5), h_pct(&b->lat, .9), h_pct(&b->lat, .99),
           (double)b->lat.max / 1e3, h_pct(&b->hs_lat, .5), b->cycles, cps, b->warm, b->healthy,
           b->late, b->unanswered, b->dropped, errors, cpu_pct, srv_cpu, cpu_msg, kids_msg, cli_msg,
           b->mem0.procs,
           b->mem1.procs, b->mem0.rss, b->mem1.rss, b->mem0.pss, b->mem1.pss, b->mem1.hwm,
           b->mem0.kids, b->mem1.kids, b->mem0.kids_rss, b->mem1.kids_rss, b->mem0.kids_pss,
           b->mem1.kids_pss);
    if (b->ssl_ctx)
        printf(
            "\"tls\":\"%s\",\"tls_cipher\":\"%s\",\"tls_server_key\":\"%s\",\"tls_full\":%" PRIu64
            ",\"tls_resumed\":%" PRIu64 ",\"tls_handshake_p50_us\":%.1f,"
            "\"tls_handshake_p99_us\":%.1f,",
            b->tls_proto, b->tls_cipher, b->tls_key, b->tls_full, b->tls_resumed,
            h_pct(&b->tls_lat, .5), h_pct(&b->tls_lat, .99));
    printf("\"close_codes\":{");
    for (unsigned i = 0; i < 16 && b->closes[i]; i++)
        printf("%s\"%u\":%u", i ? "," : "", b->close_code[i], b->closes[i]);
    printf("}}\n");
    for (int i = 0; i < b->conns; i++) {
        free(b->c[i].sent_at);
        free(b->c[i].out);
    }
    free(b->c);
    while (b->nsessions > 0)
        SSL_SESSION_free(b->sessions[--b->nsessions]);
    SSL_CTX_free(b->ssl_ctx);
    return errors ? 1 : 0;
}
