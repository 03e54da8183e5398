"""A console log's bytes as lines for the log view: each line with its time, offset and boot, text made safe.

``log_read`` answers with chunks of raw bytes, each with its arrival time
(docs/protocol.md). :func:`split_lines` cuts them into lines with the log's
own LineAssembler (vconsole/consolelog/lines.py: a hole in the log or the
start of a boot ends a line too), cut at :data:`MAX_LINE` bytes for the view.
A read that starts in the middle of a line leaves that piece out (the next
older read brings the whole line), unless it starts where the log does; a
last line without its newline is shown, but the next read forward starts at
it again, so it is never shown twice.

A line's text is what ``vconsole log`` prints for reading: escape sequences
removed and the controls left spelt out (``reading_text``, ``shown_text``),
so nothing a guest printed acts on the admin's terminal; the view draws it
as plain text, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vconsole.consolelog.lines import LineAssembler, LogLine, shown_text
from vconsole.consolelog.reader import Boot, LogChunk

MAX_LINE = 4096  # bytes; a longer line is cut into pieces this long

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

    @classmethod
    def of(cls, line: LogLine) -> ViewLine:
        """The view's line for a line of the log."""
        return cls(line.offset, line.end, line.time, line.boot, shown_text(line.text))


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
    assembler = LineAssembler([Boot(b.number, b.start, b.start, b.time, None) for b in boots], max_line=MAX_LINE)
    done: list[LogLine] = []
    for offset, when, data in chunks:
        done += assembler.feed(LogChunk(offset, data, when))
    unfinished = assembler.flush()  # the last line, without its newline
    first = chunks[0][0] if chunks else upto
    end = chunks[-1][0] + len(chunks[-1][2]) if chunks else upto
    # A read that began mid-line: its first piece is left to the next older read (unless it is all there is).
    if (not head_is_line and done and done[0].offset == first and len(done[0].raw) < MAX_LINE
            and (len(done) > 1 or unfinished) and first not in {b.start for b in boots}):
        first = done[0].end
        del done[0]
    partial = bool(unfinished) and tail_is_end
    next_at = end
    if unfinished and not partial and not done:
        done += unfinished  # a line longer than the read: shown in pieces
    elif unfinished:
        next_at = unfinished[0].offset  # read again from its start by the next read forward
        if partial:
            done += unfinished  # the log's last line, its newline still to come
    if not done:
        first = next_at
    return Split([ViewLine.of(line) for line in done], first, next_at, partial)
