/*
 * bench_deflate: permessage-deflate for the load client (see bench_deflate.h).
 */
#include "build-config.h"

#include "bench_deflate.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws_stream.h"

static int take_offer(void *ctx, const struct pmd_offer *o)
{
    *(struct pmd_offer *)ctx = *o;
    return 1;
}

bool bench_deflate_start(struct pmd_inflate *in, const char *response, struct ws_stream *ws)
{
    const char *h = strcasestr(response, "\r\nSec-WebSocket-Extensions:");
    struct pmd_offer o;
    struct pmd_params a = {0};

    if (!h)
        return false;
    h += strlen("\r\nSec-WebSocket-Extensions:");
    if (pmd_offers_parse(h, strcspn(h, "\r"), take_offer, &o) == 0)
        return false;
    /* the server's side of the agreement is what our inflate follows */
    a.client_no_context_takeover = o.server_no_context_takeover;
    a.client_max_window_bits = o.server_max_window_bits ? o.server_max_window_bits : 15;
    pmd_inflate_init(in, &a);
    ws_stream_set_extension(ws, &pmd_stream_ext, in);
    return true;
}

void bench_deflate_json(uint8_t *table, size_t len)
{
    static const char *const names[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
    size_t o = 0;
    unsigned i = 0;
    char rec[160];

    while (o < len) {
        int n = snprintf(rec, sizeof rec,
                         "{\"id\":%u,\"user\":\"%s\",\"ok\":%s,\"score\":%u.%02u,\"tags\":[\"t%u\","
                         "\"t%u\"],\"ts\":16%08u} ",
                         i * 7919u % 100003u, names[i % 6], i % 3 ? "true" : "false", i % 101,
                         i % 97, i % 13, i % 7, i * 104729u % 100000000u);
        size_t k = (size_t)n < len - o ? (size_t)n : len - o;
        memcpy(table + o, rec, k);
        o += k;
        i++;
    }
}
