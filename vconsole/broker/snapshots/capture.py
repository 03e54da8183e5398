"""Capturing console sessions for a snapshot, through the interfaces endpoints and providers declare.

Capture never consumes what the guest would otherwise read:

* a bound endpoint reports its source's facts (``ConsoleEndpoint.source_facts``):
  a pty its unread counts in both directions, termios and window size, a ring
  its indices. A pty's pending output is read into the history first (the
  broker would read it next anyway); the bytes of unread *input* are the tail
  of what the broker wrote, when the count fits that log;
* a domU's ring is copied by its provider (``Provider.capture_ring``) without
  moving an index, with the hypervisor console log.

Whatever could not be captured is said per console (:class:`NotCaptured`),
and the record marks it ``unavailable`` or ``count-only``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass

from vconsole.broker.registry import ConsoleRegistry
from vconsole.broker.session import ConsoleSession
from vconsole.broker.snapshots.screen import render_screen
from vconsole.domain import ConsoleState, GuestState
from vconsole.providers.base import Provider, ProviderError
from vconsole.snapshot.encode import encode_body
from vconsole.snapshot.model import (
    CONSOLE_TYPES,
    RESTORED_SOURCE,
    ConsoleRecord,
    History,
    NotCaptured,
    Pending,
    SnapshotFile,
    SourceFact,
    SourceState,
)
from vconsole.snapshot.stream import write_snapshot

log = logging.getLogger("vconsole.broker")
PROVIDER_TIMEOUT = 5.0


@dataclass
class CapturedConsole:
    """One session's record, and what of its source the record could not hold."""

    record: ConsoleRecord
    not_captured: list[NotCaptured]

    @property
    def console(self) -> str:
        """How a person names the console: ``web:vtty1``."""
        return f"{self.record.guest_name}:{self.record.console_name}"


@dataclass
class Capture:
    """A snapshot, and per console what it lacks."""

    snapshot: SnapshotFile
    consoles: list[CapturedConsole]


def console_order(session: ConsoleSession) -> tuple[str, tuple[int, int, str], int, str, int]:
    """Where a console goes in a snapshot: by provider, guest id (numbers in numeric order), console type and index."""
    guest_id, ctype = session.guest.id, session.spec.type
    by_id = (0, int(guest_id), "") if guest_id.isascii() and guest_id.isdigit() else (1, 0, guest_id)
    by_type = CONSOLE_TYPES.index(ctype) if ctype in CONSOLE_TYPES else len(CONSOLE_TYPES)
    return session.guest.provider, by_id, by_type, ctype, session.spec.index


def host_label(registry: ConsoleRegistry) -> str:
    """The snapshot's ``host``: the providers' hosts."""
    return ",".join(sorted({p.host for p in registry.providers}))[:256] or "localhost"


def _pending_output(count: int | None, missing: list[NotCaptured]) -> Pending:
    if count is None:
        return Pending()  # the endpoint said why
    if count == 0:
        return Pending("exact", 0, b"")
    missing.append(NotCaptured(SourceFact.PENDING_OUTPUT,
                               f"only counted ({count} bytes): the source cannot be read without consuming them"))
    return Pending("count-only", count)


def _pending_input(session: ConsoleSession, count: int | None, missing: list[NotCaptured]) -> Pending:
    backlog = session.input_backlog  # accepted from clients, not yet written
    if count is None:
        if not any(n.what is SourceFact.PENDING_INPUT for n in missing):
            missing.append(NotCaptured(SourceFact.PENDING_INPUT, "this kind of console does not report it"))
        return Pending()
    if count == 0:
        return Pending("exact", len(backlog), backlog)
    written = session.input_log
    if count <= len(written):
        data = bytes(written[len(written) - count :]) + backlog
        return Pending("input-log", len(data), data)
    missing.append(NotCaptured(SourceFact.PENDING_INPUT,
                               f"only counted ({count} bytes): more than the broker's log of what it wrote"))
    return Pending("count-only", count + len(backlog))


def _live_source(session: ConsoleSession, missing: list[NotCaptured]) -> SourceState:
    """What the bound endpoint (if any) reports of its source."""
    endpoint = session.endpoint
    if endpoint is not None and endpoint.drain_before_snapshot:
        session.read_now()
        if session.endpoint is not endpoint:
            endpoint = None  # it closed while being read
    if endpoint is None:
        if session.state != ConsoleState.STOPPED:  # a stopped guest's console has nothing to capture
            reason = f": {session.reason}" if session.reason else ""
            missing.append(NotCaptured(SourceFact.SOURCE, f"the console is {session.state}{reason}"))
        return SourceState()
    facts = endpoint.source_facts()
    missing.extend(facts.unknown)
    return SourceState(
        pending_output=_pending_output(facts.pending_output, missing),
        pending_input=_pending_input(session, facts.pending_input, missing),
        termios=facts.termios, winsize=facts.winsize,
    )


