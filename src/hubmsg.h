/*
 * hubmsg: the JSON lines of the addressed shared mode (hub.h), pure: no
 * libuv, no I/O.
 *
 * To the program (each line ends with "\n"; strings are JSON-escaped,
 * invalid UTF-8 replaced with U+FFFD):
 *   {"event":"join","id":ID,"env":{"NAME":"value",...}}
 *   {"event":"message","id":ID,"data":"..."}      a text message
 *   {"event":"message","id":ID,"base64":"..."}    a binary message
 *   {"event":"leave","id":ID}
 * From the program, one object per line, keys in any order, unknown keys
 * ignored (their values skipped, nested or not):
 *   {"data":"..."}                to every client
 *   {"to":ID,"data":"..."}        to one
 *   {"except":ID,"data":"..."}    to all but one
 * ID: an integer from 1 to 2^53. "to" and "except" together are refused.
 */
#ifndef HUBMSG_H
#define HUBMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest JSON nesting skipped inside an unknown key's value. */
#define HUBMSG_DEPTH_MAX 32

/* A parsed output line. */
struct hubmsg_out {
    unsigned long to, except; /* 0: not given */
    uint8_t *data;            /* the decoded string (malloc'd; NULL when empty) */
    size_t len;
};

/*
 * Parses line[0..len) (without its "\n") into o. Returns NULL, or why the line is refused
 * (a static string: "not a JSON object", "no \"data\"", ...). Either way o must be released
 * with hubmsg_out_free(). Never reads past line + len.
 */
const char *hubmsg_parse_out(const uint8_t *line, size_t len, struct hubmsg_out *o);
void hubmsg_out_free(struct hubmsg_out *o);

/* The event lines, malloc'd, "\n"-terminated; *n their length. NULL when out of memory. */
uint8_t *hubmsg_event_message(unsigned long id, const uint8_t *data, size_t len, bool binary,
                              size_t *n);
/* env: "NAME=value" strings, NULL-terminated (child_env_build's), or NULL. */
uint8_t *hubmsg_event_join(unsigned long id, char *const *env, size_t *n);
uint8_t *hubmsg_event_leave(unsigned long id, size_t *n);

#endif
