"""Writing printable text into the screen (the slower, general paths).

The feed loop writes short ASCII runs that fit on the cursor's row itself;
everything else (wrapping, insert mode, wide and combining characters) comes
here; many lines at once go to :mod:`vconsole.term.lines`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vconsole.term import sgr
from vconsole.term.screen import WIDE_PAD, char_width

if TYPE_CHECKING:
    from vconsole.term.terminal import Terminal


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
