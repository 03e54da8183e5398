"""A scriptable lab guest for tests: writes deterministic bytes when told to.

Run on a lab vtty as ``python3 tests/guest_program.py CTLDIR``. It puts its
tty in raw mode (so bytes pass unchanged), prints ``READY``, then polls CTLDIR
for ``N.cmd`` files holding ``write COUNT [RATE]`` and answers each by writing
``pattern(N, COUNT)`` to its terminal and creating ``N.done`` holding the
seconds the write took. With ``--hexecho`` it instead prints every chunk
of input it reads as ``in:HEX``.
"""

from __future__ import annotations

import os
import sys
import termios
import time
import tty


def pattern(seq: int, count: int) -> bytes:
    """The bytes command ``seq`` writes: 64-byte numbered lines, cut to ``count``."""
    filler = "." * 64
    lines = count // 64 + 1
    data = "".join(f"{seq}:{i:08d}:{filler}"[:63] + "\n" for i in range(lines)).encode()
    return data[:count]


def main() -> None:
    ctl = sys.argv[1]
    fd = sys.stdout.fileno()
    if os.isatty(fd):
        tty.setraw(fd, termios.TCSANOW)
    os.write(fd, b"READY\n")
    if "--hexecho" in sys.argv:
        # Report every chunk of input as hex, one line each: what keys really arrived.
        while chunk := os.read(sys.stdin.fileno(), 1024):
            os.write(fd, b"in:" + chunk.hex().encode() + b"\r\n")
        return
    seq = 1
    while True:
        cmd = os.path.join(ctl, f"{seq}.cmd")
        if not os.path.exists(cmd):
            time.sleep(0.02)
            continue
        with open(cmd) as f:
            words = f.read().split()
        if words and words[0] == "write":
            data = pattern(seq, int(words[1]))
            began = time.monotonic()
            # An optional rate (bytes/s) paces the write in 64 KiB steps.
            rate = float(words[2]) if len(words) > 2 else 0.0
            view = memoryview(data)
            sent = 0
            while view:
                step = view[: 65536] if rate else view
                n = os.write(fd, step)
                view = view[n:]
                sent += n
                if rate:
                    ahead = sent / rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
        else:
            began = time.monotonic()
        took = time.monotonic() - began
        with open(os.path.join(ctl, f"{seq}.done.tmp"), "w") as f:
            f.write(f"{took:.6f}\n")
        os.rename(os.path.join(ctl, f"{seq}.done.tmp"), os.path.join(ctl, f"{seq}.done"))
        seq += 1


if __name__ == "__main__":
    main()
