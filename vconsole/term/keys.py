"""Key presses to the bytes an xterm sends for them.

Key names follow Textual's (``"up"``, ``"ctrl+up"``, ``"f5"``, ``"pageup"``,
``"shift+tab"``, ``"ctrl+a"``, ``"full_stop"`` ...); modifiers are prefixes
joined with ``+`` (``shift``, ``alt``/``meta``, ``ctrl``). Pass Textual's
``event.key`` and ``event.character``. Textual is not imported.
"""

from __future__ import annotations

import unicodedata
from typing import Protocol

CSI = "\x1b["
SS3 = "\x1bO"
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class KeyModes(Protocol):
    """The terminal modes the encoder reads (a :class:`vconsole.term.Modes` fits)."""

    app_cursor: bool
    bracketed_paste: bool


# Cursor keys and Home/End: final byte of CSI <final> / SS3 <final>.
_CURSOR = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
# Keys sent as CSI <n> ~.
_TILDE = {"insert": 2, "delete": 3, "pageup": 5, "pagedown": 6, "f5": 15, "f6": 17,
          "f7": 18, "f8": 19, "f9": 20, "f10": 21, "f11": 23, "f12": 24}
# F1-F4: SS3 P..S, or CSI 1;<m> P..S with modifiers.
_PF = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
# Textual aliases.
_ALIASES = {"page_up": "pageup", "page_down": "pagedown", "return": "enter",
            "esc": "escape", "ins": "insert", "del": "delete", "space": " "}
# Names of punctuation keys (Textual uses Unicode names with "_"; a few are shortened).
_NAMED_CHARS = {"slash": "/", "backslash": "\\", "at": "@", "minus": "-", "plus": "+",
                "underscore": "_", "circumflex_accent": "^",
                "left_square_bracket": "[", "right_square_bracket": "]"}
# Ctrl with non-letters, as xterm sends them.
_CTRL_SPECIAL = {"@": "\x00", " ": "\x00", "2": "\x00", "[": "\x1b", "3": "\x1b",
                 "\\": "\x1c", "4": "\x1c", "]": "\x1d", "5": "\x1d", "^": "\x1e",
                 "6": "\x1e", "_": "\x1f", "7": "\x1f", "-": "\x1f", "8": "\x7f",
                 "?": "\x7f", "/": "\x1f"}


def _split(key: str) -> tuple[set[str], str]:
    """("ctrl+shift+up") -> ({"ctrl", "shift"}, "up")."""
    if key == "+" or key.endswith("++"):
        return set(key[:-2].split("+")) - {""}, "+"
    parts = key.split("+")
    mods = {("alt" if p == "meta" else p) for p in parts[:-1]}
    return mods, parts[-1]


def _char_of(name: str, character: str | None) -> str | None:
    """The character a key name stands for, or None."""
    if character and len(character) == 1 and character.isprintable():
        return character
    if len(name) == 1:
        return name
    name = _ALIASES.get(name, name)
    if len(name) == 1:
        return name
    if name in _NAMED_CHARS:
        return _NAMED_CHARS[name]
    for candidate in (name.replace("_", " "), name.replace("_", "-")):
        try:
            return unicodedata.lookup(candidate.upper())
        except KeyError:
            continue
    return None


def _modifier_param(mods: set[str]) -> int:
    """xterm's modifier parameter: 1 + shift(1) + alt(2) + ctrl(4)."""
    return 1 + ("shift" in mods) + 2 * ("alt" in mods) + 4 * ("ctrl" in mods)


