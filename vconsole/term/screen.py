"""Cell storage: rows of cells, and the row operations the emulator needs.

A row (:class:`Line`) is two parallel lists: ``chars`` (one string per cell:
a character plus any combining marks, ``""`` for the right half of a wide
character) and ``styles`` (packed style ints, see :mod:`vconsole.term.sgr`).
Lists make writing a run of text a single slice assignment.
"""

from __future__ import annotations

import unicodedata

WIDE_PAD = ""  # the cell to the right of a wide character


class Line:
    """One row of cells. ``wrapped`` is set when text wrapped off its end."""

    __slots__ = ("chars", "styles", "wrapped")

    def __init__(self, chars: list[str], styles: list[int], wrapped: bool = False) -> None:
        self.chars = chars
        self.styles = styles
        self.wrapped = wrapped

    @classmethod
    def blank(cls, cols: int, style: int = 0) -> Line:
        """A row of ``cols`` spaces in ``style``."""
        return cls([" "] * cols, [style] * cols)

    def text(self) -> str:
        """The row as text, trailing blanks stripped, wide characters once."""
        return "".join(self.chars).rstrip(" ")

    def runs(self) -> list[tuple[str, int]]:
        """The row as (text, style) runs covering every cell, wide characters once."""
        chars = self.chars
        styles = self.styles
        out: list[tuple[str, int]] = []
        start = 0
        n = len(chars)
        while start < n:
            style = styles[start]
            end = start + 1
            while end < n and styles[end] == style:
                end += 1
            out.append(("".join(chars[start:end]), style))
            start = end
        return out

    def copy(self) -> Line:
        """An independent copy."""
        return Line(self.chars[:], self.styles[:], self.wrapped)

    def fix_wide(self, start: int, end: int) -> None:
        """Blank half-overwritten wide characters at the edges of ``[start, end)``.

        Call before cells ``start..end-1`` are replaced, so that no wide
        character is left without its pad cell or a pad without its character.
        """
        chars = self.chars
        if start > 0 and start < len(chars) and chars[start] == WIDE_PAD:
            chars[start - 1] = " "
        if end < len(chars) and chars[end] == WIDE_PAD:
            chars[end] = " "

    # erase/insert_cells/delete_cells run once per ECH/EL/ICH/DCH: fix_wide is
    # inlined and the blanks are built in one multiplication.

    def erase(self, start: int, end: int, style: int) -> None:
        """Blank cells ``[start, end)`` with ``style``."""
        chars = self.chars
        n = len(chars)
        if start < 0:
            start = 0
        if end > n:
            end = n
        if start >= end:
            return
        if start and chars[start] == WIDE_PAD:
            chars[start - 1] = " "
        if end < n and chars[end] == WIDE_PAD:
            chars[end] = " "
        chars[start:end] = [" "] * (end - start)
        self.styles[start:end] = [style] * (end - start)

    def insert_cells(self, x: int, count: int, style: int) -> None:
        """Insert ``count`` blanks at ``x``, dropping cells pushed off the end."""
        chars = self.chars
        n = len(chars)
        if count > n - x:
            count = n - x
        if count <= 0:
            return
        if chars[x] == WIDE_PAD:  # a wide character split by the insertion
            chars[x] = " "
            if x:
                chars[x - 1] = " "
        # del + slice insert: no temporary copy of the rest of the row
        del chars[n - count:]
        chars[x:x] = [" "] * count
        styles = self.styles
        del styles[n - count:]
        styles[x:x] = [style] * count
        last = chars[n - 1]
        if not last.isascii() and char_width(last[:1]) == 2:
            chars[n - 1] = " "  # a wide character lost its pad off the end

    def delete_cells(self, x: int, count: int, style: int) -> None:
        """Delete ``count`` cells at ``x``, filling from the right with blanks."""
        chars = self.chars
        n = len(chars)
        if count > n - x:
            count = n - x
        if count <= 0:
            return
        end = x + count
        if x and chars[x] == WIDE_PAD:
            chars[x - 1] = " "
        if end < n and chars[end] == WIDE_PAD:
            chars[end] = " "
        del chars[x:end]
        chars += [" "] * count
        styles = self.styles
        del styles[x:end]
        styles += [style] * count

    def resize(self, cols: int) -> None:
        """Truncate or pad (with default blanks) to ``cols`` cells."""
        n = len(self.chars)
        if cols < n:
            del self.chars[cols:]
            del self.styles[cols:]
            if cols and char_width(self.chars[cols - 1][:1]) == 2:
                self.chars[cols - 1] = " "
        elif cols > n:
            self.chars.extend([" "] * (cols - n))
            self.styles.extend([0] * (cols - n))


