"""A lab killed with SIGKILL and started again by the broker is another lab: its guests are new boots.

The broker must drop the dead lab's masters and rings (their consoles say
"stopped" with the reason, as a state event) and open the new guests'
consoles, so what a client types reaches the guest that runs now.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from tests.broker.test_broker_restart import lab_list
from tests.conftest import wait_for
from tests.lab_host import LabHost
from vconsole.client import Client
from vconsole.detached import process_running, read_pid_file
from vconsole.domain import SessionKey, Target

FLEET_CONTAINERS = [{"id": 301, "name": "echo", "vttys": 2}]
FLEET_DOMUS = [{"id": 9, "name": "xpv", "frontend": "flag-aware"}]


def _autostarting_host(lab_host: LabHost) -> None:
    """A broker that starts the lab itself, with this test's fleet (so a restarted lab has it too)."""
    containers = [{**FLEET_CONTAINERS[0], "init": [*lab_host.scripted("echo"), "--hexecho"]}]
    fleet = lab_host.write_fleet(containers, FLEET_DOMUS)
    lab_host.write_config(f'[lab]\nfleet = "{fleet}"\n')
    lab_host.start_broker()


def _states(listing: dict[str, Any]) -> dict[str, str]:
    return {f"{g['name']}:{c['name']}": c["state"] for g in listing["guests"] for c in g["consoles"]}


def _all_open(lab: dict[str, Any]) -> bool:
    """Every console of the lab's running guests is held by a backend (the broker)."""
    held = [c.get("master_open", c.get("backend_open")) for g in lab["guests"] for c in g["consoles"]]
    return bool(held) and all(held)


async def _output(client: Client, session: SessionKey, want: bytes, timeout: float = 15.0) -> bytes:
    seen = b""
    try:
        async with asyncio.timeout(timeout):
            while want not in seen:
                event = await client.events.get()
                if event.get("event") == "output" and event.get("session") == session.text:
                    seen += event["data"]
    except TimeoutError:
        raise AssertionError(f"{want!r} never came; got {seen!r}") from None
    return seen


async def test_killed_lab_is_replaced_and_its_guests_consoles_reopened(lab_host: LabHost) -> None:
    _autostarting_host(lab_host)
    client = await lab_host.client()
    try:
        listing = await client.list_guests()
        assert set(_states(listing).values()) == {"connected"}, _states(listing)
        old_lab = read_pid_file(lab_host.paths.lab_socket)
        assert old_lab is not None
        old_instance = (await lab_list(lab_host)).get("instance")
        await client.watch()

        os.kill(old_lab, signal.SIGKILL)
        wait_for(lambda: not process_running(old_lab), what="the lab to die")

        # The broker's discovery starts another lab, and holds every console of it.
        def new_lab() -> int | None:
            pid = read_pid_file(lab_host.paths.lab_socket)
            return pid if pid not in (None, old_lab) and process_running(pid) else None

        await asyncio.to_thread(wait_for, new_lab, 20.0, 0.1, "a new lab")
        for _ in range(200):
            lab = await lab_list(lab_host)
            listing = await client.list_guests()
            if _all_open(lab) and set(_states(listing).values()) == {"connected"}:
                break
            await asyncio.sleep(0.1)
        assert _all_open(lab), lab["guests"]
        assert set(_states(listing).values()) == {"connected"}, _states(listing)
        assert lab["instance"] != old_instance  # the lab says it is another one

        # Each console said it ended (the old vttys: stopped, "restarted"; the old
        # ring: its event channel closed with the lab) before it came back.
        ended: set[str] = set()
        while not client.events.empty():
            event = client.events.get_nowait()
            console = event.get("console") or {}
            if event.get("event") == "state" and console.get("state") in ("stopped", "disconnected"):
                assert console.get("reason"), console
                if console["state"] == "stopped":
                    assert "restarted" in console["reason"], console
                ended.add(f"{event['guest']}:{console['name']}")
        assert ended == set(_states(listing)), ended

        # Typing reaches the guest that runs now (it echoes input as hex), once it is up:
        # one READY in the history from each boot.
        reply = await client.attach(Target("echo", None, 0), start=0)
        await _output(client, reply.session, b"READY\nREADY\n")
        client.input_nowait(reply.session, b"hi")
        await _output(client, reply.session, b"in:6869")
    finally:
        await client.close()
        lab_host.cli("shutdown", "--lab")
