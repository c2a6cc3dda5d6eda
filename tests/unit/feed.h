/*
 * feed: drive an incremental parser with a byte vector split every way,
 * each piece copied so that it ends exactly at a guard page (PROT_NONE):
 * a parser that reads one byte past what it was given crashes the test.
 */
#ifndef FEED_H
#define FEED_H

#include <stddef.h>
#include <stdint.h>

/*
 * A piece of input: returns the number of bytes consumed. The buffer is
 * writable (parsers unmask in place) and ends at a guard page; it is only
 * valid during the call.
 */
typedef size_t (*feed_fn)(void *ctx, uint8_t *data, size_t len);

/* Copies data into guarded memory and calls fn once per piece. The bytes a
 * call does not consume are offered again, followed by the next piece
 * (like a socket reader keeping its unconsumed tail). Returns the total
 * consumed. */
size_t feed_whole(feed_fn fn, void *ctx, const uint8_t *data, size_t len);
size_t feed_split(feed_fn fn, void *ctx, const uint8_t *data, size_t len, size_t at);
size_t feed_bytewise(feed_fn fn, void *ctx, const uint8_t *data, size_t len);
/* pieces of `chunk` bytes (the last may be shorter) */
size_t feed_chunks(feed_fn fn, void *ctx, const uint8_t *data, size_t len, size_t chunk);

/* A buffer of len bytes that ends at a guard page (freed by guard_free). */
uint8_t *guard_alloc(size_t len);
void guard_free(uint8_t *p, size_t len);

#endif
