"""LogStore: every console log of one broker, under one root directory it holds locked.

It opens each console's writer (repairing a torn tail first, and saying so
in one line), bounds the whole directory by a global limit (evicting the
oldest segment across consoles), keeps at most a bounded number of files
open (segments are opened lazily and closed when idle), and syncs what was
written at most once a second.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from vconsole.config import DEFAULT_LOG_TOTAL
from vconsole.consolelog.layout import LOCK_NAME, LogMeta, console_dir
from vconsole.consolelog.recovery import open_console_files
from vconsole.consolelog.segments import ConsoleFiles, console_dirs, console_label, make_dirs
from vconsole.consolelog.segments import sync_fds as sync_fds  # part of this module's interface
from vconsole.consolelog.writer import ConsoleLogWriter, LogLimits, LogState

MAX_OPEN_WRITERS = 64  # writers whose segment files stay open (2 fds each); the rest reopen lazily

log = logging.getLogger("vconsole.broker")


class LogStoreLocked(Exception):
    """Another broker holds the log root (its pid in the message)."""


class LogStore:
    """The log root of one broker."""

    def __init__(
        self,
        root: Path,
        total_limit: int = DEFAULT_LOG_TOTAL,
        limits_for: Callable[[LogMeta], LogLimits] = lambda meta: LogLimits(),
        max_open: int = MAX_OPEN_WRITERS,
    ) -> None:
        """A store over ``root``; nothing happens on disk before :meth:`open`."""
        self.root = root
        self.total_limit = total_limit
        self.limits_for = limits_for
        self.max_open = max_open
        self.repairs: list[str] = []  # one line per repaired console log, filled by open()
        self.evicted = 0  # bytes the global limit evicted since open()
        # Set by whoever calls take_dirty() about once a second (the broker's BrokerLogs).
        self.synced_by_timer = False
        self._lock_fd: int | None = None
        self._files: dict[Path, ConsoleFiles] = {}
        self._writers: dict[Path, ConsoleLogWriter] = {}
        self._open: OrderedDict[ConsoleLogWriter, None] = OrderedDict()
        self._dirty: set[ConsoleLogWriter] = set()
        self._total = 0
        self._stuck_at = 0  # over the limit with nothing evictable: try again past this total

    def open(self) -> None:
        """Create (0700) and lock the root, scan it, repair torn tails; LogStoreLocked, OSError."""
        make_dirs(self.root)
        with contextlib.suppress(OSError):
            os.chmod(self.root, 0o700)
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LogStoreLocked(f"log directory {self.root} is in use by pid {holder}") from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        for directory in console_dirs(self.root):
            files, notes = open_console_files(directory, console_label(self.root, directory))
            self._files[directory] = files
            self._total += files.disk_bytes
            if notes:
                self.repairs.append(f"log {files.label}: repaired: " + "; ".join(notes))
            if files.problem:
                self.repairs.append(f"log {files.label}: not writable: {files.problem}")
        self._enforce_total()

    def console(self, meta: LogMeta) -> ConsoleLogWriter:
        """The writer of ``meta``'s console (its log reloaded, repaired if needed); meta.json refreshed."""
        directory = console_dir(self.root, meta.key)
        writer = self._writers.get(directory)
        if writer is not None:
            writer.limits = self.limits_for(meta)
            return writer
        files = self._files.get(directory)
        if files is None:
            files = ConsoleFiles(directory, f"{meta.provider}:{meta.guest_id}:{meta.console}")
            self._files[directory] = files
        # A log that holds bytes keeps its creation time: offsets count in it across restarts.
        before = LogMeta.read(directory)
        created = before.created if before is not None and before.created and files.end else time.time()
        meta = replace(meta, created=created)
        try:
            if meta != before:  # a restart with nothing changed writes nothing (1008 consoles, 1008 renames)
                make_dirs(directory)
                meta.write(directory)
        except OSError as e:
            log.warning("log %s: cannot write %s: %s", files.label, directory, e.strerror or e)
        writer = ConsoleLogWriter(files, self.limits_for(meta), self)
        writer.created = created
        self._writers[directory] = writer
        return writer

    # -- what writers tell the store (WriterHost) ----------------------------------------

    def opened(self, writer: ConsoleLogWriter) -> None:
        """LRU: the writer's files are open; close the least recently written ones past max_open."""
        self._open[writer] = None
        self._open.move_to_end(writer)
        while len(self._open) > self.max_open:
            idle, _ = self._open.popitem(last=False)
            idle.release_files()

    def resized(self, writer: ConsoleLogWriter, delta: int) -> None:
        """Count the writer's growth (or shrinking); past the global limit, evict."""
        self._total += delta
        if delta > 0:
            self._dirty.add(writer)
            if writer in self._open:
                self._open.move_to_end(writer)
            if self._total > max(self.total_limit, self._stuck_at):
                self._enforce_total()

    def closed(self, writer: ConsoleLogWriter) -> None:
        """The writer's files are closed (its unsynced fds wait for take_dirty)."""
        self._open.pop(writer, None)

    # -- limits, sync ----------------------------------------------------------------------

    def _enforce_total(self) -> None:
        """Evict the oldest closed segment across consoles until the root fits total_limit.

        A console's newest segment is never evicted (it is where its writer
        appends, and it keeps the log's end offset across a restart).
        """
        while self._total > self.total_limit:
            candidates = [f for f in self._files.values() if len(f.segments) > 1]
            if not candidates:
                # only open segments left: look again once another segment's worth was written
                self._stuck_at = self._total + (1 << 20)
                return
            files = min(candidates, key=lambda f: f.segments[0].last_write)
            seg = files.segments[0]
            err = files.evict(seg)
            if err is not None:
                log.warning("log %s: cannot evict %s: %s", files.label, seg.start, err.strerror or err)
                self._stuck_at = self._total + (1 << 20)
                return
            self._total -= seg.disk_bytes
            self._stuck_at = 0
            self.evicted += seg.size
            log.info(
                "log %s: global limit %d bytes: evicted [%d, %d) (%d bytes on disk)",
                files.label, self.total_limit, seg.start, seg.end, seg.disk_bytes,
            )

    def take_dirty(self) -> list[int]:
        """Duplicates of the fds written since the last call, for :func:`sync_fds` off the event loop.

        Duplicates stay valid if a writer rotates or closes its files meanwhile.
        """
        fds: list[int] = []
        for writer in self._dirty:
            fds += writer.take_sync_fds()
        self._dirty.clear()
        return fds

    @property
    def total_bytes(self) -> int:
        """Bytes of every segment and index under the root."""
        return self._total

    def describe(self) -> dict[str, Any]:
        """For ``ls --json``: dir, bytes, total_limit, evicted (bytes the global limit took), state."""
        degraded = sum(1 for w in self._writers.values() if w.state is LogState.DEGRADED)
        return {
            "dir": str(self.root),
            "bytes": self._total,
            "total_limit": self.total_limit,
            "evicted": self.evicted,
            "state": (LogState.DEGRADED if degraded else LogState.OK).value,
            "degraded": degraded,
            "consoles": len(self._files),
            "open_files": 2 * len(self._open),
        }

    def close(self) -> None:
        """Sync and close every writer, release the lock."""
        for writer in self._writers.values():
            writer.close()
        sync_fds(self.take_dirty())
        self._writers.clear()
        self._open.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
