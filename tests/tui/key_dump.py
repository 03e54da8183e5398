"""A program that records every byte it reads from its terminal, for key comparisons.

Run as ``python3 tests/tui/key_dump.py LOGFILE`` in a tmux pane or as a lab
guest. It puts its terminal in raw mode (so bytes arrive unchanged), appends
every chunk it reads to LOGFILE, and switches its terminal's cursor keys
between normal and application mode (DECCKM) when it reads ``{{app}}`` or
``{{normal}}``, then prints ``MODE-APP`` / ``MODE-NORMAL`` so a test can see
the terminal in front of it has taken the mode.
"""

from __future__ import annotations

import os
import sys
import termios
import tty

SWITCHES = {b"{{app}}": b"\x1b[?1hMODE-APP\r\n", b"{{normal}}": b"\x1b[?1lMODE-NORMAL\r\n"}


def main() -> None:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    tty.setraw(stdin, termios.TCSANOW)
    tail = b""
    with open(sys.argv[1], "ab", buffering=0) as log:
        os.write(stdout, b"KEY-DUMP-READY\r\n")
        while chunk := os.read(stdin, 4096):
            log.write(chunk)
            tail = (tail + chunk)[-16:]
            for word, answer in SWITCHES.items():
                if tail.endswith(word):
                    os.write(stdout, answer)
                    tail = b""


if __name__ == "__main__":
    main()
