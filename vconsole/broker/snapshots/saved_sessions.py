"""The broker's saved sessions: written on shutdown, restored on the next start.

Each broker has its own file, named after its socket (two brokers with
different runtime directories may share one state directory, and must never
restore each other's sessions): ``$XDG_STATE_HOME/vconsole/sessions-HASH.vcsnap``,
HASH the first 16 hex digits of the SHA-256 of the socket's real path.

* Saving writes a temporary file beside it and renames it over the old one
  (vconsole/snapshot/stream.py), so a failed save (a full disk, a read-only
  directory) leaves the last good file as it was. The failure is the
  ``shutdown`` request's error, and ``list`` reports it until a save succeeds.
* Restoring runs after the broker answers on its socket, in the background:
  the file is read and validated in a worker thread, then each record is put
  in front of its session's history at its original offsets (output that
  arrived meanwhile moves after it). Attaching waits until the restore is
  over, so a client's replay starts with the restored bytes. The file stays
  where it is: it is the last good one until the next save replaces it. A
  file that does not validate is renamed ``sessions-HASH.refused.vcsnap``
  and changes nothing; one that could not be read (an IO error, no memory)
  is left in place and moved to ``sessions-HASH.unrestored.vcsnap`` before
  the next save.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from vconsole.broker.registry import ConsoleRegistry
from vconsole.broker.snapshots.capture import (
    capture_to_file,
    console_order,
    host_label,
    release_histories,
)
from vconsole.broker.snapshots.restore import held_already, seed_session
from vconsole.domain import GuestState
from vconsole.providers.base import ConsoleSpec, GuestInfo
from vconsole.runtime_paths import (
    RuntimeDirError,
    RuntimePaths,
    SystemLayout,
    ensure_private_dir,
    state_dir,
)
from vconsole.snapshot.decode import decode
from vconsole.snapshot.model import MAX_FILE, SnapshotError, SnapshotFile, SnapshotUnreadable
from vconsole.snapshot.stream import read_snapshot_file

log = logging.getLogger("vconsole.broker")
# Written by vconsole before the files were per broker: nobody can tell whose it is.
LEGACY_FILE = "sessions.vcsnap"
PROGRESS_EVERY = 1.0  # seconds between progress lines in the broker log


def saved_sessions_file(socket: Path) -> Path:
    """The saved-sessions file of the broker on ``socket`` (the system broker's is in /var/lib/vconsole)."""
    if RuntimePaths(socket).system:
        return SystemLayout.current().state_dir / "sessions.vcsnap"
    digest = hashlib.sha256(os.fsencode(os.path.realpath(socket))).hexdigest()[:16]
    return state_dir() / f"sessions-{digest}.vcsnap"


class SaveState(StrEnum):
    """How this broker's last save went."""

    NONE = "none"  # not saved yet
    SAVED = "saved"
    FAILED = "failed"  # the file holds an older save, or nothing


class RestoreState(StrEnum):
    """How the restore at start went."""

    NONE = "none"  # there was no file
    RESTORING = "restoring"
    RESTORED = "restored"
    REFUSED = "refused"  # did not validate; renamed *.refused.vcsnap
    FAILED = "failed"  # could not be read; left where it is


@dataclass
class SavedSessionsStatus:
    """What ``list`` says of the saved sessions (``saved_sessions``)."""

    file: str
    restore: RestoreState = RestoreState.NONE
    restored: int = 0  # sessions whose histories came back
    save: SaveState = SaveState.NONE
    saved: int = 0  # sessions the last good save wrote
    error: str = ""  # why the last save or the restore failed

    def to_wire(self) -> dict[str, Any]:
        """The map ``list`` carries."""
        return {"file": self.file, "restore": self.restore, "restored": self.restored,
                "save": self.save, "saved": self.saved, "error": self.error}


class SaveFailed(Exception):
    """The sessions could not be saved; the previous file is unchanged."""


class SavedSessions:
    """One broker's saved sessions: its file, the restore at start, the save at stop."""

    def __init__(self, registry: ConsoleRegistry, path: Path) -> None:
        self.registry = registry
        self.path = path
        self.status = SavedSessionsStatus(str(path))
        self._restore: asyncio.Task[None] | None = None
        self._saving: asyncio.Task[int] | None = None

    # --- restore at start -----------------------------------------------

    def start_restore(self) -> None:
        """Restore the previous broker's histories in the background."""
        legacy = self.path.with_name(LEGACY_FILE)
        if legacy.exists():
            log.info("not restoring %s: an older vconsole wrote it and it does not say which broker's it is "
                     "(`vconsole restore %s` puts it back into live consoles)", legacy, legacy)
        if self.path.exists():
            self.status.restore = RestoreState.RESTORING
            self._restore = asyncio.create_task(self._restore_file())

    @property
    def restoring(self) -> bool:
        """Whether the restore at start is still under way."""
        return self._restore is not None and not self._restore.done()

    async def restored(self) -> None:
        """Wait until the restore at start is over, however it ended."""
        if self._restore is not None:
            with contextlib.suppress(Exception):  # _restore_file reports its own failures
                await asyncio.shield(self._restore)

    async def _restore_file(self) -> None:
        try:
            await self._read_and_seed()
        except Exception as exc:  # a bug or no memory: attaching and saving must not wait forever
            log.exception("restoring %s failed", self.path)
            self._restore_failed(RestoreState.FAILED, f"could not restore {self.path}: {exc}")

    async def _read_and_seed(self) -> None:
        began = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            size = self.path.stat().st_size
            log.info("restoring the saved sessions from %s (%d bytes) in the background", self.path, size)
            data = await loop.run_in_executor(None, read_snapshot_file, str(self.path), MAX_FILE)
            read = time.monotonic()
            snap = await loop.run_in_executor(None, decode, data)
            log.info("read %s in %.2f s and validated it in %.2f s: %d sessions to restore", self.path,
                     read - began, time.monotonic() - read, len(snap.records))
        except (SnapshotUnreadable, OSError) as exc:
            self._restore_failed(RestoreState.FAILED, f"could not read {self.path}: {exc}")
            return
        except SnapshotError as exc:
            self._restore_failed(RestoreState.REFUSED, f"refused the saved sessions in {self.path}: {exc}")
            with contextlib.suppress(OSError):
                os.replace(self.path, self.path.with_suffix(".refused.vcsnap"))
            return
        await self._seed_all(snap, began)

    def _restore_failed(self, state: RestoreState, message: str) -> None:
        self.status.restore, self.status.error = state, message
        log.warning("%s", message)

    async def _seed_all(self, snapshot: SnapshotFile, began: float) -> None:
        """Put every record's history back, yielding to the loop between records."""
        total = len(snapshot.records)
        reported = time.monotonic()
        for done, record in enumerate(snapshot.records, 1):
            guest = GuestInfo(provider=record.provider, host=snapshot.host, kind=record.guest_kind,
                              id=record.guest_id, name=record.guest_name, state=GuestState.RUNNING)
            session = self.registry.session_for(guest, ConsoleSpec(record.console_type, record.console_index))
            # Only histories come back: ring contents and unread input stayed
            # with the live guests when the previous broker let go of them.
            # What the session's log brought back already (same offsets, same bytes) is not put in twice.
            seed_session(session, record, snapshot.created, held_already(session, record))
            session.restored_source = None
            self.status.restored = done
            if time.monotonic() - reported >= PROGRESS_EVERY:
                reported = time.monotonic()
                log.info("restored %d of %d saved sessions", done, total)
            await asyncio.sleep(0)
        self.status.restore = RestoreState.RESTORED
        log.info("restored the histories of %d sessions from %s in %.2f s", total, self.path,
                 time.monotonic() - began)

    # --- save at stop ---------------------------------------------------

    async def save(self) -> int:
        """Save every session with a history; how many. SaveFailed leaves the last good file as it was.

        One save at a time: a second caller waits for the one under way (a
        shutdown request's save is not cut short by the stop that follows).
        """
        if self._saving is None or self._saving.done():
            self._saving = asyncio.create_task(self._save())
        return await asyncio.shield(self._saving)

    async def _save(self) -> int:
        if self.restoring:
            # Saving now would replace the file with histories it has not given back yet.
            log.info("waiting for the restore of %s before saving", self.path)
            await self.restored()
        if self.status.restore is RestoreState.FAILED and self.path.exists():
            # It could not be read, not that it is bad: keep it out of the way of this save.
            aside = self.path.with_suffix(".unrestored.vcsnap")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
                log.warning("moved %s, which could not be restored, to %s", self.path, aside)
        sessions = sorted((s for s in self.registry.sessions.values() if len(s.history) or s.marks),
                          key=console_order)
        if not sessions:
            self._saved(0)
            return 0
        try:
            ensure_private_dir(self.path.parent)
            # Streamed by worker threads while the sessions are captured: a
            # gigabyte of histories is neither copied nor written with the loop stopped.
            captured, size = await capture_to_file(self.registry, sessions, host_label(self.registry),
                                                   str(self.path))
        except OSError as exc:
            raise self._save_failed(exc.strerror or str(exc)) from None
        except (RuntimeDirError, SnapshotError) as exc:
            raise self._save_failed(str(exc)) from None
        release_histories(sessions, captured.snapshot)
        self._saved(len(sessions))
        log.info("saved %d sessions (%d bytes) to %s", len(sessions), size, self.path)
        return len(sessions)

    def _saved(self, count: int) -> None:
        self.status.save, self.status.saved, self.status.error = SaveState.SAVED, count, ""

    def _save_failed(self, reason: str) -> SaveFailed:
        kept = "the previous save is kept" if self.path.exists() else "there is no previous save"
        message = f"could not save the sessions to {self.path}: {reason} ({kept})"
        self.status.save, self.status.error = SaveState.FAILED, message
        log.error("%s", message)
        return SaveFailed(message)

    async def close(self) -> None:
        """The broker stops: a restore still under way is abandoned."""
        if self._restore is not None and not self._restore.done():
            self._restore.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restore
