#include "feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t map_len(size_t len)
{
    size_t ps = page_size();
    return ((len + ps - 1) / ps + 1) * ps; /* data pages + one guard page */
}

uint8_t *guard_alloc(size_t len)
{
    size_t ps = page_size(), total = map_len(len);
    uint8_t *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("mmap");
        abort();
    }
    if (mprotect(base + total - ps, ps, PROT_NONE) != 0) {
        perror("mprotect");
        abort();
    }
    return base + total - ps - len;
}

void guard_free(uint8_t *p, size_t len)
{
    size_t ps = page_size(), total = map_len(len);
    munmap(p + len + ps - total, total);
}

/* Offers pending (unconsumed) bytes plus the next piece, ending at a guard page. */
static size_t offer(feed_fn fn, void *ctx, uint8_t **pending, size_t *npending, const uint8_t *piece,
                    size_t len)
{
    size_t n = *npending + len, used;
    uint8_t *buf = guard_alloc(n);
    if (*npending)
        memcpy(buf, *pending, *npending);
    if (len)
        memcpy(buf + *npending, piece, len);
    used = n ? fn(ctx, buf, n) : 0;
    if (used > n)
        abort();
    free(*pending);
    *npending = n - used;
    *pending = NULL;
    if (*npending) {
        *pending = malloc(*npending);
        memcpy(*pending, buf + used, *npending);
    }
    guard_free(buf, n);
    return used;
}

size_t feed_chunks(feed_fn fn, void *ctx, const uint8_t *data, size_t len, size_t chunk)
{
    uint8_t *pending = NULL;
    size_t npending = 0, total = 0, off = 0;
    if (chunk == 0)
        chunk = len ? len : 1;
    do {
        size_t n = len - off < chunk ? len - off : chunk;
        total += offer(fn, ctx, &pending, &npending, data + off, n);
        off += n;
    } while (off < len);
    free(pending);
    return total;
}

size_t feed_whole(feed_fn fn, void *ctx, const uint8_t *data, size_t len)
{
    return feed_chunks(fn, ctx, data, len, len);
}

size_t feed_bytewise(feed_fn fn, void *ctx, const uint8_t *data, size_t len)
{
    return feed_chunks(fn, ctx, data, len, 1);
}

size_t feed_split(feed_fn fn, void *ctx, const uint8_t *data, size_t len, size_t at)
{
    uint8_t *pending = NULL;
    size_t npending = 0, total;
    if (at > len)
        at = len;
    total = offer(fn, ctx, &pending, &npending, data, at);
    total += offer(fn, ctx, &pending, &npending, data + at, len - at);
    free(pending);
    return total;
}
