"""ConsoleLogWriter: the broker's writing end of one console's log.

Every read turn's bytes go to the open segment with one ``os.write`` (so a
SIGKILL of the broker loses nothing it read), then one DATA record to the
segment's index. fsync happens at most once a second (LogStore.take_dirty
and sync_fds, off the event loop) and for a segment closed by rotation. A
write error never reaches the relay: the writer turns degraded, counts what
it could not log, and tries again about once a second.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from vconsole.config import DEFAULT_LOG_LIMIT, DEFAULT_LOG_SEGMENT
from vconsole.consolelog.records import RECORD_SIZE, IndexRecord, LogMarkKind, encode_data
from vconsole.consolelog.segments import (
    BootInfo,
    ConsoleFiles,
    Segment,
    Span,
    WriterHost,
    boot_tag,
    eviction_order,
    idx_path,
    make_dirs,
    read_spans,
    seg_path,
    sync_fds,
)

RETRY_INTERVAL = 1.0  # a degraded writer tries the disk again this often

log = logging.getLogger("vconsole.broker")

_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
# Closed but unsynced fds a writer keeps for LogStore.take_dirty before it
# syncs them itself. With the broker's once-a-second sync off the loop, the
# bound only caps fds: a flood of 100 MB/s rotates 1 MiB segments ~100 times
# a second, and an fsync of those on the event loop cost the relay
# milliseconds per MiB. Without a timer, a few are enough.
_MAX_PENDING = 8
_MAX_PENDING_TIMED = 1024


class LogState(StrEnum):
    """How a console's log is doing (``log_state`` in ``ls --json``)."""

    OK = "ok"
    DEGRADED = "degraded"  # bytes are not reaching the disk; ``reason`` says why
    OFF = "off"  # logging disabled in config, or no log store


@dataclass(frozen=True)
class LogLimits:
    """One console's bounds: total bytes on disk (segments and indexes) and segment size."""

    console: int = DEFAULT_LOG_LIMIT
    segment: int = DEFAULT_LOG_SEGMENT


def _ns(when: float) -> int:
    return int(when * 1e9)


