"""Small helpers for the engine's unit tests."""

from __future__ import annotations

from vconsole.term import sgr
from vconsole.term.terminal import Terminal


def run(data: str | bytes, cols: int = 10, rows: int = 5, scrollback: int = 100) -> Terminal:
    """A terminal of the given size after ``data``."""
    term = Terminal(cols, rows, scrollback=scrollback)
    term.feed(data.encode() if isinstance(data, str) else data)
    return term


def cell_style(term: Terminal, x: int, y: int) -> sgr.Style:
    """The decoded style of one cell."""
    return sgr.decode_style(term.lines[y].styles[x])
