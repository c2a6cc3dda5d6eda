#!/usr/bin/env python3
"""A chat-style program for --framing=json: one JSON value a line, both ways.

    wsbridge --port=8080 --framing=json examples/json_chat.py

Each text message arrives as one JSON string (json.loads gives it back whole, newlines,
NUL and emoji included); each answer is one line of json.dumps(...), however many lines
the message it carries has. "/nick NAME" renames you. A binary message arrives as
{"binary": BASE64} and is answered with its bytes reversed, as a binary message.
"""
import base64
import json
import sys

name = "you"
for line in sys.stdin:
    msg = json.loads(line)
    if isinstance(msg, str):
        if msg.startswith("/nick "):
            name = msg[6:].strip() or name
            reply = "you are now %s" % name
        else:
            # a pretty-printed document of several lines: still one message to the client
            reply = json.dumps({"from": name, "text": msg, "lines": msg.count("\n") + 1}, indent=2)
        print(json.dumps(reply), flush=True)
    else:
        data = base64.b64decode(msg["binary"])
        print(json.dumps({"binary": base64.b64encode(data[::-1]).decode()}), flush=True)
