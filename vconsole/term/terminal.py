"""The terminal emulator: a screen that bytes written by a program are fed to."""

from __future__ import annotations

import codecs
from collections import deque
from typing import Any

from vconsole.term import charsets, sgr
from vconsole.term.modes import Modes
from vconsole.term.parser import (
    CONTROL,
    CSI,
    ESC,
    INCOMPLETE,
    MALFORMED,
    MAX_PENDING,
    OSC,
    TEXT,
    TOKEN,
)
from vconsole.term.screen import WIDE_PAD, Buffer, Line, char_width
from vconsole.term.sequences import control, csi_dispatch, esc_dispatch, osc_dispatch


class SavedCursor:
    """What DECSC (and entering the alternate screen with 1049) saves."""

    __slots__ = ("charsets", "gl", "origin", "style", "wrap", "x", "y")

    def __init__(self, x: int = 0, y: int = 0, style: int = 0, origin: bool = False,
                 wrap: bool = False, sets: tuple[str, str] = ("B", "B"), gl: int = 0) -> None:
        self.x = x
        self.y = y
        self.style = style
        self.origin = origin
        self.wrap = wrap
        self.charsets = sets
        self.gl = gl


class Terminal:
    """A VT/xterm-compatible screen of ``cols`` x ``rows`` cells.

    Feed it the bytes a program writes with :meth:`feed`; read the screen with
    :meth:`screen_text`, :attr:`lines` (rows of cells and styles),
    :meth:`row_runs` and :meth:`changed_rows`; save and restore it with
    :meth:`to_state` / :meth:`from_state`.
    """

    def __init__(self, cols: int = 80, rows: int = 24, scrollback: int = 1000) -> None:
        if cols < 1 or rows < 1:
            raise ValueError("terminal size must be at least 1x1")
        self.cols = cols
        self.rows = rows
        self.scrollback_limit = scrollback
        self.scrollback: deque[Line] = deque(maxlen=max(scrollback, 0))
        self.title = ""
        self.icon_title = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._replies: list[str] = []
        self._dirty: set[int] = set(range(rows))
        self.last_char = ""
        self.reset()

    # -- state --------------------------------------------------------------

    def reset(self) -> None:
        """Full reset (RIS): clear both screens, modes, tabs and title; keep scrollback."""
        self.main = Buffer(self.cols, self.rows)
        self.alt = Buffer(self.cols, self.rows)
        self.buf = self.main
        self.modes = Modes()
        self.x = 0
        self.y = 0
        self.wrap = False
        self.style = sgr.DEFAULT
        self.top = 0
        self.bottom = self.rows - 1
        self.tabs = [x % 8 == 0 and x > 0 for x in range(self.cols)]
        self.charsets: list[str] = [charsets.ASCII, charsets.ASCII]
        self.gl = 0
        self.saved = SavedCursor()
        self.alt_saved = SavedCursor()
        self.title = ""
        self.icon_title = ""
        self.last_char = ""
        self._dirty.update(range(self.rows))

    def soft_reset(self) -> None:
        """DECSTR: reset modes, margins, attributes and saved cursor; keep the screen."""
        m = self.modes
        m.insert = m.origin = m.app_cursor = m.app_keypad = False
        m.autowrap = m.cursor_visible = True
        self.top = 0
        self.bottom = self.rows - 1
        self.style = sgr.DEFAULT
        self.charsets = [charsets.ASCII, charsets.ASCII]
        self.gl = 0
        self.saved = SavedCursor()
        self.wrap = False

    @property
    def cursor(self) -> tuple[int, int]:
        """Cursor position (x, y), 0-based."""
        return self.x, self.y

    @property
    def lines(self) -> list[Line]:
        """The rows of the screen on display (main or alternate)."""
        return self.buf.lines

    def screen_text(self) -> list[str]:
        """One string per row, trailing blanks stripped, wide characters once."""
        return ["".join(line.chars).rstrip(" ") for line in self.buf.lines]

    def row_runs(self, y: int) -> list[tuple[str, int]]:
        """Row ``y`` as (text, packed style) runs; decode with :func:`sgr.decode_style`."""
        return self.buf.lines[y].runs()

    def changed_rows(self) -> set[int]:
        """Rows changed since the last call (all rows on the first call)."""
        dirty = self._dirty
        self._dirty = set()
        return dirty

    def read_replies(self) -> bytes:
        """Bytes the terminal answers with (DSR, DA), to be written back to the program."""
        out = "".join(self._replies).encode()
        self._replies.clear()
        return out

    def reply(self, text: str) -> None:
        """Queue an answer for :meth:`read_replies` (bounded)."""
        if len(self._replies) < 256:
            self._replies.append(text)

    def to_state(self) -> dict[str, Any]:
        """The full state as plain msgpack-able data (see :mod:`vconsole.term.state`)."""
        from vconsole.term.state import dump

        return dump(self)

    @classmethod
    def from_state(cls, state: object) -> Terminal:
        """Rebuild a terminal from :meth:`to_state` data; ValueError if it is malformed."""
        from vconsole.term.state import load

        return load(state)

    # -- input --------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Process bytes written by the program."""
        text = self._decoder.decode(data)
        if self._pending:
            text = self._pending + text
            self._pending = ""
        if text:
            self.feed_text(text)

    def feed_text(self, text: str) -> None:
        """Process already-decoded output."""
        match = TOKEN.match
        pos = 0
        end = len(text)
        while pos < end:
            m = match(text, pos)
            if m is None:  # cannot happen: every character matches some branch
                break
            kind = m.lastindex
            if kind == TEXT:
                self.print(m.group(1))
            elif kind == CSI:
                csi_dispatch(self, m.group(2), m.group(3), m.group(4))
            elif kind == CONTROL:
                ch = m.group(CONTROL)
                if ch == "\n":
                    self.linefeed()
                    if self.modes.newline:
                        self.x = 0
                elif ch == "\r":
                    self.x = 0
                    self.wrap = False
                elif ch == "\x1b":
                    if INCOMPLETE.fullmatch(text, pos):
                        if end - pos <= MAX_PENDING:
                            self._pending = text[pos:]
                        return
                    bad = MALFORMED.match(text, pos)
                    pos = bad.end() if bad else pos + 1
                    continue
                else:
                    control(self, ch)
            elif kind == ESC:
                esc_dispatch(self, m.group(6), m.group(7))
            elif kind == OSC:
                osc_dispatch(self, m.group(5))
            pos = m.end()

    # -- printing -----------------------------------------------------------

    def print(self, run: str) -> None:
        """Write a run of printable characters at the cursor."""
        cs = self.charsets[self.gl]
        if cs != charsets.ASCII:
            run = charsets.translate(run, cs)
        if run.isascii() or all(char_width(c) == 1 for c in set(run)):
            self._print_narrow(run)
            self.last_char = run[-1]
        else:
            self._print_mixed(run)
            for ch in reversed(run):  # REP repeats the last graphic character
                if char_width(ch):
                    self.last_char = ch
                    break

    def _print_narrow(self, run: str) -> None:
        """Write characters that are all one cell wide: a slice per row touched."""
        cols = self.cols
        modes = self.modes
        n = len(run)
        i = 0
        while i < n:
            if self.wrap:
                if modes.autowrap:
                    self.buf.lines[self.y].wrapped = True
                    self.x = 0
                    self.linefeed()
                self.wrap = False
            x = self.x
            line = self.buf.lines[self.y]
            k = n - i
            space = cols - x
            if k > space:
                if modes.autowrap:
                    k = space
                    chunk = run[i:i + k]
                else:  # without autowrap the last character overwrites the margin
                    chunk = run[i:i + space - 1] + run[n - 1]
                    k = space
                    i = n - k
            else:
                chunk = run[i:] if i else run
            if modes.insert:
                line.insert_cells(x, k, sgr.erase_style(self.style))
            line.fix_wide(x, x + k)
            line.chars[x:x + k] = chunk
            line.styles[x:x + k] = [self.style] * k
            self._dirty.add(self.y)
            i += k
            x += k
            if x >= cols:
                self.x = cols - 1
                self.wrap = modes.autowrap
            else:
                self.x = x

    def _print_mixed(self, run: str) -> None:
        """Write text containing wide or zero-width characters."""
        narrow: list[str] = []
        for ch in run:
            w = char_width(ch)
            if w == 1:
                narrow.append(ch)
                continue
            if narrow:
                self._print_narrow("".join(narrow))
                narrow.clear()
            if w == 0:
                self._combine(ch)
            else:
                self._print_wide(ch)
        if narrow:
            self._print_narrow("".join(narrow))

    def _combine(self, ch: str) -> None:
        """Attach a zero-width character to the cell before the cursor."""
        x = self.x if self.wrap else self.x - 1
        line = self.buf.lines[self.y]
        if x >= 0 and line.chars[x] == WIDE_PAD:
            x -= 1
        if x >= 0 and len(line.chars[x]) < 16:  # bound a cell's length
            line.chars[x] += ch
            self._dirty.add(self.y)

    def _print_wide(self, ch: str) -> None:
        """Write one two-cell character."""
        cols = self.cols
        if cols < 2:
            return
        if self.wrap or self.x == cols - 1:
            if not self.modes.autowrap:
                if self.wrap:
                    self.wrap = False
                self.x = cols - 2
            else:
                self.buf.lines[self.y].wrapped = True
                self.x = 0
                self.wrap = False
                self.linefeed()
        x = self.x
        line = self.buf.lines[self.y]
        if self.modes.insert:
            line.insert_cells(x, 2, sgr.erase_style(self.style))
        line.fix_wide(x, x + 2)
        line.chars[x] = ch
        line.chars[x + 1] = WIDE_PAD
        line.styles[x] = line.styles[x + 1] = self.style
        self._dirty.add(self.y)
        if x + 2 >= cols:
            self.x = cols - 1
            self.wrap = self.modes.autowrap
        else:
            self.x = x + 2

    # -- cursor and scrolling -----------------------------------------------

    def linefeed(self) -> None:
        """LF/IND: move down one row, scrolling the region at its bottom margin."""
        self.wrap = False
        if self.y == self.bottom:
            self.scroll_up(1)
        elif self.y < self.rows - 1:
            self.y += 1

    def reverse_index(self) -> None:
        """RI: move up one row, scrolling the region down at its top margin."""
        self.wrap = False
        if self.y == self.top:
            self.scroll_down(1)
        elif self.y > 0:
            self.y -= 1

    def scroll_up(self, count: int) -> None:
        """Scroll the region up ``count`` rows (to scrollback if it is the whole main top)."""
        top, bottom = self.top, self.bottom
        removed = self.buf.scroll_up(top, bottom, count, sgr.erase_style(self.style))
        if top == 0 and self.buf is self.main and self.scrollback.maxlen:
            self.scrollback.extend(removed)
        self._dirty.update(range(top, bottom + 1))

    def scroll_down(self, count: int) -> None:
        """Scroll the region down ``count`` rows."""
        self.buf.scroll_down(self.top, self.bottom, count, sgr.erase_style(self.style))
        self._dirty.update(range(self.top, self.bottom + 1))

    def move_to(self, x: int, y: int) -> None:
        """Put the cursor at absolute (x, y), clamped to the screen."""
        self.x = min(max(x, 0), self.cols - 1)
        self.y = min(max(y, 0), self.rows - 1)
        self.wrap = False

    def goto(self, x: int, y: int) -> None:
        """CUP: (x, y) relative to the origin (the region's top in origin mode)."""
        if self.modes.origin:
            y = min(max(y + self.top, self.top), self.bottom)
        self.move_to(x, y)

    def set_margins(self, top: int, bottom: int) -> None:
        """DECSTBM with 0-based inclusive rows; ignored unless top < bottom."""
        bottom = min(bottom, self.rows - 1)
        if top < bottom:
            self.top, self.bottom = top, bottom
            self.goto(0, 0)

    def save_cursor(self, into: SavedCursor | None = None) -> None:
        """DECSC."""
        s = into or self.saved
        s.x, s.y, s.style, s.wrap = self.x, self.y, self.style, self.wrap
        s.origin = self.modes.origin
        s.charsets = (self.charsets[0], self.charsets[1])
        s.gl = self.gl

    def restore_cursor(self, source: SavedCursor | None = None) -> None:
        """DECRC."""
        s = source or self.saved
        self.move_to(s.x, s.y)
        self.wrap = s.wrap and self.x == self.cols - 1
        self.style = s.style
        self.modes.origin = s.origin
        self.charsets = list(s.charsets)
        self.gl = s.gl

    def set_alt_screen(self, on: bool, save_cursor: bool) -> None:
        """Switch to (clearing it) or from the alternate screen.

        Leaving with 1049 restores the cursor even when the main screen is
        already showing (tmux does; dialog relies on it).
        """
        if on == self.modes.alt_screen:
            if not on and save_cursor:
                self.restore_cursor(self.alt_saved)
            return
        if on:
            if save_cursor:
                self.save_cursor(self.alt_saved)
            self.alt.clear()
            self.buf = self.alt
        else:
            self.buf = self.main
            if save_cursor:
                self.restore_cursor(self.alt_saved)
        self.modes.alt_screen = on
        self._dirty.update(range(self.rows))

    def resize(self, cols: int, rows: int) -> None:
        """Change the size; contents keep their top-left, the cursor is clamped."""
        if cols < 1 or rows < 1:
            raise ValueError("terminal size must be at least 1x1")
        if rows < self.rows and self.y >= rows:
            # Keep the cursor's row on screen by scrolling the main screen up.
            shift = self.y - rows + 1
            if self.buf is self.main:
                self.scrollback.extend(self.main.lines[:shift])
            del self.buf.lines[:shift]
            self.buf.lines.extend(Line.blank(self.cols) for _ in range(shift))
            self.y -= shift
        self.main.resize(cols, rows)
        self.alt.resize(cols, rows)
        if cols > self.cols:
            self.tabs.extend(x % 8 == 0 for x in range(self.cols, cols))
        else:
            del self.tabs[cols:]
        self.cols, self.rows = cols, rows
        self.top, self.bottom = 0, rows - 1
        self.move_to(self.x, self.y)
        self._dirty = set(range(rows))

