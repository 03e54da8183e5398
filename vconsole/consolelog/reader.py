"""ConsoleLog: read one console's log from its files, read-only, with or without a broker.

Never repairs and never blocks the writer: a torn tail (a record past the
segment's end, a half-written or garbage record) is simply not read.
"""

from __future__ import annotations

import bisect
import operator
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vconsole.consolelog.index_read import read_index
from vconsole.consolelog.layout import META_NAME, LogMeta
from vconsole.consolelog.records import (
    FORMAT_VERSION,
    MAGIC,
    RECORD_SIZE,
    IndexRecord,
    LogMarkKind,
    RecordError,
    RecordKind,
)
from vconsole.consolelog.segments import (
    BootInfo,
    Span,
    console_dirs,
    decode_records,
    idx_path,
    list_starts,
    read_spans,
    seg_path,
)


@dataclass(frozen=True)
class LogChunk:
    """Bytes ``[offset, offset + len(data))`` that arrived at ``time`` (one read turn, or part of one)."""

    offset: int
    data: bytes
    time: float


@dataclass(frozen=True)
class LogBlock:
    """Held bytes ``[offset, offset + len(data))`` and the read turns they came in, in order: the
    n-th ended at ``ends[n]`` (the last at the block's end) and arrived at ``times[n]``."""

    offset: int
    data: bytes
    ends: list[int]
    times: list[float]

    def chunks(self) -> Iterator[LogChunk]:
        """One chunk per read turn."""
        pos, base, data = self.offset, self.offset, self.data
        for cut, when in zip(self.ends, self.times, strict=True):
            yield LogChunk(pos, data[pos - base : cut - base], when)
            pos = cut


def _blocks(data: bytes, lo: int, index: _Index) -> Iterator[LogBlock]:
    """``data`` (read from ``lo``) cut at the read turns ``index`` holds, as blocks.

    Each read turn is cut to ``data``; an empty one is left out. A block ends where the next
    read turn does not start at its end (only an index whose ends go back has such).
    """
    hi = lo + len(data)
    if hi == lo:
        return
    k = bisect.bisect_right(index.ends, lo)
    if index.increasing:  # the read turns ending in (lo, hi), and the one holding hi - 1 cut there
        j = bisect.bisect_left(index.ends, hi, k)
        ends = index.ends[k : j + 1]
        if j < len(index.ends):
            ends[-1] = hi
        if ends:
            yield LogBlock(lo, data[: ends[-1] - lo], ends, index.seconds[k : j + 1])
        return
    start = pos = lo
    ends = []
    times: list[float] = []
    while pos < hi and k < len(index.ends):
        cut = min(hi, index.ends[k])
        if cut > pos:
            if pos != (ends[-1] if ends else start):
                yield LogBlock(start, data[start - lo : ends[-1] - lo], ends, times)
                start, ends, times = pos, [], []
            ends.append(cut)
            times.append(index.times[k] / 1e9)
        pos = cut
        k += 1
    if ends:
        yield LogBlock(start, data[start - lo : ends[-1] - lo], ends, times)


@dataclass(frozen=True)
class Boot:
    """One guest boot in a console's log: ``[start, end)``, numbered 1, 2, ... per console."""

    number: int
    start: int
    end: int
    time: float  # when it started
    end_time: float | None  # time of its last byte (None: nothing logged yet)


@dataclass(frozen=True)
class LogMarkEntry:
    """A MARK record, decoded."""

    kind: LogMarkKind
    offset: int
    time: float
    value: int
    aux: int


@dataclass
class _Index:
    """A segment's readable records: their bytes, and its DATA records as two sorted lists."""

    raw: bytes  # the readable records, RECORD_SIZE bytes each
    ends: list[int]  # DATA offsets: the end of each read turn's bytes
    times: list[int]  # their arrival times (ns)
    boot: BootInfo | None  # the last BOOT record before the first DATA record
    _records: list[IndexRecord] | None = field(default=None, repr=False)
    _seconds: list[float] | None = field(default=None, repr=False)
    increasing: bool = field(init=False)  # each end above the one before, as written (else cut with care)

    def __post_init__(self) -> None:
        self.increasing = all(map(operator.lt, self.ends, self.ends[1:]))

    @property
    def seconds(self) -> list[float]:
        """The times as seconds since the epoch (made when first asked for)."""
        if self._seconds is None:
            self._seconds = [t / 1e9 for t in self.times]
        return self._seconds

    @property
    def records(self) -> list[IndexRecord]:
        """All of them, decoded (on demand: reading lines needs only the lists)."""
        if self._records is None:
            self._records = decode_records(self.raw)[0]
        return self._records


