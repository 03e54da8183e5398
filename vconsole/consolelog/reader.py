"""ConsoleLog: read one console's log from its files, read-only, with or without a broker.

Never repairs and never blocks the writer: a torn tail (a record past the
segment's end, a half-written or garbage record) is simply not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.records import IndexRecord, LogMarkKind


@dataclass(frozen=True)
class LogChunk:
    """Bytes ``[offset, offset + len(data))`` that arrived at ``time`` (one read turn, or part of one)."""

    offset: int
    data: bytes
    time: float


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


class ConsoleLog:
    """One console's log directory, as the files hold it now."""

    def __init__(self, directory: Path) -> None:
        """Scan ``directory`` (segment list, meta); LogUnreadable if it is not a console log."""
        raise NotImplementedError

    meta: LogMeta | None

    @property
    def start(self) -> int:
        """Offset of the oldest byte held on disk."""
        raise NotImplementedError

    @property
    def end(self) -> int:
        """Offset one past the newest byte held on disk."""
        raise NotImplementedError

    @property
    def dropped(self) -> int:
        """Bytes below ``end`` no longer held because they were evicted (not counting NOT_LOGGED holes)."""
        raise NotImplementedError

    @property
    def not_logged(self) -> int:
        """Bytes below ``end`` that never reached the disk (NOT_LOGGED holes)."""
        raise NotImplementedError

    def read(self, offset: int, limit: int) -> tuple[int, bytes]:
        """Up to ``limit`` bytes from the first held offset >= ``offset``: (that offset, bytes).

        Stops at a hole or the end; ``(end, b"")`` when nothing is held at or after ``offset``.
        """
        raise NotImplementedError

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[LogChunk]:
        """Held bytes in ``[start, end)`` in order, each with its arrival time; holes skipped."""
        raise NotImplementedError

    def records(self) -> Iterator[IndexRecord]:
        """Every readable index record in offset order (HEADER records included)."""
        raise NotImplementedError

    def boots(self) -> list[Boot]:
        """The boots the log holds (any part of), oldest first."""
        raise NotImplementedError

    def marks(self, start: int = 0, end: int | None = None) -> list[LogMarkEntry]:
        """MARK records whose offset is in ``[start, end)``."""
        raise NotImplementedError

    def offset_at(self, when: float) -> int:
        """The first held offset whose byte arrived at or after ``when`` (``end`` if none); a binary search."""
        raise NotImplementedError

    def time_at(self, offset: int) -> float | None:
        """When the byte at ``offset`` arrived (None when it is not held)."""
        raise NotImplementedError


class LogUnreadable(Exception):
    """A directory is not a readable console log; the message says why in one line."""


def console_logs(root: Path) -> list[ConsoleLog]:
    """Every console log under ``root`` (sorted by provider, guest id, console); unreadable ones skipped."""
    raise NotImplementedError
