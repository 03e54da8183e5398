"""LogWindow: the part of a console's log the log view holds, as lines, and finding things in it.

The view reads the log in pieces (``log_read``, at most MAX_LOG_READ bytes a
time): it opens at the log's end, reads older pieces as it is scrolled up or
searched, and a jump to a time or a boot far from what it holds starts a new
window there. The window is one contiguous range of the log, bounded to
MAX_LINES lines: past that the far end is let go (and read again when needed).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from vconsole.tui.log_lines import LogBoot, Split, ViewLine

MAX_LINES = 100_000


@dataclass
class LogWindow:
    """Lines ``[start, next)`` of a log that spans ``[log_start, log_end)``.

    ``next`` is where a read forward continues (the last line may be the
    log's unfinished one, read again from there).
    """

    lines: list[ViewLine] = field(default_factory=list)
    start: int = 0
    next: int = 0
    log_start: int = 0
    log_end: int = 0
    boots: list[LogBoot] = field(default_factory=list)
    loaded: bool = False  # a first read has answered

    @property
    def at_top(self) -> bool:
        """Whether the window holds the log's oldest line."""
        return self.start <= self.log_start

    @property
    def at_bottom(self) -> bool:
        """Whether the window holds the log's newest line (as of the last read)."""
        return self.next >= self.log_end or (bool(self.lines) and self.lines[-1].end >= self.log_end)

    def bounds(self, log_start: int, log_end: int, boots: Sequence[LogBoot]) -> None:
        """What the log holds now (every reply says)."""
        self.log_start, self.log_end, self.boots = log_start, log_end, list(boots)
        self.loaded = True

    def replace(self, split: Split) -> None:
        """A new window (a first read, or a jump far from this one)."""
        self.lines = split.lines
        self.start, self.next = split.first, split.next

    def prepend(self, split: Split) -> int:
        """Older lines, ending where the window starts; returns how many were added."""
        older = [line for line in split.lines if line.end <= self.start]
        self.lines[:0] = older
        self.start = min(self.start, split.first)
        extra = len(self.lines) - MAX_LINES
        if extra > 0:  # the newest lines go; a read forward brings them back
            del self.lines[-extra:]
            self.next = self.lines[-1].end
        return len(older)

    def append(self, split: Split) -> int:
        """Newer lines, from where the window's forward reads continue; returns how many lines were dropped at the top."""
        keep = bisect.bisect_left([line.offset for line in self.lines], self.next)
        del self.lines[keep:]  # the unfinished last line, read again
        self.lines.extend(line for line in split.lines if line.offset >= self.next)
        self.next = max(self.next, split.next)
        extra = len(self.lines) - MAX_LINES
        if extra > 0:
            del self.lines[:extra]
            self.start = self.lines[0].offset
            return extra
        return 0

    # --- finding ------------------------------------------------------------

    def index_at_offset(self, offset: int) -> int:
        """The line holding ``offset`` (or the first one after it; the last line if none)."""
        i = bisect.bisect_right([line.offset for line in self.lines], offset) - 1
        if i < 0:
            return 0
        return i if self.lines[i].end > offset or i == len(self.lines) - 1 else i + 1

    def index_at_time(self, when: float) -> int:
        """The first line that arrived at or after ``when`` (the last line if none did)."""
        i = bisect.bisect_left([line.time for line in self.lines], when)
        return min(i, max(len(self.lines) - 1, 0))

    def holds_time(self, when: float) -> bool:
        """Whether a jump to ``when`` lands inside this window (no read needed)."""
        if not self.lines:
            return False
        after_first = when >= self.lines[0].time or self.at_top
        before_last = when <= self.lines[-1].time or self.at_bottom
        return after_first and before_last

    def holds_offset(self, offset: int) -> bool:
        """Whether the line at ``offset`` is in this window."""
        return self.start <= offset < max(self.next, self.lines[-1].end if self.lines else 0)

    def find(self, needle: str, start: int, older: bool) -> int | None:
        """The next line from ``start`` (not itself) holding ``needle`` (case-insensitive unless it has capitals)."""
        fold = needle == needle.lower()
        want = needle.lower() if fold else needle
        count = len(self.lines)
        order = range(min(start, count) - 1, -1, -1) if older else range(max(start, -1) + 1, count)
        for i in order:
            text = self.lines[i].text
            if want in (text.lower() if fold else text):
                return i
        return None

    def boot(self, number: int) -> LogBoot | None:
        """The boot numbered ``number``, if the log holds any of it."""
        return next((b for b in self.boots if b.number == number), None)