class PackedLine(Line):
    """A row that scrolled straight into the scrollback, kept as runs until read.

    Writing many log lines at once sends most rows to the scrollback without
    ever showing them; building their cell lists lazily keeps that cheap.
    ``runs`` are (text, style) pairs of one-cell characters from column 0;
    the rest of the row is blank in style ``blank``. Reads (``chars``,
    ``styles``, ``runs()``, ``text()``) behave as for a Line.
    """

    __slots__ = ("_blank", "_cols", "_packed", "_unpacked")

    def __init__(self, runs: list[tuple[str, int]], cols: int, blank: int,
                 wrapped: bool = False) -> None:
        self._packed = runs
        self._cols = cols
        self._blank = blank
        self._unpacked: Line | None = None
        self.wrapped = wrapped

    def packed(self) -> list[tuple[str, int]]:
        """The row's runs; subclasses may build them on first use."""
        return self._packed

    def unpack(self) -> Line:
        """The row as a plain :class:`Line` (built once)."""
        line = self._unpacked
        if line is None:
            chars: list[str] = []
            styles: list[int] = []
            for text, style in self.packed():
                chars.extend(text)
                styles.extend([style] * len(text))
            pad = self._cols - len(chars)
            chars.extend(" " * pad)
            styles.extend([self._blank] * pad)
            line = Line(chars, styles, self.wrapped)
            self._unpacked = line
        return line

    @property
    def chars(self) -> list[str]:
        return self.unpack().chars

    @chars.setter
    def chars(self, value: list[str]) -> None:
        self.unpack().chars = value

    @property
    def styles(self) -> list[int]:
        return self.unpack().styles

    @styles.setter
    def styles(self, value: list[int]) -> None:
        self.unpack().styles = value

    def text(self) -> str:
        """The row as text, trailing blanks stripped."""
        if self._unpacked is not None:
            return self._unpacked.text()
        return "".join(text for text, _ in self.packed()).rstrip(" ")

    def runs(self) -> list[tuple[str, int]]:
        """(text, style) runs covering every cell, adjacent equal styles merged."""
        if self._unpacked is not None:
            return self._unpacked.runs()
        out: list[tuple[str, int]] = []
        width = 0
        for text, style in self.packed():
            width += len(text)
            if out and out[-1][1] == style:
                out[-1] = (out[-1][0] + text, style)
            else:
                out.append((text, style))
        pad = self._cols - width
        if pad:
            if out and out[-1][1] == self._blank:
                out[-1] = (out[-1][0] + " " * pad, self._blank)
            else:
                out.append((" " * pad, self._blank))
        return out


class Buffer:
    """A grid of ``rows`` lines of ``cols`` cells (the main or alternate screen)."""

    __slots__ = ("cols", "lines", "rows")

    def __init__(self, cols: int, rows: int) -> None:
        self.cols = cols
        self.rows = rows
        self.lines = [Line.blank(cols) for _ in range(rows)]

    def clear(self, style: int = 0) -> None:
        """Blank every cell."""
        self.lines = [Line.blank(self.cols, style) for _ in range(self.rows)]

    def scroll_up(self, top: int, bottom: int, count: int, style: int) -> list[Line]:
        """Scroll lines ``top..bottom`` (inclusive) up; return the lines removed."""
        lines = self.lines
        if count == 1:  # the common case (a linefeed at the bottom margin)
            removed = [lines.pop(top)]
            lines.insert(bottom, Line([" "] * self.cols, [style] * self.cols))
            return removed
        count = min(count, bottom - top + 1)
        removed = lines[top:top + count]
        del lines[top:top + count]
        cols = self.cols
        lines[bottom - count + 1:bottom - count + 1] = [
            Line.blank(cols, style) for _ in range(count)]
        return removed

    def scroll_down(self, top: int, bottom: int, count: int, style: int) -> None:
        """Scroll lines ``top..bottom`` (inclusive) down, blanking at the top."""
        lines = self.lines
        count = min(count, bottom - top + 1)
        del lines[bottom - count + 1:bottom + 1]
        cols = self.cols
        lines[top:top] = [Line.blank(cols, style) for _ in range(count)]

    def resize(self, cols: int, rows: int) -> None:
        """Change the size, keeping the top-left of the contents."""
        for line in self.lines:
            line.resize(cols)
        if rows < self.rows:
            del self.lines[rows:]
        else:
            self.lines.extend(Line.blank(cols) for _ in range(rows - self.rows))
        self.cols = cols
        self.rows = rows


# Width of single characters; filled lazily (a screen sees few distinct ones).
_WIDTH: dict[str, int] = {}


def char_width(ch: str) -> int:
    """Cells taken by ``ch``: 0 (combining/format), 1, or 2 (East Asian wide/full)."""
    w = _WIDTH.get(ch)
    if w is None:
        w = _compute_width(ch)
        _WIDTH[ch] = w
    return w


def _compute_width(ch: str) -> int:
    if not ch:
        return 0
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
        return 0
    if unicodedata.category(ch) == "Cf" and ch != "\u00ad":
        return 0
    if "\u1160" <= ch <= "\u11ff":  # Hangul medial vowels/final consonants join
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