@dataclass
class _Seg:
    """One segment as the reader found it (size from stat: bytes after the last DATA record
    are held too, timed at the segment's mtime as recovery would)."""

    start: int
    size: int
    mtime_ns: int
    path: Path
    index_path: Path
    index: _Index | None = field(default=None, repr=False)
    _header_ns: int | None = field(default=None, repr=False)

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def header_ns(self) -> int:
        """When the segment began (<= its first byte's time): its HEADER's time, read on demand
        (the mtime when the header is unreadable)."""
        if self._header_ns is None:
            header = self.header()
            self._header_ns = header.time_ns if header is not None else self.mtime_ns
        return self._header_ns

    def header(self) -> IndexRecord | None:
        """The HEADER record; LogUnreadable for a format version this vconsole does not know."""
        try:
            with open(self.index_path, "rb") as f:
                rec = IndexRecord.decode(f.read(RECORD_SIZE))
        except (OSError, RecordError, struct.error):
            return None
        if rec.kind != RecordKind.HEADER or rec.value != MAGIC:
            return None
        if rec.sub != FORMAT_VERSION:
            raise LogUnreadable(
                f"{self.path.parent}: log format version {rec.sub} (this vconsole reads {FORMAT_VERSION})"
            )
        return rec

    def load(self) -> _Index:
        """Decode the index (cached): up to the first bad record or record past the end."""
        if self.index is not None:
            return self.index
        try:
            raw = self.index_path.read_bytes()
        except OSError:
            raw = b""
        held, ends, times, boot = read_index(raw, self.end)
        if (ends[-1] if ends else self.start) < self.end:
            ends.append(self.end)
            times.append(self.mtime_ns)
        self.index = _Index(held, ends, times, boot)
        return self.index


