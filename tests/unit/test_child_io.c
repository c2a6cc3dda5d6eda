/*
 * test_child_io: the child's stdio interface (child.h) on a real child and a real loop:
 * stdin writes complete once each, in order, later, with their status; the queue size;
 * reading paused and resumed; EOF after the queued writes; the stderr line logger (the pure
 * cutter split every way, and the real logger on a program's stderr); every handle closed
 * and every buffer given back (the sanitized build checks for leaks).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "buf.h"
#include "child.h"
#include "tap.h"

/* ---------------------------------------------------------------- the line cutter */

struct lines {
    char out[8192];
    size_t len;
};

/* Records each line as "text|". */
static void rec_line(void *ctx, const char *p, size_t n)
{
    struct lines *r = ctx;
    if (r->len + n + 2 > sizeof r->out)
        return;
    memcpy(r->out + r->len, p, n);
    r->len += n;
    r->out[r->len++] = '|';
    r->out[r->len] = '\0';
}

/* Feeds in in pieces of step bytes (0: whole), then EOF. */
static void cut(const char *in, size_t n, size_t step, struct lines *r)
{
    struct child_errlines l = {0};

    r->len = 0;
    r->out[0] = '\0';
    for (size_t off = 0; off < n;) {
        size_t k = step && n - off > step ? step : n - off;
        child_errlines_feed(&l, in + off, k, rec_line, r);
        off += k;
    }
    child_errlines_finish(&l, rec_line, r);
}

static void cut_every_way(const char *name, const char *in, size_t n, const char *want)
{
    struct lines r;
    int bad = 0;

    for (size_t step = 0; step <= n; step++) {
        cut(in, n, step, &r);
        if (strcmp(r.out, want) != 0) {
            if (!bad)
                diag("  step %zu: got '%.200s' want '%.200s'", step, r.out, want);
            bad++;
        }
    }
    ok(bad == 0, "%s (whole and split every way)", name);
}

static void test_lines(void)
{
    static char in[4 * CHILD_ERRLINE_MAX], want[4 * CHILD_ERRLINE_MAX];
    size_t n;

#define S(lit) lit, sizeof lit - 1
    cut_every_way("lines cut at \\n, one \\r before it dropped, empty lines kept, rest at EOF",
                  S("one\r\ntwo\n\nth\rree\r\r\nlast"), "one|two||th\rree\r|last|");
    cut_every_way("a \\r at EOF is data", S("x\r"), "x\r|");
    cut_every_way("nothing: no line", S(""), "");
    cut_every_way("a \\n alone: one empty line", S("\n"), "|");
#undef S

    /* A line longer than the bound: its first CHILD_ERRLINE_MAX bytes, the rest dropped. */
    n = 0;
    for (size_t i = 0; i < CHILD_ERRLINE_MAX + 700; i++)
        in[n++] = (char)('a' + i % 26);
    memcpy(in + n, "\nnext\n", 6);
    n += 6;
    memcpy(want, in, CHILD_ERRLINE_MAX);
    strcpy(want + CHILD_ERRLINE_MAX, "|next|");
    cut_every_way("a long line is cut to CHILD_ERRLINE_MAX, the next line whole", in, n, want);

    /* Exactly the bound, with \r\n: whole, without the \r. */
    memset(in, 'x', CHILD_ERRLINE_MAX);
    memcpy(in + CHILD_ERRLINE_MAX, "\r\nz", 3);
    memset(want, 'x', CHILD_ERRLINE_MAX);
    strcpy(want + CHILD_ERRLINE_MAX, "|z|");
    cut_every_way("a line of exactly CHILD_ERRLINE_MAX bytes and \\r\\n: whole", in,
                  CHILD_ERRLINE_MAX + 3, want);

    /* One byte more than the bound: cut. */
    memset(in, 'y', CHILD_ERRLINE_MAX + 1);
    in[CHILD_ERRLINE_MAX + 1] = '\n';
    memset(want, 'y', CHILD_ERRLINE_MAX);
    strcpy(want + CHILD_ERRLINE_MAX, "|");
    cut_every_way("CHILD_ERRLINE_MAX + 1 bytes: cut", in, CHILD_ERRLINE_MAX + 2, want);

    /* A long last line without \n: cut, logged once. */
    memset(in, 'w', 2 * CHILD_ERRLINE_MAX);
    memset(want, 'w', CHILD_ERRLINE_MAX);
    strcpy(want + CHILD_ERRLINE_MAX, "|");
    cut_every_way("a long last line without \\n: cut, once", in, 2 * CHILD_ERRLINE_MAX, want);
}

