"""Restoring a snapshot into live console sessions.

Restore validates everything first (the file, the target sessions, kinds,
whether ring contents can be put back), then changes state: it prefills the
history (marked ``restored`` with the original times), puts ring output back
through the provider (``Provider.restore_ring``), and injects pending input
only when asked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from vconsole.broker.registry import ConsoleRegistry, TargetError
from vconsole.broker.session import ConsoleSession
from vconsole.broker.snapshots.capture import PROVIDER_TIMEOUT
from vconsole.domain import GuestState, Mark, SessionKey, Target
from vconsole.providers.base import Provider
from vconsole.snapshot.model import RESTORED_SOURCE, ConsoleRecord, SnapshotFile, SourceState


class RestoreRefused(Exception):
    """The snapshot cannot be restored here; nothing was changed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RestoreStep:
    """One record and the session it goes into."""

    record: ConsoleRecord
    session: ConsoleSession
    provider: Provider | None = None  # set when ring contents go back through it
    ring_out: bytes = b""
    inject: bytes = b""


@dataclass
class RestoreResult:
    """What a restore put back: the sessions, ring bytes and injected input bytes."""

    restored: list[SessionKey] = field(default_factory=list)
    ring_bytes: int = 0
    input_bytes: int = 0


def _target(registry: ConsoleRegistry, rec: ConsoleRecord, into: Target | None) -> ConsoleSession:
    if into is not None:
        try:
            return registry.resolve(into)
        except TargetError as exc:
            raise RestoreRefused(exc.code, str(exc)) from None
    found = registry.sessions.get(rec.key)
    if found is None:
        raise RestoreRefused("unknown_console", f"{rec.guest_name} {rec.console_name} ({rec.key}) is not a console of this broker; use --into")
    return found


def plan_restore(
    registry: ConsoleRegistry,
    snapshot: SnapshotFile,
    into: Target | None,
    inject_input: bool,
) -> list[RestoreStep]:
    """Match records to sessions and check everything; RestoreRefused changes nothing."""
    steps: list[RestoreStep] = []
    if into is not None and len(snapshot.records) != 1:
        raise RestoreRefused("bad_request", f"--into needs a snapshot of one console, this one has {len(snapshot.records)}")
    providers = {p.name: p for p in registry.providers}
    for rec in snapshot.records:
        session = _target(registry, rec, into)
        if (rec.guest_kind, rec.console_type) != (session.guest.kind, session.spec.type):
            raise RestoreRefused(
                "kind_mismatch",
                f"cannot restore a {rec.guest_kind} {rec.console_type} console ({rec.guest_name}) "
                f"into {session.guest.kind} {session.guest.name} {session.spec.name}: the kinds differ",
            )
        if _already_restored(session, rec, snapshot.created):
            # A second restore would put the same bytes in front of the history again.
            raise RestoreRefused("already_restored", f"{session.key} already holds this snapshot's history of "
                                 f"{rec.guest_name} {rec.console_name}")
        step = RestoreStep(rec, session)
        if rec.ring is not None and rec.ring.out_data:
            provider = providers.get(session.guest.provider)
            if provider is None or not provider.supports_ring_snapshots or session.guest.state != GuestState.RUNNING:
                raise RestoreRefused("unavailable", f"cannot put ring contents back into {session.key}: its ring is not reachable")
            step.provider, step.ring_out = provider, rec.ring.out_data
        if inject_input:
            pending = rec.pending_input
            if pending.data:
                if session.endpoint is None:
                    raise RestoreRefused("disconnected", f"cannot inject input into {session.key}: it is {session.state}")
                step.inject = pending.data
        steps.append(step)
    if len({id(s.session) for s in steps}) != len(steps):
        raise RestoreRefused("bad_request", "two records of the snapshot go into the same console")
    return steps


def _already_restored(session: ConsoleSession, rec: ConsoleRecord, snapshot_created: float) -> bool:
    """Whether this record of this snapshot was restored into ``session`` before (its mark says so)."""
    return bool(rec.history.data) and any(
        m.source == RESTORED_SOURCE and m.snapshot == snapshot_created and m.first == rec.created
        for m in session.marks
    )


def seed_session(session: ConsoleSession, rec: ConsoleRecord, snapshot_created: float) -> None:
    """Prefill a session's history from a record (the part that cannot fail)."""
    h = rec.history
    marks = [Mark.from_wire(m) for m in rec.marks]
    if h.data:
        marks.append(Mark(h.start, h.end, RESTORED_SOURCE, rec.created, rec.last_output, snapshot_created))
    # Only the newest bytes survive the cap in front of what the session
    # holds: copy just those (none at all when its history is full).
    keep = min(h.size, max(0, session.history.cap - len(session.history)))
    session.seed_history(h.tail(keep), h.end - keep, marks)
    session.lost += h.lost
    if session.size is None and rec.winsize and min(rec.winsize) > 0:
        session.resize(min(rec.winsize[0], 4096), min(rec.winsize[1], 4096))
    session.created = min(session.created, rec.created)
    if rec.last_output is not None:
        session.last_output = max(session.last_output or 0.0, rec.last_output)
    if session.endpoint is None:
        session.restored_source = SourceState.of(rec)


async def apply_restore(steps: list[RestoreStep], snapshot_created: float) -> RestoreResult:
    """Carry out a checked plan; ProviderError, TimeoutError or an input error after the histories are in."""
    result = RestoreResult(restored=[s.session.key for s in steps])
    for step in steps:
        seed_session(step.session, step.record, snapshot_created)
    for step in steps:
        session = step.session
        if step.provider is not None:
            await asyncio.wait_for(step.provider.restore_ring(session.guest, session.spec, step.ring_out),
                                   PROVIDER_TIMEOUT)
            result.ring_bytes += len(step.ring_out)
        if step.inject and session.endpoint is not None:
            session.send_input(step.inject)
            result.input_bytes += len(step.inject)
    return result
