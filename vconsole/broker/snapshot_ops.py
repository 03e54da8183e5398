"""The ``snapshot`` and ``restore`` requests of the client protocol (docs/protocol.md).

Snapshots can be far larger than a frame (MAX_FRAME is 1 MiB), so a client
that runs as the broker's own uid names a file: the broker writes the snapshot
there (atomically) or reads it from there. Small snapshots may also travel
inline as ``data``. Both answer later with the request's id (``pending``
first), since capture asks providers about rings.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from vconsole.broker.registry import TargetError
from vconsole.broker.session import ConsoleSession, InputBacklogFull, session_key
from vconsole.broker.snapshotting import (
    RestoreRefused,
    apply_restore,
    capture,
    capture_to_file,
    plan_restore,
    release_histories,
)
from vconsole.console.endpoint import EndpointClosed
from vconsole.domain import Target
from vconsole.protocol import target_field
from vconsole.providers.base import ProviderError
from vconsole.snapshot import (
    MAX_FILE,
    SnapshotError,
    SnapshotFile,
    decode,
    encode_body,
    read_snapshot_file,
)
from vconsole.snapshot_encode import envelope
from vconsole.wire import MAX_FRAME, ProtocolError, error_reply, field_bytes, field_str, ok_reply

if TYPE_CHECKING:
    from vconsole.broker.connection import ClientConnection

log = logging.getLogger("vconsole.broker")
INLINE_LIMIT = MAX_FRAME - 64 * 1024  # room for the reply's other fields
MAX_TARGETS = 256


def _path(conn: ClientConnection, msg: dict[str, Any]) -> str | None:
    if msg.get("path") is None:
        return None
    path = field_str(msg, "path", max_len=4096)
    if not os.path.isabs(path):
        raise ProtocolError("bad_request", "field 'path' must be an absolute path")
    if conn.peer_uid is not None and conn.peer_uid != os.getuid():
        raise ProtocolError("forbidden", "only the broker's own uid may name files; send the data inline")
    return path


def _targets(conn: ClientConnection, msg: dict[str, Any]) -> list[ConsoleSession]:
    registry = conn.broker.registry
    if msg.get("all") is True:
        keys = {session_key(g, s) for g in registry.guests for s in g.consoles}
        return [s for k, s in registry.sessions.items() if k in keys]
    raw = msg.get("targets")
    if not isinstance(raw, list) or not raw or len(raw) > MAX_TARGETS:
        raise ProtocolError("bad_request", f"give 'all': true or 'targets': a list of 1..{MAX_TARGETS} targets")
    sessions: list[ConsoleSession] = []
    for item in raw:
        if not isinstance(item, dict):
            raise ProtocolError("bad_request", "each target must be a map with 'target' and 'console'")
        session = registry.resolve(target_field(item))
        if session not in sessions:
            sessions.append(session)
    return sessions


def snapshot_request(conn: ClientConnection, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Capture the named sessions (or all) into a file or inline bytes."""
    sessions = _targets(conn, msg)
    path = _path(conn, msg)
    broker = conn.broker

    async def run() -> None:
        began = time.monotonic()
        if path is None:
            snap = await capture(broker.registry, sessions, _host(conn))
            try:
                _send_inline(conn, rid, snap)
            finally:
                release_histories(sessions, snap)
            return
        try:
            snap, size = await capture_to_file(broker.registry, sessions, _host(conn), path)
        except SnapshotError as exc:
            conn.send(error_reply(rid, "too_large", str(exc)))
            return
        except OSError as exc:
            conn.send(error_reply(rid, "io", f"cannot write {path}: {exc.strerror}"))
            return
        release_histories(sessions, snap)
        conn.send(ok_reply(rid, records=len(snap.records), size=size,
                           sessions=[r.key for r in snap.records], path=path))
        log.info("snapshot of %d sessions to %s: %d bytes in %.2f s", len(sessions), path, size,
                 time.monotonic() - began)

    broker.spawn(run())
    return {"id": rid, "pending": True}


def _send_inline(conn: ClientConnection, rid: Any, snap: SnapshotFile) -> None:
    """Send a small snapshot in the reply itself."""
    try:
        body = encode_body(snap)
    except SnapshotError as exc:
        conn.send(error_reply(rid, "too_large", str(exc)))
        return
    size = len(envelope(body.size, bytes(32))) + body.size
    if size > INLINE_LIMIT:
        conn.send(error_reply(rid, "too_large", f"snapshot of {size} bytes does not fit a frame: name a file"))
        return
    data = b"".join(body.pieces)
    conn.send(ok_reply(rid, records=len(snap.records), size=size, sessions=[r.key for r in snap.records],
                       data=envelope(body.size, hashlib.sha256(data).digest()) + data))


def _host(conn: ClientConnection) -> str:
    hosts = sorted({p.host for p in conn.broker.registry.providers})
    return ",".join(hosts)[:256] or "localhost"


def restore_request(conn: ClientConnection, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Validate a snapshot fully, then restore it into live sessions."""
    path = _path(conn, msg)
    inline = field_bytes(msg, "data") if path is None else None
    into_raw = msg.get("into")
    into: Target | None = None
    if into_raw is not None:
        if not isinstance(into_raw, dict):
            raise ProtocolError("bad_request", "field 'into' must be a map with 'target' and 'console'")
        into = target_field(into_raw)
    inject = msg.get("inject_input", False)
    if not isinstance(inject, bool):
        raise ProtocolError("bad_request", "field 'inject_input' must be a boolean")
    broker = conn.broker

    async def run() -> None:
        loop = asyncio.get_running_loop()
        began = time.monotonic()
        try:
            data = inline if path is None else await loop.run_in_executor(None, read_snapshot_file, path, MAX_FILE)
            assert data is not None
            read = time.monotonic()
            snap = await loop.run_in_executor(None, decode, data)
            decoded = time.monotonic()
            steps = plan_restore(broker.registry, snap, into, inject)
        except SnapshotError as exc:
            conn.send(error_reply(rid, "bad_snapshot", str(exc)))
            return
        except RestoreRefused as exc:
            conn.send(error_reply(rid, exc.code, str(exc)))
            return
        except TargetError as exc:
            conn.send(error_reply(rid, exc.code, str(exc)))
            return
        try:
            result = await apply_restore(broker.registry, steps, snap.created)
        except (ProviderError, TimeoutError, EndpointClosed, InputBacklogFull) as exc:
            conn.send(error_reply(rid, "partial", f"history restored, but: {exc or 'timed out'}"))
            return
        for step in steps:
            broker.state_changed(step.session)
        conn.send(ok_reply(rid, **result))
        log.info("restore of %d records: read %.2f s, decode %.2f s, apply %.2f s", len(steps),
                 read - began, decoded - read, time.monotonic() - decoded)

    broker.spawn(run())
    return {"id": rid, "pending": True}
