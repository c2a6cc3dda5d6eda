/*
 * ticker: the broadcast bench's program. Prints lines of 16 bytes, each its
 * CLOCK_MONOTONIC time in ns (the clock of uv_hrtime(), so wsbridge-bench -m
 * recv on the same machine measures print-to-receipt latency), on stdout.
 *
 *     ticker RATE [SECONDS]
 *
 * Nothing is printed before a line (or EOF) arrives on stdin: wsbridge-bench
 * -m recv sends "go" once every client is connected, so the clients join an
 * idle server and the figures start together. Then RATE lines per second, written every millisecond as they fall due (one
 * write() for the lines of a millisecond); RATE 0: as fast as stdout takes
 * them, 64 lines per write(), each stamped when written. SECONDS (default:
 * no end) bounds the run. Exits 0 when stdout closes (EPIPE) or time is up.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* n lines stamped now into buf (BATCH lines of up to 24 bytes); 0 when stdout is gone. */
static int put_lines(char *buf, unsigned n)
{
    char one[32];
    /* 15 digits and a newline, until the machine has been up 11.5 days (then longer lines) */
    int k = snprintf(one, sizeof one, "%015" PRIu64 "\n", now_ns());
    size_t len = 0, off = 0;
    for (unsigned i = 0; i < n; i++, len += (size_t)k)
        memcpy(buf + len, one, (size_t)k);
    while (off < len) {
        ssize_t w = write(1, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        off += (size_t)w;
    }
    return 1;
}

int main(int argc, char **argv)
{
    static char buf[BATCH * 24];
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: ticker RATE [SECONDS]\n");
        return 2;
    }
    double rate = atof(argv[1]), secs = argc > 2 ? atof(argv[2]) : 0;
    signal(SIGPIPE, SIG_IGN);
    for (char ch; read(0, &ch, 1) == 1 && ch != '\n';)
        ; /* the start line */
    uint64_t t0 = now_ns(), end = secs > 0 ? t0 + (uint64_t)(secs * 1e9) : UINT64_MAX;
    uint64_t sent = 0;
    while (now_ns() < end) {
        if (rate <= 0) {
            if (!put_lines(buf, BATCH))
                return 0;
            continue;
        }
        uint64_t due = (uint64_t)((double)(now_ns() - t0) * rate / 1e9) + 1;
        while (sent < due) {
            unsigned n = due - sent > BATCH ? BATCH : (unsigned)(due - sent);
            if (!put_lines(buf, n))
                return 0;
            sent += n;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return 0;
}
