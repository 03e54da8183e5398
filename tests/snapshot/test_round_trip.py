"""Acceptance 1: snapshot, restore into a fresh session, snapshot again: identical records."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings

from tests.snapshot.strategies import sessions
from vconsole.broker.session import ConsoleSession
from vconsole.broker.snapshots.capture import capture_session
from vconsole.broker.snapshots.restore import seed_session
from vconsole.domain import Mark
from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import encode
from vconsole.snapshot.model import ConsoleRecord, SnapshotFile


def through_file(rec: ConsoleRecord) -> ConsoleRecord:
    return decode(encode(SnapshotFile(1.7e9, "h", [rec]))).records[0]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_snapshot_restore_snapshot_is_identical(session: ConsoleSession) -> None:
    loop = asyncio.new_event_loop()
    try:
        first = through_file(loop.run_until_complete(capture_session(session, None)).record)
        fresh = ConsoleSession(session.guest, session.spec, session.history.cap, lambda s: None, lambda s: None)
        seed_session(fresh, first, 1.7e9)
        second = through_file(loop.run_until_complete(capture_session(fresh, None)).record)
    finally:
        loop.close()
    assert second == first
    assert fresh.history.read(0) == session.history.read(0)
    assert (fresh.history.start, fresh.history.end) == (session.history.start, session.history.end)
    restored = [m.to_wire() for m in fresh.marks if m.source == "restored"]
    if len(session.history):
        assert restored == [{"start": first.history.start, "end": first.history.end, "source": "restored",
                             "first": first.created, "last": first.last_output, "snapshot": 1.7e9}]


def test_restore_into_a_session_with_history_puts_it_first() -> None:
    old = ConsoleSession(*_ident(), 1 << 16, lambda s: None, lambda s: None)
    old.history.append(b"old bytes\r\n")
    loop = asyncio.new_event_loop()
    rec = through_file(loop.run_until_complete(capture_session(old, None)).record)
    live = ConsoleSession(*_ident(), 1 << 16, lambda s: None, lambda s: None)
    live.history.append(b"new")
    live.marks.append(Mark(0, 3, "hypervisor"))
    seed_session(live, rec, 1.7e9)
    loop.close()
    assert live.history.read(0) == b"old bytes\r\nnew"
    assert {"start": 11, "end": 14, "source": "hypervisor"} in [m.to_wire() for m in live.marks]


def _ident() -> tuple[object, object]:
    from vconsole.providers.base import ConsoleSpec, GuestInfo

    return GuestInfo("lab", "h", "container", "1", "ct", "running"), ConsoleSpec("vtty", 0)
