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
from vconsole.broker.snapshotting import capture_to_file, release_histories, restore_at_start
from vconsole.runtime_paths import ensure_private_dir
from vconsole.snapshot.decode import decode
from vconsole.snapshot.model import MAX_FILE, SnapshotError
from vconsole.snapshot.stream import read_snapshot_file

log = logging.getLogger("vconsole.broker")
SESSIONS_FILE = "sessions.vcsnap"


async def save_sessions(registry: ConsoleRegistry, path: Path) -> None:
    """Snapshot every session into ``path``; failures are logged, never raised."""
    sessions = [s for s in registry.sessions.values() if len(s.history) or s.marks]
    if not sessions:
        return
    hosts = ",".join(sorted({p.host for p in registry.providers}))[:256] or "localhost"
    try:
        ensure_private_dir(path.parent)
        # Streamed by worker threads while the sessions are captured: a
        # gigabyte of histories is neither copied nor written with the loop stopped.
        snap, size = await capture_to_file(registry, sessions, hosts, str(path))
    except (OSError, SnapshotError) as exc:
        log.warning("could not save the sessions to %s: %s", path, exc)
        return
    release_histories(sessions, snap)
    log.info("saved %d sessions (%d bytes) to %s", len(sessions), size, path)


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
