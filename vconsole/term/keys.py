"""Key presses to the bytes an xterm sends for them.

Key names follow Textual's (``"up"``, ``"ctrl+up"``, ``"f5"``, ``"pageup"``,
``"shift+tab"``, ``"ctrl+a"``, ``"full_stop"`` ...); modifiers are prefixes
joined with ``+`` (``shift``, ``alt``/``meta``, ``ctrl``). Pass Textual's
``event.key`` and ``event.character``. Textual is not imported.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

CSI = "\x1b["
SS3 = "\x1bO"
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class KeyModes(Protocol):
    """The terminal modes the encoder reads (a :class:`vconsole.term.Modes` fits)."""

    app_cursor: bool
    bracketed_paste: bool


class Form(Enum):
    """How xterm encodes a named key; ``m`` is the modifier parameter (see _modifier_param)."""

    CHAR = "char"  # one character; Alt puts ESC before it
    CURSOR = "cursor"  # CSI X, SS3 X in application cursor mode (DECCKM), CSI 1;m X with modifiers
    TILDE = "tilde"  # CSI n ~, CSI n;m ~ with modifiers
    PF = "pf"  # SS3 X, CSI 1;m X with modifiers (F1-F4)


@dataclass(frozen=True)
class KeyCode:
    """One named key: its form and the character, final byte or number of that form."""

    form: Form
    code: str


# The named keys, by Textual's name, as xterm sends them (xterm without
# modifyOtherKeys: Ctrl and Shift do not change Enter, Tab or Escape).
KEYS: dict[str, KeyCode] = {
    "enter": KeyCode(Form.CHAR, "\r"), "tab": KeyCode(Form.CHAR, "\t"),
    "backspace": KeyCode(Form.CHAR, "\x7f"), "escape": KeyCode(Form.CHAR, "\x1b"),
    "up": KeyCode(Form.CURSOR, "A"), "down": KeyCode(Form.CURSOR, "B"),
    "right": KeyCode(Form.CURSOR, "C"), "left": KeyCode(Form.CURSOR, "D"),
    "home": KeyCode(Form.CURSOR, "H"), "end": KeyCode(Form.CURSOR, "F"),
    "insert": KeyCode(Form.TILDE, "2"), "delete": KeyCode(Form.TILDE, "3"),
    "pageup": KeyCode(Form.TILDE, "5"), "pagedown": KeyCode(Form.TILDE, "6"),
    "f1": KeyCode(Form.PF, "P"), "f2": KeyCode(Form.PF, "Q"), "f3": KeyCode(Form.PF, "R"), "f4": KeyCode(Form.PF, "S"),
    "f5": KeyCode(Form.TILDE, "15"), "f6": KeyCode(Form.TILDE, "17"), "f7": KeyCode(Form.TILDE, "18"),
    "f8": KeyCode(Form.TILDE, "19"), "f9": KeyCode(Form.TILDE, "20"), "f10": KeyCode(Form.TILDE, "21"),
    "f11": KeyCode(Form.TILDE, "23"), "f12": KeyCode(Form.TILDE, "24"),
}
# Other spellings of key names.
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


def _char_of(name: str) -> str | None:
    """The character a key name stands for, or None."""
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


def _typed_char(name: str, mods: set[str], character: str | None) -> str | None:
    """The character the terminal sent for a key, else the one its name stands for.

    With Ctrl only a control character counts (``ctrl+a`` with ``"\x01"``);
    without, only a printable one.
    """
    if character is not None and len(character) == 1:
        control = ord(character) < 0x20 or character == "\x7f"
        if control if "ctrl" in mods else character.isprintable():
            return character
    return _char_of(name)


def _modifier_param(mods: set[str]) -> int:
    """xterm's modifier parameter: 1 + shift(1) + alt(2) + ctrl(4)."""
    return 1 + ("shift" in mods) + 2 * ("alt" in mods) + 4 * ("ctrl" in mods)


def _encode_named(name: str, code: KeyCode, mods: set[str], app_cursor: bool, character: str | None) -> str:
    param = _modifier_param(mods)
    if code.form is Form.CURSOR:
        if param > 1:
            return f"{CSI}1;{param}{code.code}"
        return f"{SS3 if app_cursor else CSI}{code.code}"
    if code.form is Form.PF:
        return f"{CSI}1;{param}{code.code}" if param > 1 else f"{SS3}{code.code}"
    if code.form is Form.TILDE:
        return f"{CSI}{code.code};{param}~" if param > 1 else f"{CSI}{code.code}~"
    text = code.code
    if name == "tab" and "shift" in mods:
        text = f"{CSI}Z"
    elif name == "backspace" and ("ctrl" in mods or character == "\b"):
        # Textual names both 0x08 (Ctrl-H) and 0x7f "backspace"; the character tells them apart.
        text = "\b"
    return ("\x1b" if "alt" in mods else "") + text


def encode_key(key: str, modes: KeyModes | None = None, character: str | None = None) -> bytes:
    """Bytes for a key press; ``b""`` for keys a terminal does not send.

    ``modes`` supplies DECCKM (application cursor keys); ``character`` is
    Textual's ``event.character``, what the terminal sent for the key.
    """
    mods, name = _split(key.lower() if len(key) > 1 else key)
    name = _ALIASES.get(name, name)
    code = KEYS.get(name)
    if code is not None:
        return _encode_named(name, code, mods, bool(modes and modes.app_cursor), character).encode()
    ch = _typed_char(name, mods, character)
    if ch is None:
        return b""
    if "ctrl" in mods and ch.isprintable():
        if ch.isascii() and ch.isalpha():
            ch = chr(ord(ch.lower()) & 0x1F)
        elif ch in _CTRL_SPECIAL:
            ch = _CTRL_SPECIAL[ch]
        else:
            return b""
    elif "shift" in mods and ch.isalpha():
        ch = ch.upper()
    return (("\x1b" if "alt" in mods else "") + ch).encode()


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
