"""ConsoleLogWriter: the broker's writing end of one console's log.

Every read turn's bytes go to the open segment with one ``os.write`` (so a
SIGKILL of the broker loses nothing it read), then one DATA record to the
segment's index. fsync happens at most once a second (LogStore.sync_dirty)
and on rotation. A write error never reaches the relay: the writer turns
degraded, counts what it could not log, and tries again about once a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from vconsole.consolelog.records import LogMarkKind

DEFAULT_CONSOLE_LIMIT = 16 << 20
DEFAULT_SEGMENT_SIZE = 1 << 20
RETRY_INTERVAL = 1.0  # a degraded writer tries the disk again this often


class LogState(StrEnum):
    """How a console's log is doing (``log_state`` in ``ls --json``)."""

    OK = "ok"
    DEGRADED = "degraded"  # bytes are not reaching the disk; ``reason`` says why
    OFF = "off"  # logging disabled in config, or no log store


@dataclass(frozen=True)
class LogLimits:
    """One console's bounds: total bytes on disk (segments and indexes) and segment size."""

    console: int = DEFAULT_CONSOLE_LIMIT
    segment: int = DEFAULT_SEGMENT_SIZE


class ConsoleLogWriter:
    """Appends one console's bytes, times and marks; made by LogStore.console()."""

    state: LogState
    reason: str

    @property
    def directory(self) -> Path:
        """The console's log directory (readers open it with ConsoleLog)."""
        raise NotImplementedError

    @property
    def created(self) -> float:
        """When this console's log began (kept in meta.json): what its offsets count from."""
        raise NotImplementedError

    @property
    def start(self) -> int:
        """Offset of the oldest byte held on disk."""
        raise NotImplementedError

    @property
    def end(self) -> int:
        """Offset one past the newest byte (logged or counted as not logged)."""
        raise NotImplementedError

    @property
    def dropped(self) -> int:
        """Bytes evicted from this log since it began (rotation, global limit, across restarts)."""
        raise NotImplementedError

    @property
    def not_logged(self) -> int:
        """Bytes that never reached the disk (this run and, from NOT_LOGGED marks, earlier ones)."""
        raise NotImplementedError

    @property
    def boot(self) -> int:
        """The current boot's number (0 before the first boot)."""
        raise NotImplementedError

    def tail(self, limit: int) -> tuple[int, bytes]:
        """The newest held bytes, at most ``limit``, back to the last hole: (their offset, bytes)."""
        raise NotImplementedError

    def read(self, offset: int, limit: int) -> tuple[int, bytes]:
        """As ConsoleLog.read, from this writer's files (for replays older than the memory tail)."""
        raise NotImplementedError

    def append(self, data: bytes, when: float) -> None:
        """Log one read turn's bytes that arrived at ``when``; never raises."""
        raise NotImplementedError

    def mark(self, kind: LogMarkKind, value: int = 0, aux: int = 0, *, offset: int | None = None, when: float | None = None) -> None:
        """Record an event at ``offset`` (default: the end); never raises."""
        raise NotImplementedError

    def new_boot(self, incarnation: str, when: float) -> int:
        """The guest started again (``incarnation`` differs from the last boot's): a new boot in a new segment.

        Returns the current boot number; the same incarnation as the last boot
        (a broker restart while the guest kept running) opens no new boot.
        """
        raise NotImplementedError

    def sync(self) -> None:
        """fsync the open segment and index if written since the last sync; never raises."""
        raise NotImplementedError

    def close(self) -> None:
        """Sync and close the open files (they reopen on the next write)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """For ``ls --json``: log_state, log_reason, log_bytes, log_start, log_end, not_logged, boot."""
        raise NotImplementedError
