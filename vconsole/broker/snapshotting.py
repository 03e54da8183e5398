"""Snapshot capture and restore of console sessions (the broker's side of ``.vcsnap``).

Capture never consumes what the guest would otherwise read:

* a pty: the broker is the reader of the master, so it first reads what is
  there into the history (as it would anyway); unread *input* is the slave's
  ``TIOCINQ`` (the slave is reached with ``TIOCGPTPEER`` on the master) and its
  bytes are the tail of what the broker wrote, when the count fits that log
  (there is no kernel interface to peek them: TIOCPEEK was never merged);
* a Xen ring: the provider copies ``cons..prod`` of both rings without moving
  an index, with the flag and the hypervisor console log.

Restore validates everything first (the file, the target sessions, kinds,
whether ring contents can be put back), then changes state: it prefills the
history (marked ``restored`` with the original times), puts ring output back
through the provider, and injects pending input only when asked.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import struct
import termios
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vconsole.broker.history import OutputHistory
from vconsole.broker.session import ConsoleSession
from vconsole.console.pty_endpoint import PtyEndpoint
from vconsole.domain import GuestState, Mark, MarkSource, Target
from vconsole.providers.base import ConsoleSpec, GuestInfo, ProviderError
from vconsole.snapshot import (
    ConsoleRecord,
    History,
    HypervisorLog,
    Pending,
    RingState,
    SnapshotFile,
    Termios,
    encode_body,
    write_snapshot,
)
from vconsole.term.terminal import Terminal

if TYPE_CHECKING:
    from vconsole.broker.registry import ConsoleRegistry
    from vconsole.providers.base import Provider

log = logging.getLogger("vconsole.broker")
TIOCGPTPEER = getattr(termios, "TIOCGPTPEER", 0x5441)
PROVIDER_TIMEOUT = 5.0
RESTORED = MarkSource.RESTORED
# The screen is rendered from the history's last `rows` lines, at most this
# many bytes, without scrollback: it is a picture for viewing, and rendering
# 128 KiB per console made a 1000-console snapshot take tens of seconds.
SCREEN_FEED = 32 * 1024


# --- capture ----------------------------------------------------------------


def _termios(fd: int) -> Termios | None:
    try:
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
        raw = fcntl.ioctl(fd, termios.TCGETS, b"\0" * 64)
    except (OSError, termios.error):
        return None
    ccb = bytes(c[0] if isinstance(c, bytes) else int(c) & 0xFF for c in cc)
    return Termios(iflag, oflag, cflag, lflag, raw[16], ispeed, ospeed, ccb)


def _winsize(fd: int) -> tuple[int, int] | None:
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return cols, rows


def _slave_inq(master: int) -> int | None:
    """Unread input queued on the slave side of a pty, or None if unreachable."""
    try:
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return int(struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\0" * 4))[0])
    except OSError:
        return None
    finally:
        os.close(slave)


def _pty_input(session: ConsoleSession, count: int | None, backlog: bytes) -> Pending:
    if count is None:
        return Pending("unavailable")
    if count == 0:
        return Pending("exact", len(backlog), backlog)
    if count <= len(session.input_log):
        data = bytes(session.input_log[len(session.input_log) - count :]) + backlog
        return Pending("input-log", len(data), data)
    return Pending("count-only", count + len(backlog))


async def _ring_facts(provider: Provider | None, session: ConsoleSession) -> dict[str, Any] | None:
    ring_state = getattr(provider, "ring_state", None)
    if ring_state is None or session.guest.kind != "domu" or session.guest.state != GuestState.RUNNING:
        return None
    try:
        facts: dict[str, Any] = await asyncio.wait_for(
            ring_state(session.guest, session.spec), PROVIDER_TIMEOUT
        )
    except (ProviderError, TimeoutError) as exc:
        log.info("%s: no ring state for the snapshot: %s", session.key, exc)
        return None
    return facts


def render_screen(history: OutputHistory, size: tuple[int, int] | None) -> dict[str, Any]:
    """The engine's state after the history's last screenful of lines, at the console's size (80x24 if unknown)."""
    cols, rows = size if size and size[0] > 0 and size[1] > 0 else (80, 24)
    cols, rows = min(cols, 4096), min(rows, 4096)
    term = Terminal(cols, rows, scrollback=0)
    term.feed(history.read(history.tail_offset(rows, SCREEN_FEED)))
    return term.to_state()


