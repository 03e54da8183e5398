"""tmux as the reference terminal: feed it bytes, read its screen back cell by cell.

The captured screen (``capture-pane -p -e -N``) is decoded here with a small
SGR reader written for tmux's output only, independent of the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

TMUX = shutil.which("tmux")

# Cell flags, the same bit values as vconsole.term.sgr (kept literal here so a
# change there cannot silently change what the reference says).
_FLAG = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16, 7: 32, 8: 64, 9: 128, 53: 256}
_DEC = dict(zip("`abcdefghijklmnopqrstuvwxyz{|}~_",
                "\u25c6\u2592\u2409\u240c\u240d\u240a\u00b0\u00b1\u2424\u240b\u2518\u2510"
                "\u250c\u2514\u253c\u23ba\u23bb\u2500\u23bc\u23bd\u251c\u2524\u2534\u252c"
                "\u2502\u2264\u2265\u03c0\u2260\u00a3\u00b7\u00a0", strict=True))

Cell = tuple[str, int, int, int]  # (text, fg, bg, flags); colours packed as in sgr


@dataclass
class Screen:
    """What tmux shows: rows of cells (only the cells tmux reports), cursor, title."""

    rows: list[list[Cell]]
    cursor: tuple[int, int]
    title: str
    alternate: bool


def width(ch: str) -> int:
    """Cells taken by a character (an independent reimplementation for the reference)."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _color(params: list[int], i: int) -> tuple[int, int]:
    if params[i + 1] == 5:
        return params[i + 2] + 1, i + 3
    r, g, b = params[i + 2:i + 5]
    return 1 << 24 | r << 16 | g << 8 | b, i + 5


class CaptureReader:
    """Decodes ``capture-pane -e`` output line by line.

    tmux emits attribute changes relative to the previous cell, including the
    last cell of the previous line, so the state carries across lines.
    """

    def __init__(self) -> None:
        self.state = (0, 0, 0, False)

    def line(self, line: str) -> list[Cell]:
        """Decode one line into cells."""
        cells, self.state = _parse_line(line, self.state)
        return cells


def _parse_line(line: str, state: tuple[int, int, int, bool]
                ) -> tuple[list[Cell], tuple[int, int, int, bool]]:
    cells: list[Cell] = []
    fg, bg, flags, acs = state
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\x1b":
            end = line.index("m", i)
            params = [int(p or 0) for p in line[i + 2:end].split(";")]
            j = 0
            while j < len(params):
                p = params[j]
                j += 1
                if p == 0:
                    fg = bg = flags = 0
                elif p in _FLAG:
                    flags |= _FLAG[p]
                elif 30 <= p <= 37:
                    fg = p - 29
                elif 40 <= p <= 47:
                    bg = p - 39
                elif 90 <= p <= 97:
                    fg = p - 81
                elif 100 <= p <= 107:
                    bg = p - 91
                elif p == 39:
                    fg = 0
                elif p == 49:
                    bg = 0
                elif p in (38, 48):
                    color, j = _color(params, j - 1)
                    if p == 38:
                        fg = color
                    else:
                        bg = color
                else:
                    raise AssertionError(f"unexpected SGR {p} in tmux output {line!r}")
            i = end + 1
            continue
        i += 1
        if ch == "\x0e":
            acs = True
            continue
        if ch == "\x0f":
            acs = False
            continue
        if acs:
            ch = _DEC.get(ch, ch)
        w = width(ch)
        if w == 0 and cells:
            text, cfg, cbg, cfl = cells[-1] if cells[-1][0] else cells[-2]
            idx = len(cells) - 1 if cells[-1][0] else len(cells) - 2
            cells[idx] = (text + ch, cfg, cbg, cfl)
            continue
        cells.append((ch, fg, bg, flags))
        if w == 2:
            cells.append(("", fg, bg, flags))
    return cells, (fg, bg, flags, acs)


class Tmux:
    """A private tmux server (its own socket) whose windows show byte streams."""

    def __init__(self, workdir: Path, cols: int = 80, rows: int = 24) -> None:
        if TMUX is None:
            raise RuntimeError("tmux is not installed")
        self.dir = workdir
        self.cols = cols
        self.rows = rows
        self.socket = str(workdir / "tmux.sock")
        self.count = 0
        env = dict(os.environ)
        env.pop("TMUX", None)
        self.env = env
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "ref", "-x", str(cols),
                   "-y", str(rows), "sleep 100000")
        for opt in (("default-size", f"{cols}x{rows}"),
                    ("history-limit", "2000"), ("status", "off")):
            self._tmux("set-option", "-g", *opt)

    def _tmux(self, *args: str) -> str:
        out = subprocess.run([TMUX or "tmux", "-S", self.socket, *args], env=self.env,
                             capture_output=True, text=True, check=True, timeout=30)
        return out.stdout

    def show(self, data: bytes) -> Screen:
        """Run ``cat`` of ``data`` in a fresh window (raw tty) and capture the screen."""
        self.count += 1
        stream = self.dir / f"stream{self.count}"
        done = self.dir / f"done{self.count}"
        stream.write_bytes(data)
        cmd = f"stty raw -echo; cat {stream}; touch {done}; exec sleep 100000"
        target = self._tmux("new-window", "-d", "-P", "-F", "#{window_id}", cmd).strip()
        deadline = time.monotonic() + 20
        while not done.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("tmux pane did not finish reading the stream")
            time.sleep(0.005)
        previous = None
        while True:  # quiet: two identical captures in a row
            time.sleep(0.02)
            fmt = "#{cursor_x} #{cursor_y} #{alternate_on} #{pane_title}"
            info = self._tmux("display-message", "-p", "-t", target, fmt)
            text = self._tmux("capture-pane", "-p", "-e", "-N", "-t", target)
            if (info, text) == previous:
                break
            previous = (info, text)
        self._tmux("kill-window", "-t", target)
        stream.unlink()
        done.unlink()
        lines = text.split("\n")[: self.rows]
        x, y, alt, title = info.rstrip("\n").split(" ", 3)
        reader = CaptureReader()
        return Screen([reader.line(line) for line in lines], (int(x), int(y)), title,
                      alt == "1")

    def close(self) -> None:
        """Stop the server."""
        subprocess.run([TMUX or "tmux", "-S", self.socket, "kill-server"], env=self.env,
                       capture_output=True, check=False, timeout=30)
