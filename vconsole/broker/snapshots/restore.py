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
from vconsole.broker.snapshots.screen import window
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
    held: int = 0  # the record's newest bytes the session holds already (see held_already)


@dataclass
class RestoreResult:
    """What a restore put back: the sessions, ring bytes and injected input bytes."""

    restored: list[SessionKey] = field(default_factory=list)
    ring_bytes: int = 0
    input_bytes: int = 0
    history_bytes: int = 0  # put in front of the sessions' histories
    held_bytes: int = 0  # of the records' histories, already there (a console's own snapshot)


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
        step = RestoreStep(rec, session, held=held_already(session, rec))
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


def held_already(session: ConsoleSession, rec: ConsoleRecord) -> int:
    """How many of the record's newest bytes ``session`` holds already, at the same offsets.

    A snapshot of a console restored into that same console overlaps its
    history (in memory, or in its log on disk): the record's bytes from the
    session's oldest (or its own start) to its end are there, unless the
    session's history is another one (a broker that lost its saved sessions
    counts from 0 again): so the bytes must be equal too.
    """
    h, history = rec.history, session.history
    if session.key != rec.key or not h.size:
        return 0
    lo = max(h.start, session.oldest)
    if lo >= h.end or h.end > history.end:
        return 0
    if _read_range(session, lo, h.end) != h.between(lo, h.end):
        return 0
    return h.end - lo


def _read_range(session: ConsoleSession, lo: int, hi: int) -> bytes:
    """The session's bytes ``[lo, hi)`` from its log and memory; shorter if some are held nowhere."""
    out = bytearray()
    while lo < min(hi, session.history.start):
        at, data = session.read_back(lo, hi - lo)
        if at != lo or not data:
            return bytes(out)
        out += data
        lo += len(data)
    return bytes(out) + (session.history.read(lo, hi - lo) if lo < hi else b"")


def seed_session(session: ConsoleSession, rec: ConsoleRecord, snapshot_created: float, held: int = 0) -> int:
    """Prefill a session's history from a record (the part that cannot fail); the bytes put in.

    ``held``: the record's newest bytes the session holds already
    (:func:`held_already`); only the older ones go in front, and the
    record's marks and lost count, which the session has for itself, do not.
    """
    h = rec.history
    marks = [Mark.from_wire(m) for m in rec.marks] if not held else []
    if h.size:
        marks.append(Mark(h.start, h.end, RESTORED_SOURCE, rec.created, rec.last_output, snapshot_created))
    history = session.history
    end = session.oldest if held else h.end  # where the bytes put in front end
    # Only the newest bytes survive the cap in front of what the session
    # holds: copy just those (none at all when its history is full).
    keep = min(h.size - held, max(0, history.cap - len(history)))
    log = session.log
    # A logged console's offsets are its log's: bytes go in front only of a log
    # that began in this run and holds nothing memory does not; it is then
    # written again at the new offsets (docs/log-format.md).
    relog = log is not None and log.began_empty and session.oldest == history.start
    if log is not None and not relog:
        keep = 0
    session.seed_history(h.between(end - keep, end), end - keep, marks)
    if relog and keep and log is not None:
        log.relog(session.history, end, rec.last_output or snapshot_created)
    if not held:
        session.lost += h.lost
    if session.size is None and rec.winsize and min(rec.winsize) > 0:
        session.resize(*window(rec.winsize))  # a file's size is bounded like a client's
    session.created = min(session.created, rec.created)
    if rec.last_output is not None:
        session.last_output = max(session.last_output or 0.0, rec.last_output)
    if session.endpoint is None:
        session.restored_source = SourceState.of(rec)
    return keep


async def apply_restore(steps: list[RestoreStep], snapshot_created: float) -> RestoreResult:
    """Carry out a checked plan; ProviderError, TimeoutError or an input error after the histories are in."""
    result = RestoreResult(restored=[s.session.key for s in steps])
    for step in steps:
        result.history_bytes += seed_session(step.session, step.record, snapshot_created, step.held)
        result.held_bytes += step.held
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
