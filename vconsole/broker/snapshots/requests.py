"""The ``snapshot`` and ``restore`` requests of the client protocol (docs/protocol.md).

Each request is two plain functions, so any dispatcher can serve it: a
``parse_*`` that checks the request's fields at once (ProtocolError or
TargetError, answered straight away), and a ``run_*`` coroutine that does the
work and returns the reply. Both answer later with the request's id
(``pending`` first), since capture asks providers about rings.

Snapshots can be far larger than a frame (MAX_FRAME is 1 MiB), so a client
that runs as the broker's own uid names a file: the broker writes the snapshot
there (atomically) or reads it from there. Small snapshots may also travel
inline as ``data``, and any other in parts through the connection's transfer
buffers (broker/snapshots/transfers.py): ``parts`` on a snapshot, an uploaded
``transfer`` on a restore.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from vconsole.broker.guest_input import InputBacklogFull
from vconsole.broker.registry import ConsoleRegistry, TargetError
from vconsole.broker.session import ConsoleSession, session_key
from vconsole.broker.snapshots.capture import (
    Capture,
    capture,
    capture_to_file,
    console_order,
    host_label,
    release_histories,
)
from vconsole.broker.snapshots.restore import RestoreRefused, apply_restore, plan_restore
from vconsole.broker.snapshots.transfers import (
    ConnectionTransfers,
    Transfer,
    TransferKind,
    assemble,
)
from vconsole.console.endpoint import EndpointClosed
from vconsole.domain import Target
from vconsole.protocol import target_field
from vconsole.protocol_replies import RestoreReply
from vconsole.protocol_snapshots import MAX_INLINE_SNAPSHOT, transfer_field
from vconsole.providers.base import ProviderError
from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import encode_body, envelope
from vconsole.snapshot.model import MAX_FILE, SnapshotError, SnapshotUnreadable
from vconsole.snapshot.stream import read_snapshot_file
from vconsole.wire import ProtocolError, error_reply, field_bool, field_bytes, field_str, ok_reply

log = logging.getLogger("vconsole.broker")
MAX_TARGETS = 256


@dataclass(frozen=True)
class SnapshotRequest:
    """A checked ``snapshot`` request: the sessions, and the file (None: reply inline, or in parts)."""

    sessions: list[ConsoleSession]
    path: str | None
    parts: bool = False


@dataclass(frozen=True)
class RestoreRequest:
    """A checked ``restore`` request: the file, inline data or an upload, where to, and whether to re-type input."""

    path: str | None
    data: bytes | bytearray | None
    into: Target | None
    inject_input: bool
    upload: Transfer | None = None  # freed once the restore is done


def _path(msg: dict[str, Any], peer_uid: int | None) -> str | None:
    if msg.get("path") is None:
        return None
    path = field_str(msg, "path", max_len=4096)
    if not os.path.isabs(path):
        raise ProtocolError("bad_request", "field 'path' must be an absolute path")
    if peer_uid is not None and peer_uid != os.getuid():
        raise ProtocolError("forbidden", "only the broker's own uid may name files; send the data inline")
    return path


def _targets(registry: ConsoleRegistry, msg: dict[str, Any]) -> list[ConsoleSession]:
    if msg.get("all") is True:
        keys = {session_key(g, s) for g in registry.guests for s in g.consoles}
        return sorted((s for k, s in registry.sessions.items() if k in keys), key=console_order)
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


def parse_snapshot(registry: ConsoleRegistry, msg: dict[str, Any], peer_uid: int | None) -> SnapshotRequest:
    """Check a ``snapshot`` request: ``all`` or ``targets``, an optional ``path`` and ``parts``."""
    return SnapshotRequest(_targets(registry, msg), _path(msg, peer_uid), field_bool(msg, "parts", default=False))


def not_captured(captured: Capture) -> list[dict[str, str]]:
    """The reply's ``not_captured``: per console, what the snapshot lacks and why."""
    return [
        {"session": c.record.key.text, "console": c.console, "what": str(n.what), "why": n.why,
         "message": n.line(c.console)}
        for c in captured.consoles for n in c.not_captured
    ]


async def run_snapshot(
    registry: ConsoleRegistry, rid: Any, request: SnapshotRequest, transfers: ConnectionTransfers
) -> dict[str, Any]:
    """Capture the sessions into the file, inline bytes or a download buffer of ``transfers``; the reply."""
    began = time.monotonic()
    sessions, path = request.sessions, request.path
    if path is None:
        captured = await capture(registry, sessions, host_label(registry))
        try:
            return await _data_reply(rid, captured, transfers if request.parts else None)
        finally:
            release_histories(sessions, captured.snapshot)
    try:
        captured, size = await capture_to_file(registry, sessions, host_label(registry), path)
    except SnapshotError as exc:
        return error_reply(rid, "too_large", str(exc))
    except OSError as exc:
        return error_reply(rid, "io", f"cannot write {path}: {exc.strerror}")
    release_histories(sessions, captured.snapshot)
    log.info("snapshot of %d sessions to %s: %d bytes in %.2f s", len(sessions), path, size,
             time.monotonic() - began)
    return ok_reply(rid, records=len(captured.snapshot.records), size=size,
                    sessions=[r.key for r in captured.snapshot.records], path=path,
                    not_captured=not_captured(captured))


