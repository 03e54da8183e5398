"""Line-based matching of one console's output against its watches, across read boundaries.

A console's output comes in reads that cut lines anywhere. :class:`LineMatcher`
keeps the unfinished last line (at most ``max_line`` bytes) and matches each
line once, when its newline arrives (or at :meth:`LineMatcher.flush`, for a
prompt that never gets one).

Speed: almost no line of a console is a hit, so a read is not split into
lines. One combined bytes regex runs over the read (plus the kept tail): the
watches' hints (see :class:`~vconsole.watches.signatures.Signature`) and
"this line is not plain ASCII" (escape sequences, CRs that overwrite, tabs,
UTF-8), whose reading text may differ from its bytes. Only the lines it
finds are turned into reading text and tried against each watch's regex and
ignore list.

Long lines: a line is cut into pieces of ``max_line`` bytes counted from its
first byte, each matched as a line of its own (so memory stays bounded on a
console that never prints a newline); a hit spanning a cut is not seen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from vconsole.consolelog.reading import reading_text
from vconsole.watches.signatures import Severity, Signature

MAX_LINE = 4096  # bytes; a longer line is matched in pieces of this size

# A line whose reading text may differ from its bytes: any byte but printable
# ASCII and newlines, save CRs just before its newline (a serial console's CR LF).
# It takes the rest of the line, so a line of colours is one match, not dozens.
_NOT_PLAIN = rb"(?:[^\n\r\x20-\x7e]|\r(?!\r*\n))[^\n]*"


@dataclass(frozen=True)
class WatchHit:
    """A watch matched a line: its reading text, and the offset of the line's first byte."""

    name: str
    severity: Severity
    text: str
    offset: int


class LineMatcher:
    """Matches one console's output, fed in reads, line by line against ``watches``.

    ``offset`` is the console offset of the first byte fed (hits carry
    offsets from there).
    """

    def __init__(self, watches: Sequence[Signature], offset: int = 0, max_line: int = MAX_LINE) -> None:
        self.watches = tuple(watches)
        self.max_line = max_line
        self._tail = b""  # the unfinished line (or its last piece), from _tail_offset
        self._tail_offset = offset
        hints = [w.hint for w in self.watches]
        # Without a hint for some watch, every line is a candidate.
        self._every_line = any(h is None for h in hints)
        self._finder = re.compile(b"|".join([_NOT_PLAIN, *(h.pattern for h in hints if h is not None)]))

    @property
    def offset(self) -> int:
        """The console offset the next byte fed has."""
        return self._tail_offset + len(self._tail)

    @property
    def pending(self) -> int:
        """How many bytes of an unfinished line are kept."""
        return len(self._tail)

    def feed(self, data: bytes) -> list[WatchHit]:
        """The hits of every line (or piece) ``data`` completes."""
        if not self.watches:
            self._tail_offset += len(data)
            return []
        buf = self._tail + data if self._tail else data
        base = self._tail_offset
        # buf[:done] holds complete lines; buf[done:] an unfinished one, from a line or piece start.
        done = buf.rfind(b"\n") + 1
        most = self.max_line
        if len(buf) - done >= most:  # whole pieces of a long line are done too
            done += (len(buf) - done) // most * most
        hits: list[WatchHit] = []
        if done:
            if self._every_line:
                starts: set[int] | list[int] = self._line_starts(buf, done)
            else:
                starts = self._candidates(buf, done)
            for start in sorted(starts):
                self._match(buf, start, done, base, hits)
        self._tail = buf[done:]
        self._tail_offset = base + done
        return hits

    def flush(self) -> list[WatchHit]:
        """The hits of the unfinished line, matched as it is now (a prompt); it is then done."""
        if not self._tail:
            return []
        hits: list[WatchHit] = []
        self._match(self._tail, 0, len(self._tail), self._tail_offset, hits)
        self._tail_offset += len(self._tail)
        self._tail = b""
        return hits

    def _piece_start(self, buf: bytes, pos: int) -> int:
        """Where the line or piece holding ``buf[pos]`` starts."""
        line = buf.rfind(b"\n", 0, pos) + 1
        return line + (pos - line) // self.max_line * self.max_line

    def _candidates(self, buf: bytes, done: int) -> set[int]:
        """Starts of the lines in ``buf[:done]`` a finder match touches."""
        starts: set[int] = set()
        for m in self._finder.finditer(buf, 0, done):
            first = self._piece_start(buf, m.start())
            starts.add(first)
            end = m.end()
            if end - first > self.max_line or buf.find(b"\n", m.start(), end - 1) >= 0:
                # It runs over more than one line (a hint like "a\\s+b"): every one it touches.
                pos = first
                while pos < end - 1 and pos < done:
                    starts.add(pos)
                    pos = self._next_start(buf, pos, done)
        return starts

    def _line_starts(self, buf: bytes, done: int) -> list[int]:
        starts: list[int] = []
        pos = 0
        while pos < done:
            starts.append(pos)
            pos = self._next_start(buf, pos, done)
        return starts

    def _next_start(self, buf: bytes, pos: int, done: int) -> int:
        nl = buf.find(b"\n", pos, min(done, pos + self.max_line))
        return nl + 1 if nl >= 0 else min(done, pos + self.max_line)

    def _match(self, buf: bytes, start: int, done: int, base: int, hits: list[WatchHit]) -> None:
        text = reading_text(buf[start : self._next_start(buf, start, done)])
        for watch in self.watches:
            if watch.matches(text):
                hits.append(WatchHit(watch.name, watch.severity, text, base + start))
