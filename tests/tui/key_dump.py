"""A program that records every byte it reads from its terminal, for key comparisons.

Run as ``python3 tests/tui/key_dump.py LOGFILE`` in a tmux pane or as a lab
guest. It puts its terminal in raw mode (so bytes arrive unchanged), appends
every chunk it reads to LOGFILE, and when it reads ``{{app}}`` it sets its
terminal's application cursor keys mode (DECCKM) and prints ``MODE-APP``, so
a test can see the terminal in front of it has taken the mode.
"""

from __future__ import annotations

import os
import sys
import termios
import tty

APP_MODE = b"{{app}}"


def main() -> None:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    tty.setraw(stdin, termios.TCSANOW)
    tail = b""
    with open(sys.argv[1], "ab", buffering=0) as log:
        os.write(stdout, b"KEY-DUMP-READY\r\n")
        while chunk := os.read(stdin, 4096):
            log.write(chunk)
            tail = (tail + chunk)[-16:]
            if tail.endswith(APP_MODE):
                os.write(stdout, b"\x1b[?1hMODE-APP\r\n")
                tail = b""


if __name__ == "__main__":
    main()
