"""The screen a snapshot record carries: a picture of the console rendered from its history.

The screen is the engine's state after the history's last screenful of
lines. Its size is bounded by what the history can fill, not only by the
console's window: a 1000x1000 window over a few lines of output must not
cost a million cells per console in every snapshot and saved-sessions file.

* Output without escape sequences can only reach as many rows as it has
  line breaks (and wraps) and as many columns as it has bytes between
  carriage returns (a tab at most eight), so it is rendered at that size:
  exactly the top-left of what the full window would show.
* Output with escape sequences can address any cell, so it is rendered at
  the window's size (at most MAX_WINDOW) and then cropped to the rows and
  columns that hold something, or a cursor.
"""

from __future__ import annotations

import re
from typing import Any

from vconsole.broker.history import OutputHistory
from vconsole.domain import MAX_WINDOW
from vconsole.term.screen import Line
from vconsole.term.terminal import Terminal

# At most this many bytes of the history are rendered, without scrollback:
# rendering 128 KiB per console made a 1000-console snapshot take tens of seconds.
SCREEN_FEED = 32 * 1024
DEFAULT_SIZE = (80, 24)
TAB = 8
_LINE_BREAKS = re.compile(rb"[\n\x0b\x0c]")  # LF, VT and FF all move down a row


def window(size: tuple[int, int] | None) -> tuple[int, int]:
    """The console's window as a screen can have it: 80x24 if unknown, at most MAX_WINDOW each way."""
    cols, rows = size if size and size[0] > 0 and size[1] > 0 else DEFAULT_SIZE
    return min(cols, MAX_WINDOW), min(rows, MAX_WINDOW)


def plain_extent(data: bytes, cols: int, rows: int) -> tuple[int, int]:
    """The columns and rows that ``data`` without escape sequences can reach in a ``cols`` x ``rows`` window.

    Only a CR goes back to column 0 (a line feed keeps the column), and
    every cell takes at least one byte (a tab at most TAB cells): so the
    bytes between CRs bound the columns reached. One more column keeps a
    full line's cursor where the full window would have it. Rows: one per
    line break, plus the wraps of runs wider than the window.
    """
    cells = [len(run) - len(_LINE_BREAKS.findall(run)) + (TAB - 1) * run.count(b"\t")
             for run in data.split(b"\r")]
    width = min(cols, max(cells) + 1)
    wraps = sum(max(0, -(-n // width) - 1) for n in cells)
    return width, min(rows, 1 + len(_LINE_BREAKS.findall(data)) + wraps)


def _line_extent(line: Line) -> int:
    """Cells up to the last one that is not a default blank (0: the line is blank)."""
    chars, styles = line.chars, line.styles
    n = len(chars)
    if chars.count(" ") == n and styles.count(0) == n:
        return 0
    while n and chars[n - 1] == " " and styles[n - 1] == 0:
        n -= 1
    return n


def crop(term: Terminal) -> None:
    """Shrink ``term`` to the rows and columns that hold a non-blank cell or a cursor."""
    cols, rows = term.x + 1, term.y + 1
    for saved in (term.saved, term.alt_saved):
        if saved is not None:
            cols, rows = max(cols, saved.x + 1), max(rows, saved.y + 1)
    for lines in (term.main.lines, term.alt.lines):
        for y, line in enumerate(lines):
            extent = _line_extent(line)
            if extent:
                cols, rows = max(cols, extent), max(rows, y + 1)
    cols, rows = min(cols, term.cols), min(rows, term.rows)
    if (cols, rows) != (term.cols, term.rows):
        term.resize(cols, rows)


def render_screen(history: OutputHistory, size: tuple[int, int] | None) -> dict[str, Any]:
    """The engine's state after the history's last screenful of lines, bounded by what they fill."""
    cols, rows = window(size)
    data = history.read(history.tail_offset(rows, SCREEN_FEED))
    plain = b"\x1b" not in data
    if plain:
        cols, rows = plain_extent(data, cols, rows)
    term = Terminal(cols, rows, scrollback=0)
    term.feed(data)
    if not plain:
        crop(term)
    return term.to_state()
