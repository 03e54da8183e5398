"""Writing many complete lines at once: a log or ``ls --color`` scrolling by.

The tokenizer hands over two or more lines of printable ASCII and SGR
sequences, each ending in CRLF. When the cursor is on the bottom row of a
full-screen region every line lands on a freshly scrolled-in blank row, so
rows are built directly, and rows that scroll off before being seen are
kept packed (see :class:`~vconsole.term.screen.PackedLine`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vconsole.term import charsets, sgr
from vconsole.term.actions import CSI_CACHE, compile_csi
from vconsole.term.screen import Line, PackedLine

if TYPE_CHECKING:
    from vconsole.term.terminal import Terminal

_SGR = re.compile(r"\x1b\[([0-9;:]*)m")

Runs = list[tuple[str, int]]


def _runs(line: str, style: int) -> tuple[Runs, int, int]:
    """(text, style) runs of a line of text and SGRs, its width, and the style after it."""
    if "\x1b" not in line:
        return ([(line, style)] if line else []), len(line), style
    parts = _SGR.split(line)
    runs: Runs = [(parts[0], style)] if parts[0] else []
    width = len(parts[0])
    cache = CSI_CACHE
    for i in range(1, len(parts), 2):
        key = parts[i] + "m"
        action = cache.get(key)
        if action is None:
            action = compile_csi(key)
            if len(cache) < 8192:
                cache[key] = action
        style = (style & action[1]) | action[2]
        text = parts[i + 1]
        if text:
            runs.append((text, style))
            width += len(text)
    return runs, width, style


def _split_rows(runs: Runs, cols: int, blank: int) -> list[tuple[Runs, int, bool]]:
    """Split one line written from column 0 of a blank row into rows.

    Returns (runs, erase style, wrapped) per row. A wrap scrolls in a new row
    whose blank cells take the erase style of the character that caused it.
    """
    rows: list[tuple[Runs, int, bool]] = []
    row: Runs = []
    n = 0
    for text, style in runs:
        size = len(text)
        if n + size <= cols:  # the whole run fits: no slicing
            row.append((text, style))
            n += size
            continue
        i = 0
        while i < size:
            if n == cols:
                rows.append((row, blank, True))
                row, n, blank = [], 0, sgr.erase_style(style)
            k = min(cols - n, size - i)
            row.append((text[i:i + k], style))
            n += k
            i += k
    rows.append((row, blank, False))
    return rows


def _plain_rows(rest: list[str], cols: int, style: int, screen_rows: int) -> list[Line]:
    """Rows for lines without SGRs, all in ``style`` (the commonest case, kept lean)."""
    blank = sgr.erase_style(style)
    total = sum((len(line) - 1) // cols + 1 if line else 1 for line in rest)
    unseen = total + 1 - screen_rows  # rows that scroll off unseen: kept packed
    rows: list[Line] = []
    add = rows.append
    full = [style] * cols
    for line in rest:
        n = len(line)
        while n > cols:  # a full row that wraps
            if len(rows) < unseen:
                add(PackedLine([(line[:cols], style)], cols, blank, True))
            else:
                add(Line(list(line[:cols]), full[:], True))
            line = line[cols:]
            n -= cols
        if len(rows) < unseen:
            add(PackedLine([(line, style)] if line else [], cols, blank))
        elif style == blank:
            add(Line(list(line.ljust(cols)), full[:]))
        else:
            add(Line(list(line.ljust(cols)), [style] * n + [blank] * (cols - n)))
    return rows


def _coloured_rows(rest: list[str], cols: int, style: int, screen_rows: int
                   ) -> tuple[list[Line], int]:
    """Rows for lines with SGRs; also the style after the last one."""
    parsed: list[tuple[Runs, int, int]] = []  # (runs, width, erase style of its row)
    total = 0  # rows the lines take (a long line takes several)
    for line in rest:
        blank = sgr.erase_style(style)
        runs, width, style = _runs(line, style)
        parsed.append((runs, width, blank))
        total += (width - 1) // cols + 1 if width else 1
    unseen = total + 1 - screen_rows  # rows that scroll off unseen: kept packed
    rows: list[Line] = []
    add = rows.append
    for runs, width, blank in parsed:
        if width <= cols:
            packed = PackedLine(runs, cols, blank)
            add(packed if len(rows) < unseen else packed.unpack())
            continue
        for row_runs, row_blank, wrapped in _split_rows(runs, cols, blank):
            packed = PackedLine(row_runs, cols, row_blank, wrapped)
            add(packed if len(rows) < unseen else packed.unpack())
    return rows, style


def print_lines(t: Terminal, text: str) -> None:
    """Write complete lines of ASCII text and SGRs, each ending in CRLF."""
    lines = text.split("\r\n")
    lines.pop()  # text ends with CRLF
    if lines[0]:
        t.process(lines[0])
    t.x = 0
    t.wrap = False
    m = t.modes
    rest = lines[1:]
    if (t.y != t.rows - 1 or t.top != 0 or t.bottom != t.rows - 1
            or m.insert or not m.autowrap or m.newline or t.gl
            or t.charsets[0] != charsets.ASCII):
        t.linefeed()
        for line in rest:
            if line:
                t.process(line)
            t.x = 0
            t.wrap = False
            t.linefeed()
        t.last_char = ""
        return
    cols = t.cols
    style = t.style
    if "\x1b" in text:
        rows, t.style = _coloured_rows(rest, cols, style, t.rows)
    else:
        rows = _plain_rows(rest, cols, style, t.rows)
    t.last_char = ""
    # Each LF scrolls the whole screen by one row: the built rows (and a
    # blank one for the last LF) push as many rows off the top.
    rows.append(Line.blank(cols, sgr.erase_style(t.style)))
    buf = t.buf.lines
    buf.extend(rows)
    gone = len(buf) - t.rows
    if t.buf is t.main and t.scrollback.maxlen:
        t.scrollback.extend(buf[:gone])
    del buf[:gone]
    t._dirty.update(range(t.rows))
