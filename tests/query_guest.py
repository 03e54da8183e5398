"""A lab guest that asks its terminal questions and records every answer.

Run on a lab vtty as ``python3 tests/query_guest.py CTLDIR``. It puts its tty
in raw mode, prints ``READY``, then for each ``N.cmd`` file in CTLDIR writes
``ask N`` and the bytes the file holds (as hex) to its terminal and creates
``N.done``. Every chunk of input it reads is appended to ``CTLDIR/input.hex``
as one hex line, so a test sees exactly what terminals typed back.
"""

from __future__ import annotations

import os
import re
import select
import sys
import termios
import tty
from pathlib import Path

QUERY = b"\x1b[c\x1b[6n"  # DA1 and DSR 6: what busybox and many shells ask
DA_REPLY = re.compile(rb"\x1b\[\?[0-9;]*c")
CPR_REPLY = re.compile(rb"\x1b\[[0-9]+;[0-9]+R")


def typed(ctl: Path) -> bytes:
    """Everything the guest has read so far (from tests)."""
    log = ctl / "input.hex"
    return b"".join(bytes.fromhex(line) for line in log.read_text().split()) if log.exists() else b""


def answers(ctl: Path) -> tuple[int, int]:
    """How many DA and cursor-position answers the guest has read (from tests)."""
    data = typed(ctl)
    return len(DA_REPLY.findall(data)), len(CPR_REPLY.findall(data))


def main() -> None:
    ctl = sys.argv[1]
    out = sys.stdout.fileno()
    stdin = sys.stdin.fileno()
    if os.isatty(out):
        tty.setraw(out, termios.TCSANOW)
    os.write(out, b"READY\r\n")
    log = os.path.join(ctl, "input.hex")
    seq = 1
    while True:
        ready, _, _ = select.select([stdin], [], [], 0.02)
        if ready:
            chunk = os.read(stdin, 4096)
            if not chunk:
                return
            with open(log, "a") as f:
                f.write(chunk.hex() + "\n")
        cmd = os.path.join(ctl, f"{seq}.cmd")
        if os.path.exists(cmd):
            with open(cmd) as f:
                data = bytes.fromhex(f.read().strip())
            os.write(out, f"ask {seq}\r\n".encode() + data + f"asked {seq}\r\n".encode())
            with open(os.path.join(ctl, f"{seq}.done.tmp"), "w") as f:
                f.write("0\n")  # LabHost.wait_done reads a duration
            os.rename(os.path.join(ctl, f"{seq}.done.tmp"), os.path.join(ctl, f"{seq}.done"))
            seq += 1


if __name__ == "__main__":
    main()
