"""Lines of a console log: bytes from LogChunks cut at newlines, each with its time and boot.

A read turn can end in the middle of a line: the assembler joins the pieces,
and a line's time is that of the read that brought its first byte. A hole in
the log (evicted or never logged bytes) and the start of a boot end the line
before them. Lines longer than :data:`MAX_LINE` bytes are cut, so a console
that never prints a newline cannot grow one without bound.

For reading, :func:`reading_text` turns a line's raw bytes into text as a
terminal would leave it on one row: escape sequences (CSI, OSC, DCS and the
other ESC sequences, their C1 forms too) are removed, a carriage return or
backspace moves back and later text overwrites (a progress line shows its
last state), tabs become spaces, and invalid UTF-8 becomes U+FFFD. What is
left can still hold odd controls: :func:`shown_text` spells them out with
:func:`~vconsole.display_text.printable` before they reach a terminal.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.reader import Boot, LogChunk
from vconsole.display_text import printable
from vconsole.term.parser import TOKEN, int_params

MAX_LINE = 65536  # bytes; a longer line is cut into pieces of this size
TAB = 8
# A line's shown text is cut here (printable may spell one character as up to 10).
MAX_SHOWN = 10 * MAX_LINE

# Anything the fast path cannot copy as it is: C0 and C1 controls, DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# C1 forms of the sequence introducers, as their ESC forms for the tokenizer.
_C1_INTRODUCERS = str.maketrans(
    {"\x9b": "\x1b[", "\x9d": "\x1b]", "\x90": "\x1bP", "\x98": "\x1bX", "\x9e": "\x1b^", "\x9f": "\x1b_"}
)
# Controls that leave no trace on a terminal's row.
_SILENT = frozenset("\x00\x07\x0e\x0f\x7f") | frozenset(chr(c) for c in range(0x80, 0xA0))


@dataclass(frozen=True)
class LogLine:
    """One line of a console's log: ``raw`` (with its newline when complete) from ``offset``."""

    time: float  # arrival of its first byte
    offset: int
    boot: int  # the boot holding its first byte (0: before the first boot)
    raw: bytes

    @property
    def end(self) -> int:
        """Offset one past the line's last byte."""
        return self.offset + len(self.raw)

    @property
    def complete(self) -> bool:
        """Whether the line ends with its newline (a cut, a last or a flushed line does not)."""
        return self.raw.endswith(b"\n")

    @property
    def text(self) -> str:
        """The line as a reader sees it (see :func:`reading_text`); may still hold controls."""
        return reading_text(self.raw)

    @property
    def shown(self) -> str:
        """The line's text safe for a terminal."""
        return shown_text(self.text)


def reading_text(raw: bytes) -> str:
    """``raw`` (one line) as a terminal would leave it on its row, escape sequences removed."""
    # A line's own CR LF (or LF) moves nothing that is left on the row.
    text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
    if not _CONTROL.search(text):
        return text
    return _render(text.translate(_C1_INTRODUCERS))


def shown_text(text: str) -> str:
    """Reading text made safe for a terminal: leftover controls spelt out, length bounded."""
    return printable(text, MAX_SHOWN)


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