async def _data_reply(rid: Any, captured: Capture, transfers: ConnectionTransfers | None) -> dict[str, Any]:
    """The snapshot in the reply when it fits a frame; else, given ``transfers`` (``parts``), in a download buffer."""
    snap = captured.snapshot
    try:
        body = encode_body(snap)
    except SnapshotError as exc:
        return error_reply(rid, "too_large", str(exc))
    size = len(envelope(body.size, bytes(32))) + body.size
    fields = {"records": len(snap.records), "size": size, "sessions": [r.key for r in snap.records],
              "not_captured": not_captured(captured)}
    if size <= MAX_INLINE_SNAPSHOT:
        data = b"".join(body.pieces)
        return ok_reply(rid, **fields, data=envelope(body.size, hashlib.sha256(data).digest()) + data)
    if transfers is None:
        return error_reply(rid, "too_large", f"snapshot of {size} bytes does not fit a frame: name a file")
    try:
        transfer = transfers.open(TransferKind.DOWNLOAD, size)
    except ProtocolError as exc:
        return error_reply(rid, exc.code, exc.message)
    # One copy of the histories, off the loop (they stay shared until then).
    transfer.fill(await asyncio.get_running_loop().run_in_executor(None, assemble, body))
    return ok_reply(rid, **fields, transfer=transfer.token)


def parse_restore(msg: dict[str, Any], peer_uid: int | None, transfers: ConnectionTransfers) -> RestoreRequest:
    """Check a ``restore`` request: ``path``, ``data`` or ``transfer``, optional ``into`` and ``inject_input``.

    An uploaded ``transfer`` is taken last, once every other field is
    checked: from then on the restore owns it (and frees it).
    """
    path = _path(msg, peer_uid)
    uploaded = path is None and msg.get("transfer") is not None
    inline = field_bytes(msg, "data") if path is None and not uploaded else None
    into_raw = msg.get("into")
    into: Target | None = None
    if into_raw is not None:
        if not isinstance(into_raw, dict):
            raise ProtocolError("bad_request", "field 'into' must be a map with 'target' and 'console'")
        into = target_field(into_raw)
    inject = msg.get("inject_input", False)
    if not isinstance(inject, bool):
        raise ProtocolError("bad_request", "field 'inject_input' must be a boolean")
    if uploaded:
        upload = transfers.take_upload(transfer_field(msg))
        return RestoreRequest(None, upload.data, into, inject, upload)
    return RestoreRequest(path, inline, into, inject)


async def run_restore(registry: ConsoleRegistry, rid: Any, request: RestoreRequest) -> dict[str, Any]:
    """Validate the snapshot fully, then restore it into live sessions; the reply (an upload is freed)."""
    try:
        return await _restore(registry, rid, request)
    finally:
        if request.upload is not None:
            request.upload.free()


async def _restore(registry: ConsoleRegistry, rid: Any, request: RestoreRequest) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    began = time.monotonic()
    try:
        if request.path is None:
            data: bytes | bytearray | None = request.data
        else:
            data = await loop.run_in_executor(None, read_snapshot_file, request.path, MAX_FILE)
        assert data is not None
        read = time.monotonic()
        snap = await loop.run_in_executor(None, decode, data)
        decoded = time.monotonic()
        steps = plan_restore(registry, snap, request.into, request.inject_input)
    except SnapshotUnreadable as exc:
        return error_reply(rid, "io", str(exc))
    except SnapshotError as exc:
        return error_reply(rid, "bad_snapshot", str(exc))
    except (RestoreRefused, TargetError) as exc:
        return error_reply(rid, exc.code, str(exc))
    try:
        result = await apply_restore(steps, snap.created)
    except (ProviderError, TimeoutError, EndpointClosed, InputBacklogFull) as exc:
        return error_reply(rid, "partial", f"history restored, but: {exc or 'timed out'}")
    log.info("restore of %d records: read %.2f s, decode %.2f s, apply %.2f s", len(steps),
             read - began, decoded - read, time.monotonic() - decoded)
    return ok_reply(rid, **RestoreReply(result.restored, result.ring_bytes, result.input_bytes,
                                        result.history_bytes, result.held_bytes).fields())
