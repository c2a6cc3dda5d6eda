/*
 * bench_core: micro-benchmark of the sans-I/O core (not a test).
 *
 * Parses and unmasks client frames through ws_stream in server role, as the
 * server does, and reports throughput for 16 B, 4 KiB and 1 MiB frames and
 * frames/s for tiny frames. Each case runs for about --seconds (default 1)
 * and reports the best of 3 runs. The first line describes the machine.
 *
 *   bench/bench_core [--seconds=S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "ws_stream.h"

static uint64_t sink;

static int on_data(struct ws_stream *s, uint8_t *d, size_t len)
{
    sink += d[0] + d[len - 1] + len; /* touch the unmasked bytes */
    return 0;
}

static int on_end(struct ws_stream *s)
{
    sink++;
    return 0;
}

static int on_write(struct ws_stream *s, const uint8_t *f, size_t len)
{
    return 0;
}

static const struct ws_stream_settings settings = {
    .on_message_data = on_data,
    .on_message_end = on_end,
    .on_write = on_write,
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A buffer of masked binary frames of `payload` bytes, about `target` bytes long. */
static uint8_t *make_frames(size_t payload, size_t target, size_t *len, size_t *count)
{
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    size_t per = WS_FRAME_HEADER_MAX + payload, n = target / per ? target / per : 1;
    uint8_t *buf = malloc(n * per), *p = buf;
    for (size_t i = 0; i < n; i++) {
        size_t h = ws_frame_write_header(p, true, 0, WS_OP_BINARY, payload, mask);
        for (size_t k = 0; k < payload; k++)
            p[h + k] = (uint8_t)(k * 7);
        ws_frame_mask(p + h, payload, mask, 0);
        p += h + payload;
    }
    *len = (size_t)(p - buf);
    *count = n;
    return buf;
}

/*
 * Each pass parses a fresh copy of the frames (unmasking is in place, so
 * parsing the same bytes twice would unmask them back); only the parse is
 * timed, not the copy, so the frames are cache-resident: an upper bound.
 */
static void run_case(const char *name, size_t payload, double seconds)
{
    size_t len, count;
    uint8_t *frames = make_frames(payload, payload >= (1u << 20) ? 8u << 20 : 1u << 20, &len, &count);
    uint8_t *work = malloc(len);
    double best_rate = 0, best_fps = 0;

    for (int run = 0; run < 3; run++) {
        double parse = 0, start = now();
        uint64_t bytes = 0, nframes = 0;
        while (now() - start < seconds / 3) {
            memcpy(work, frames, len);
            struct ws_stream s;
            ws_stream_init(&s, WS_ROLE_SERVER, &settings);
            double t0 = now();
            size_t used = ws_stream_execute(&s, work, len);
            parse += now() - t0;
            if (used != len || s.state != WS_STREAM_OPEN) {
                fprintf(stderr, "bench_core: parse failed\n");
                exit(1);
            }
            bytes += payload * count;
            nframes += count;
        }
        if (bytes / parse > best_rate)
            best_rate = (double)bytes / parse;
        if (nframes / parse > best_fps)
            best_fps = (double)nframes / parse;
    }
    printf("| %-22s | %10.1f MB/s | %8.2f GB/s | %12.0f frames/s |\n", name, best_rate / 1e6,
           best_rate / 1e9, best_fps);
    free(frames);
    free(work);
}

static void machine_line(void)
{
    char model[256] = "unknown", line[512];
    struct utsname u;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                snprintf(model, sizeof model, "%s", c + 2);
                model[strcspn(model, "\n")] = '\0';
            }
            break;
        }
    }
    if (f)
        fclose(f);
    uname(&u);
    printf("machine: %s, %ld cores, %s %s %s\n", model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname,
           u.release, u.machine);
#ifdef __OPTIMIZE__
    printf("build: optimised, %s\n", __VERSION__);
#else
    printf("build: NOT optimised (-O0): figures are not meaningful, %s\n", __VERSION__);
#endif
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--seconds=", 10) == 0) {
            seconds = atof(argv[i] + 10);
        } else {
            fprintf(stderr, "usage: %s [--seconds=S]\n", argv[0]);
            return 2;
        }
    }
    machine_line();
    printf("\n| case (parse + unmask)  |   throughput    |              |                    |\n");
    printf("|------------------------|-----------------|--------------|--------------------|\n");
    run_case("tiny frames (4 B)", 4, seconds);
    run_case("16 B frames", 16, seconds);
    run_case("4 KiB frames", 4096, seconds);
    run_case("1 MiB frames", 1u << 20, seconds);
    return sink == 42 ? 1 : 0; /* keeps the work observable */
}
