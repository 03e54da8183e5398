"""The terminal emulator: a screen that bytes written by a program are fed to."""

from __future__ import annotations

import codecs
from collections import deque
from typing import Any

from vconsole.term import charsets, sgr
from vconsole.term.actions import CSI_CACHE, lookup, op_cup, op_sgr
from vconsole.term.dense import is_dense, process_dense
from vconsole.term.lines import bulk_lines, lines_by_tokens, print_lines
from vconsole.term.modes import Modes
from vconsole.term.parser import MAX_PENDING, TOKEN, split_incomplete
from vconsole.term.printing import print_mixed, print_narrow
from vconsole.term.screen import WIDE_PAD, Buffer, Line, char_width
from vconsole.term.sequences import control, esc_dispatch, osc_dispatch

# The bulk paths (log lines, CSI-dense output) on or off; tests turn them off
# to check that they leave exactly the state the general path does.
FAST_PATHS = True


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
        # Set by the first ?1049h; ?1049l restores it even on the main screen.
        self.alt_saved: SavedCursor | None = None
        self.title = ""
        self.icon_title = ""
        self.last_char = ""
        self.plain = True  # no IRM and ASCII in GL: printing may take the fast path
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
        self.update_plain()

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
        dirty = set(self._dirty)
        self._dirty.clear()  # the same set object: feed_text holds its add method
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
        if text or self._pending:
            self.feed_text(text)

    def feed_text(self, text: str) -> None:
        """Process already-decoded output."""
        if self._pending:
            text = self._pending + text
            self._pending = ""
        cut = split_incomplete(text)
        if cut < len(text):
            # Kept for the next feed; a runaway string keeps only its head, which
            # still swallows the rest of it up to its terminator.
            self._pending = text[cut:cut + MAX_PENDING]
            text = text[:cut]
        self.process(text)

    def process(self, text: str) -> None:
        """Process decoded output that holds no cut-off sequence (see :meth:`feed_text`).

        Bursts of log lines and CSI-dense output go to the bulk paths; the
        rest to :meth:`process_tokens`.
        """
        if FAST_PATHS:
            if "\r\n" in text:
                done = bulk_lines(self, text)
                if done:
                    text = text[done:]
            if is_dense(text):
                process_dense(self, text)
                return
        self.process_tokens(text)

    def process_tokens(self, text: str) -> None:
        """The general path: one regex token at a time (no cut-off sequence at the end)."""
        csi_cache = CSI_CACHE
        dirty_add = self._dirty.add
        cols = self.cols
        for lines, run, csi, after, osc, esc, ctl in TOKEN.findall(text):
            if csi:
                action = csi_cache.get(csi) or lookup(csi)
                op, a, b, params = action
                if op is op_sgr:
                    self.style = (self.style & a) | b
                elif op is op_cup and not self.modes.origin:
                    self.x = a if a < cols else cols - 1
                    self.y = b if b < self.rows else self.rows - 1
                    self.wrap = False
                else:
                    op(self, params)
                if not after:
                    # REP repeats only a character printed right before it (as tmux).
                    self.last_char = ""
                    continue
                run = after  # printing it below sets last_char
            elif not run:
                if ctl:
                    if ctl == "\n":
                        self.linefeed()
                        if self.modes.newline:
                            self.x = 0
                    elif ctl == "\r":
                        self.x = 0
                        self.wrap = False
                    else:
                        control(self, ctl)
                elif lines:
                    (print_lines if FAST_PATHS else lines_by_tokens)(self, lines)
                elif esc:
                    esc_dispatch(self, esc[:-1], esc[-1])
                elif osc:
                    osc_dispatch(self, osc)
                self.last_char = ""
                continue
            # A printable run. Fast path: ASCII that fits on the cursor's row.
            x = self.x
            end = x + len(run)
            if end < cols and self.plain and not self.wrap and run.isascii():
                line = self.buf.lines[self.y]
                chars = line.chars
                if chars[x] == WIDE_PAD or chars[end] == WIDE_PAD:
                    line.fix_wide(x, end)
                chars[x:end] = run
                line.styles[x:end] = [self.style] * (end - x)
                self.x = end
                dirty_add(self.y)
                self.last_char = run[-1]
            else:
                self.print(run)

    def update_plain(self) -> None:
        """Recompute :attr:`plain` after a change to IRM or the character sets."""
        self.plain = (not self.modes.insert and self.charsets[self.gl] == charsets.ASCII)

    # -- printing -----------------------------------------------------------

    def print(self, run: str) -> None:
        """Write a run of printable characters at the cursor (the general path)."""
        if self.gl or self.charsets[0] != charsets.ASCII:
            run = charsets.translate(run, self.charsets[self.gl])
        if run.isascii() or all(char_width(c) == 1 for c in set(run)):
            print_narrow(self, run)
            self.last_char = run[-1]
        else:
            print_mixed(self, run)
            # REP repeats the last character if it is a graphic one; after a
            # combining mark it does nothing (as tmux).
            self.last_char = run[-1] if char_width(run[-1]) else ""

    # -- cursor and scrolling -----------------------------------------------

    def linefeed(self) -> None:
        """LF/IND: move down one row, scrolling the region at its bottom margin.

        A pending wrap survives (as in tmux): the next character still wraps.
        """
        if self.y == self.bottom:
            self.scroll_up(1)
        elif self.y < self.rows - 1:
            self.y += 1

    def reverse_index(self) -> None:
        """RI: move up one row, scrolling the region down at its top margin."""
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
        self.mark_dirty(top, bottom + 1)

    def scroll_down(self, count: int) -> None:
        """Scroll the region down ``count`` rows."""
        self.buf.scroll_down(self.top, self.bottom, count, sgr.erase_style(self.style))
        self.mark_dirty(self.top, self.bottom + 1)

    def mark_dirty(self, start: int, end: int) -> None:
        """Mark rows ``start..end-1`` changed (see :meth:`changed_rows`)."""
        dirty = self._dirty
        # Between two reads by the renderer the set soon holds every row:
        # then there is nothing to add (scrolling output marks many rows).
        if len(dirty) < self.rows:
            dirty.update(range(start, end))

    def move_to(self, x: int, y: int) -> None:
        """Put the cursor at absolute (x, y), clamped to the screen."""
        self.x = x if 0 <= x < self.cols else (0 if x < 0 else self.cols - 1)
        self.y = y if 0 <= y < self.rows else (0 if y < 0 else self.rows - 1)
        self.wrap = False

    def goto(self, x: int, y: int) -> None:
        """CUP: (x, y) relative to the origin (the region's top in origin mode)."""
        if self.modes.origin:
            y = min(max(y + self.top, self.top), self.bottom)
        self.move_to(x, y)

    def set_margins(self, top: int, bottom: int) -> None:
        """DECSTBM with 0-based inclusive rows; ignored unless top < bottom."""
        if bottom >= self.rows:
            bottom = self.rows - 1
        if top < bottom:
            self.top, self.bottom = top, bottom
            if self.modes.origin:
                self.goto(0, 0)
            else:
                self.x = self.y = 0
                self.wrap = False

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
        self.update_plain()

    def set_alt_screen(self, on: bool, save_cursor: bool) -> None:
        """Switch to (clearing it) or from the alternate screen.

        Leaving with 1049 restores the cursor saved by an earlier 1049 even
        when the main screen is already showing (tmux does; dialog relies on it).
        """
        if on == self.modes.alt_screen:
            if not on and save_cursor and self.alt_saved is not None:
                self.restore_cursor(self.alt_saved)
            return
        if on:
            if save_cursor:
                self.alt_saved = SavedCursor()
                self.save_cursor(self.alt_saved)
            self.alt.clear()
            self.buf = self.alt
        else:
            self.buf = self.main
            if save_cursor and self.alt_saved is not None:
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
        self._dirty.update(range(rows))

