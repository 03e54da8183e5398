"""A raw echo guest: puts its tty in raw mode, prints READY, then echoes every byte it reads."""

from __future__ import annotations

import os
import sys
import termios
import tty


def main() -> None:
    """Echo stdin to stdout, unchanged, until EOF."""
    if os.isatty(0):
        tty.setraw(0, termios.TCSANOW)
    os.write(1, b"READY\n")
    while chunk := os.read(0, 1024):
        os.write(1, chunk)
    sys.exit(0)


if __name__ == "__main__":
    main()
