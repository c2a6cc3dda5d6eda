/*
 * piperate: the ceiling for any bridge's round trip. One `cat`, a SIZE-byte
 * line (default 16, newline included) written to its stdin and read back
 * from its stdout, DEPTH lines in flight (default 1), for SECONDS. No
 * sockets, no WebSocket, no event loop: what a pipe round trip through a
 * child costs on this machine, two context switches per message at depth 1.
 *
 *   bench/piperate [SECONDS [SIZE [DEPTH]]]      default 2 s, 16 B, depth 1
 *
 * Prints "piperate size=S depth=D: R msg/s" and a JSON line
 * {"seconds":S,"size":N,"depth":D,"messages":M,"msg_per_s":R}. Every byte
 * that comes back is compared with what went in; exits 1 when one differs
 * or cat fails.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    long size = argc > 2 ? atol(argv[2]) : 16, depth = argc > 3 ? atol(argv[3]) : 1;
    int to[2], from[2], rc = 0;
    static char cat[] = "cat";
    char *cargv[] = {cat, NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;

    /*
     * Writes block: what is in flight must fit in the pipes (64 KiB each),
     * or cat blocks on a full stdout while we block on its full stdin.
     */
    if (seconds <= 0 || size < 2 || depth < 1 || size * depth > 32768) {
        fprintf(stderr,
                "usage: piperate [SECONDS [SIZE [DEPTH]]], SIZE >= 2, SIZE x DEPTH <= 32768\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (pipe(to) != 0 || pipe(from) != 0) {
        perror("piperate: pipe");
        return 3;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from[1], 1);
    posix_spawn_file_actions_addclose(&fa, to[1]);
    posix_spawn_file_actions_addclose(&fa, from[0]);
    if (posix_spawnp(&pid, "cat", &fa, NULL, cargv, environ) != 0) {
        perror("piperate: spawn cat");
        return 3;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(to[0]);
    close(from[1]);

    /* every line is the same: the check is on content and on line boundaries */
    char *line = malloc((size_t)size), *buf = malloc(65536);
    if (!line || !buf)
        return 3;
    for (long i = 0; i < size - 1; i++)
        line[i] = (char)('a' + i % 26);
    line[size - 1] = '\n';

    unsigned long msgs = 0;
    long inflight = 0, pos = 0; /* pos: offset within the line being read back */
    double start = now(), end = start + seconds, t = start;
    for (; inflight < depth; inflight++)
        if (write_all(to[1], line, (size_t)size) != 0)
            goto broken;
    while (inflight > 0) {
        ssize_t n = read(from[0], buf, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto broken;
        long done = 0;
        for (ssize_t off = 0; off < n;) {
            long k = size - pos < n - off ? size - pos : (long)(n - off);
            if (memcmp(buf + off, line + pos, (size_t)k) != 0) {
                fprintf(stderr, "piperate: cat returned different bytes\n");
                rc = 1;
                goto out;
            }
            off += k;
            pos += k;
            if (pos == size) {
                pos = 0;
                done++;
            }
        }
        msgs += (unsigned long)done;
        inflight -= done;
        t = now();
        for (long i = 0; i < done && t < end; i++, inflight++)
            if (write_all(to[1], line, (size_t)size) != 0)
                goto broken;
    }
    goto out;
broken:
    fprintf(stderr, "piperate: cat went away\n");
    rc = 1;
out:
    close(to[1]);
    close(from[0]);
    waitpid(pid, NULL, 0);
    free(line);
    free(buf);
    double secs = t - start, rate = secs > 0 ? (double)msgs / secs : 0;
    printf("piperate size=%ld depth=%ld: %.0f msg/s\n", size, depth, rate);
    printf("{\"seconds\":%.3f,\"size\":%ld,\"depth\":%ld,\"messages\":%lu,\"msg_per_s\":%.1f}\n",
           secs, size, depth, msgs, rate);
    return rc;
}
