"""Terminal modes: what SM/RM and DECSET/DECRST record, for rendering and the key/mouse encoders."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vconsole.term.terminal import Terminal

# DEC private mode numbers for mouse tracking and encoding.
MOUSE_TRACKING = (9, 1000, 1001, 1002, 1003)
MOUSE_ENCODINGS = (1005, 1006, 1015)


@dataclass(slots=True)
class Modes:
    """Mode state set by SM/RM and DECSET/DECRST.

    ``mouse_tracking`` is 0 (off) or the DEC mode that enabled it (9 X10,
    1000 normal, 1001 highlight, 1002 button-event, 1003 any-event);
    ``mouse_encoding`` is 0 (X10 bytes), 1005 (UTF-8), 1006 (SGR) or 1015 (urxvt).
    """

    app_cursor: bool = False  # DECCKM (?1)
    app_keypad: bool = False  # DECKPAM / DECNKM (?66)
    reverse_video: bool = False  # DECSCNM (?5)
    origin: bool = False  # DECOM (?6)
    autowrap: bool = True  # DECAWM (?7)
    cursor_blink: bool = False  # ?12
    cursor_visible: bool = True  # DECTCEM (?25)
    cursor_shape: int = 0  # DECSCUSR parameter
    insert: bool = False  # IRM (4)
    newline: bool = False  # LNM (20)
    alt_screen: bool = False  # ?47 / ?1047 / ?1049
    bracketed_paste: bool = False  # ?2004
    focus_events: bool = False  # ?1004
    mouse_tracking: int = 0
    mouse_encoding: int = 0

    def to_dict(self) -> dict[str, bool | int]:
        """Plain-data copy."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: object) -> Modes:
        """Strictly validated inverse of :meth:`to_dict`."""
        if not isinstance(data, dict):
            raise ValueError("modes: expected a dict")
        names = {f.name: f.type for f in fields(cls)}
        if set(data) != set(names):
            raise ValueError(f"modes: expected keys {sorted(names)}, got {sorted(map(str, data))}")
        modes = cls()
        for name, value in data.items():
            want_int = names[name] in ("int", int)
            if want_int:
                if type(value) is not int or not 0 <= value <= 65535:
                    raise ValueError(f"modes.{name}: expected an int 0-65535")
            elif type(value) is not bool:
                raise ValueError(f"modes.{name}: expected a bool")
            setattr(modes, name, value)
        if modes.mouse_tracking not in (0, *MOUSE_TRACKING):
            raise ValueError("modes.mouse_tracking: unknown mode")
        if modes.mouse_encoding not in (0, *MOUSE_ENCODINGS):
            raise ValueError("modes.mouse_encoding: unknown encoding")
        return modes


def set_ansi_modes(t: Terminal, modes: list[int], on: bool) -> None:
    """SM / RM: ANSI modes (IRM 4, LNM 20)."""
    for m in modes:
        if m == 4:
            t.modes.insert = on
            t.update_plain()
        elif m == 20:
            t.modes.newline = on


def set_dec_modes(t: Terminal, modes: list[int], on: bool) -> None:
    """DECSET / DECRST: DEC private modes."""
    m = t.modes
    for mode in modes:
        if mode == 1:
            m.app_cursor = on
        elif mode == 5:
            m.reverse_video = on
            t._dirty.update(range(t.rows))
        elif mode == 6:
            m.origin = on
            t.goto(0, 0)
        elif mode == 7:
            m.autowrap = on
            if not on:
                t.wrap = False
        elif mode == 12:
            m.cursor_blink = on
        elif mode == 25:
            m.cursor_visible = on
        elif mode == 66:
            m.app_keypad = on
        elif mode in (47, 1047):
            t.set_alt_screen(on, save_cursor=False)
        elif mode == 1049:
            t.set_alt_screen(on, save_cursor=True)
        elif mode == 1048:
            if on:
                t.save_cursor()
            else:
                t.restore_cursor()
        elif mode == 2004:
            m.bracketed_paste = on
        elif mode == 1004:
            m.focus_events = on
        elif mode in MOUSE_TRACKING:
            m.mouse_tracking = mode if on else 0
        elif mode in MOUSE_ENCODINGS:
            m.mouse_encoding = mode if on else 0
