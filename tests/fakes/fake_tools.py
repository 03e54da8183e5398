#!/usr/bin/env python3
"""Fake OpenVZ and Xen host tools for tests; behaviour picked by the name it runs as.

tests/fakes/bin holds symlinks (vzlist, vzctl, prlctl, xl, xenstore-ls,
xenstore-read) to this file; tests put that directory first on PATH and point
``FAKE_HOST`` at a directory with the host's state:

- ``vzlist.json`` / ``prlctl.json`` / ``xl-list-l.json`` / ``xl-list.txt``:
  replayed as the tools' output (copies of tests/fixtures recordings);
- ``store.json``: the xenstore, {path: value};
- ``mode-<tool>``: ``fail``, ``hang`` or ``garbage`` to make that tool misbehave.

``vzctl console CTID N`` behaves like the real one: a second attach of the
same tty fails with EBUSY, otherwise it prints the attach banner, relays its
terminal to a guest shell on a new pty, and detaches on ESC . after Enter.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import sys
import termios
import time
import tty
from pathlib import Path

STATE = Path(os.environ.get("FAKE_HOST", "/nonexistent"))


def misbehave(tool: str) -> None:
    mode_file = STATE / f"mode-{tool}"
    mode = mode_file.read_text().strip() if mode_file.exists() else ""
    if mode == "hang":
        time.sleep(3600)
    elif mode == "garbage":
        sys.stdout.write("\x00\x01 this is not json {{{\n")
        sys.exit(0)
    elif mode == "fail":
        sys.stderr.write(f"{tool}: Unable to open /dev/fake: Permission denied\n")
        sys.exit(3)


def vzlist(args: list[str]) -> None:
    misbehave("vzlist")
    sys.stdout.write((STATE / "vzlist.json").read_text())


def prlctl(args: list[str]) -> None:
    misbehave("prlctl")
    sys.stdout.write((STATE / "prlctl.json").read_text())


def _cts() -> list[dict[str, object]]:
    return list(json.loads((STATE / "vzlist.json").read_text()))


def _set_status(ctid: str, status: str) -> None:
    cts = _cts()
    for ct in cts:
        if str(ct["ctid"]) == ctid:
            ct["status"] = status
    (STATE / "vzlist.json").write_text(json.dumps(cts, indent=2))


def vzctl(args: list[str]) -> None:
    misbehave("vzctl")
    if args[:1] in (["start"], ["stop"]):
        _set_status(args[1], "running" if args[0] == "start" else "stopped")
        return
    if args[:1] != ["console"] or len(args) < 2:
        sys.exit(f"usage: vzctl console CTID [ttynum], got {args}")
    ctid, ntty = args[1], int(args[2]) if len(args) > 2 else 1
    ct = next((c for c in _cts() if str(c["ctid"]) == ctid), None)
    if ct is None or ct["status"] != "running":
        sys.stderr.write(f"Container {ctid} is not running\n")
        sys.exit(31)
    lock = os.open(STATE / f"vtty-{ctid}-{ntty - 1}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.stderr.write("Error opening CT tty: Device or resource busy\n")
        sys.exit(3)
    sys.stderr.write(f"Attached to CT {ctid} tty{ntty} (type ESC . to detach)\n")
    sys.stderr.flush()
    pid, master = pty.fork()
    if pid == 0:
        os.environ["PS1"] = f"ct{ctid}# "
        os.execvp("sh", ["sh", "-i"])
    old = termios.tcgetattr(0)
    tty.setraw(0)
    try:
        _relay(master)
    finally:
        termios.tcsetattr(0, termios.TCSANOW, old)
        sys.stderr.write(f"\nDetached from CT {ctid}\n")


def _relay(master: int) -> None:
    """vzctl's loop: terminal bytes one at a time to the tty, ESC . after Enter detaches."""
    after_enter = False
    held_esc = False
    while True:
        ready, _, _ = select.select([0, master], [], [])
        if master in ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            os.write(1, data)
        if 0 in ready:
            data = os.read(0, 1)
            if not data:
                return
            b = data[0]
            if held_esc:
                held_esc = False
                if b in b".,":
                    return
                os.write(master, b"\x1b")
            elif b == 0x1B and after_enter:
                held_esc = True
                continue
            os.write(master, bytes([b]))
            after_enter = b == 0x0D


def xl(args: list[str]) -> None:
    misbehave("xl")
    if args == ["list", "-l"]:
        sys.stdout.write((STATE / "xl-list-l.json").read_text())
    elif args == ["list"]:
        sys.stdout.write((STATE / "xl-list.txt").read_text())
    else:
        sys.exit(f"fake xl: unsupported {args}")


def _store() -> dict[str, str]:
    return dict(json.loads((STATE / "store.json").read_text()))


def xenstore_ls(args: list[str]) -> None:
    misbehave("xenstore-ls")
    base = args[-1].rstrip("/")
    for path, value in sorted(_store().items()):
        if path == base or path.startswith(base + "/"):
            quoted = value.replace("\\", "\\\\").replace('"', '\\"')
            sys.stdout.write(f'{path} = "{quoted}"\n')


def xenstore_read(args: list[str]) -> None:
    misbehave("xenstore-read")
    store = _store()
    if args[-1] not in store:
        sys.stderr.write(f"couldn't read path {args[-1]}\n")
        sys.exit(1)
    sys.stdout.write(store[args[-1]] + "\n")


TOOLS = {"vzlist": vzlist, "prlctl": prlctl, "vzctl": vzctl, "xl": xl,
         "xenstore-ls": xenstore_ls, "xenstore-read": xenstore_read}

if __name__ == "__main__":
    TOOLS[os.path.basename(sys.argv[0])](sys.argv[1:])
