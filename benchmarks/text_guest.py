"""A scripted guest printing console-like text: kernel and service log lines, some coloured.

Same commands as tests/guest_program.py (``N.cmd`` files in the control
directory, ``write COUNT``), but the bytes are text a console really shows:
timestamps, words, device names, systemd's coloured status lines, a little
UTF-8. No line is a hit of a built-in watch or of ``segfault at``.
"""

from __future__ import annotations

import os
import sys
import termios
import time
import tty

_LINES = (
    "[{t:12.6f}] usb 1-{n}: new high-speed USB device number {n} using xhci_hcd",
    "[{t:12.6f}] e1000e 0000:00:1f.6 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
    "[{t:12.6f}] EXT4-fs (sda{n}): mounted filesystem with ordered data mode. Quota mode: none.",
    "[{t:12.6f}] audit: type=1400 audit({t:.3f}:{n}): apparmor=\"STATUS\" operation=\"profile_load\"",
    "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mSession {n} of User root\x1b[0m.",
    "[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mMulti-User System\x1b[0m.",
    "{n:05d} GET /api/v1/items?page={n} HTTP/1.1 200 {n} bytes in 0.{n:03d} s (café-münchen)",
    "systemd-journald[{n}]: Received client request to flush runtime journal.",
    "kworker/u16:{n}: writeback: bdi 8:0 wrote {n} pages, {n} remain",
    "nginx: worker process {n} started; upstream 10.0.{n}.1:8080 keepalive 32",
)


def text(count: int) -> bytes:
    """``count`` bytes of console text, lines ending in CR LF as a serial console sends them."""
    out: list[bytes] = []
    size = n = 0
    while size < count:
        line = (_LINES[n % len(_LINES)].format(t=n * 0.0137, n=n % 977) + "\r\n").encode()
        out.append(line)
        size += len(line)
        n += 1
    return b"".join(out)[:count]


def main() -> None:
    """Print READY, then run the numbered commands."""
    ctl = sys.argv[1]
    fd = sys.stdout.fileno()
    if os.isatty(fd):
        tty.setraw(fd, termios.TCSANOW)
    os.write(fd, b"READY\n")
    seq = 1
    while True:
        cmd = os.path.join(ctl, f"{seq}.cmd")
        if not os.path.exists(cmd):
            time.sleep(0.02)
            continue
        with open(cmd) as f:
            words = f.read().split()
        if words and words[0] == "write":
            view = memoryview(text(int(words[1])))
            while view:
                view = view[os.write(fd, view):]
        with open(os.path.join(ctl, f"{seq}.done.tmp"), "w") as f:
            f.write("0\n")
        os.rename(os.path.join(ctl, f"{seq}.done.tmp"), os.path.join(ctl, f"{seq}.done"))
        seq += 1


if __name__ == "__main__":
    main()
