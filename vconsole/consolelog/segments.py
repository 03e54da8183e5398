"""One console log's segment files as the writer and the store track them (private to consolelog).

A segment is ``<start>.seg`` (raw bytes from absolute offset ``start``) and
``<start>.idx`` (its index records). :class:`ConsoleFiles` is the list of a
console's segments, oldest first, with the counters that survive a restart.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vconsole.consolelog.layout import (
    INDEX_SUFFIX,
    SEGMENT_SUFFIX,
    segment_name,
    unescape_component,
)
from vconsole.consolelog.records import RECORD_SIZE, IndexRecord, RecordError, RecordKind

if TYPE_CHECKING:
    from vconsole.consolelog.writer import ConsoleLogWriter

_NAME_LEN = 16


def seg_path(directory: Path, start: int) -> Path:
    """The raw bytes of the segment starting at ``start``."""
    return directory / (segment_name(start) + SEGMENT_SUFFIX)


def idx_path(directory: Path, start: int) -> Path:
    """The index of the segment starting at ``start``."""
    return directory / (segment_name(start) + INDEX_SUFFIX)


def parse_start(name: str, suffix: str) -> int | None:
    """The start offset a file name ``<16 hex><suffix>`` says, or None for any other name."""
    stem = name[: -len(suffix)] if name.endswith(suffix) else ""
    if len(stem) != _NAME_LEN or any(c not in "0123456789abcdef" for c in stem):
        return None
    return int(stem, 16)


def list_starts(directory: Path, suffix: str = SEGMENT_SUFFIX) -> list[int]:
    """Sorted start offsets of the files with ``suffix`` in ``directory`` (OSError if unreadable)."""
    with os.scandir(directory) as entries:
        starts = [s for e in entries if (s := parse_start(e.name, suffix)) is not None]
    return sorted(starts)


def decode_records(raw: bytes) -> tuple[list[IndexRecord], int]:
    """The records of an index up to the first bad one, and how many bytes they take."""
    out: list[IndexRecord] = []
    whole = len(raw) - len(raw) % RECORD_SIZE
    view = memoryview(raw)
    for pos in range(0, whole, RECORD_SIZE):
        try:
            out.append(IndexRecord.decode(view[pos : pos + RECORD_SIZE]))
        except RecordError:
            return out, pos
    return out, whole


def boot_tag(incarnation: str) -> int:
    """24 bits of the incarnation (a BOOT record's sub << 16 | aux): a restart of the broker
    finds the same tag and opens no new boot."""
    return zlib.crc32(incarnation.encode()) & 0xFFFFFF


@dataclass(frozen=True)
class BootInfo:
    """The boot a segment's bytes belong to, as its BOOT record says."""

    number: int
    start: int  # offset where the boot began (may be below the segment's start)
    time_ns: int
    tag: int

    def record(self) -> IndexRecord:
        """The BOOT record every segment of this boot carries before its first DATA record."""
        return IndexRecord(RecordKind.BOOT, self.start, self.time_ns, self.number, self.tag >> 16, self.tag & 0xFFFF)

    @classmethod
    def of(cls, rec: IndexRecord) -> BootInfo:
        """Decode a BOOT record."""
        return cls(rec.value, rec.offset, rec.time_ns, rec.sub << 16 | rec.aux)


@dataclass
class Segment:
    """One segment as tracked in memory."""

    start: int
    size: int  # bytes in the .seg file
    index_size: int  # bytes in the .idx file
    boot: int  # the boot its bytes belong to (0: logged before any boot)
    last_write: float  # time of its newest byte (the global limit evicts the oldest first)

    @property
    def end(self) -> int:
        """One past its last byte."""
        return self.start + self.size

    @property
    def disk_bytes(self) -> int:
        """What it costs on disk (data and index)."""
        return self.size + self.index_size


@dataclass
class ConsoleFiles:
    """A console's segments (oldest first) and the counters computed from them at open."""

    directory: Path
    label: str  # provider:guest id:console, for messages
    segments: list[Segment] = field(default_factory=list)
    not_logged: int = 0  # bytes of the NOT_LOGGED holes the held indexes record
    dropped: int = 0  # bytes evicted (computed at open, then counted as segments go)
    boot: BootInfo | None = None  # the newest segment's boot
    problem: str | None = None  # why this log cannot be written at all (None: it can)
    disk_bytes: int = 0

    @property
    def end(self) -> int:
        """One past the newest byte on disk (0 for an empty log)."""
        return self.segments[-1].end if self.segments else 0

    def count(self) -> None:
        """Recompute disk_bytes and dropped after a scan: dropped is every byte below the end
        that no segment holds and no NOT_LOGGED mark explains."""
        self.disk_bytes = sum(s.disk_bytes for s in self.segments)
        held = sum(s.size for s in self.segments)
        self.dropped = max(0, self.end - held - self.not_logged)

    def evict(self, seg: Segment) -> OSError | None:
        """Delete ``seg``'s files (data first: an index without its data is removed at the next
        open) and count its bytes as dropped; the error when it could not be deleted."""
        for path in (seg_path(self.directory, seg.start), idx_path(self.directory, seg.start)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as e:
                return e
        self.segments.remove(seg)
        self.dropped += seg.size
        self.disk_bytes -= seg.disk_bytes
        return None


def eviction_order(segments: Sequence[Segment], current_boot: int, limit: int) -> list[Segment]:
    """The closed segments (all but the newest) in the order the per-console limit evicts them.

    Oldest first, except the boot rule: the tail of the previous boot (its newest
    segments, up to ``limit // 4`` bytes) goes only after every older segment of
    the current boot, so the boot that crashed survives a chatty next boot.
    """
    closed = list(segments[:-1])
    previous = [s for s in closed if s.boot != current_boot]
    protected: list[Segment] = []
    if previous:
        prev_boot = previous[-1].boot
        budget = limit // 4
        for seg in reversed(closed):
            if seg.boot == current_boot:
                continue
            if seg.boot != prev_boot or seg.disk_bytes > budget:
                break
            budget -= seg.disk_bytes
            protected.append(seg)
    keep = {id(s) for s in protected}
    return [s for s in closed if id(s) not in keep] + protected[::-1]


class WriterHost(Protocol):
    """What a ConsoleLogWriter (``writer``) tells its store: open files, bytes written and freed."""

    def opened(self, writer: ConsoleLogWriter) -> None:
        """The writer opened its files (the store may close another writer's)."""

    def resized(self, writer: ConsoleLogWriter, delta: int) -> None:
        """The writer's files grew (it has something to sync) or shrank by ``delta`` bytes."""

    def closed(self, writer: ConsoleLogWriter) -> None:
        """The writer closed its files."""


def sync_fds(fds: list[int]) -> None:
    """fsync then close each fd (from LogStore.take_dirty); errors are ignored (the next write reports them)."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.fsync(fd)
        with contextlib.suppress(OSError):
            os.close(fd)


@dataclass(frozen=True)
class Span:
    """Held bytes ``[start, start + size)`` in the file ``path``."""

    start: int
    size: int
    path: Path

    @property
    def end(self) -> int:
        """One past its last byte."""
        return self.start + self.size


def read_spans(spans: Sequence[Span], offset: int, limit: int) -> tuple[int, bytes]:
    """Up to ``limit`` bytes from the first held offset >= ``offset``, across contiguous spans.

    A file that vanished before anything was read (evicted meanwhile) is skipped;
    an error or a file shorter than expected ends the read there.
    """
    end = spans[-1].end if spans else 0
    i = bisect.bisect_right([s.end for s in spans], offset)
    parts: list[bytes] = []
    first = pos = 0
    want = limit
    while i < len(spans) and want > 0:
        span = spans[i]
        i += 1
        if span.size == 0:
            continue
        if not parts:
            first = pos = max(offset, span.start)
        elif span.start != pos:
            break  # a hole
        n = min(want, span.end - pos)
        try:
            with open(span.path, "rb", buffering=0) as f:
                got = os.pread(f.fileno(), n, pos - span.start)
        except OSError:
            if parts:
                break
            continue
        if got:
            parts.append(got)
        pos += len(got)
        want -= len(got)
        if len(got) < n:
            break
    data = b"".join(parts)
    return (first, data) if data else (end, b"")


def make_dirs(directory: Path) -> None:
    """``directory`` and any missing parent, each created 0700 (os.makedirs gives parents the umask's mode)."""
    missing: list[Path] = []
    d = directory
    while not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o700)


def console_dirs(root: Path) -> list[Path]:
    """Every ROOT/<provider>/<guest id>/<console> directory, sorted; unreadable levels skipped."""
    level = [root]
    for _ in range(3):
        deeper: list[Path] = []
        for d in level:
            try:
                deeper += [p for p in d.iterdir() if not p.name.startswith(".") and p.is_dir()]
            except OSError:
                continue
        level = deeper
    return sorted(level, key=lambda p: [unescape_component(c) for c in p.relative_to(root).parts])


def console_label(root: Path, directory: Path) -> str:
    """provider:guest id:console of a console directory under ``root``."""
    return ":".join(unescape_component(c) for c in directory.relative_to(root).parts)
