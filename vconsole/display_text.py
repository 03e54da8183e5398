"""Text from outside (guests, provider tools, files) made safe to show on a terminal.

Guest and host names come from fleet files, ``lxc-ls``, ``xl list`` and
``vzlist``; reasons and errors quote those tools. Written raw, an ``ESC ] 0 ;``
in a name retitles the admin's terminal and an ``ESC [ 2 J`` clears it, and a
bidi override makes a name read backwards. Everything such a string meets
before a terminal goes through :func:`printable`: control characters are shown
in caret notation (``ESC`` as ``^[``), other invisible or reordering
characters as ``\\u202e``, and the length is bounded. Machine-readable output
(``--json``) keeps the exact value instead.
"""

from __future__ import annotations

# A name or message longer than this is cut, with an ellipsis: a hostile or broken
# tool must not fill the screen with one value.
MAX_SHOWN = 256
ELLIPSIS = "…"


def _shown(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ESC -> ^[, BEL -> ^G, CR -> ^M
    if code == 0x7F:
        return "^?"
    if code <= 0xFF:
        return f"\\x{code:02x}"  # C1 controls (a CSI as U+009B) and the no-break space
    if code <= 0xFFFF:
        return f"\\u{code:04x}"  # bidi overrides and isolates, zero-width and format characters
    return f"\\U{code:08x}"


def printable(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` as it may be shown: nothing in it acts on the terminal, at most ``limit`` characters.

    Printable characters (letters of any script, symbols, the ASCII space)
    stay as they are; every other character (``str.isprintable`` is false:
    controls, format characters such as bidi overrides, separators, surrogates
    left by undecodable bytes) is spelt out visibly, so the result is never
    shorter than what it stands for and two different names never look alike.
    """
    if text.isprintable():
        shown = text
    else:
        shown = "".join(ch if ch.isprintable() else _shown(ch) for ch in text)
    if len(shown) > limit:
        shown = shown[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS
    return shown
