"""Restoring a console's snapshot into that console does not double its history (issue 14, item 17).

The record's history offsets and the session's say which bytes the session
holds already; only older ones (dropped since) go in front.
"""

from __future__ import annotations

import asyncio

from tests.lab_host import LabHost
from tests.xen.conftest import history_until, read_history, wait_console
from vconsole.broker.session import ConsoleSession
from vconsole.broker.snapshots.capture import capture_session
from vconsole.broker.snapshots.restore import held_already, seed_session
from vconsole.providers.base import ConsoleSpec, GuestInfo
from vconsole.snapshot.model import ConsoleRecord

DATA = b"".join(b"line %03d\r\n" % i for i in range(15))  # 150 bytes


def _session(cap: int, guest_id: str = "1") -> ConsoleSession:
    guest = GuestInfo("lab", "h", "container", guest_id, "ct", "running")
    return ConsoleSession(guest, ConsoleSpec("vtty", 0), cap, lambda s: None, lambda s: None)


def _record(session: ConsoleSession) -> ConsoleRecord:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(capture_session(session, None)).record
    finally:
        loop.close()


def test_the_console_own_snapshot_adds_nothing() -> None:
    session = _session(1 << 16)
    session.history.append(DATA[:100])
    rec = _record(session)
    session.history.append(DATA[100:])  # it printed more since
    assert held_already(session, rec) == 100
    assert seed_session(session, rec, 1.7e9, held_already(session, rec)) == 0
    assert (session.history.read(0), session.history.start, session.history.end) == (DATA, 0, 150)
    assert [(m.start, m.end) for m in session.marks if m.source == "restored"] == [(0, 100)]


def test_only_the_bytes_the_console_dropped_since_go_back() -> None:
    old = _session(1 << 16)
    old.history.append(DATA[:100])
    rec = _record(old)
    # The same console, whose history now starts at 40 with room to spare
    # (a broker restarted with a larger cap, its saved history starting there).
    session = _session(1 << 16)
    session.seed_history(DATA[40:150], 40, [])
    assert held_already(session, rec) == 60
    assert seed_session(session, rec, 1.7e9, 60) == 40
    assert (session.history.read(0), session.history.start, session.history.end) == (DATA, 0, 150)


def test_another_history_at_the_same_offsets_is_not_mistaken_for_this_one() -> None:
    old = _session(1 << 16)
    old.history.append(DATA[:100])
    rec = _record(old)
    # Same key and offsets, other bytes: a broker that lost its saved sessions counts from 0 again.
    session = _session(1 << 16)
    session.history.append(b"x" * 150)
    assert held_already(session, rec) == 0
    # And another console's record never overlaps, whatever its bytes.
    twin = _session(1 << 16, guest_id="2")
    twin.history.append(DATA)
    assert held_already(twin, rec) == 0


async def test_restoring_a_console_own_snapshot_keeps_its_history(lab_host: LabHost) -> None:
    init = ["/bin/sh", "-c", "printf 'ONLY-ONCE\\n'; exec sleep 1000"]
    lab_host.start_lab(lab_host.write_fleet([{"id": 611, "name": "ct", "vttys": 1, "init": init}]))
    lab_host.start_broker()
    snap_file = lab_host.base / "ct.vcsnap"
    client = await lab_host.client()
    try:
        await wait_console(client, "ct", lambda c: c["state"] == "connected", console="vtty0")
        await history_until(client, "ct", b"ONLY-ONCE")
        done = lab_host.cli("snapshot", "ct:0", "-o", str(snap_file))
        assert done.returncode == 0, done.stderr
        before, breply = await read_history(client, "ct")
        done = lab_host.cli("restore", str(snap_file))
        assert done.returncode == 0, done.stderr
        assert f"history 0 bytes ({len(before)} already there)" in done.stdout
        after, areply = await read_history(client, "ct")
        assert (after, areply["start"], areply["end"]) == (before, breply["start"], breply["end"])
        assert after.count(b"ONLY-ONCE") == 1
    finally:
        await client.close()
