#!/usr/bin/env python3
"""A binary echo for --framing=length: every record comes back as it came.

    wsbridge --port=8080 --framing=length examples/length_echo.py

A record is 1 type byte (1 text, 2 binary; +0x80: more records of the same message
follow), a 4-byte big-endian length, then that many bytes. The payload is copied through
in pieces of at most 64 KiB, so a message of any size passes without being held.
"""
import struct
import sys

stdin, stdout = sys.stdin.buffer, sys.stdout.buffer


def read_exactly(n):
    b = stdin.read(n)
    if len(b) < n:
        sys.exit(0 if not b else 1)  # EOF: the client left (a cut record is an error)
    return b


while True:
    header = stdin.read(5)
    if not header:
        break
    if len(header) < 5:
        sys.exit(1)
    kind, length = header[0], struct.unpack(">I", header[1:])[0]
    stdout.write(header)
    while length > 0:
        piece = read_exactly(min(length, 65536))
        stdout.write(piece)
        length -= len(piece)
    stdout.flush()