def encode_key(key: str, modes: KeyModes | None = None, character: str | None = None) -> bytes:
    """Bytes for a key press; ``b""`` for keys a terminal does not send.

    ``modes`` supplies DECCKM (application cursor keys); ``character`` is
    Textual's ``event.character`` (used for printable keys).
    """
    mods, name = _split(key.lower() if len(key) > 1 else key)
    if len(name) > 1:
        name = _ALIASES.get(name, name)
    app_cursor = bool(modes and modes.app_cursor)
    param = _modifier_param(mods)

    if name in _CURSOR:
        final = _CURSOR[name]
        if param > 1:
            return f"{CSI}1;{param}{final}".encode()
        return f"{SS3 if app_cursor else CSI}{final}".encode()
    if name in _TILDE:
        n = _TILDE[name]
        return f"{CSI}{n};{param}~".encode() if param > 1 else f"{CSI}{n}~".encode()
    if name in _PF:
        final = _PF[name]
        return f"{CSI}1;{param}{final}".encode() if param > 1 else f"{SS3}{final}".encode()

    prefix = "\x1b" if "alt" in mods else ""
    if name == "tab":
        if "shift" in mods:
            return f"{prefix}{CSI}Z".encode()
        return f"{prefix}\t".encode()
    if name == "enter":
        return f"{prefix}\r".encode()
    if name == "escape":
        return f"{prefix}\x1b".encode()
    if name == "backspace":
        return (prefix + ("\x08" if "ctrl" in mods else "\x7f")).encode()

    ch = _char_of(name, character if not mods - {"shift"} else None)
    if ch is None:
        return b""
    if "ctrl" in mods:
        if ch.isascii() and ch.isalpha():
            ch = chr(ord(ch.lower()) & 0x1F)
        elif ch in _CTRL_SPECIAL:
            ch = _CTRL_SPECIAL[ch]
        else:
            return b""
    elif "shift" in mods and len(ch) == 1 and ch.isalpha() and character is None:
        ch = ch.upper()
    return (prefix + ch).encode()


def encode_paste(text: str, modes: KeyModes | None = None) -> bytes:
    """Bytes for pasted text: newlines as CR, wrapped in ESC[200~/ESC[201~ in bracketed mode.

    An end marker inside the text is removed so a paste cannot end itself early.
    """
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    if modes is not None and modes.bracketed_paste:
        text = text.replace(PASTE_END, "").replace(PASTE_START, "")
        return (PASTE_START + text + PASTE_END).encode()
    return text.encode()


class MouseModes(Protocol):
    """The terminal modes the mouse encoder reads (a :class:`vconsole.term.Modes` fits)."""

    mouse_tracking: int
    mouse_encoding: int


# Buttons: 0 left, 1 middle, 2 right, 64/65 wheel up/down; "release" is button 3
# in the X10-style encodings.
WHEEL_UP = 64
WHEEL_DOWN = 65


def encode_mouse(button: int, x: int, y: int, modes: MouseModes, *, release: bool = False,
                 motion: bool = False, shift: bool = False, alt: bool = False,
                 ctrl: bool = False) -> bytes:
    """Bytes for a mouse event at 0-based cell (x, y), or ``b""`` if the program did not ask.

    Follows the tracking mode (9 press only, 1000 press/release, 1002 also
    drag, 1003 all motion) and the encoding (X10 bytes, 1005 UTF-8, 1006 SGR,
    1015 urxvt) recorded in ``modes``.
    """
    tracking = modes.mouse_tracking
    if tracking == 0 or (tracking == 9 and (release or motion or button >= WHEEL_UP)):
        return b""
    if motion and (tracking not in (1002, 1003) or (tracking == 1002 and button == 3)):
        return b""
    code = button
    if tracking != 9:
        code |= 4 * shift | 8 * alt | 16 * ctrl
    if motion:
        code |= 32
    encoding = modes.mouse_encoding
    if encoding == 1006:
        final = "m" if release else "M"
        return f"\x1b[<{code};{x + 1};{y + 1}{final}".encode()
    if release:
        code = (code & ~3) | 3  # X10-style encodings cannot say which button was released
    if encoding == 1015:
        return f"\x1b[{code + 32};{x + 1};{y + 1}M".encode()
    cx, cy = x + 33, y + 33
    if encoding == 1005:
        if max(cx, cy) > 2047:
            return b""
        return ("\x1b[M" + chr(code + 32) + chr(cx) + chr(cy)).encode()
    if max(cx, cy) > 255:
        return b""  # not representable in a byte
    return b"\x1b[M" + bytes((code + 32, cx, cy))
