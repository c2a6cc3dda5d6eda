/*
 * hubz: permessage-deflate for a shared program's fan-out (hub.h).
 *
 * The hub encodes each output message once, as uncompressed frames in its
 * log. A member that agreed permessage-deflate gets compressed frames
 * instead, in one of two ways:
 *
 * - Shared (no context takeover on the server's side, the default): the
 *   compressed message depends only on the payload and on (level, window,
 *   mem_level), so members whose pmd_deflate_key() is equal share one
 *   mirror: a struct hubz that compresses every frame appended to the log
 *   ONCE (hubz_frame) into frames of its own (pool buffers, RSV1 on a
 *   message's first frame), each recorded with the log range it stands
 *   for. A member's cursor stays in the log (backlog, slow clients and
 *   trimming are the log's); hubz_send() sends the mirror's frames for the
 *   log range the member is at, by reference.
 * - Per client (context takeover: the member's window is its own):
 *   hubz_send_each() re-sends each log frame's payload through the
 *   member's bridge (bridge_send_piece), which compresses it with the
 *   member's own zlib stream.
 *
 * Messages under the threshold go out uncompressed either way (RSV1 clear).
 * A mirror created inside a message starts recording at the next message
 * (the members it serves start there too, or are served per client before:
 * hubz_send does that for a range before the mirror's start). A mirror
 * that runs out of memory stops (hubz_send then fails: the member is
 * closed with 1011), so no member ever gets half a compressed message.
 *
 * The mirrors of a hub form a list (struct hubz *, NULL when none); a
 * mirror lives while members use it (hubz_get / hubz_put).
 */
#ifndef HUBZ_H
#define HUBZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pmd.h"

struct bridge;
struct buf;
struct hubz; /* private */

/*
 * The mirror for the deflate configuration cfg (whose pmd_deflate_key() is nonzero) in *list,
 * found or created (one more user either way). end: the log position after the last frame
 * appended; msg_open: a message is in progress there (a new mirror starts after it). NULL when
 * out of memory.
 */
struct hubz *hubz_get(struct hubz **list, const struct pmd_deflate *cfg, uint64_t end,
                      bool msg_open);
/* How many members z serves (for the log). */
unsigned hubz_users(const struct hubz *z);
/* One user less; the last one frees z (its frames). NULL is ignored. */
void hubz_put(struct hubz **list, struct hubz *z);

/*
 * A frame was appended to the log at position pos, plen bytes long (header included):
 * payload p[0..n) of a text (else binary) message, first: its first frame, fin: its last.
 * Every mirror of the list compresses it. Never fails (a mirror out of memory stops).
 */
void hubz_frame(struct hubz *list, uint64_t pos, uint32_t plen, bool text, bool first, bool fin,
                const uint8_t *p, size_t n);

/* The log let go of everything before pos: so do the mirrors. */
void hubz_trim(struct hubz *list, uint64_t pos);
/* The log was emptied and starts again at position 0. */
void hubz_reset(struct hubz *list);

/*
 * Sends br the mirror's frames for the log range [pos, pos + n), whose bytes (whole frames)
 * are p[0..n) in owner (messages are counted as sent by their last frame, as
 * bridge_send_frames does). The part before the mirror's start goes per client
 * (hubz_send_each). 0, WS_E_CLOSED (nothing may be sent to br), or WS_E_NOMEM (the mirror
 * stopped, or the bridge is out of memory).
 */
int hubz_send(struct hubz *z, struct bridge *br, uint64_t pos, struct buf *owner, const uint8_t *p,
              size_t n);

/* Sends the log frames p[0..n) (in owner; whole frames) to br one payload at a time, compressed
 * by br's own deflate stream (bridge_send_piece; each message's type is its first frame's
 * opcode). 0 or as hubz_send. */
int hubz_send_each(struct bridge *br, struct buf *owner, const uint8_t *p, size_t n);

/* The message in progress in the log ends without its last frame (nobody is sent the rest: a
 * shared program's bad output); the next frame, at pos, starts a message. */
void hubz_abandon(struct hubz *list, uint64_t pos);

#endif
