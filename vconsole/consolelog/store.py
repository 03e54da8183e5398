"""LogStore: every console log of one broker, under one root directory it holds locked.

It opens each console's writer (repairing a torn tail first, and saying so
in one line), bounds the whole directory by a global limit (evicting the
oldest segment across consoles), keeps at most a bounded number of files
open (segments are opened lazily and closed when idle), and syncs what was
written at most once a second.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.writer import ConsoleLogWriter, LogLimits

DEFAULT_TOTAL_LIMIT = 2 << 30


class LogStoreLocked(Exception):
    """Another broker holds the log root (its pid in the message)."""


class LogStore:
    """The log root of one broker."""

    def __init__(
        self,
        root: Path,
        total_limit: int = DEFAULT_TOTAL_LIMIT,
        limits_for: Callable[[LogMeta], LogLimits] = lambda meta: LogLimits(),
    ) -> None:
        raise NotImplementedError

    repairs: list[str]  # one line per repaired console log, filled by open()

    def open(self) -> None:
        """Create (0700) and lock the root, scan it, repair torn tails; LogStoreLocked, OSError."""
        raise NotImplementedError

    def console(self, meta: LogMeta) -> ConsoleLogWriter:
        """The writer of ``meta``'s console (its log reloaded, repaired if needed); meta.json refreshed."""
        raise NotImplementedError

    def take_dirty(self) -> list[int]:
        """Duplicates of the fds written since the last call, for :func:`sync_fds` off the event loop.

        Duplicates stay valid if a writer rotates or closes its files meanwhile.
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """For ``ls --json``: dir, bytes, total_limit, evicted (bytes the global limit took), state."""
        raise NotImplementedError

    def close(self) -> None:
        """Sync and close every writer, release the lock."""
        raise NotImplementedError


def sync_fds(fds: list[int]) -> None:
    """fsync then close each fd (from LogStore.take_dirty); errors are ignored (the next write reports them)."""
    raise NotImplementedError