class LineAssembler:
    """Turns chunks (in offset order, maybe with holes) into lines."""

    def __init__(self, boots: Sequence[Boot] = (), max_line: int = MAX_LINE) -> None:
        self.set_boots(boots)
        self.max_line = max_line
        self._pending = bytearray()
        self._pending_offset = 0
        self._pending_time = 0.0
        self.next: int | None = None  # the offset the next chunk continues at

    def set_boots(self, boots: Sequence[Boot]) -> None:
        """The boots lines are numbered by (a follower learns of new ones as the guest restarts)."""
        starts = sorted((b.start, b.number) for b in boots)
        self._boot_starts = [s for s, _ in starts]
        self._boot_numbers = [n for _, n in starts]

    def boot_of(self, offset: int) -> int:
        """The number of the boot holding ``offset`` (0 before the first)."""
        i = bisect.bisect_right(self._boot_starts, offset)
        return self._boot_numbers[i - 1] if i else 0

    @property
    def pending(self) -> bool:
        """Whether a line without its newline is waiting for more bytes."""
        return bool(self._pending)

    def feed(self, chunk: LogChunk) -> list[LogLine]:
        """The lines ``chunk`` completes; a hole before it ends the pending line."""
        out: list[LogLine] = []
        offset, data = chunk.offset, chunk.data
        if self.next is not None and offset != self.next:
            out.extend(self.flush())
        end = offset + len(data)
        cut = bisect.bisect_left(self._boot_starts, offset)
        # A boot starting at (or inside) this chunk ends the line before it.
        while cut < len(self._boot_starts) and self._boot_starts[cut] < end:
            at = self._boot_starts[cut] - offset
            self._piece(offset, data[:at], chunk.time, out)
            out.extend(self.flush())
            offset, data = offset + at, data[at:]
            cut += 1
        self._piece(offset, data, chunk.time, out)
        self.next = end
        return out

    def flush(self) -> list[LogLine]:
        """The pending line, without its newline (at the end, a hole, or in follow mode when idle)."""
        if not self._pending:
            return []
        line = self._line(self._pending_offset, self._pending_time, bytes(self._pending))
        self._pending.clear()
        return [line]

    def _line(self, offset: int, time: float, raw: bytes) -> LogLine:
        return LogLine(time, offset, self.boot_of(offset), raw)

    def _piece(self, offset: int, data: bytes, time: float, out: list[LogLine]) -> None:
        pos, size = 0, len(data)
        while pos < size:
            room = self.max_line - len(self._pending)
            nl = data.find(b"\n", pos, pos + room)
            stop = nl + 1 if nl >= 0 else min(size, pos + room)
            if not self._pending:
                self._pending_offset, self._pending_time = offset + pos, time
            if nl >= 0 or stop - pos == room:  # a newline, or the line is as long as allowed
                raw = bytes(self._pending) + data[pos:stop] if self._pending else data[pos:stop]
                self._pending.clear()
                out.append(self._line(self._pending_offset, self._pending_time, raw))
            else:
                self._pending += data[pos:stop]
            pos = stop


def log_lines(chunks: Iterable[LogChunk], boots: Sequence[Boot] = ()) -> Iterator[LogLine]:
    """Every line of ``chunks``, the last one even without its newline."""
    assembler = LineAssembler(boots)
    for chunk in chunks:
        yield from assembler.feed(chunk)
    yield from assembler.flush()


@functools.lru_cache(maxsize=1024)
def iso_time(when: float, utc: bool) -> str:
    """``when`` as ISO-8601 with milliseconds, in local time (or UTC) with its offset.

    Cached: the lines of one read share its time.
    """
    moment = datetime.fromtimestamp(when, UTC)
    return (moment if utc else moment.astimezone()).isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=4096)
def _json_source(meta: LogMeta) -> str:
    """The fields of a JSON line that name the console, made once per console."""
    fields = {"host": meta.host, "provider": meta.provider, "guest_id": meta.guest_id,
              "guest": meta.guest_name, "console": meta.console}
    return json.dumps(fields)[1:-1]


def json_line(line: LogLine, meta: LogMeta) -> str:
    """One JSON line for log pipelines: time (ISO, UTC) and ts, where it came from, the text.

    Keys: time, ts, host, provider, guest_id, guest, console, boot, offset, text.
    ASCII only, so no character of a guest's acts on a terminal showing it.
    """
    return (
        f'{{"time": "{iso_time(line.time, True)}", "ts": {round(line.time, 6)!r}, {_json_source(meta)}, '
        f'"boot": {line.boot}, "offset": {line.offset}, "text": {json.dumps(line.text)}}}'
    )