class ConsoleLogWriter:
    """Appends one console's bytes, times and marks; made by LogStore.console()."""

    state: LogState
    reason: str

    def __init__(self, files: ConsoleFiles, limits: LogLimits, host: WriterHost) -> None:
        """Write into ``files`` (already scanned and repaired); files open on the first write."""
        self.files = files
        self.limits = limits
        self._host = host
        self._seg_fd: int | None = None
        self._idx_fd: int | None = None
        self._pending: list[int] = []  # fds of closed segments, to fsync then close
        self._dirty = False
        self._end = files.end
        self._not_logged = files.not_logged
        self._boot = files.boot
        self._hole: int | None = None  # bytes from here to the end are not on disk
        self._retry_at = 0.0
        self._fresh = False  # the next write starts a new segment
        # When the log began (meta.json keeps it; LogStore.console sets it): what offsets count in.
        self.created = time.time()
        self.state = LogState.DEGRADED if files.problem else LogState.OK
        self.reason = files.problem or ""

    # -- what it holds -------------------------------------------------------------------

    @property
    def start(self) -> int:
        """Offset of the oldest byte held on disk."""
        segs = self.files.segments
        return segs[0].start if segs else self._end

    @property
    def end(self) -> int:
        """Offset one past the newest byte (logged or counted as not logged)."""
        return self._end

    @property
    def dropped(self) -> int:
        """Bytes evicted from this log since it began (rotation, global limit, across restarts)."""
        return self.files.dropped

    @property
    def not_logged(self) -> int:
        """Bytes that never reached the disk (this run and, from NOT_LOGGED marks, earlier ones)."""
        return self._not_logged

    @property
    def boot(self) -> int:
        """The current boot's number (0 before the first boot)."""
        return self._boot.number if self._boot else 0

    @property
    def has_open_files(self) -> bool:
        """Whether the open segment's files are open now."""
        return self._seg_fd is not None

    def _spans(self) -> list[Span]:
        d = self.files.directory
        return [Span(s.start, s.size, seg_path(d, s.start)) for s in self.files.segments]

    def tail(self, limit: int) -> tuple[int, bytes]:
        """The newest held bytes, at most ``limit``, back to the last hole: (their offset, bytes)."""
        segs = self.files.segments
        if not segs or limit <= 0 or segs[-1].end != self._end:
            return self._end, b""
        first = self._end - limit
        lo = len(segs) - 1
        while lo > 0 and segs[lo - 1].end == segs[lo].start and segs[lo].start > first:
            lo -= 1
        first = max(first, segs[lo].start)
        offset, data = read_spans(self._spans()[lo:], first, self._end - first)
        return (offset, data) if data else (self._end, b"")

    def read(self, offset: int, limit: int) -> tuple[int, bytes]:
        """As ConsoleLog.read, from this writer's files (for replays older than the memory tail)."""
        return read_spans(self._spans(), offset, limit)

    # -- writing -------------------------------------------------------------------------

    def append(self, data: bytes, when: float) -> None:
        """Log one read turn's bytes that arrived at ``when``; never raises."""
        n = len(data)
        if not n:
            return
        if not self._writable(when):
            self._end += n
            self._not_logged += n
            return
        seg = self.files.segments[-1]
        step = "write"
        before = 0
        try:
            if seg.size >= self.limits.segment:
                step = "rotate"
                seg = self._new_segment(when)
            elif self._seg_fd is None:
                step = "open"
                self._open_files()
            assert self._seg_fd is not None and self._idx_fd is not None
            step, before = "write", self.files.disk_bytes
            self._write_all(self._seg_fd, data, seg, is_index=False, report=False)
            self._write_all(self._idx_fd, encode_data(self._end + n, int(when * 1e9)), seg, is_index=True,
                            report=False)
            self._host.resized(self, n + RECORD_SIZE)  # once for both writes: it runs on every read turn
        except OSError as e:
            if step == "write" and self.files.disk_bytes != before:  # the data went, its record did not
                self._host.resized(self, self.files.disk_bytes - before)
            self._fail(e, step, n)
            return
        self._end += n
        seg.last_write = when
        if self.files.disk_bytes > self.limits.console:
            self._evict_over_limit()

    def mark(
        self,
        kind: LogMarkKind,
        value: int = 0,
        aux: int = 0,
        *,
        offset: int | None = None,
        when: float | None = None,
    ) -> None:
        """Record an event at ``offset`` (default: the end); never raises."""
        now = time.time() if when is None else when
        try:
            rec = IndexRecord.of_mark(kind, self._end if offset is None else offset, _ns(now), value, aux)
            rec.encode()
        except struct.error:
            log.warning("log %s: mark %s not logged: a value out of range", self.files.label, kind.value)
            return
        self._write_record(rec, now)

    def new_boot(self, incarnation: str, when: float) -> int:
        """The guest started again (``incarnation`` differs from the last boot's): a new boot in a new segment.

        Returns the current boot number; the same incarnation as the last boot
        (a broker restart while the guest kept running) opens no new boot.
        """
        tag = boot_tag(incarnation)
        if self._boot is not None and self._boot.tag == tag:
            return self._boot.number
        self._boot = BootInfo(self.boot + 1, self._end, _ns(when), tag)
        self._fresh = True
        self._write_record(None, when)
        return self._boot.number

    def skip_to(self, offset: int, when: float) -> None:
        """Bytes ``[end, offset)`` will never be logged (e.g. history from before logging
        began): counted in not_logged, a NOT_LOGGED mark; the next bytes go at ``offset``."""
        if offset <= self._end:
            return
        if self._hole is None:
            self._hole = self._end
        self._not_logged += offset - self._end
        self._end = offset
        self._write_record(None, when)

    def forget(self, start: int) -> None:
        """Delete every segment and go on at ``start`` (everything below it counted as dropped).

        For a log that began in this broker run, when older history is put in
        front of what it holds (saved sessions from before logs): the caller
        writes the history again at its new offsets.
        """
        self.release_files()
        for seg in list(self.files.segments):
            err = self.files.evict(seg)
            if err is not None:
                self.files.problem = f"cannot delete {seg.start:016x}: {err.strerror or err}"
                self.state, self.reason = LogState.DEGRADED, self.files.problem
                return
            self._host.resized(self, -seg.disk_bytes)
        self.files.dropped, self.files.not_logged = start, 0
        self._end, self._not_logged, self._hole, self._fresh = start, 0, None, True

    def _write_record(self, rec: IndexRecord | None, when: float) -> None:
        """Write one index record (None: only make sure the segment exists), never raising."""
        if not self._writable(when):
            return
        try:
            if self._seg_fd is None:
                self._open_files()
            assert self._idx_fd is not None
            if rec is not None:
                self._write_all(self._idx_fd, rec.encode(), self.files.segments[-1], is_index=True)
        except OSError as e:
            self._fail(e, "write", 0)

    def _writable(self, when: float) -> bool:
        """Whether a write may go to disk now, after starting the segment a hole or a new boot needs."""
        if self.files.problem:
            return False
        if self.state is LogState.DEGRADED and time.monotonic() < self._retry_at:
            return False
        if self._hole is None and not self._fresh and self.files.segments:
            return True
        try:
            make_dirs(self.files.directory)  # gone if someone deleted it meanwhile
            self._new_segment(when)
        except OSError as e:
            self._fail(e, "new segment", 0)
            return False
        if self.state is LogState.DEGRADED:
            log.info("log %s: writing again at offset %d", self.files.label, self._end)
        self.state, self.reason = LogState.OK, ""
        return True

    def _new_segment(self, when: float) -> Segment:
        """Close the open segment and start one at the end (HEADER, BOOT, NOT_LOGGED hole)."""
        self.release_files()
        segs, d, start = self.files.segments, self.files.directory, self._end
        recs = [IndexRecord.header(start, _ns(when))]
        if self._boot is not None:
            recs.append(self._boot.record())
        if self._hole is not None and self._hole < start:
            recs.append(IndexRecord.of_mark(LogMarkKind.NOT_LOGGED, self._hole, _ns(when), start))
        raw = b"".join(r.encode() for r in recs)
        reuse = bool(segs) and segs[-1].start == start and segs[-1].size == 0
        if reuse:
            # nothing in it yet (marks only): the new boot's records go after its marks.
            raw = raw[RECORD_SIZE:]
        create = 0 if reuse else os.O_CREAT | os.O_TRUNC
        idx = os.open(idx_path(d, start), _APPEND | create, 0o600)
        try:
            seg_fd = os.open(seg_path(d, start), _APPEND | create, 0o600)
        except OSError:
            os.close(idx)
            if not reuse:
                idx_path(d, start).unlink(missing_ok=True)
            raise
        seg = segs[-1] if reuse else Segment(start, 0, 0, self.boot, when)
        try:
            self._write_all(idx, raw, seg, is_index=True)
        except OSError:
            os.close(idx)
            os.close(seg_fd)
            if not reuse:
                for path in (seg_path(d, start), idx_path(d, start)):
                    path.unlink(missing_ok=True)
            raise
        if not reuse:
            segs.append(seg)
        seg.boot = self.boot
        self._seg_fd, self._idx_fd = seg_fd, idx
        self._hole, self._fresh = None, False
        self._host.opened(self)
        return seg

    def _open_files(self) -> None:
        """Reopen the newest segment for appending (lazily, on the first write after a close)."""
        d, start = self.files.directory, self.files.segments[-1].start
        idx = os.open(idx_path(d, start), _APPEND)
        try:
            self._seg_fd = os.open(seg_path(d, start), _APPEND)
        except OSError:
            os.close(idx)
            raise
        self._idx_fd = idx
        self._host.opened(self)

    def _write_all(self, fd: int, data: bytes, seg: Segment, *, is_index: bool, report: bool = True) -> None:
        """All of ``data`` to ``fd``, or nothing: a short write is cut back before raising."""
        done = 0
        try:
            while done < len(data):
                done += os.write(fd, data[done:] if done else data)
        except OSError:
            if done:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, seg.index_size if is_index else seg.size)
            raise
        if is_index:
            seg.index_size += done
        else:
            seg.size += done
        self.files.disk_bytes += done
        self._dirty = True
        if report:
            self._host.resized(self, done)

    def _fail(self, err: OSError, step: str, nbytes: int) -> None:
        """A write failed: count ``nbytes`` as not logged and retry in RETRY_INTERVAL."""
        if self._hole is None:
            self._hole = self._end
        self._end += nbytes
        self._not_logged += nbytes
        if self._seg_fd is not None and self.files.segments:
            seg = self.files.segments[-1]
            if seg.end > self._hole:  # data written without its DATA record: take it back
                with contextlib.suppress(OSError):
                    os.ftruncate(self._seg_fd, self._hole - seg.start)
                    cut = seg.end - self._hole
                    seg.size -= cut
                    self.files.disk_bytes -= cut
                    self._host.resized(self, -cut)
        self.release_files()
        reason = f"{step} {self.files.label}: {err.strerror or err}"
        if self.state is not LogState.DEGRADED:
            log.warning("log %s: not logging from offset %d: %s", self.files.label, self._hole, reason)
        self.state, self.reason = LogState.DEGRADED, reason
        self._retry_at = time.monotonic() + RETRY_INTERVAL

    # -- limits --------------------------------------------------------------------------

    def _evict_over_limit(self) -> None:
        """Delete whole closed segments (eviction_order) until the log fits its limit."""
        limit = self.limits.console
        for seg in eviction_order(self.files.segments, self.boot, limit):
            if self.files.disk_bytes <= limit:
                return
            err = self.files.evict(seg)
            if err is not None:
                log.warning("log %s: cannot evict %d: %s", self.files.label, seg.start, err.strerror)
                return
            self._host.resized(self, -seg.disk_bytes)

    # -- files ---------------------------------------------------------------------------

    def release_files(self) -> None:
        """Close the open segment's files; written ones wait in the sync list, unsynced."""
        for fd in (self._seg_fd, self._idx_fd):
            if fd is None:
                continue
            if self._dirty:
                self._pending.append(fd)
            else:
                os.close(fd)
        self._seg_fd = self._idx_fd = None
        most = _MAX_PENDING_TIMED if self._host.synced_by_timer else _MAX_PENDING
        if len(self._pending) > most:  # nobody takes them often enough: sync here
            sync_fds(self._pending)
            self._pending = []
        if self._pending:
            self._dirty = True
        self._host.closed(self)

    def take_sync_fds(self) -> list[int]:
        """The fds to fsync since the last call (closed segments' own, duplicates of the open
        ones); the caller closes them (sync_fds)."""
        out, self._pending = self._pending, []
        if self._dirty:
            for fd in (self._seg_fd, self._idx_fd):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        out.append(os.dup(fd))
        self._dirty = False
        return out

    def sync(self) -> None:
        """fsync the open segment and index if written since the last sync; never raises."""
        sync_fds(self.take_sync_fds())

    def close(self) -> None:
        """Sync and close the open files (they reopen on the next write)."""
        self.release_files()
        self.sync()

    def describe(self) -> dict[str, Any]:
        """For ``ls --json``: log_state, log_reason, log_bytes, log_start, log_end, not_logged, boot."""
        return {
            "log_state": self.state.value,
            "log_reason": self.reason,
            "log_bytes": self.files.disk_bytes,
            "log_start": self.start,
            "log_end": self._end,
            "log_dropped": self.dropped,
            "not_logged": self._not_logged,
            "boot": self.boot,
        }

    @property
    def directory(self) -> Path:
        """The console's log directory."""
        return self.files.directory
