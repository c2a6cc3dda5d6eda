/*
 * bench_deflate: permessage-deflate for the load client (wsbridge-bench --deflate), kept apart
 * from wsbridge-bench.c. The client offers what Chrome offers ("permessage-deflate;
 * client_max_window_bits"), reads the server's answer and inflates what the server compresses
 * (pmd.h's ws_stream extension, client side). It sends its own messages uncompressed (RFC 7692
 * allows it), so every server under test does the same work: compress each reply.
 * bench_deflate_json() fills the payload table with JSON-like text (no '\n'), since a
 * compression figure on the alphabet pattern would be meaningless.
 */
#ifndef BENCH_DEFLATE_H
#define BENCH_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pmd.h"

struct ws_stream;

#define BENCH_DEFLATE_OFFER                                                                        \
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

/* Installs inflate on ws when the 101 in response (NUL-terminated) agreed permessage-deflate;
 * false when it did not. in must outlive ws. */
bool bench_deflate_start(struct pmd_inflate *in, const char *response, struct ws_stream *ws);

/* Fills table[0..len) with JSON-like records, none holding '\n'. */
void bench_deflate_json(uint8_t *table, size_t len);

#endif