async def capture_session(session: ConsoleSession, provider: Provider | None) -> ConsoleRecord:
    """One session's record; reads nothing the guest would otherwise read."""
    endpoint = session.endpoint
    out, inp = Pending(), Pending()
    term_state: Termios | None = None
    winsize: tuple[int, int] | None = None
    ring: RingState | None = None
    hvlog: HypervisorLog | None = None
    backlog = bytes(session._input)  # accepted from clients, not yet written
    if isinstance(endpoint, PtyEndpoint):
        session._readable()  # the broker reads the master anyway: take it into the history
        if session.endpoint is endpoint:
            left = endpoint.pending_output()
            out = Pending("exact", 0, b"") if left == 0 else Pending("count-only", left)
            inp = _pty_input(session, _slave_inq(endpoint.fd), backlog)
            term_state, winsize = _termios(endpoint.fd), _winsize(endpoint.fd)
    facts = await _ring_facts(provider, session)
    if facts is not None:
        try:
            ring = RingState(
                int(facts["in_cons"]), int(facts["in_prod"]), int(facts["out_cons"]),
                int(facts["out_prod"]), int(facts["connection"]), bytes(facts["in"]), bytes(facts["out"]),
            )
            hvlog = HypervisorLog(bytes(facts["hv_log"]), int(facts["hv_dropped"]))
        except (KeyError, TypeError, ValueError):
            ring = hvlog = None
        if ring is not None:
            out = Pending("exact", len(ring.out_data), ring.out_data)
            data = ring.in_data + backlog
            inp = Pending("exact", len(data), data)
    elif endpoint is not None and not isinstance(endpoint, PtyEndpoint):
        out = Pending("count-only", endpoint.pending_output())
    if endpoint is None and session.restored_source is not None:
        out, inp, term_state, winsize, ring, hvlog = session.restored_source
    winsize = winsize or session.size  # the size the clients gave it
    history = session.history
    # By reference: the history copies its buffer if it changes before the
    # snapshot is written and release_histories() is called.
    view = history.view()
    return ConsoleRecord(
        provider=session.guest.provider, guest_id=session.guest.id, guest_name=session.guest.name,
        guest_kind=session.guest.kind, console_type=session.spec.type, console_index=session.spec.index,
        history=History(view.parts, view.start, view.end, history.dropped, session.lost),
        created=session.created, last_output=session.last_output,
        marks=[m.to_wire() for m in session.marks if m.source != RESTORED],
        pending_output=out, pending_input=inp, termios=term_state, winsize=winsize,
        ring=ring, hypervisor_log=hvlog, screen=render_screen(history, winsize),
    )


async def capture(registry: ConsoleRegistry, sessions: list[ConsoleSession], host: str) -> SnapshotFile:
    """A snapshot of ``sessions``; call :func:`release_histories` once it is written."""
    providers = {p.name: p for p in registry.providers}
    records = [await capture_session(s, providers.get(s.guest.provider)) for s in sessions]
    return SnapshotFile(created=time.time(), host=host, records=records)


async def capture_to_file(
    registry: ConsoleRegistry, sessions: list[ConsoleSession], host: str, path: str
) -> tuple[SnapshotFile, int]:
    """Snapshot ``sessions`` into ``path``; the snapshot and the file's size.

    The records are captured on the loop first, then worker threads stream
    them (the histories by reference) into the file. Writing while still
    capturing was slower: each write returning to Python waited for the GIL
    the capture held. Raises OSError or SnapshotError (too large), leaving no
    file; call :func:`release_histories` once done with the snapshot.
    """
    snap = await capture(registry, sessions, host)
    try:
        body = encode_body(snap)  # small packed fields and views of the histories
        size = await asyncio.get_running_loop().run_in_executor(None, write_snapshot, path, body)
    except BaseException:
        release_histories(sessions, snap)
        raise
    return snap, size


