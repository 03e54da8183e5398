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
from vconsole.term.actions import CSI_CACHE, lookup
from vconsole.term.parser import TOKEN
from vconsole.term.screen import Line, PackedLine

if TYPE_CHECKING:
    from vconsole.term.terminal import Terminal

_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")

Runs = list[tuple[str, int]]

_RESETS = ("\x1b[0m", "\x1b[m")


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
        action = cache.get(key) or lookup(key)
        style = (style & action[1]) | action[2]
        text = parts[i + 1]
        if text:
            runs.append((text, style))
            width += len(text)
    return runs, width, style


def _end_style(line: str, style: int) -> int:
    """The style after a line of text and SGRs, reading its SGRs from the end.

    Every SGR maps a style s to (s & keep) | bits, so the SGRs of a line
    compose into one such pair; reading backwards stops at the first one
    that keeps nothing (a reset), which in coloured output is usually the
    last SGR of the line.
    """
    i = line.rfind("\x1b[")
    keep = -1
    bits = 0
    cache = CSI_CACHE
    while i >= 0:
        key = line[i + 2:line.index("m", i) + 1]  # params are [0-9;:]: the first m ends it
        action = cache.get(key) or lookup(key)
        bits |= action[2] & keep
        keep &= action[1]
        if not keep:
            return bits
        i = line.rfind("\x1b[", 0, i)
    return (style & keep) | bits


class LazyRow(PackedLine):
    """A row holding one line of text and SGRs, split into runs only when read.

    Most lines of a fast-scrolling coloured log are never looked at, so the
    work per line is finding the style after it (:func:`_end_style`).
    """

    __slots__ = ("_raw", "_start")

    def __init__(self, raw: str, start: int, cols: int, blank: int) -> None:
        # PackedLine's fields set here: this runs once per log line.
        self._packed: Runs = []
        self._cols = cols
        self._blank = blank
        self._unpacked = None
        self.wrapped = False
        self._raw: str | None = raw
        self._start = start

    def packed(self) -> Runs:
        """The runs, built from the raw line on first use."""
        if self._raw is not None:
            self._packed = _runs(self._raw, self._start)[0]
            self._raw = None
        return self._packed


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


def _coloured_rows(rest: list[str], plains: list[str], cols: int, style: int
                   ) -> tuple[list[Line], int]:
    """Rows for lines with SGRs (``plains``: the same lines without them); the style after."""
    rows: list[Line] = []
    add = rows.append
    bg = sgr.BG_FIELD
    for line, plain in zip(rest, plains, strict=True):
        width = len(plain)
        if width <= cols:
            if width == len(line):
                add(PackedLine([(line, style)] if line else [], cols, style & bg))
            else:
                add(LazyRow(line, style, cols, style & bg))
                # Coloured output mostly ends its lines with a reset.
                style = 0 if line.endswith(_RESETS) else _end_style(line, style)
            continue
        blank = style & bg
        runs, _, style = _runs(line, style)
        for row_runs, row_blank, wrapped in _split_rows(runs, cols, blank):
            add(PackedLine(row_runs, cols, row_blank, wrapped))
    return rows, style


def print_lines(t: Terminal, text: str) -> None:
    """Write complete lines of ASCII text and SGRs, each ending in CRLF."""
    lines = text.split("\r\n")
    lines.pop()  # text ends with CRLF
    if lines[0]:
        t.process(lines[0])
    write_lines(t, lines[1:], None)


def lines_by_tokens(t: Terminal, text: str) -> None:
    """What :func:`print_lines` does, token by token (for tests of the bulk paths)."""
    for line in text.split("\r\n")[:-1]:
        t.process_tokens(line + "\r")
        t.linefeed()
        if t.modes.newline:
            t.x = 0


def write_lines(t: Terminal, rest: list[str], plains: list[str] | None) -> None:
    """Do CR LF, then write each line of ``rest`` followed by CR LF.

    The lines hold printable ASCII and SGRs only; ``plains`` are the same
    lines with the SGRs taken out (worked out here when None; ``rest``
    itself if there are none).
    """
    t.x = 0
    t.wrap = False
    m = t.modes
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
    if plains is None:
        joined = "\r\n".join(rest)
        plains = _SGR.sub("", joined).split("\r\n") if "\x1b" in joined else rest
    if plains is rest:  # no SGRs at all
        rows = _plain_rows(rest, cols, style, t.rows)
    else:
        rows, t.style = _coloured_rows(rest, plains, cols, style)
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
    t.mark_dirty(0, t.rows)


def _good_lines(plains: list[str]) -> tuple[int, int]:
    """The first run [s, e) of lines that are printable ASCII, or (-1, -1)."""
    n = len(plains)
    s = 0
    while s < n and not (plains[s].isascii() and plains[s].isprintable()):
        s += 1
    if s == n:
        return -1, -1
    e = s + 1
    while e < n and plains[e].isascii() and plains[e].isprintable():
        e += 1
    return s, e


def bulk_lines(t: Terminal, text: str) -> int:
    """Write complete lines of ASCII and SGRs in ``text`` in bulk, if it has some.

    Looks for them before the tokenizer runs, between the first CRLF and the
    last: all of them, or else the first run of such lines (others, say with
    a tab, go to the general path). What comes before them is processed
    first. Returns how much of ``text`` was consumed (0: nothing done, the
    caller processes all of it).
    """
    i = text.find("\r\n")
    j = text.rfind("\r\n")
    if j <= i + 2:
        return 0
    block = text[i + 2:j]
    rest = block.split("\r\n")
    plains = rest
    if "\x1b" in block:
        plain = _SGR.sub("", block)  # any other escape leaves an ESC: not printable
        plains = plain.split("\r\n")
        if len(plains) != len(rest):  # an SGR between a CR and an LF joined them
            plains = [_SGR.sub("", line) for line in rest]
            plain = "\x00"  # not all good: check line by line
    else:
        plain = block
    end = j + 2
    check = plain.replace("\r\n", "")
    if not (check.isascii() and check.isprintable()):
        s, e = _good_lines(plains)
        if s < 0:
            return 0
        start = i + 2 + sum(len(line) + 2 for line in rest[:s])  # where line s starts
        end = start + sum(len(line) + 2 for line in rest[s:e])
        i = start - 2
        same = plains is rest
        rest = rest[s:e]
        plains = rest if same else plains[s:e]
    # The CRLF at i must be tokens of their own, not inside a string or a
    # malformed sequence that started before it: only a token starting with
    # ESC can hold a CR. If the last ESC before it starts a complete CSI,
    # nothing can (a malformed CSI that swallowed that ESC ends at its "[").
    k = text.rfind("\x1b", 0, i)
    if k >= 0:
        m = _CSI.match(text, k)
        if m is None or m.end() > i:
            if i > 2048:  # walking a long head token by token costs too much
                return 0
            for m in TOKEN.finditer(text):
                if m.end() > i + 1:
                    # The LF must be a control token (group 7); a run of log
                    # lines (group 1) holds only real line ends.
                    if not ((m.lastindex == 7 and m.end() == i + 2) or m.lastindex == 1):
                        return 0
                    break
    if i:
        t.process(text[:i])
    write_lines(t, rest, plains)
    return end