class ConsoleLog:
    """One console's log directory, as the files hold it now."""

    def __init__(self, directory: Path) -> None:
        """Scan ``directory`` (segment list, meta); LogUnreadable if it is not a console log."""
        self.directory = directory
        try:
            starts = list_starts(directory)
        except OSError as e:
            raise LogUnreadable(f"{directory}: {e.strerror or e}") from None
        self.meta: LogMeta | None = LogMeta.read(directory)
        if not starts and not (directory / META_NAME).exists():
            raise LogUnreadable(f"{directory}: not a console log (no segments, no {META_NAME})")
        self._segs: list[_Seg] = []
        for start in starts:
            path = seg_path(directory, start)
            try:
                st = os.stat(path)
            except OSError:
                continue  # evicted meanwhile, or unreadable: not held
            self._segs.append(_Seg(start, st.st_size, st.st_mtime_ns, path, idx_path(directory, start)))
        if self._segs:
            # The newest segment has the newest format: an unknown one is refused here, at once.
            self._segs[-1].header()

    @property
    def start(self) -> int:
        """Offset of the oldest byte held on disk."""
        return self._segs[0].start if self._segs else 0

    @property
    def end(self) -> int:
        """Offset one past the newest byte held on disk."""
        return self._segs[-1].end if self._segs else 0

    @property
    def dropped(self) -> int:
        """Bytes below ``end`` no longer held because they were evicted (not counting NOT_LOGGED holes)."""
        return max(0, self.end - sum(s.size for s in self._segs) - self.not_logged)

    @property
    def not_logged(self) -> int:
        """Bytes below ``end`` that never reached the disk (NOT_LOGGED holes)."""
        return sum(
            max(0, m.value - m.offset) for m in self.marks() if m.kind is LogMarkKind.NOT_LOGGED
        )

    def read(self, offset: int, limit: int) -> tuple[int, bytes]:
        """Up to ``limit`` bytes from the first held offset >= ``offset``: (that offset, bytes).

        Stops at a hole or the end; ``(end, b"")`` when nothing is held at or after ``offset``.
        """
        return read_spans([Span(s.start, s.size, s.path) for s in self._segs], offset, limit)

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[LogChunk]:
        """Held bytes in ``[start, end)`` in order, each with its arrival time; holes skipped."""
        for block in self.blocks(start, end):
            yield from block.chunks()

    def blocks(self, start: int = 0, end: int | None = None) -> Iterator[LogBlock]:
        """:meth:`chunks`, as the bytes read from a segment at once and where and when each read turn
        in them ended: a reader of many chunks makes no object per read turn."""
        stop = self.end if end is None else min(end, self.end)
        first = bisect.bisect_right([s.end for s in self._segs], start)
        for seg in self._segs[first:]:
            if seg.start >= stop:
                return
            lo, hi = max(start, seg.start), min(stop, seg.end)
            if lo >= hi:
                continue
            try:
                with open(seg.path, "rb", buffering=0) as f:
                    data = os.pread(f.fileno(), hi - lo, lo - seg.start)
            except OSError:
                continue  # evicted meanwhile, or unreadable: not held
            yield from _blocks(data, lo, seg.load())

    def records(self) -> Iterator[IndexRecord]:
        """Every readable index record in offset order (HEADER records included)."""
        for seg in self._segs:
            yield from seg.load().records

    def boots(self) -> list[Boot]:
        """The boots the log holds (any part of), oldest first.

        A boot's ``start`` is where it began, which may be below :attr:`start`
        when its first segments were evicted; ``end`` is the next boot's start.
        Bytes logged before the broker saw any boot form boot number 0.
        """
        groups: list[tuple[int, int, int, list[_Seg]]] = []  # number, start, time, segments
        for seg in self._segs:
            boot = seg.load().boot
            number = boot.number if boot else (groups[-1][0] if groups else 0)
            if not groups or groups[-1][0] != number:
                start, when = (boot.start, boot.time_ns) if boot else (seg.start, seg.header_ns)
                groups.append((number, start, when, []))
            groups[-1][3].append(seg)
        out: list[Boot] = []
        for n, (number, start, when, segs) in enumerate(groups):
            end = groups[n + 1][1] if n + 1 < len(groups) else self.end
            times = [t for s in segs for t in s.load().times[-1:]]
            out.append(Boot(number, start, end, when / 1e9, times[-1] / 1e9 if times else None))
        return out

    def marks(self, start: int = 0, end: int | None = None) -> list[LogMarkEntry]:
        """MARK records whose offset is in ``[start, end)``."""
        out = [
            LogMarkEntry(kind, rec.offset, rec.time, rec.value, rec.aux)
            for rec in self.records()
            if (kind := rec.mark) is not None and start <= rec.offset and (end is None or rec.offset < end)
        ]
        return sorted(out, key=lambda m: m.offset)

    def offset_at(self, when: float) -> int:
        """The first held offset whose byte arrived at or after ``when`` (``end`` if none); a binary search."""
        t = int(when * 1e9)
        # The last segment that began at or before ``when`` (headers read only as probed).
        lo, hi = 0, len(self._segs)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._segs[mid].header_ns <= t:
                lo = mid + 1
            else:
                hi = mid
        i = max(0, lo - 1)
        for seg in self._segs[i:]:
            index = seg.load()
            k = bisect.bisect_left(index.times, t)
            if k < len(index.times):
                return index.ends[k - 1] if k else seg.start
        return self.end

    def time_at(self, offset: int) -> float | None:
        """When the byte at ``offset`` arrived (None when it is not held)."""
        i = bisect.bisect_right([s.start for s in self._segs], offset) - 1
        if i < 0 or offset >= self._segs[i].end:
            return None
        index = self._segs[i].load()
        k = bisect.bisect_right(index.ends, offset)
        return index.times[k] / 1e9 if k < len(index.times) else None


class LogUnreadable(Exception):
    """A directory is not a readable console log; the message says why in one line."""


def console_logs(root: Path) -> list[ConsoleLog]:
    """Every console log under ``root`` (sorted by provider, guest id, console); unreadable ones skipped."""
    out: list[ConsoleLog] = []
    for directory in console_dirs(root):
        try:
            out.append(ConsoleLog(directory))
        except LogUnreadable:
            continue
    return out
