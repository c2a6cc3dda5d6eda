/*
 * transport: the byte pipe a session runs on, as a small vtable.
 *
 * A transport delivers the bytes a peer sent (read_start: alloc_cb then
 * read_cb, with libuv's conventions: nread > 0 data, UV_EOF / < 0 end or
 * error, 0 nothing) and sends gathered buffers in order (write: the
 * buffers must stay valid until the write's cb).
 *
 * Ownership of what is read (buf.h): alloc_cb returns a buffer with one
 * reference, which the transport holds and passes to the read_cb that
 * follows; read_cb owns that reference (it keeps it, or drops it with
 * buf_unref) whatever nread is. The bytes are b->data[0..nread). A NULL
 * from alloc_cb is reported as UV_ENOBUFS; an end or error may come with
 * b == NULL. transport_tcp runs on any
 * libuv stream (a TCP or a Unix socket connection); transport_tls (tls.h)
 * wraps another transport and passes ciphertext down, through memory BIOs.
 *
 * Lifetime: created by an implementation's constructor, ended by exactly
 * one close(); pending writes then complete with UV_ECANCELED, and after
 * close_cb the transport is freed by the implementation and must not be
 * touched. No callback is ever called from inside the call that caused it
 * (writes complete on a later loop iteration), so callers may call any
 * operation from any callback.
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"

struct transport;
struct transport_write;

typedef struct buf *(*transport_alloc_cb)(struct transport *t);
typedef void (*transport_read_cb)(struct transport *t, ssize_t nread, struct buf *b);
typedef void (*transport_write_cb)(struct transport_write *w, int status);
typedef void (*transport_done_cb)(struct transport *t);

/* A write request: owned by the caller, valid until cb. */
struct transport_write {
    uv_write_t uv; /* private to the implementation */
    transport_write_cb cb;
    void *data; /* public: for the caller */
};

struct transport_ops {
    /* Starts delivering bytes to t->alloc_cb / t->read_cb. 0 or a UV error. */
    int (*read_start)(struct transport *t);
    /* Stops delivering bytes (backpressure). Idempotent. While stopped, the peer's hangup
     * (its FIN, or a reset) is still reported, once, within about a second: read_cb with
     * UV_EOF or a UV error and b == NULL (no alloc_cb); the bytes it sent before are
     * then never delivered. A peer that is gone is noticed even when we wait for it. */
    void (*read_stop)(struct transport *t);
    /* Queues bufs (in order, after earlier writes); w->cb runs later exactly once.
     * 0, or a UV error (then cb is never called). */
    int (*write)(struct transport *t, struct transport_write *w, const uv_buf_t *bufs,
                 unsigned nbufs);
    /* Bytes accepted by write() and not yet handed to the kernel. */
    size_t (*write_queue_size)(const struct transport *t);
    /* After the queued writes: half-close (FIN); cb(t) once done or failed. */
    int (*shutdown)(struct transport *t, transport_done_cb cb);
    /* Closes now; queued writes are cancelled. cb(t) once the transport is gone. */
    void (*close)(struct transport *t, transport_done_cb cb);
    /* The peer's address as "1.2.3.4" / "::1" and its port ("unix-socket" and 0 on a Unix
     * socket); 0 or a UV error. */
    int (*peer)(const struct transport *t, char *host, size_t hostlen, int *port);
    /* Optional (NULL where the bytes must pass through us, as under TLS). Sends up to len
     * bytes of file fd from *off straight to the peer (sendfile(2)), only when no written
     * byte is still queued: the number sent (*off advanced; 0 at the file's end), UV_EAGAIN
     * when the socket takes nothing now or a write is queued, or a UV error. Synchronous:
     * no callback; the caller waits for the socket with an ordinary write. */
    ssize_t (*sendfile)(struct transport *t, int fd, uint64_t *off, size_t len);
    /* NULL on a plain transport. Under TLS: the subject (RFC 2253) of the client's verified
     * certificate, "" when it sent none; valid until close (use transport_tls_subject()). */
    const char *(*tls_subject)(struct transport *t);
    /* Optional (NULL: the kernel's default): fixes the socket's send buffer at about bytes
     * (SO_SNDBUF, no autotuning), so a peer that stops reading holds that much in the kernel
     * at most (--shared: the slow-client limit is then reached). 0 or a UV error. */
    int (*send_buffer)(struct transport *t, int bytes);
};