/* ---------------------------------------------------------------- a real child */

#define NWRITES 64u
#define WRITE_LEN (32u * 1024u) /* 2 MiB in all: more than the pipes hold */
#define OFF 100u                /* where our alloc puts the reads inside the held buffer */

static uv_loop_t *loop;

static struct {
    struct child c;
    struct child_write w[NWRITES];
    uint8_t data[NWRITES][WRITE_LEN];
    int done[NWRITES]; /* callbacks per write */
    int status[NWRITES];
    unsigned order[NWRITES], ndone;
    bool in_call; /* inside child_write(): a callback now is a failure */
    int cb_in_call;
    uint8_t *out;
    size_t outlen;
    int reads, eofs, bad_buf, exited, closed;
    struct buf *hold; /* the buffer our alloc reads into, at OFF */
    bool stop_after_first;
} t;

static void write_cb(struct child_write *w, int status)
{
    unsigned i = (unsigned)(w - t.w);

    if (t.in_call)
        t.cb_in_call++;
    t.done[i]++;
    t.status[i] = status;
    t.order[t.ndone++ % NWRITES] = i;
}

static struct buf *io_alloc(struct child *c, enum child_stream st, size_t *off)
{
    (void)c;
    (void)st;
    if (!t.hold)
        t.hold = buf_get();
    if (!t.hold)
        return NULL;
    buf_ref(t.hold); /* the read's reference */
    *off = OFF;
    return t.hold;
}

static void io_read(struct child *c, enum child_stream st, ssize_t nread, struct buf *b, size_t off)
{
    if (st != CHILD_STDOUT || (nread > 0 && (b != t.hold || off != OFF)))
        t.bad_buf++;
    if (nread > 0) {
        t.reads++;
        memcpy(t.out + t.outlen, b->data + off, (size_t)nread);
        t.outlen += (size_t)nread;
        if (t.stop_after_first)
            child_read_stop(c, CHILD_STDOUT);
    } else if (nread < 0) {
        t.eofs++;
        child_close_stdout(c);
    }
    buf_unref(b);
}

static const struct child_io_settings io = {.on_alloc = io_alloc, .on_read = io_read};

static void on_exit_cb(struct child *c)
{
    (void)c;
    t.exited++;
}

static void on_closed_cb(struct child *c)
{
    (void)c;
    t.closed++;
}

static void tick(uv_timer_t *h)
{
    (void)h;
}

