/*
 * Fuzz target: a whole session -- HTTP requests, the handshake, WebSocket frames -- through
 * the real session, bridge, http_serve and child code, on the memory transport (transport.h)
 * and with a real child.
 *
 * Byte 0 is control. Bits 0-1, the server: 0 "cat" (text mode), 1 "--binary cat",
 * 2 "--staticdir=DIR cat", 3 "--staticdir=DIR" alone (DIR: a temporary directory with a few
 * files). Bit 2: the client hangs up with a reset instead of a FIN. Bit 3 turns modes 0 and 1
 * into "--framing=json cat" and "--framing=length cat" (cat echoes JSON lines and records);
 * bit 4 then adds --shared (the hub decodes the output and encodes the client's messages).
 * Byte 1, the segmentation:
 * bit 7 set, all at once; else pieces of (byte1 & 0x7f) + 1 bytes, each one read. The rest
 * (at most FUZZ_MAX_INPUT bytes) is what the client sends, then its hangup.
 *
 * Each input runs until the session is gone or FUZZ_RUN_MS passed; then the session is
 * killed and must be gone within FUZZ_KILL_MS (else abort: a hang). Invariants: the server's
 * bytes start with an HTTP status line; the transport is closed once and freed; no leak
 * (ASan).
 */
#include "build-config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"
#include "child.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "session.h"
#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 16384u
#define FUZZ_RUN_MS 300u
#define FUZZ_KILL_MS 5000u
#define NMODES 8

static uv_loop_t loop;
static struct config cfgs[NMODES];
static struct session_host srvs[NMODES];
static char dir[64];
static bool ready;

static const char *const files[] = {"index.html", "a.txt", "sub/b.css"};

static void cleanup(void)
{
    char p[128];

    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/sub", dir);
    rmdir(p);
    rmdir(dir);
    for (int m = 0; m < NMODES; m++)
        config_free(&cfgs[m]);
    child_reaper_close(); /* child.h: the loop's owner closes the process's reaper */
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    bridge_pool_drain();
}

static void setup(void)
{
    static char sd[96];
    char p[128];

    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_FATAL);
    snprintf(dir, sizeof dir, "/tmp/fuzz_session.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(p, sizeof p, "%s/sub", dir);
    mkdir(p, 0700);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        FILE *f = fopen(p, "w");
        if (!f)
            abort();
        fprintf(f, "file %zu\n", i);
        fclose(f);
    }
    snprintf(sd, sizeof sd, "--staticdir=%s", dir);
    /* the configuration points into its argv: kept for the process's life */
    static const char *const args[NMODES][6] = {
        {"wsbridge", "--port=0", "cat", NULL},
        {"wsbridge", "--port=0", "--binary", "cat", NULL},
        {"wsbridge", "--port=0", sd, "cat", NULL},
        {"wsbridge", "--port=0", sd, NULL},
        {"wsbridge", "--port=0", "--framing=json", "cat", NULL},
        {"wsbridge", "--port=0", "--framing=length", "cat", NULL},
        {"wsbridge", "--port=0", "--shared", "--framing=json", "cat", NULL},
        {"wsbridge", "--port=0", "--shared", "--framing=length", "cat", NULL},
    };
    static char *argvs[NMODES][6];
    int argcs[NMODES] = {0};
    for (int m = 0; m < NMODES; m++)
        for (int i = 0; args[m][i]; i++)
            argvs[m][argcs[m]++] = strdup(args[m][i]); /* writable, as main's */
    uv_loop_init(&loop);
    for (int m = 0; m < NMODES; m++) {
        if (config_parse(&cfgs[m], argcs[m], argvs[m]) != -1)
            abort();
        cfgs[m].closems = 20; /* a short kill ladder */
        cfgs[m].handshake_timeout_ms = 200;
        srvs[m].loop = &loop;
        srvs[m].cfg = &cfgs[m];
        srvs[m].nworkers = 1;
        srvs[m].software = "wsbridge/fuzz";
    }
    atexit(cleanup);
    ready = true;
}

static bool timed_out;

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    timed_out = true;
}

/* Runs the loop until srv has no session and the transport is gone, or ms passed. */
static bool run(struct session_host *srv, struct transport_mem_peer *p, uint64_t ms)
{
    uv_timer_t deadline;

    timed_out = false;
    uv_timer_init(&loop, &deadline);
    uv_timer_start(&deadline, on_deadline, ms, 0);
    /* a shared program is stopped once its last client left: gone too before the next input */
    while ((srv->nsessions || !p->freed || !hub_idle()) && !timed_out)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return srv->nsessions == 0 && p->freed && hub_idle();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct transport_mem_peer p;
    struct transport *t;

    if (size < 2)
        return 0;
    if (!ready)
        setup();
    unsigned mode = data[0] & 3;
    if ((data[0] & 8) && mode < 2)
        mode += data[0] & 16 ? 6 : 4; /* --framing=json|length, --shared too */
    bool reset = data[0] & 4;
    size_t piece = data[1] & 0x80 ? FUZZ_MAX_INPUT : (size_t)(data[1] & 0x7f) + 1;
    data += 2;
    size -= 2;
    if (size > FUZZ_MAX_INPUT)
        size = FUZZ_MAX_INPUT;

    struct session_host *srv = &srvs[mode];
    memset(&p, 0, sizeof p);
    if (transport_mem_new(&loop, &p, &t) != 0)
        abort();
    session_start(srv, t);
    for (size_t off = 0; off < size; off += piece)
        transport_mem_push(&p, data + off, size - off < piece ? size - off : piece);
    transport_mem_push_end(&p, reset ? UV_ECONNRESET : UV_EOF);

    if (!run(srv, &p, FUZZ_RUN_MS)) {
        for (struct session *s = srv->sessions, *next; s; s = next) {
            next = s->next;
            session_kill(s);
        }
        if (!run(srv, &p, FUZZ_KILL_MS)) {
            fprintf(stderr, "fuzz_session: the session did not end after session_kill\n");
            abort();
        }
    }
    if (!p.closed || !p.freed)
        abort();
    /* whatever was answered starts with a status line */
    if (p.out_len && (p.out_len < 9 || memcmp(p.out, "HTTP/1.", 7) != 0))
        abort();
    transport_mem_peer_free(&p);
    return 0;
}
