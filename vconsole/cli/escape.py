"""EscapeFilter: the attach escape sequence (Ctrl-] then ``.`` by default)."""

from __future__ import annotations


class EscapeError(ValueError):
    """An escape key that cannot be typed as one byte."""


def parse_escape(spec: str) -> int | None:
    """``"^]"`` / ``"^a"`` / ``"~"`` / ``"none"`` to a byte value (None disables it)."""
    if spec.lower() == "none":
        return None
    if len(spec) == 2 and spec[0] == "^":
        code = ord(spec[1].upper()) ^ 0x40
        if 0 <= code < 0x20 or code == 0x7F:
            return code
    elif len(spec) == 1 and ord(spec) < 0x80:
        return ord(spec)
    raise EscapeError(f"escape key {spec!r} must be one character or ^X (like ^] or ^A), or none")


def describe_escape(code: int | None) -> str:
    """How to type the escape, for messages."""
    if code is None:
        return "no escape key"
    if code < 0x20 or code == 0x7F:
        return "^" + chr(code ^ 0x40)
    return chr(code)


class EscapeFilter:
    """Passes every byte through except the escape sequence that detaches.

    The escape byte is held until the next one: ``.`` detaches, the escape
    again sends one escape, anything else sends both, so nothing the user
    types is lost.
    """

    def __init__(self, escape: int | None) -> None:
        self.escape = escape
        self._held = False

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes for the guest, whether to detach now)."""
        if self.escape is None:
            return data, False
        out = bytearray()
        for byte in data:
            if self._held:
                self._held = False
                if byte == ord("."):
                    return bytes(out), True
                out.append(self.escape)
                if byte != self.escape:
                    out.append(byte)
            elif byte == self.escape:
                self._held = True
            else:
                out.append(byte)
        return bytes(out), False