/* Runs the loop until *flag (or ms pass). */
static void run_until(const int *flag, unsigned ms)
{
    uv_timer_t timer;
    uint64_t end;

    uv_update_time(loop);
    end = uv_now(loop) + ms;
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, tick, 5, 5);
    while (!(flag && *flag) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static int spawn(const char *cmd)
{
    static char sh[] = "/bin/sh", dash_c[] = "-c", path[] = "PATH=/usr/bin:/bin";
    char *argv[] = {sh, dash_c, (char *)(uintptr_t)cmd, NULL};
    char *env[] = {path, NULL};

    memset(&t.c, 0, sizeof t.c);
    t.c.data = &t;
    t.c.on_exit = on_exit_cb;
    t.c.on_closed = on_closed_cb;
    t.c.io = &io;
    t.exited = t.closed = 0;
    return child_spawn(&t.c, loop, "/bin/sh", argv, env, 0);
}

static void close_child(void)
{
    child_close(&t.c);
    run_until(&t.closed, 5000);
    is_int(t.closed, 1, "on_closed once: every handle closed");
}

static void test_cat(void)
{
    unsigned i;
    int all, r, done_all;
    size_t q;

    memset(t.done, 0, sizeof t.done);
    t.ndone = 0;
    t.outlen = 0;
    t.reads = t.eofs = t.bad_buf = 0;
    is_int(spawn("exec cat"), 0, "cat started");

    /* Writes while nobody reads stdout: cat blocks, the pipes fill, the queue grows. */
    for (i = 0; i < NWRITES; i++) {
        uv_buf_t b[2];
        memset(t.data[i], 'A' + (int)(i % 26), WRITE_LEN);
        b[0] = uv_buf_init((char *)t.data[i], WRITE_LEN / 2);
        b[1] = uv_buf_init((char *)t.data[i] + WRITE_LEN / 2, WRITE_LEN / 2);
        t.in_call = true;
        r = child_write(&t.c, &t.w[i], b, 2, write_cb);
        t.in_call = false;
        if (r != 0)
            break;
    }
    is_int(i, NWRITES, "every write accepted");
    is_int(t.cb_in_call, 0, "no callback inside child_write()");
    is_int(t.ndone, 0, "no callback before the loop runs");
    run_until(NULL, 200);
    q = child_stdin_queued(&t.c);
    ok(q > CHILD_HIGH_WATER && q < NWRITES * WRITE_LEN,
       "a child that does not drain: the queue is over CHILD_HIGH_WATER (%zu bytes)", q);
    ok(t.ndone > 0 && t.ndone < NWRITES, "some writes completed, not all (%u)", t.ndone);
    ok(child_stdin_open(&t.c), "stdin open");

    /* EOF is asked for now, and comes after the queued writes. */
    child_close_stdin(&t.c);
    ok(!child_stdin_open(&t.c), "after child_close_stdin(): closing");
    is_int(
        child_write(&t.c, &t.w[0], &(uv_buf_t){.base = (char *)t.data[0], .len = 1}, 1, write_cb),
        UV_EPIPE, "a write after child_close_stdin(): UV_EPIPE, no callback");

    /* One read, then paused: no more reads while paused. */
    t.stop_after_first = true;
    is_int(child_read_start(&t.c, CHILD_STDOUT), 0, "read_start");
    is_int(child_read_start(&t.c, CHILD_STDOUT), 0, "read_start again: idempotent");
    run_until(&t.reads, 2000);
    int reads = t.reads;
    run_until(NULL, 200);
    ok(reads >= 1 && t.reads == reads, "paused: no read while stopped (%d, %d)", reads, t.reads);

    /* Resumed: everything arrives, then EOF. */
    t.stop_after_first = false;
    is_int(child_read_start(&t.c, CHILD_STDOUT), 0, "resumed");
    run_until(&t.eofs, 10000);
    is_int(t.eofs, 1, "stdout EOF once (stdin got its EOF after the writes)");
    is_int(t.bad_buf, 0, "every read in the buffer our alloc returned, at its offset");
    all = t.outlen == NWRITES * WRITE_LEN;
    for (i = 0; all && i < NWRITES; i++)
        all = memcmp(t.out + (size_t)i * WRITE_LEN, t.data[i], WRITE_LEN) == 0;
    ok(all, "cat gave back all %u bytes, in order (%zu)", NWRITES * WRITE_LEN, t.outlen);
    done_all = 1;
    for (i = 0; i < NWRITES; i++)
        done_all &= t.done[i] == 1 && t.status[i] == 0 && t.order[i] == i;
    ok(done_all && t.ndone == NWRITES, "each write's callback once, status 0, in order");
    is_int(child_stdin_queued(&t.c), 0, "queue empty");
    run_until(&t.exited, 5000);
    is_int(t.exited, 1, "cat exited");
    close_child();
}

static void test_cancel(void)
{
    unsigned i;
    int once = 1, cancelled = 0;

    memset(t.done, 0, sizeof t.done);
    t.ndone = 0;
    is_int(spawn("exec sleep 30"), 0, "a child that never reads started");
    for (i = 0; i < NWRITES; i++) {
        uv_buf_t b = uv_buf_init((char *)t.data[i], WRITE_LEN);
        if (child_write(&t.c, &t.w[i], &b, 1, write_cb) != 0)
            break;
    }
    run_until(NULL, 100);
    child_stop(&t.c); /* stdin closed now: the writes still queued are cancelled */
    run_until(&t.exited, 5000);
    is_int(t.exited, 1, "stopped by the ladder (SIGINT)");
    for (i = 0; i < NWRITES; i++) {
        once &= t.done[i] == 1;
        cancelled += t.status[i] == UV_ECANCELED;
    }
    ok(once && cancelled > 0, "child_stop(): every write's callback once, %d cancelled", cancelled);
    close_child();
}

static void test_logger(void)
{
    char path[] = "/tmp/test_child_io.XXXXXX";
    static char log[1 << 16];
    int fd = mkstemp(path), saved = dup(2);
    char want[CHILD_ERRLINE_MAX + 64];
    ssize_t n;

    if (fd < 0 || saved < 0) {
        ok(0, "temp file for the log");
        return;
    }
    unlink(path);
    is_int(spawn("printf 'one\\r\\ntw' >&2; sleep 0.1; printf 'o\\n\\033x\\n' >&2;"
                 " head -c 1600 /dev/zero | tr '\\0' z >&2; printf '\\nlast' >&2"),
           0, "a child writing to stderr started");
    fflush(stderr);
    dup2(fd, 2); /* log.c writes to stderr: read it back */
    is_int(child_log_stderr(&t.c, 7, "test"), 0, "logger started");
    run_until(&t.exited, 5000);
    /* stderr EOF may come after the exit: wait for the last line */
    for (int i = 0; i < 100; i++) {
        n = pread(fd, log, sizeof log - 1, 0);
        if (n > 0 && (log[n] = '\0', strstr(log, "test: last")))
            break;
        run_until(NULL, 20);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, log, sizeof log - 1, 0);
    close(fd);
    log[n > 0 ? n : 0] = '\0';
    ok(strstr(log, "[conn 7] test: one\n") != NULL, "a line, its \\r\\n dropped, with the id");
    ok(strstr(log, "[conn 7] test: two\n") != NULL, "a line split across reads is one line");
    ok(strstr(log, "[conn 7] test: \\x1bx\n") != NULL, "control bytes escaped (log.c)");
    strcpy(want, "test: ");
    memset(want + 6, 'z', CHILD_ERRLINE_MAX);
    strcpy(want + 6 + CHILD_ERRLINE_MAX, "\n");
    ok(strstr(log, want) != NULL, "a long line logged once, cut to CHILD_ERRLINE_MAX bytes");
    ok(strstr(log, "[conn 7] test: last\n") != NULL, "the last line without \\n at EOF");
    if (!strstr(log, "test: last"))
        diag("log: %.300s", log);
    close_child();
}

int main(void)
{
    t.out = malloc(NWRITES * WRITE_LEN);
    loop = uv_default_loop();
    test_lines();
    test_cat();
    test_cancel();
    test_logger();
    buf_unref(t.hold);
    child_reaper_close();
    uv_run(loop, UV_RUN_NOWAIT);
    is_int(uv_loop_close(loop), 0, "every handle closed: the loop closes");
    buf_pool_drain();
    free(t.out);
    return tap_done();
}
