"""Acceptance 4: SIGTERM the broker, start it again: every history is back, byte for byte."""

from __future__ import annotations

import signal

import pytest

from tests.guest_program import pattern
from tests.lab_host import LabHost
from tests.xen.conftest import history_until, read_history, wait_console
from vconsole.broker.snapshots.saved_sessions import saved_sessions_file
from vconsole.snapshot.decode import decode

CONSOLES = [("c1", "vtty0"), ("c2", "vtty0"), ("c2", "vtty1"), ("d1", "pv0")]


@pytest.mark.parametrize("logged", [False, True], ids=["no-log", "log"])
async def test_sigterm_saves_and_start_restores_every_history(lab_host: LabHost, logged: bool) -> None:
    if not logged:  # the saved sessions alone bring the histories back
        lab_host.write_config("[log]\nenabled = false\n")
    fleet = lab_host.write_fleet(
        [
            {"id": 401, "name": "c1", "vttys": 1, "init": lab_host.scripted("c1")},
            {"id": 402, "name": "c2", "vttys": 2, "init": lab_host.scripted("c2")},
        ],
        [{"id": 403, "name": "d1", "frontend": "flag-aware", "program": lab_host.scripted("d1")}],
    )
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    before: dict[tuple[str, str], tuple[bytes, int, int]] = {}
    try:
        for guest, console in CONSOLES:
            await wait_console(client, guest, lambda c: c["state"] == "connected", console=console)
        for n, guest in enumerate(("c1", "c2", "d1")):
            lab_host.command(guest, 1, f"write {5000 + 1000 * n}")
            lab_host.wait_done(guest, 1)
            await history_until(client, guest, pattern(1, 5000 + 1000 * n))
        for guest, console in CONSOLES:
            data, reply = await read_history(client, guest, console)
            before[(guest, console)] = (data, reply["start"], reply["end"])
    finally:
        await client.close()

    lab_host.kill_broker(signal.SIGTERM)
    saved = saved_sessions_file(lab_host.paths.socket)
    assert saved.exists(), lab_host.log("broker")
    saved_bytes = saved.read_bytes()
    snap = decode(saved_bytes)
    assert {(r.guest_name, r.console_name) for r in snap.records} == set(CONSOLES)

    lab_host.start_broker()
    # The file stays: it is the last good save until the next one replaces it.
    assert saved.read_bytes() == saved_bytes
    client = await lab_host.client()
    try:
        for (guest, console), (data, start, end) in before.items():
            after, reply = await read_history(client, guest, console)
            assert reply["start"] == start
            assert after[: end - start] == data, f"{guest}:{console} lost its history"
            info = await wait_console(client, guest, lambda c: True, console=console)
            restored = [m for m in info["marks"] if m["source"] == "restored"]
            assert any((m["start"], m["end"]) == (start, end) for m in restored)
    finally:
        await client.close()
