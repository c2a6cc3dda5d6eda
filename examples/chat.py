#!/usr/bin/env python3
"""A line program in Python: numbers each message and sends it back.

    wsbridge --port=8080 examples/chat.py

Output must be flushed per line (or run with python3 -u), or the messages
wait in Python's buffer until it fills.
"""
import sys

count = 0
for line in sys.stdin:
    count += 1
    print(f"[{count}] you said: {line.rstrip(chr(10))}", flush=True)
print(f"bye after {count} messages", flush=True)
