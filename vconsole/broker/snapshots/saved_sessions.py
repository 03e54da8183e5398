"""The broker's saved sessions: written on shutdown, restored on the next start.

``$XDG_STATE_HOME/vconsole/sessions.vcsnap`` holds a snapshot of every session
(written atomically). The next broker restores the histories from it before it
opens any console and renames it ``sessions.restored.vcsnap``; a file that does
not validate is renamed ``sessions.refused.vcsnap`` and changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from vconsole.broker.registry import ConsoleRegistry
from vconsole.broker.snapshots.capture import capture_to_file, host_label, release_histories
from vconsole.broker.snapshots.restore import seed_session
from vconsole.domain import GuestState
from vconsole.providers.base import ConsoleSpec, GuestInfo
from vconsole.runtime_paths import ensure_private_dir
from vconsole.snapshot.decode import decode
from vconsole.snapshot.model import MAX_FILE, SnapshotError, SnapshotFile
from vconsole.snapshot.stream import read_snapshot_file

log = logging.getLogger("vconsole.broker")
SESSIONS_FILE = "sessions.vcsnap"


async def save_sessions(registry: ConsoleRegistry, path: Path) -> None:
    """Snapshot every session into ``path``; failures are logged, never raised."""
    sessions = [s for s in registry.sessions.values() if len(s.history) or s.marks]
    if not sessions:
        return
    try:
        ensure_private_dir(path.parent)
        # Streamed by worker threads while the sessions are captured: a
        # gigabyte of histories is neither copied nor written with the loop stopped.
        captured, size = await capture_to_file(registry, sessions, host_label(registry), str(path))
    except (OSError, SnapshotError) as exc:
        log.warning("could not save the sessions to %s: %s", path, exc)
        return
    release_histories(sessions, captured.snapshot)
    log.info("saved %d sessions (%d bytes) to %s", len(sessions), size, path)


def restore_at_start(registry: ConsoleRegistry, snapshot: SnapshotFile) -> int:
    """Recreate the sessions of a broker's shutdown snapshot before consoles are opened.

    Only histories come back: ring contents and input stayed with the live
    guests when the previous broker let go of them gracefully.
    """
    for rec in snapshot.records:
        guest = GuestInfo(provider=rec.provider, host=snapshot.host, kind=rec.guest_kind,
                          id=rec.guest_id, name=rec.guest_name, state=GuestState.RUNNING)
        session = registry.session_for(guest, ConsoleSpec(rec.console_type, rec.console_index))
        seed_session(session, rec, snapshot.created)
        session.restored_source = None
    return len(snapshot.records)


def restore_saved_sessions(registry: ConsoleRegistry, path: Path) -> int:
    """Restore the histories saved by the previous broker; how many sessions came back."""
    if not path.exists():
        return 0
    try:
        snap = decode(read_snapshot_file(str(path), MAX_FILE))
    except SnapshotError as exc:
        log.warning("refused the saved sessions in %s: %s", path, exc)
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name("sessions.refused.vcsnap"))
        return 0
    count = restore_at_start(registry, snap)
    with contextlib.suppress(OSError):
        os.replace(path, path.with_name("sessions.restored.vcsnap"))
    log.info("restored the histories of %d sessions from %s", count, path)
    return count
