/*
 * test_metrics: the counters' helpers file each event where the exposition finds it, and
 * metrics_render() writes the text format 0.0.4 -- HELP and TYPE once per family, its series
 * together, the sums and (with several slots) each worker under its own name, a cumulative
 * histogram whose +Inf bucket is its count.
 */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "tap.h"

static bool has(const char *text, const char *line)
{
    const char *p = strstr(text, line);
    size_t n = strlen(line);
    /* a whole line */
    return p && (p == text || p[-1] == '\n') && p[n] == '\n';
}

#define HAS(text, line)                                                                            \
    do {                                                                                           \
        if (!ok(has((text), (line)), "%s", (line)))                                                \
            diag("  not in the exposition");                                                       \
    } while (0)

static void helpers(void)
{
    static struct metrics_slot s;
    struct metrics_slot *saved = metrics_mine;

    metrics_mine = &s;
    metrics_status(101);
    metrics_status(99);   /* out of range: other */
    metrics_status(1000); /* out of range: other */
    metrics_close_code(1000);
    metrics_close_code(4001);
    metrics_close_code(65535); /* other */
    metrics_close_code(999);   /* other */
    metrics_program_end(3, 0);
    metrics_program_end(259, 0); /* an exit status is 8 bits */
    metrics_program_end(0, 9);
    metrics_program_end(0, 200); /* other */
    metrics_handshake(400);      /* <= 0.5 ms */
    metrics_handshake(1000);     /* <= 1 ms exactly */
    metrics_handshake(20000000); /* over 10 s: only +Inf */
    metrics_mine = saved;
    ok(s.status[101] == 1 && s.status[0] == 2, "statuses: 101, and two out of range as other");
    ok(s.close_code[1000] == 1 && s.close_code[4001] == 1 && s.close_code[0] == 2,
       "close codes: 1000, 4001, two others");
    ok(s.exit_code[3] == 2 && s.signal[9] == 1 && s.signal[0] == 1,
       "exit 3 (and 259 & 255), SIGKILL, an unknown signal as other");
    ok(s.hs_bucket[0] == 1 && s.hs_bucket[1] == 1 && s.c[METRICS_HS_COUNT] == 3 &&
           s.c[METRICS_HS_SUM_US] == 20001400,
       "handshakes: a bucket each, the count and the sum in microseconds");
}

static void render(void)
{
    struct metrics_slot *s = calloc(2, sizeof *s);
    size_t len = 0;
    char *text;

    s[0].c[METRICS_CONNECTIONS] = 5;
    s[0].c[METRICS_CONNECTIONS_CLOSED] = 3;
    s[1].c[METRICS_CONNECTIONS] = 2;
    s[1].c[METRICS_CONNECTIONS_CLOSED] = 2;
    s[0].c[METRICS_SESSIONS] = 4;
    s[1].c[METRICS_SESSIONS] = 1;
    s[0].status[404] = 1;
    s[1].status[404] = 2;
    s[1].status[0] = 1;
    s[0].signal[9] = 1;
    s[1].close_code[1011] = 7;
    s[0].c[METRICS_WS_MSGS_IN] = 10;
    s[0].hs_bucket[0] = 1;
    s[1].hs_bucket[2] = 2;
    s[0].c[METRICS_HS_COUNT] = 1;
    s[1].c[METRICS_HS_COUNT] = 3; /* one over 10 s */
    s[0].c[METRICS_HS_SUM_US] = 1500000;
    s[1].c[METRICS_HS_SUM_US] = 20000001;

    text = metrics_render(s, 1, &len);
    ok(text && len == strlen(text), "one slot: rendered, NUL-terminated");
    HAS(text, "# TYPE wsbridge_connections_total counter");
    HAS(text, "wsbridge_connections_total 5");
    HAS(text, "wsbridge_connections_open 2");
    ok(!strstr(text, "worker"), "one slot: no per-worker families");
    free(text);

    text = metrics_render(s, 2, &len);
    ok(text != NULL, "two slots: rendered");
    HAS(text, "wsbridge_connections_total 7");
    HAS(text, "wsbridge_connections_open 2");
    HAS(text, "wsbridge_sessions_total 5");
    HAS(text, "wsbridge_http_responses_total{status=\"404\"} 3");
    HAS(text, "wsbridge_http_responses_total{status=\"other\"} 1");
    HAS(text, "wsbridge_program_signals_total{signal=\"SIGKILL\"} 1");
    HAS(text, "wsbridge_close_codes_total{code=\"1011\"} 7");
    HAS(text, "wsbridge_websocket_messages_total{direction=\"in\"} 10");
    HAS(text, "wsbridge_websocket_messages_total{direction=\"out\"} 0");
    HAS(text, "wsbridge_handshake_duration_seconds_bucket{le=\"0.0005\"} 1");
    HAS(text, "wsbridge_handshake_duration_seconds_bucket{le=\"0.001\"} 1");
    HAS(text, "wsbridge_handshake_duration_seconds_bucket{le=\"0.0025\"} 3");
    HAS(text, "wsbridge_handshake_duration_seconds_bucket{le=\"10\"} 3");
    HAS(text, "wsbridge_handshake_duration_seconds_bucket{le=\"+Inf\"} 4");
    HAS(text, "wsbridge_handshake_duration_seconds_sum 21.500001");
    HAS(text, "wsbridge_handshake_duration_seconds_count 4");
    HAS(text, "# TYPE wsbridge_worker_connections_total counter");
    HAS(text, "wsbridge_worker_connections_total{worker=\"0\"} 5");
    HAS(text, "wsbridge_worker_connections_total{worker=\"1\"} 2");
    HAS(text, "wsbridge_worker_connections_open{worker=\"1\"} 0");
    HAS(text, "wsbridge_worker_http_responses_total{worker=\"1\",status=\"404\"} 2");
    HAS(text, "wsbridge_worker_handshake_duration_seconds_bucket{worker=\"1\",le=\"+Inf\"} 3");
    HAS(text, "wsbridge_worker_handshake_duration_seconds_sum{worker=\"1\"} 20.000001");

    /* every family's HELP and TYPE once, and its samples right after them */
    unsigned types = 0, bad = 0;
    const char *family = NULL;
    size_t flen = 0;
    for (char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "# TYPE ", 7) == 0) {
            types++;
            family = line + 7;
            flen = strcspn(family, " ");
        } else if (line[0] != '#' && (!family || strncmp(line, family, flen) != 0)) {
            bad++;
        }
    }
    ok(types == 24 && bad == 0, "24 families (12 summed, 12 per worker), samples under their own");
    free(text);
    free(s);
}

int main(void)
{
    helpers();
    render();
    return tap_done();
}
