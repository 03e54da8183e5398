"""A console log's lines as text for reading: escape sequences stripped, safe for a terminal.

:func:`reading_text` turns one line's raw bytes into text as a terminal
would leave it on one row: escape sequences (CSI, OSC, DCS and the other ESC
sequences, their C1 forms too) are removed, a carriage return or backspace
moves back and later text overwrites (a progress line shows its last state),
tabs become spaces, and invalid UTF-8 becomes U+FFFD. What is left can still
hold odd controls: :func:`shown_text` spells them out with
:func:`~vconsole.display_text.printable` before they reach a terminal.

:func:`shown_lines` does both for many lines at once, exactly as line by
line would: most lines of a log hold nothing but printable text and colours
(SGR sequences), and those are handled for a whole block with a few calls
that each run in C; a block with anything else (a CR in the middle of a
line, a cursor move, a control, a bidi override, any non-ASCII text...) is
shown line by line, and only a line with controls left is rendered.
"""

from __future__ import annotations

import re

from vconsole.display_text import printable
from vconsole.term.parser import TOKEN, int_params

MAX_LINE = 65536  # bytes; a longer line is cut into pieces of this size
TAB = 8
# A line's shown text is cut here (printable may spell one character as up to 10).
MAX_SHOWN = 10 * MAX_LINE

# Anything a line's text cannot keep as it is: C0 and C1 controls, DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A colour or attribute change: nothing a row of text shows.
_SGR = re.compile(r"\x1b\[[0-9;:]*+m")
_SGR_BYTES = re.compile(rb"\x1b\[[0-9;:]*+m")
# Bytes of lines that are shown as they are: printable ASCII, and the LFs between lines.
_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\n"
# C1 forms of the sequence introducers, as their ESC forms for the tokenizer.
_C1_INTRODUCERS = str.maketrans(
    {"\x9b": "\x1b[", "\x9d": "\x1b]", "\x90": "\x1bP", "\x98": "\x1bX", "\x9e": "\x1b^", "\x9f": "\x1b_"}
)
# Controls that leave no trace on a terminal's row.
_SILENT = frozenset("\x00\x07\x0e\x0f\x7f") | frozenset(chr(c) for c in range(0x80, 0xA0))


def reading_text(raw: bytes) -> str:
    """``raw`` (one line) as a terminal would leave it on its row, escape sequences removed."""
    return _reading(raw.rstrip(b"\n").decode("utf-8", errors="replace"))


def _reading(line: str) -> str:
    """One decoded line, without its LF, as :func:`reading_text` gives it."""
    # A line's own CR LF (or LF) moves nothing that is left on the row.
    text = line.rstrip("\r")
    if not _CONTROL.search(text):
        return text
    plain = _SGR.sub("", text).rstrip("\r")
    if not _CONTROL.search(plain):
        return plain  # colours, and CRs moving over nothing after them: as rendered
    return _render(text.translate(_C1_INTRODUCERS))


def shown_text(text: str) -> str:
    """Reading text made safe for a terminal: leftover controls spelt out, length bounded."""
    return printable(text, MAX_SHOWN)


def shown_lines(raw: bytes, prefix: str = "") -> bytes:
    """Each line of ``raw`` as ``prefix``, its shown text (see :func:`shown_text`) and a newline, in UTF-8.

    ``raw`` holds whole lines, each ending with its LF, except maybe the last.
    The result is what writing each line that way one by one gives.
    """
    data = raw[:-1] if raw.endswith(b"\n") else raw
    # Most lines: printable ASCII, colours, CR LF. Those are shown without them, a block at once.
    plain = _SGR_BYTES.sub(b"", data) if b"\x1b" in data else data
    if b"\r" in plain:
        plain = plain.replace(b"\r\n", b"\n").rstrip(b"\r")  # still a CR: not plain, below
    if not plain.translate(None, _PLAIN_BYTES) and len(plain) <= MAX_SHOWN:
        if not prefix:
            return plain + b"\n"
        head = prefix.encode()
        return head + plain.replace(b"\n", b"\n" + head) + b"\n"
    # Line by line: decoding every line at once gives the same text (an LF ends any bad
    # sequence before it), and a printable line is shown as it is.
    shown = []
    for line in data.decode("utf-8", errors="replace").split("\n"):
        text = line.rstrip("\r")
        if not (text.isprintable() and len(text) <= MAX_SHOWN):
            text = shown_text(_reading(line))
        shown.append(text)
    return (prefix + ("\n" + prefix).join(shown) + "\n").encode()


# A cell nothing was written to (or that was erased): a space, unless trailing. NUL is
# never written (it is silent), so it can stand for one.
_BLANK = "\x00"


class _Row:
    """One terminal row being written: characters and a cursor that overwrites."""

    def __init__(self) -> None:
        self.cells: list[str] = []
        self.x = 0

    def move(self, x: int) -> None:
        self.x = max(x, 0)

    def text(self) -> str:
        """What the row shows, without blanks at its end."""
        return "".join(self.cells).rstrip(_BLANK).replace(_BLANK, " ")

    def write(self, text: str) -> None:
        cells, x = self.cells, self.x
        if x > len(cells):
            cells.extend([_BLANK] * (x - len(cells)))
        cells[x : x + len(text)] = text
        self.x = x + len(text)

    def csi(self, body: str) -> None:
        """The few CSIs that change what a row shows: erase in line and horizontal moves."""
        final, params = body[-1], body[:-1]
        if final not in "KGCD" or params.strip("0123456789;:"):
            return  # private or with intermediates: nothing a row of text shows
        n = (int_params(params) or [0])[0]
        if final == "K":
            if n == 0:
                del self.cells[self.x :]
            elif n == 1:
                end = min(self.x + 1, len(self.cells))
                self.cells[:end] = [_BLANK] * end
            else:
                self.cells = [_BLANK] * min(self.x, len(self.cells))
        elif final == "G":
            self.move(max(n, 1) - 1)
        elif final == "C":
            self.move(self.x + max(n, 1))
        elif final == "D":
            self.move(self.x - max(n, 1))

    def control(self, ch: str) -> None:
        if ch == "\r":
            self.x = 0
        elif ch == "\b":
            self.move(self.x - 1)
        elif ch == "\t":
            self.x = (self.x // TAB + 1) * TAB
        elif ch not in _SILENT:
            self.write(ch)  # shown spelt out by printable: evidence of an odd byte


def _render(text: str) -> str:
    row = _Row()
    for _lines, plain, csi, csi_text, _osc, _esc, control in TOKEN.findall(text):
        if plain or _lines:
            row.write(plain or _lines)
        elif csi:
            row.csi(csi)
            if csi_text:
                row.write(csi_text)
        elif control:
            row.control(control)
        # OSC, other ESC sequences, DCS/SOS/PM/APC strings, malformed escapes: dropped
    return row.text()
