"""A console log's bytes as lines for the log view: each line with its time, offset and boot, text made safe.

``log_read`` answers with chunks of raw bytes, each with its arrival time
(docs/protocol.md). :func:`split_lines` cuts them at newlines; a hole in the
log or the start of a boot ends a line too, and a line longer than
:data:`MAX_LINE` bytes is cut. A read that starts in the middle of a line
leaves that piece out (the next older read brings the whole line), unless it
starts where the log does; a last line without its newline is shown, but the
next read forward starts at it again, so it is never shown twice.

The text of a line is what a reader wants: escape sequences are removed and
whatever control characters remain are spelt out by
:func:`~vconsole.display_text.printable`, so nothing a guest printed acts on
the admin's terminal, and it is drawn as plain text, never read as markup.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from vconsole.display_text import printable
from vconsole.term.parser import TOKEN

MAX_LINE = 4096  # bytes; a longer line is cut into pieces this long
MAX_SHOWN = 2 * MAX_LINE  # characters of one line's text (printable spells a control as up to 10)
TAB = 8

Chunk = tuple[int, float, bytes]  # (offset, arrival time, bytes), as LogReadReply holds them


@dataclass(frozen=True, slots=True)
class LogBoot:
    """A guest boot in the log: its number, the offset of its first byte, when it started."""

    number: int
    start: int
    time: float


@dataclass(frozen=True, slots=True)
class ViewLine:
    """One line of the log as the view shows it."""

    offset: int  # of its first byte
    end: int  # one past its last byte (its newline included)
    time: float  # arrival of its first byte
    boot: int  # the boot holding its first byte (0: before the first boot the log knows)
    text: str  # escape sequences removed, safe to show


def reading_text(raw: bytes) -> str:
    """One line's bytes as a terminal would leave its row (roughly), safe to show.

    Escape sequences go; a carriage return followed by more text starts the
    row again (a progress line shows its last state); a backspace takes back
    a character; tabs become spaces. A small reader of its own: the fuller one
    is vconsole/consolelog/lines.py once the ``vconsole log`` command has it.
    """
    text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
    if text.isprintable():
        return text
    row: list[str] = []
    for lines, plain, _csi, csi_text, _osc, _esc, control in TOKEN.findall(text):
        shown = lines or plain or csi_text
        if shown:
            row.extend(shown.replace("\r\n", " "))
        elif control == "\r":
            row.clear()
        elif control == "\b":
            if row:
                row.pop()
        elif control == "\t":
            row.extend(" " * (TAB - len(row) % TAB))
        elif control and control not in "\x00\x07\x0e\x0f\x7f":
            row.append(control)  # spelt out by printable: evidence of an odd byte
    return printable("".join(row), MAX_SHOWN)


def boot_of(boots: Sequence[LogBoot], offset: int) -> int:
    """The number of the boot holding ``offset`` (0 before the first one)."""
    i = bisect.bisect_right([b.start for b in boots], offset)
    return boots[i - 1].number if i else 0


@dataclass(frozen=True, slots=True)
class Split:
    """Lines made from one read, and the offsets the next reads continue at."""

    lines: list[ViewLine]
    first: int  # offset of the first line (the next read backward ends here)
    next: int  # where the next read forward starts: after the last complete line
    partial: bool  # the last line has no newline yet (a read from ``next`` brings it again)


def split_lines(chunks: Sequence[Chunk], boots: Sequence[LogBoot], *, head_is_line: bool, tail_is_end: bool,
                upto: int) -> Split:
    """Cut ``chunks`` (in offset order, a read that ended at ``upto``) into lines.

    ``head_is_line``: the read starts at a line's start (the log's start, or
    where an earlier read's lines ended); otherwise the bytes before the
    first newline are left out (unless a boot starts there, or they are a
    whole MAX_LINE). ``tail_is_end``: the read reached the log's end, so a
    last line without its newline is shown (else it is left for the next read).
    """
    boot_starts = sorted(b.start for b in boots)
    starts = set(boot_starts)
    done: list[tuple[int, float, bytes]] = []
    line = bytearray()
    line_at, line_time = upto, 0.0
    expected: int | None = None

    def end_line() -> None:
        if line:
            done.append((line_at, line_time, bytes(line)))
            line.clear()

    for offset, when, data in chunks:
        if expected is not None and offset != expected:
            end_line()  # a hole ends a line
        expected = offset + len(data)
        pos = 0
        while pos < len(data):
            at = offset + pos
            if at in starts:
                end_line()  # a boot starts a line
            if not line:
                line_at, line_time = at, when
            i = bisect.bisect_right(boot_starts, at)
            boot_cut = boot_starts[i] - offset if i < len(boot_starts) else len(data)
            limit = min(len(data), boot_cut, pos + MAX_LINE - len(line))
            newline = data.find(b"\n", pos, limit)
            stop = newline + 1 if newline >= 0 else limit
            line += data[pos:stop]
            pos = stop
            if newline >= 0 or len(line) >= MAX_LINE:
                end_line()
    first = chunks[0][0] if chunks else upto
    if not head_is_line and done and done[0][0] == first and first not in starts and len(done[0][2]) < MAX_LINE:
        first = done[0][0] + len(done[0][2])  # a piece of a line: the next older read brings it whole
        del done[0]
    partial = bool(line) and tail_is_end
    next_at = line_at if line else (expected if expected is not None else upto)
    if partial:
        end_line()
    if not done:
        first = next_at
    lines = [ViewLine(at, at + len(raw), when, boot_of(boots, at), reading_text(raw)) for at, when, raw in done]
    return Split(lines, first, next_at, partial)
