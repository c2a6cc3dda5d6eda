/*
 * tap.h: minimal TAP for the unit tests (automake's tap-driver.sh reads it).
 *
 *   ok(cond, "name %d", i);          one test point
 *   is_int(got, want, "name");       prints both values on failure
 *   is_mem(got, glen, want, wlen, "name");
 *   return tap_done();               prints the plan, exit status
 */
#ifndef TAP_H
#define TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline __attribute__((format(printf, 2, 3))) int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

#define is_int(got, want, ...)                                                                     \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (!ok(g_ == w_, __VA_ARGS__))                                                            \
            diag("  got %lld, want %lld (%s)", g_, w_, #got);                                      \
    } while (0)

#define is_mem(got, glen, want, wlen, ...)                                                         \
    do {                                                                                           \
        size_t gl_ = (glen), wl_ = (wlen);                                                         \
        if (!ok(gl_ == wl_ && memcmp((got), (want), gl_) == 0, __VA_ARGS__))                       \
            diag("  got %zu bytes, want %zu bytes (%s)", gl_, wl_, #got);                          \
    } while (0)

static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
