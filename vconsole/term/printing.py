"""Writing printable text into the screen (the slower, general paths).

The feed loop writes short ASCII runs that fit on the cursor's row itself;
everything else (wrapping, insert mode, wide and combining characters, many
lines at once) comes here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vconsole.term import charsets, sgr
from vconsole.term.screen import WIDE_PAD, Line, PackedLine, char_width

if TYPE_CHECKING:
    from vconsole.term.terminal import Terminal


def print_lines(t: Terminal, text: str) -> None:
    """Write complete ASCII lines, each ending in CRLF (a log scrolling by).

    When the cursor sits on the bottom row of a full-screen region, every
    line after the first lands on a freshly scrolled-in blank row, so the
    rows are built directly instead of written cell by cell.
    """
    lines = text.split("\r\n")
    lines.pop()  # text ends with CRLF
    if lines[0]:
        t.print(lines[0])
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
                t.print(line)
            t.x = 0
            t.wrap = False
            t.linefeed()
        return
    cols = t.cols
    style = t.style
    blank = sgr.erase_style(style)
    rows: list[Line] = []
    add = rows.append
    full = [style] * cols
    # Rows that scroll off within this call go to the scrollback (or nowhere)
    # unseen: keep them packed. Count rows first (a long line takes several).
    total = sum(len(line) // cols + (len(line) % cols > 0 or not line) for line in rest)
    unseen = total + 1 - t.rows
    for text_line in rest:
        n = len(text_line)
        if n <= cols and len(rows) < unseen:
            add(PackedLine(text_line, cols, style, blank))
            continue
        if n <= cols and style == blank:  # the common case, kept short
            add(Line(list(text_line.ljust(cols)), full[:]))
            continue
        start = 0
        while n - start > cols:  # wraps: full rows marked as wrapped
            rows.append(Line(list(text_line[start:start + cols]), [style] * cols, True))
            start += cols
        k = n - start
        tail = text_line[start:] if start else text_line
        rows.append(Line(list(tail.ljust(cols)), [style] * cols if style == blank or k == cols
                         else [style] * k + [blank] * (cols - k)))
    # Each LF scrolls the whole screen by one row: the built rows (and a
    # blank one for the last LF) push as many rows off the top.
    rows.append(Line.blank(cols, blank))
    buf = t.buf.lines
    buf.extend(rows)
    gone = len(buf) - t.rows
    if t.buf is t.main and t.scrollback.maxlen:
        t.scrollback.extend(buf[:gone])
    del buf[:gone]
    t._dirty.update(range(t.rows))


def print_narrow(t: Terminal, run: str) -> None:
    """Write characters that are all one cell wide: a slice per row touched."""
    cols = t.cols
    modes = t.modes
    n = len(run)
    i = 0
    while i < n:
        if t.wrap:
            if modes.autowrap:
                t.buf.lines[t.y].wrapped = True
                t.x = 0
                t.linefeed()
            t.wrap = False
        x = t.x
        line = t.buf.lines[t.y]
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
            line.insert_cells(x, k, sgr.erase_style(t.style))
        line.fix_wide(x, x + k)
        line.chars[x:x + k] = chunk
        line.styles[x:x + k] = [t.style] * k
        t._dirty.add(t.y)
        i += k
        x += k
        if x >= cols:
            t.x = cols - 1
            t.wrap = modes.autowrap
        else:
            t.x = x


def print_mixed(t: Terminal, run: str) -> None:
    """Write text containing wide or zero-width characters."""
    narrow: list[str] = []
    for ch in run:
        w = char_width(ch)
        if w == 1:
            narrow.append(ch)
            continue
        if narrow:
            print_narrow(t, "".join(narrow))
            narrow.clear()
        if w == 0:
            combine(t, ch)
        else:
            print_wide(t, ch)
    if narrow:
        print_narrow(t, "".join(narrow))


def combine(t: Terminal, ch: str) -> None:
    """Attach a zero-width character to the cell before the cursor."""
    x = t.x if t.wrap else t.x - 1
    line = t.buf.lines[t.y]
    if x >= 0 and line.chars[x] == WIDE_PAD:
        x -= 1
    if x >= 0 and len(line.chars[x]) < 16:  # bound a cell's length
        line.chars[x] += ch
        t._dirty.add(t.y)


def print_wide(t: Terminal, ch: str) -> None:
    """Write one two-cell character."""
    cols = t.cols
    if cols < 2:
        return
    if t.wrap or t.x == cols - 1:
        if not t.modes.autowrap:
            if t.wrap:
                t.wrap = False
            t.x = cols - 2
        else:
            t.buf.lines[t.y].wrapped = True
            t.x = 0
            t.wrap = False
            t.linefeed()
    x = t.x
    line = t.buf.lines[t.y]
    if t.modes.insert:
        line.insert_cells(x, 2, sgr.erase_style(t.style))
    line.fix_wide(x, x + 2)
    line.chars[x] = ch
    line.chars[x + 1] = WIDE_PAD
    line.styles[x] = line.styles[x + 1] = t.style
    t._dirty.add(t.y)
    if x + 2 >= cols:
        t.x = cols - 1
        t.wrap = t.modes.autowrap
    else:
        t.x = x + 2
