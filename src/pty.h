/*
 * pty: the pure parts of --pty (no libuv, no I/O): the terminal modes a
 * program gets, the window size a client asks for at connect time (the
 * query string) and later (a resize message). child.c does the I/O.
 *
 * The resize message (--pty --binary): a text message that is exactly one
 * JSON object {"resize":[COLS,ROWS]} (JSON whitespace allowed around every
 * token, at most PTY_RESIZE_MAX bytes, COLS and ROWS integers). Why a text
 * message of JSON rather than a one-byte prefix on every message (ttyd,
 * gotty): keystrokes then need no framing at all, so any client (xterm.js'
 * onData -> ws.send, websocat, a test script) types into the terminal as
 * is; binary messages are never interpreted, so a client that must send
 * that exact text as keystrokes sends it as a binary message.
 */
#ifndef PTY_H
#define PTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#define PTY_RESIZE_MAX 64u /* longest text message that may be a resize message */
#define PTY_SIZE_MAX 1000u /* largest COLS or ROWS taken */
#define PTY_DEFAULT_COLS 80u
#define PTY_DEFAULT_ROWS 24u

/*
 * p[0..n): is it a resize message? 1: yes, *cols and *rows set (1..PTY_SIZE_MAX each);
 * -1: it is one in shape ({"resize":[...]}) but a size is 0, too large, negative or not an
 * integer (the caller drops it); 0: not a resize message (keystrokes).
 */
int pty_resize_parse(const uint8_t *p, size_t n, unsigned *cols, unsigned *rows);

/*
 * The initial size from a raw query string ("cols=120&rows=40", no '?'; NULL or "" for none):
 * each of cols and rows that is a decimal 1..PTY_SIZE_MAX replaces the value *cols / *rows had
 * (the caller's default); anything else leaves it.
 */
void pty_size_from_query(const char *query, unsigned *cols, unsigned *rows);

/*
 * The terminal modes of a new pseudo-terminal, from the kernel's defaults in *t:
 * binary (--binary): what a terminal emulator expects (echo, ICRNL, ONLCR, signals from
 * ^C ^Z ^\, UTF-8 input);
 * line mode: canonical input (line editing, ^D is EOF) without echo, and no translation
 * either way (no CR -> NL on input, no NL -> CR NL on output), so a message's bytes reach the
 * program as sent and the program's lines come back as printed.
 */
void pty_termios(struct termios *t, bool binary);

#endif
