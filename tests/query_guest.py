"""A lab guest that asks its terminal questions and records every answer.

Run on a lab vtty as ``python3 tests/query_guest.py CTLDIR``. It puts its tty
in raw mode, prints ``READY``, then for each ``N.cmd`` file in CTLDIR writes
``ask N`` and the bytes the file holds (as hex) to its terminal and creates
``N.done``. Every chunk of input it reads is appended to ``CTLDIR/input.hex``
as one hex line, so a test sees exactly what terminals typed back.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty


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
            with open(os.path.join(ctl, f"{seq}.done"), "w"):
                pass
            seq += 1


if __name__ == "__main__":
    main()
