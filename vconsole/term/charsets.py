"""Character sets selectable with SCS (``ESC ( X``) and shifted in with SO/SI.

Only the DEC Special Graphics set (``0``) changes anything; the others
(``B`` ASCII, ``A`` UK and the rest) are treated as ASCII, as tmux does.
"""

from __future__ import annotations

# DEC Special Graphics: 0x5f-0x7e map to line-drawing and symbol characters
# (table from the VT100 documentation / xterm ctlseqs).
_DEC_GRAPHICS = {
    "_": "\u00a0",  # blank
    "`": "\u25c6", "a": "\u2592", "b": "\u2409", "c": "\u240c", "d": "\u240d",
    "e": "\u240a", "f": "\u00b0", "g": "\u00b1", "h": "\u2424", "i": "\u240b",
    "j": "\u2518", "k": "\u2510", "l": "\u250c", "m": "\u2514", "n": "\u253c",
    "o": "\u23ba", "p": "\u23bb", "q": "\u2500", "r": "\u23bc", "s": "\u23bd",
    "t": "\u251c", "u": "\u2524", "v": "\u2534", "w": "\u252c", "x": "\u2502",
    "y": "\u2264", "z": "\u2265", "{": "\u03c0", "|": "\u2260", "}": "\u00a3",
    "~": "\u00b7",
}

DEC_GRAPHICS_TABLE: dict[int, str] = str.maketrans(_DEC_GRAPHICS)

# Designators understood; anything else is recorded as ASCII.
DEC_GRAPHICS = "0"
ASCII = "B"


def normalize(designator: str) -> str:
    """Map an SCS final character to the charset the engine keeps."""
    return DEC_GRAPHICS if designator == DEC_GRAPHICS else ASCII


def translate(text: str, charset: str) -> str:
    """Translate ``text`` printed while ``charset`` is invoked into GL."""
    if charset == DEC_GRAPHICS:
        return text.translate(DEC_GRAPHICS_TABLE)
    return text
