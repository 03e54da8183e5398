"""Cell styles packed into one int, and SGR (Select Graphic Rendition).

A style is a single non-negative int so that a row's styles are a plain list of
ints: comparing, copying and serialising them costs nothing, and no intern
table has to be kept in step with snapshots.

Layout (59 bits)::

    bits 0-8    attribute flags (BOLD ... STRIKE)
    bits 9-33   foreground colour
    bits 34-58  background colour

A colour is 0 for the default colour, ``1 + n`` for palette entry ``n``
(0-255; SGR 30-37/90-97 are entries 0-15) or ``TRUECOLOR | 0xRRGGBB``.
"""

from __future__ import annotations

from dataclasses import dataclass

BOLD = 1
DIM = 2
ITALIC = 4
UNDERLINE = 8
BLINK = 16
REVERSE = 32
HIDDEN = 64
STRIKE = 128
OVERLINE = 256
ALL_FLAGS = 511

TRUECOLOR = 1 << 24
COLOR_BITS = 25
COLOR_MASK = (1 << COLOR_BITS) - 1
FG_SHIFT = 9
BG_SHIFT = FG_SHIFT + COLOR_BITS
FG_FIELD = COLOR_MASK << FG_SHIFT
BG_FIELD = COLOR_MASK << BG_SHIFT
MAX_STYLE = (1 << (BG_SHIFT + COLOR_BITS)) - 1

DEFAULT = 0

# SGR parameter -> flag set / cleared.
_SET = {1: BOLD, 2: DIM, 3: ITALIC, 4: UNDERLINE, 5: BLINK, 6: BLINK, 7: REVERSE,
        8: HIDDEN, 9: STRIKE, 21: UNDERLINE, 53: OVERLINE}
_CLEAR = {22: BOLD | DIM, 23: ITALIC, 24: UNDERLINE, 25: BLINK, 27: REVERSE,
          28: HIDDEN, 29: STRIKE, 55: OVERLINE}


def valid_color(color: int) -> bool:
    """Whether ``color`` is a well-formed packed colour."""
    return 0 <= color <= 256 or (color & ~0xFFFFFF) == TRUECOLOR


def valid_style(style: int) -> bool:
    """Whether ``style`` is a well-formed packed style (used on untrusted state)."""
    if not 0 <= style <= MAX_STYLE:
        return False
    return valid_color((style >> FG_SHIFT) & COLOR_MASK) and valid_color(
        (style >> BG_SHIFT) & COLOR_MASK)


def fg_of(style: int) -> int:
    """Packed foreground colour of ``style``."""
    return (style >> FG_SHIFT) & COLOR_MASK


def bg_of(style: int) -> int:
    """Packed background colour of ``style``."""
    return (style >> BG_SHIFT) & COLOR_MASK


def erase_style(style: int) -> int:
    """Style of cells erased while ``style`` is current: only its background (BCE)."""
    return style & BG_FIELD


@dataclass(frozen=True, slots=True)
class Color:
    """A decoded colour: ``kind`` is "default", "palette" (``value`` 0-255) or "rgb"."""

    kind: str
    value: int = 0

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The (r, g, b) triple of an "rgb" colour."""
        v = self.value
        return (v >> 16) & 255, (v >> 8) & 255, v & 255


def decode_color(color: int) -> Color:
    """Decode a packed colour."""
    if color == 0:
        return Color("default")
    if color & TRUECOLOR:
        return Color("rgb", color & 0xFFFFFF)
    return Color("palette", color - 1)


@dataclass(frozen=True, slots=True)
class Style:
    """A decoded style, for renderers."""

    fg: Color
    bg: Color
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    blink: bool = False
    reverse: bool = False
    hidden: bool = False
    strike: bool = False
    overline: bool = False


_DECODED: dict[int, Style] = {}


def decode_style(style: int) -> Style:
    """Decode a packed style (cached: a screen uses few distinct styles)."""
    found = _DECODED.get(style)
    if found is None:
        f = style & ALL_FLAGS
        found = Style(decode_color(fg_of(style)), decode_color(bg_of(style)),
                      bool(f & BOLD), bool(f & DIM), bool(f & ITALIC), bool(f & UNDERLINE),
                      bool(f & BLINK), bool(f & REVERSE), bool(f & HIDDEN), bool(f & STRIKE),
                      bool(f & OVERLINE))
        if len(_DECODED) < 65536:
            _DECODED[style] = found
    return found


def _extended(params: list[list[int]], i: int) -> tuple[int | None, int]:
    """Parse an extended colour (38/48/58) starting at ``params[i]``.

    Returns (packed colour or None if malformed, index of the next parameter).
    Handles both ``38;5;n`` / ``38;2;r;g;b`` and the colon forms ``38:5:n``,
    ``38:2:r:g:b`` and ``38:2:cs:r:g:b`` (ITU T.416 with a colour-space id).
    """
    sub = params[i]
    if len(sub) > 1:  # colon form: everything is in this one parameter
        mode = sub[1]
        if mode == 5 and len(sub) >= 3:
            return (1 + sub[2] if 0 <= sub[2] <= 255 else None), i + 1
        if mode == 2 and len(sub) >= 5:
            rgb = sub[-3:] if len(sub) >= 6 else sub[2:5]
            if all(0 <= c <= 255 for c in rgb):
                return TRUECOLOR | rgb[0] << 16 | rgb[1] << 8 | rgb[2], i + 1
        return None, i + 1
    if i + 1 >= len(params):
        return None, i + 1
    mode = params[i + 1][0]
    if mode == 5:
        if i + 2 < len(params) and 0 <= params[i + 2][0] <= 255:
            return 1 + params[i + 2][0], i + 3
        return None, i + 3
    if mode == 2:
        if i + 4 < len(params):
            r, g, b = params[i + 2][0], params[i + 3][0], params[i + 4][0]
            if max(r, g, b) <= 255:
                return TRUECOLOR | r << 16 | g << 8 | b, i + 5
        return None, i + 5
    return None, i + 2


def apply_sgr(style: int, params: list[list[int]]) -> int:
    """Return ``style`` after the SGR parameters ``params`` (sub-parameters split on ':')."""
    if not params:
        return DEFAULT
    i = 0
    n = len(params)
    while i < n:
        sub = params[i]
        p = sub[0]
        if p == 0:
            style = DEFAULT
        elif 30 <= p <= 37:
            style = (style & ~FG_FIELD) | (p - 29) << FG_SHIFT
        elif 40 <= p <= 47:
            style = (style & ~BG_FIELD) | (p - 39) << BG_SHIFT
        elif 90 <= p <= 97:
            style = (style & ~FG_FIELD) | (p - 81) << FG_SHIFT
        elif 100 <= p <= 107:
            style = (style & ~BG_FIELD) | (p - 91) << BG_SHIFT
        elif p == 39:
            style &= ~FG_FIELD
        elif p == 49:
            style &= ~BG_FIELD
        elif p == 4 and len(sub) > 1:  # 4:0 is "no underline", 4:1-5 underline styles
            style = style & ~UNDERLINE if sub[1] == 0 else style | UNDERLINE
        elif p in _SET:
            style |= _SET[p]
        elif p in _CLEAR:
            style &= ~_CLEAR[p]
        elif p in (38, 48, 58):
            color, i = _extended(params, i)
            if color is not None and p != 58:  # 58 (underline colour) is parsed, not kept
                if p == 38:
                    style = (style & ~FG_FIELD) | color << FG_SHIFT
                else:
                    style = (style & ~BG_FIELD) | color << BG_SHIFT
            continue
        i += 1
    return style
