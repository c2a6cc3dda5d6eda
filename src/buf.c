/*
 * buf: reference-counted byte buffers from a free list (see buf.h).
 */
#include "build-config.h"

#include "buf.h"

#include <stdlib.h>

/* A cache, not state: which buffer comes back from buf_get() changes nothing else. */
static struct buf *free_bufs;
static unsigned nfree_bufs;

struct buf *buf_get(void)
{
    struct buf *b = free_bufs;

    if (b) {
        free_bufs = b->next;
        nfree_bufs--;
    } else {
        b = malloc(sizeof *b);
        if (!b)
            return NULL;
    }
    b->refs = 1;
    b->next = NULL;
    return b;
}

void buf_ref(struct buf *b)
{
    b->refs++;
}

void buf_unref(struct buf *b)
{
    if (!b || --b->refs)
        return;
    if (nfree_bufs < BUF_POOL_KEEP) {
        b->next = free_bufs;
        free_bufs = b;
        nfree_bufs++;
    } else {
        free(b);
    }
}

void buf_pool_drain(void)
{
    while (free_bufs) {
        struct buf *b = free_bufs;
        free_bufs = b->next;
        free(b);
    }
    nfree_bufs = 0;
}