struct transport {
    const struct transport_ops *ops;
    void *data; /* public: for the user */
    transport_alloc_cb alloc_cb;
    transport_read_cb read_cb;
};

/*
 * Accepts a connection from a listening TCP server into a new transport
 * (TCP_NODELAY set). *out is NULL on failure. Returns 0 or a UV error.
 */
int transport_tcp_accept(uv_stream_t *server, struct transport **out);

/*
 * transport_mem: a transport on memory, for tests and fuzzing (no socket). The other end is a
 * struct transport_mem_peer that the caller owns and reads: it pushes what "the client" sends
 * (transport_mem_push, any segmentation: each push is one read, split at BUF_SIZE) and its
 * hangup (transport_mem_push_end: UV_EOF or a UV error, after the bytes pushed before), and
 * finds in out[] every byte the server wrote, in order, once each write completed. Everything
 * is delivered from a uv_idle handle on a later loop iteration, one read per iteration, never
 * from inside the call that caused it. hold: writes stay queued (counted by
 * write_queue_size, their callbacks not run) until it is cleared -- a client that does not
 * read; queue_extra is added to write_queue_size. While reads are stopped, a pushed end is
 * reported (b == NULL) and the bytes before it are dropped, as transport.h says. No sendfile,
 * no TLS; peer() gives peer->host (empty: "memory") and peer->port.
 */
struct transport_mem_seg;
struct transport_mem_peer {
    struct transport *t; /* NULL once the transport is freed (after its close_cb) */
    char host[46];
    int port;
    bool hold;
    size_t queue_extra;
    /* written by the transport */
    uint8_t *out;
    size_t out_len, out_cap;
    bool reading;      /* read_start called and read_stop not since */
    bool shutdown;     /* shutdown() was called */
    bool closed;       /* close() was called */
    bool freed;        /* close_cb ran: the transport is gone */
    bool end_reported; /* the pushed end reached read_cb */
    unsigned reads;    /* read_cb calls with data */
    /* private */
    struct transport_mem_seg *in_head, *in_tail;
};

/* A transport on peer (zeroed by the caller, host/port/hold/queue_extra set as wanted). 0 or
 * UV_ENOMEM. The peer must outlive the transport (peer->freed); then transport_mem_peer_free. */
int transport_mem_new(uv_loop_t *loop, struct transport_mem_peer *peer, struct transport **out);
/* Queues len bytes as the client's (copied). 0 or UV_ENOMEM; UV_EPIPE after an end. */
int transport_mem_push(struct transport_mem_peer *peer, const void *data, size_t len);
/* The client's hangup (UV_EOF) or a reset (UV_ECONNRESET...), after what was pushed. */
int transport_mem_push_end(struct transport_mem_peer *peer, int status);
/* Re-evaluates hold / queue_extra (call after changing them). */
void transport_mem_kick(struct transport_mem_peer *peer);
/* Frees out[] and what was pushed and not delivered (the transport must be gone). */
void transport_mem_peer_free(struct transport_mem_peer *peer);

/* Closes the handles this process's TCP transports share (writes that finished at once wait
 * there for their callbacks): for the loop's owner, before its last uv_run, once no
 * transport is left. */
void transport_tcp_cleanup(void);

/* The same on a listening Unix socket (uv_pipe_t): peer() says "unix-socket", port 0. */
int transport_pipe_accept(uv_stream_t *server, struct transport **out);

/* For the program's environment: NULL when t is not TLS, else ops->tls_subject(t). */
const char *transport_tls_subject(struct transport *t);

/* Size of the TCP implementation's allocation (for the memory budget). */
size_t transport_tcp_size(void);

#endif