async def _capture_ring(
    session: ConsoleSession, provider: Provider | None, source: SourceState, missing: list[NotCaptured]
) -> None:
    """Add a domU ring's contents (from its provider) to ``source``, or say why not."""
    if provider is None:
        missing.append(NotCaptured(SourceFact.RING, f"provider {session.guest.provider} is not loaded"))
        return
    try:
        got = await asyncio.wait_for(provider.capture_ring(session.guest, session.spec), PROVIDER_TIMEOUT)
    except (ProviderError, TimeoutError) as exc:
        log.info("%s: no ring state for the snapshot: %s", session.key, exc or "timed out")
        missing.append(NotCaptured(SourceFact.RING, str(exc) or "the provider did not answer in time"))
        return
    ring = got.ring
    source.ring, source.hypervisor_log = ring, got.hypervisor_log
    source.pending_output = Pending("exact", len(ring.out_data), ring.out_data)
    data = ring.in_data + session.input_backlog
    source.pending_input = Pending("exact", len(data), data)
    # The ring's own bytes answer what the endpoint could only count, or a
    # busy console's endpoint could not say at all (a ring has no termios).
    answered = (SourceFact.PENDING_OUTPUT, SourceFact.PENDING_INPUT, SourceFact.SOURCE)
    missing[:] = [n for n in missing if n.what not in answered]


def _has_ring(session: ConsoleSession) -> bool:
    """A running domU's PV console is a Xen ring (its serial consoles are ptys)."""
    guest = session.guest
    return guest.kind == "domu" and guest.state == GuestState.RUNNING and session.spec.type == "pv"


async def capture_session(session: ConsoleSession, provider: Provider | None) -> CapturedConsole:
    """One session's record; reads nothing the guest would otherwise read."""
    missing: list[NotCaptured] = []
    if session.endpoint is None and session.restored_source is not None:
        # Restored while no endpoint is bound: the record's source facts still stand.
        source = dataclasses.replace(session.restored_source)
    else:
        source = _live_source(session, missing)
        if _has_ring(session):
            await _capture_ring(session, provider, source, missing)
    winsize = source.winsize or session.size  # else the size the clients gave it
    history = session.history
    # By reference: the history copies its buffer if it changes before the
    # snapshot is written and release_histories() is called.
    view = history.view()
    record = ConsoleRecord(
        provider=session.guest.provider, guest_id=session.guest.id, guest_name=session.guest.name,
        guest_kind=session.guest.kind, console_type=session.spec.type, console_index=session.spec.index,
        history=History(view.parts, view.start, view.end, history.dropped, session.lost),
        created=session.created, last_output=session.last_output,
        marks=[m.to_wire() for m in session.marks if m.source != RESTORED_SOURCE],
        pending_output=source.pending_output, pending_input=source.pending_input,
        termios=source.termios, winsize=winsize, ring=source.ring, hypervisor_log=source.hypervisor_log,
        screen=render_screen(history, winsize),
        log_range=(session.log.writer.start, session.log.writer.end) if session.log is not None else None,
    )
    return CapturedConsole(record, missing)


async def capture(registry: ConsoleRegistry, sessions: list[ConsoleSession], host: str) -> Capture:
    """A snapshot of ``sessions``; call :func:`release_histories` once it is written."""
    providers = {p.name: p for p in registry.providers}
    consoles = [await capture_session(s, providers.get(s.guest.provider)) for s in sessions]
    return Capture(SnapshotFile(created=time.time(), host=host, records=[c.record for c in consoles]), consoles)


async def capture_to_file(
    registry: ConsoleRegistry, sessions: list[ConsoleSession], host: str, path: str
) -> tuple[Capture, int]:
    """Snapshot ``sessions`` into ``path``; the capture and the file's size.

    The records are captured on the loop first, then worker threads stream
    them (the histories by reference) into the file. Writing while still
    capturing was slower: each write returning to Python waited for the GIL
    the capture held. Raises OSError or SnapshotError (too large), leaving no
    file; call :func:`release_histories` once done with the snapshot.
    """
    captured = await capture(registry, sessions, host)
    try:
        body = encode_body(captured.snapshot)  # small packed fields and views of the histories
        size = await asyncio.get_running_loop().run_in_executor(None, write_snapshot, path, body)
    except BaseException:
        release_histories(sessions, captured.snapshot)
        raise
    return captured, size


def release_histories(sessions: list[ConsoleSession], snapshot: SnapshotFile) -> None:
    """The snapshot of ``sessions`` is written: their histories may change in place again."""
    for session, rec in zip(sessions, snapshot.records, strict=False):
        session.history.release(rec.history.parts)