def release_histories(sessions: list[ConsoleSession], snapshot: SnapshotFile) -> None:
    """The snapshot of ``sessions`` is written: their histories may change in place again."""
    for session, rec in zip(sessions, snapshot.records, strict=False):
        session.history.release(rec.history.parts)


# --- restore ----------------------------------------------------------------


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
    ring_out: bytes = b""
    inject: bytes = b""


def plan_restore(
    registry: ConsoleRegistry,
    snapshot: SnapshotFile,
    into: Target | None,
    inject_input: bool,
) -> list[RestoreStep]:
    """Match records to sessions and check everything; RestoreRefused changes nothing."""
    from vconsole.broker.registry import TargetError

    steps: list[RestoreStep] = []
    if into is not None and len(snapshot.records) != 1:
        raise RestoreRefused("bad_request", f"--into needs a snapshot of one console, this one has {len(snapshot.records)}")
    for rec in snapshot.records:
        if into is not None:
            try:
                session = registry.resolve(into)
            except TargetError as exc:
                raise RestoreRefused(exc.code, str(exc)) from None
        else:
            found = registry.sessions.get(rec.key)
            if found is None:
                raise RestoreRefused("unknown_console", f"{rec.guest_name} {rec.console_name} ({rec.key}) is not a console of this broker; use --into")
            session = found
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
            provider = next((p for p in registry.providers if p.name == session.guest.provider), None)
            if getattr(provider, "ring_restore", None) is None or session.guest.state != GuestState.RUNNING:
                raise RestoreRefused("unavailable", f"cannot put ring contents back into {session.key}: its ring is not reachable")
            step.ring_out = rec.ring.out_data
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
        m.source == RESTORED and m.snapshot == snapshot_created and m.first == rec.created
        for m in session.marks
    )


def seed_session(session: ConsoleSession, rec: ConsoleRecord, snapshot_created: float) -> None:
    """Prefill a session's history from a record (the part that cannot fail)."""
    h = rec.history
    marks = [Mark.from_wire(m) for m in rec.marks]
    if h.data:
        marks.append(Mark(h.start, h.end, RESTORED, rec.created, rec.last_output, snapshot_created))
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
        session.restored_source = (rec.pending_output, rec.pending_input, rec.termios,
                                   rec.winsize, rec.ring, rec.hypervisor_log)


async def apply_restore(registry: ConsoleRegistry, steps: list[RestoreStep], snapshot_created: float) -> dict[str, Any]:
    """Carry out a checked plan; returns what was restored."""
    ring_bytes = input_bytes = 0
    for step in steps:
        seed_session(step.session, step.record, snapshot_created)
    for step in steps:
        session = step.session
        if step.ring_out:
            provider = next(p for p in registry.providers if p.name == session.guest.provider)
            await asyncio.wait_for(provider.ring_restore(session.guest, session.spec, step.ring_out),  # type: ignore[attr-defined]
                                   PROVIDER_TIMEOUT)
            ring_bytes += len(step.ring_out)
        if step.inject and session.endpoint is not None:
            session.send_input(step.inject)
            input_bytes += len(step.inject)
    return {"restored": [s.session.key for s in steps], "ring_bytes": ring_bytes, "input_bytes": input_bytes}


def restore_at_start(registry: ConsoleRegistry, snapshot: SnapshotFile) -> int:
    """Recreate the sessions of a broker's shutdown snapshot before consoles are opened.

    Only histories come back: ring contents and input stayed with the live
    guests when the previous broker let go of them gracefully.
    """
    for rec in snapshot.records:
        session = registry.sessions.get(rec.key)
        if session is None:
            guest = GuestInfo(provider=rec.provider, host=snapshot.host, kind=rec.guest_kind,
                              id=rec.guest_id, name=rec.guest_name, state=GuestState.RUNNING)
            session = ConsoleSession(guest, ConsoleSpec(rec.console_type, rec.console_index),
                                     registry.history_cap, registry._on_state, lambda s: registry.poke())
            registry.sessions[rec.key] = session
        seed_session(session, rec, snapshot.created)
        session.restored_source = None
    return len(snapshot.records)
