"""Handlers for control characters and ESC, CSI and OSC sequences.

Each handler takes the :class:`~vconsole.term.terminal.Terminal` and acts on
its public state; unknown sequences fall through and are ignored.

A pending wrap (cursor on the last column after printing there) is cancelled
by horizontal movement, absolute positioning, erasing and character editing
(as xterm: they act on the last column), and kept by vertical movement (LF,
IND, RI, VPA) and line insertion/deletion, as tmux does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vconsole.term import charsets, sgr
from vconsole.term.modes import set_ansi_modes, set_dec_modes
from vconsole.term.parser import int_params, sgr_params

if TYPE_CHECKING:
    from vconsole.term.terminal import Terminal

MAX_TITLE = 4096


def control(t: Terminal, ch: str) -> None:
    """C0 controls other than CR, LF and ESC (handled inline by the parser loop)."""
    if ch == "\x08":  # BS
        if t.wrap:
            t.wrap = False  # xterm: with a pending wrap BS leaves the last column
        if t.x > 0:
            t.x -= 1
    elif ch == "\t":
        tab_forward(t, 1)
    elif ch in "\x0b\x0c":  # VT, FF: like LF
        t.linefeed()
        if t.modes.newline:
            t.x = 0
    elif ch == "\x0e":  # SO
        t.gl = 1
        t.update_plain()
    elif ch == "\x0f":  # SI
        t.gl = 0
        t.update_plain()
    # BEL, NUL, DEL, C1 and the rest: nothing to draw.


def tab_forward(t: Terminal, count: int) -> None:
    """HT / CHT: to the next tab stop, or the last column."""
    x = t.x
    tabs = t.tabs
    last = t.cols - 1
    for _ in range(count):
        x += 1
        while x < last and not tabs[x]:
            x += 1
        if x >= last:
            x = last
            break
    t.x = x


def tab_backward(t: Terminal, count: int) -> None:
    """CBT: to the previous tab stop, or the first column."""
    x = t.x
    for _ in range(count):
        x -= 1
        while x > 0 and not t.tabs[x]:
            x -= 1
        if x <= 0:
            x = 0
            break
    t.x = x
    t.wrap = False


def esc_dispatch(t: Terminal, inter: str, final: str) -> None:
    """ESC sequences (two or three characters)."""
    if not inter:
        if final == "7":
            t.save_cursor()
        elif final == "8":
            t.restore_cursor()
        elif final == "D":
            t.linefeed()
        elif final == "E":
            t.linefeed()
            t.x = 0
        elif final == "M":
            t.reverse_index()
        elif final == "H":
            t.tabs[t.x] = True
        elif final == "c":
            t.reset()
        elif final == "=":
            t.modes.app_keypad = True
        elif final == ">":
            t.modes.app_keypad = False
    elif inter == "(" or inter == ")":
        t.charsets[0 if inter == "(" else 1] = charsets.normalize(final)
        t.update_plain()
    elif inter == "#" and final == "8":  # DECALN: fill the screen with E
        for line in t.buf.lines:
            line.chars[:] = ["E"] * t.cols
            line.styles[:] = [0] * t.cols
        t.top, t.bottom = 0, t.rows - 1
        t.move_to(0, 0)
        t._dirty.update(range(t.rows))


def osc_dispatch(t: Terminal, body: str) -> None:
    """OSC: window and icon titles; everything else is ignored."""
    code, _, value = body.partition(";")
    value = value[:MAX_TITLE]
    if code in ("0", "2"):
        t.title = value
    if code in ("0", "1"):
        t.icon_title = value


# -- CSI ---------------------------------------------------------------------


def _n(p: list[int], i: int = 0) -> int:
    """Parameter ``i`` as a count: missing or 0 means 1."""
    return p[i] if len(p) > i and p[i] else 1


# The movement, erase and edit handlers below run once per sequence in
# cursor-addressing output, so they avoid helper calls (move_to, _n,
# erase_style); the cursor is always on the screen, so x needs no clamping
# when only y moves and vice versa.


def _cuu(t: Terminal, p: list[int]) -> None:
    top = t.top if t.y >= t.top else 0
    y = t.y - (p[0] if p and p[0] else 1)
    t.y = y if y > top else top
    t.wrap = False


def _cud(t: Terminal, p: list[int]) -> None:
    bottom = t.bottom if t.y <= t.bottom else t.rows - 1
    y = t.y + (p[0] if p and p[0] else 1)
    t.y = y if y < bottom else bottom
    t.wrap = False


def _cuf(t: Terminal, p: list[int]) -> None:
    x = t.x + (p[0] if p and p[0] else 1)
    t.x = x if x < t.cols else t.cols - 1
    t.wrap = False


def _cub(t: Terminal, p: list[int]) -> None:
    x = t.x - (p[0] if p and p[0] else 1)
    t.x = x if x > 0 else 0
    t.wrap = False


def _cnl(t: Terminal, p: list[int]) -> None:
    _cud(t, p)
    t.x = 0


def _cpl(t: Terminal, p: list[int]) -> None:
    _cuu(t, p)
    t.x = 0


def _cha(t: Terminal, p: list[int]) -> None:
    x = (p[0] if p and p[0] else 1) - 1
    t.x = x if x < t.cols else t.cols - 1
    t.wrap = False


def _cup(t: Terminal, p: list[int]) -> None:
    t.goto(_n(p, 1) - 1, _n(p) - 1)


def _vpa(t: Terminal, p: list[int]) -> None:
    if not t.modes.origin:  # a vertical move keeps a pending wrap (tmux)
        y = (p[0] if p and p[0] else 1) - 1
        t.y = y if y < t.rows else t.rows - 1
        return
    wrap = t.wrap
    t.goto(t.x, _n(p) - 1)
    t.wrap = wrap


def _vpr(t: Terminal, p: list[int]) -> None:
    t.move_to(t.x, t.y + _n(p))


def _ed(t: Terminal, p: list[int]) -> None:
    mode = p[0] if p else 0
    style = sgr.erase_style(t.style)
    lines = t.buf.lines
    if mode == 0:
        lines[t.y].erase(t.x, t.cols, style)
        rows = range(t.y + 1, t.rows)
    elif mode == 1:
        lines[t.y].erase(0, t.x + 1, style)
        rows = range(t.y)
    elif mode == 2:
        rows = range(t.rows)
    else:
        if mode == 3:
            t.scrollback.clear()
        return
    for y in rows:
        lines[y].erase(0, t.cols, style)
        lines[y].wrapped = False
    t._dirty.update(rows)
    t._dirty.add(t.y)
    t.wrap = False


def _el(t: Terminal, p: list[int]) -> None:
    mode = p[0] if p else 0
    line = t.buf.lines[t.y]
    style = t.style & sgr.BG_FIELD
    if mode == 0:
        line.erase(t.x, t.cols, style)
    elif mode == 1:
        line.erase(0, t.x + 1, style)
    elif mode == 2:
        line.erase(0, t.cols, style)
    t._dirty.add(t.y)
    t.wrap = False


def _il(t: Terminal, p: list[int]) -> None:
    if t.top <= t.y <= t.bottom:
        t.buf.scroll_down(t.y, t.bottom, _n(p), sgr.erase_style(t.style))
        t.mark_dirty(t.y, t.bottom + 1)


def _dl(t: Terminal, p: list[int]) -> None:
    if t.top <= t.y <= t.bottom:
        t.buf.scroll_up(t.y, t.bottom, _n(p), sgr.erase_style(t.style))
        t.mark_dirty(t.y, t.bottom + 1)


def _ich(t: Terminal, p: list[int]) -> None:
    t.buf.lines[t.y].insert_cells(t.x, p[0] if p and p[0] else 1, t.style & sgr.BG_FIELD)
    t._dirty.add(t.y)
    t.wrap = False


def _dch(t: Terminal, p: list[int]) -> None:
    t.buf.lines[t.y].delete_cells(t.x, p[0] if p and p[0] else 1, t.style & sgr.BG_FIELD)
    t._dirty.add(t.y)
    t.wrap = False


def _ech(t: Terminal, p: list[int]) -> None:
    x = t.x
    t.buf.lines[t.y].erase(x, x + (p[0] if p and p[0] else 1), t.style & sgr.BG_FIELD)
    t._dirty.add(t.y)
    t.wrap = False


def _su(t: Terminal, p: list[int]) -> None:
    t.scroll_up(_n(p))


def _sd(t: Terminal, p: list[int]) -> None:
    t.scroll_down(_n(p))


def _rep(t: Terminal, p: list[int]) -> None:
    if t.last_char:
        t.print(t.last_char * min(_n(p), t.cols * t.rows))


def _tbc(t: Terminal, p: list[int]) -> None:
    mode = p[0] if p else 0
    if mode == 0:
        t.tabs[t.x] = False
    elif mode == 3:
        t.tabs = [False] * t.cols


def _stbm(t: Terminal, p: list[int]) -> None:
    top = _n(p) - 1
    bottom = p[1] - 1 if len(p) > 1 and p[1] else t.rows - 1
    t.set_margins(top, bottom)


def _dsr(t: Terminal, p: list[int]) -> None:
    if p == [5]:
        t.reply("\x1b[0n")
    elif p == [6]:
        y = t.y - t.top if t.modes.origin else t.y
        t.reply(f"\x1b[{y + 1};{t.x + 1}R")


_CSI: dict[str, Callable[[Terminal, list[int]], None]] = {
    "A": _cuu, "B": _cud, "C": _cuf, "D": _cub, "E": _cnl, "F": _cpl, "G": _cha,
    "H": _cup, "f": _cup, "I": lambda t, p: tab_forward(t, _n(p)), "J": _ed, "K": _el,
    "L": _il, "M": _dl, "P": _dch, "@": _ich, "X": _ech, "S": _su, "T": _sd,
    "Z": lambda t, p: tab_backward(t, _n(p)), "`": _cha, "a": _cuf, "b": _rep,
    "d": _vpa, "e": _vpr, "g": _tbc, "r": _stbm, "n": _dsr,
    "s": lambda t, p: t.save_cursor(), "u": lambda t, p: t.restore_cursor(),
}


Handler = Callable[["Terminal", list[int]], None]


def _noop(t: Terminal, p: list[int]) -> None:
    pass


def _decset(t: Terminal, p: list[int]) -> None:
    set_dec_modes(t, p, True)


def _decrst(t: Terminal, p: list[int]) -> None:
    set_dec_modes(t, p, False)


def _sm(t: Terminal, p: list[int]) -> None:
    set_ansi_modes(t, p, True)


def _rm(t: Terminal, p: list[int]) -> None:
    set_ansi_modes(t, p, False)


def _decstr(t: Terminal, p: list[int]) -> None:
    t.soft_reset()


def _decscusr(t: Terminal, p: list[int]) -> None:
    t.modes.cursor_shape = p[0] if p else 0


def _da1(t: Terminal, p: list[int]) -> None:
    if not p or p == [0]:
        t.reply("\x1b[?1;2c")


def _da2(t: Terminal, p: list[int]) -> None:
    t.reply("\x1b[>0;0;0c")


CUP_HANDLER = _cup
_CSI.update({"h": _sm, "l": _rm, "c": _da1})
_PRIVATE = {("?", "h"): _decset, ("?", "l"): _decrst, (">", "c"): _da2}
_INTERMEDIATE = {("!", "p"): _decstr, (" ", "q"): _decscusr}


def resolve_csi(body: str) -> tuple[Handler, list[int]]:
    """The handler and parameters of a CSI sequence, from the characters after ``ESC [``.

    The result depends only on ``body``, so callers cache it: programs send
    the same few sequences over and over. SGR is not resolved here (it needs
    its ``:`` sub-parameters); callers handle final ``m`` first.
    """
    final = body[-1]
    i = len(body) - 1
    while i > 0 and " " <= body[i - 1] <= "/":
        i -= 1
    inter = body[i:-1]
    raw = body[:i]
    private = raw[:1] if raw[:1] in ("<", "=", ">", "?") else ""
    params = int_params(raw[1:] if private else raw)
    handler: Handler | None
    if inter:
        handler = _INTERMEDIATE.get((inter, final)) if not private else None
    elif private:
        handler = _PRIVATE.get((private, final))
    else:
        handler = _CSI.get(final)
    return handler or _noop, params


def csi_dispatch(t: Terminal, raw: str, inter: str, final: str) -> None:
    """Carry out one CSI sequence (parameter bytes ``raw``, intermediates, final byte)."""
    if final == "m":
        if not inter and (not raw or raw[0] not in "<=>?"):
            t.style = sgr.apply_sgr(t.style, sgr_params(raw))
        return
    handler, params = resolve_csi(raw + inter + final)
    handler(t, params)
