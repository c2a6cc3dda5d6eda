#!/usr/bin/env python3
"""A chat room: wsbridge --shared=addressed examples/chatroom.py, then ws://HOST:PORT/?name=Ada"""
import json
import sys
from urllib.parse import parse_qs

names = {}


def send(data, **target):  # target: to=ID (one client), except_=ID (all but one), none: all
    print(json.dumps({k.rstrip("_"): v for k, v in dict(target, data=data).items()}), flush=True)


for line in sys.stdin:
    ev = json.loads(line)
    who = ev["id"]
    if ev["event"] == "join":
        name = parse_qs(ev["env"].get("QUERY_STRING", "")).get("name", ["guest%d" % who])[0]
        names[who] = name
        send("welcome, %s; here: %s" % (name, ", ".join(sorted(names.values()))), to=who)
        send("%s joined" % name, except_=who)
    elif ev["event"] == "message":
        send("%s: %s" % (names[who], ev.get("data", "(binary)")))
    elif ev["event"] == "leave":
        send("%s left" % names.pop(who))
