#!/usr/bin/env python3
"""A fake domU console: holds a pty master (as xenconsoled would) and answers like a shell.

Usage: xen_guest.py STORE_JSON KEY [KEY...]; each xenstore KEY gets the pty's
path. Typed lines are echoed; ``echo WORDS`` prints WORDS; the prompt is
``domU# ``.
"""

from __future__ import annotations

import json
import os
import sys
import tty

master, slave = os.openpty()
tty.setraw(slave)  # xenconsoled's ptys carry bytes as they are
store_path = sys.argv[1]
with open(store_path) as f:
    store = json.load(f)
for key in sys.argv[2:]:
    store[key] = os.ttyname(slave)
with open(store_path + ".tmp", "w") as f:
    json.dump(store, f)
os.rename(store_path + ".tmp", store_path)
os.write(master, b"domU boot done\r\ndomU# ")
line = b""
while True:
    data = os.read(master, 1024)
    for b in data:
        if b in b"\r\n":
            out = b"\r\n"
            if line.startswith(b"echo "):
                out += line[5:] + b"\r\n"
            os.write(master, out + b"domU# ")
            line = b""
        else:
            line += bytes([b])
            os.write(master, bytes([b]))
