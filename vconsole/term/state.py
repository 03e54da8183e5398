"""Saving and restoring a terminal's full state as plain data.

The state is dicts, lists, ints, strs and bools only, so msgpack can carry
it. :func:`load` treats its input as untrusted: every field is checked and
anything wrong raises ValueError naming the field.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from vconsole.term import charsets, sgr
from vconsole.term.modes import Modes
from vconsole.term.screen import WIDE_PAD, Line, char_width

if TYPE_CHECKING:
    from vconsole.term.terminal import SavedCursor, Terminal

VERSION = 1
MAX_COLS = 4096
MAX_ROWS = 4096  # the broker renders snapshots at up to 4096x4096
MAX_SCROLLBACK = 1_000_000
MAX_CELL = 16  # characters in one cell (base + combining marks)
MAX_TEXT = 4096

_KEYS = {"version", "cols", "rows", "cursor", "wrap", "style", "modes", "title",
         "icon_title", "margins", "tabs", "charsets", "gl", "saved", "alt_saved",
         "last_char", "main", "alt", "scrollback_limit", "scrollback"}


def _line(line: Line) -> list[Any]:
    runs: list[int] = []
    styles = line.styles
    start = 0
    n = len(styles)
    while start < n:
        style = styles[start]
        end = start + 1
        while end < n and styles[end] == style:
            end += 1
        runs += [style, end - start]
        start = end
    return [line.chars[:], runs, line.wrapped]


def _saved(s: SavedCursor) -> dict[str, Any]:
    return {"x": s.x, "y": s.y, "style": s.style, "origin": s.origin, "wrap": s.wrap,
            "charsets": list(s.charsets), "gl": s.gl}


def dump(t: Terminal) -> dict[str, Any]:
    """The state of ``t`` as plain data."""
    return {
        "version": VERSION, "cols": t.cols, "rows": t.rows, "cursor": [t.x, t.y],
        "wrap": t.wrap, "style": t.style, "modes": t.modes.to_dict(), "title": t.title,
        "icon_title": t.icon_title, "margins": [t.top, t.bottom],
        "tabs": [x for x, on in enumerate(t.tabs) if on], "charsets": list(t.charsets),
        "gl": t.gl, "saved": _saved(t.saved),
        "alt_saved": None if t.alt_saved is None else _saved(t.alt_saved),
        "last_char": t.last_char,
        "main": [_line(line) for line in t.main.lines],
        "alt": [_line(line) for line in t.alt.lines],
        "scrollback_limit": t.scrollback_limit,
        "scrollback": [_line(line) for line in t.scrollback],
    }


# -- validation ---------------------------------------------------------------


def _int(value: object, name: str, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise ValueError(f"{name}: expected an int in {lo}..{hi}, got {value!r:.40}")
    return value


def _bool(value: object, name: str) -> bool:
    if type(value) is not bool:
        raise ValueError(f"{name}: expected a bool")
    return value


def _str(value: object, name: str, limit: int = MAX_TEXT) -> str:
    if type(value) is not str or len(value) > limit:
        raise ValueError(f"{name}: expected a str of at most {limit} characters")
    if any(c < " " or "\x7f" <= c <= "\x9f" for c in value):
        raise ValueError(f"{name}: control characters are not allowed")
    return value


def _list(value: object, name: str, length: int | None = None) -> list[Any]:
    if type(value) is not list:
        raise ValueError(f"{name}: expected a list")
    if length is not None and len(value) != length:
        raise ValueError(f"{name}: expected {length} items, got {len(value)}")
    return value


def _charset(value: object, name: str) -> str:
    if value not in (charsets.ASCII, charsets.DEC_GRAPHICS):
        raise ValueError(f"{name}: unknown charset")
    return str(value)


def _load_line(value: object, name: str, cols: int | None) -> Line:
    chars_v, runs_v, wrapped = _list(value, name, 3)
    chars = _list(chars_v, f"{name}.chars", cols)
    if not 1 <= len(chars) <= MAX_COLS:
        raise ValueError(f"{name}.chars: bad width {len(chars)}")
    pad_ok = False  # whether the next cell may be a wide pad
    for x, cell in enumerate(chars):
        if type(cell) is not str or len(cell) > MAX_CELL:
            raise ValueError(f"{name}.chars[{x}]: expected a str of at most {MAX_CELL}")
        if cell == WIDE_PAD:
            if not pad_ok:
                raise ValueError(f"{name}.chars[{x}]: wide pad without a wide character")
            pad_ok = False
            continue
        if any(c < " " or "\x7f" <= c <= "\x9f" for c in cell):
            raise ValueError(f"{name}.chars[{x}]: control characters are not allowed")
        w = char_width(cell[0])
        if w == 0 or any(char_width(c) != 0 for c in cell[1:]):
            raise ValueError(f"{name}.chars[{x}]: a cell is one character plus combining marks")
        if pad_ok:
            raise ValueError(f"{name}.chars[{x}]: wide character without its pad")
        pad_ok = w == 2
    if pad_ok:
        raise ValueError(f"{name}: wide character in the last column")
    runs = _list(runs_v, f"{name}.runs")
    if len(runs) % 2:
        raise ValueError(f"{name}.runs: expected style, count pairs")
    styles: list[int] = []
    for i in range(0, len(runs), 2):
        style = _int(runs[i], f"{name}.runs[{i}]", 0, sgr.MAX_STYLE)
        if not sgr.valid_style(style):
            raise ValueError(f"{name}.runs[{i}]: malformed style")
        count = _int(runs[i + 1], f"{name}.runs[{i + 1}]", 1, len(chars))
        styles += [style] * count
        if len(styles) > len(chars):
            break
    if len(styles) != len(chars):
        raise ValueError(f"{name}.runs: styles cover {len(styles)} cells, not {len(chars)}")
    return Line(list(chars), styles, _bool(wrapped, f"{name}.wrapped"))


def _load_saved(value: object, name: str, cols: int, rows: int) -> SavedCursor:
    from vconsole.term.terminal import SavedCursor

    if type(value) is not dict or set(value) != {"x", "y", "style", "origin", "wrap",
                                                  "charsets", "gl"}:
        raise ValueError(f"{name}: expected a dict with x, y, style, origin, wrap, charsets, gl")
    sets = _list(value["charsets"], f"{name}.charsets", 2)
    style = _int(value["style"], f"{name}.style", 0, sgr.MAX_STYLE)
    if not sgr.valid_style(style):
        raise ValueError(f"{name}.style: malformed style")
    return SavedCursor(
        _int(value["x"], f"{name}.x", 0, cols - 1), _int(value["y"], f"{name}.y", 0, rows - 1),
        style, _bool(value["origin"], f"{name}.origin"), _bool(value["wrap"], f"{name}.wrap"),
        (_charset(sets[0], f"{name}.charsets[0]"), _charset(sets[1], f"{name}.charsets[1]")),
        _int(value["gl"], f"{name}.gl", 0, 1))


def load(state: object) -> Terminal:
    """Build a terminal from :func:`dump` data, validating everything."""
    from vconsole.term.terminal import Terminal

    if type(state) is not dict:
        raise ValueError("state: expected a dict")
    if set(state) != _KEYS:
        missing = sorted(_KEYS - set(state))
        extra = sorted(map(repr, set(state) - _KEYS))
        raise ValueError(f"state: missing keys {missing}, unknown keys {extra}")
    if state["version"] != VERSION:
        raise ValueError(f"state.version: unsupported {state['version']!r:.20}")
    cols = _int(state["cols"], "cols", 1, MAX_COLS)
    rows = _int(state["rows"], "rows", 1, MAX_ROWS)
    limit = _int(state["scrollback_limit"], "scrollback_limit", 0, MAX_SCROLLBACK)
    # The screens first: they prove the input really holds cols x rows cells
    # before anything of that size is allocated.
    screens: dict[str, list[Line]] = {}
    for name in ("main", "alt"):
        lines = _list(state[name], name, rows)
        screens[name] = [_load_line(v, f"{name}[{y}]", cols) for y, v in enumerate(lines)]
    t = Terminal(cols, rows, scrollback=limit)
    t.main.lines = screens["main"]
    t.alt.lines = screens["alt"]
    cursor = _list(state["cursor"], "cursor", 2)
    t.x = _int(cursor[0], "cursor[0]", 0, cols - 1)
    t.y = _int(cursor[1], "cursor[1]", 0, rows - 1)
    t.wrap = _bool(state["wrap"], "wrap")
    t.style = _int(state["style"], "style", 0, sgr.MAX_STYLE)
    if not sgr.valid_style(t.style):
        raise ValueError("style: malformed style")
    t.modes = Modes.from_dict(state["modes"])
    t.title = _str(state["title"], "title")
    t.icon_title = _str(state["icon_title"], "icon_title")
    margins = _list(state["margins"], "margins", 2)
    t.top = _int(margins[0], "margins[0]", 0, rows - 1)
    t.bottom = _int(margins[1], "margins[1]", 0, rows - 1)
    if t.top >= t.bottom and rows > 1:
        raise ValueError("margins: top must be above bottom")
    tabs = [False] * cols
    for i, x in enumerate(_list(state["tabs"], "tabs")):
        tabs[_int(x, f"tabs[{i}]", 0, cols - 1)] = True
    t.tabs = tabs
    sets = _list(state["charsets"], "charsets", 2)
    t.charsets = [_charset(sets[0], "charsets[0]"), _charset(sets[1], "charsets[1]")]
    t.gl = _int(state["gl"], "gl", 0, 1)
    t.saved = _load_saved(state["saved"], "saved", cols, rows)
    alt_saved = state["alt_saved"]
    t.alt_saved = None if alt_saved is None else _load_saved(alt_saved, "alt_saved", cols, rows)
    last = _str(state["last_char"], "last_char", 1)
    if last and char_width(last) == 0:
        raise ValueError("last_char: must be a printable character")
    t.last_char = last
    t.buf = t.alt if t.modes.alt_screen else t.main
    history = _list(state["scrollback"], "scrollback")
    if len(history) > limit:
        raise ValueError(f"scrollback: {len(history)} lines, more than the limit {limit}")
    t.scrollback = deque((_load_line(v, f"scrollback[{i}]", None) for i, v in
                          enumerate(history)), maxlen=limit)
    t.update_plain()
    t._dirty.update(range(rows))
    return t
