"""Reloading the configuration (SIGHUP, `vconsole reload`) in a running broker: nothing is dropped that stays.

The lab and the fake OpenVZ host (tests/providers/fakehost.py) run side by
side; a reload lowers the history cap and disables OpenVZ. The lab's console
keeps its client and its history; OpenVZ's consoles go away with an event;
a broken file changes nothing and is said in one line.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.lab_host import LabHost
from tests.providers.fakehost import FakeHost
from vconsole.cli.exit_codes import EXIT_OK, EXIT_USAGE
from vconsole.client import Client
from vconsole.console_events import EventKind
from vconsole.domain import ConsoleState, parse_target
from vconsole.protocol import Events


def _lab_guest(host: LabHost) -> dict[str, Any]:
    """A shell that first prints ~18 KB, once the test creates its gate file (the broker holds the console)."""
    gate = host.ctl_dir("web") / "go"
    fill = "i=0; while [ $i -lt 400 ]; do echo line $i of some padding to fill the history; i=$((i+1)); done"
    return {"id": 211, "name": "web", "vttys": 1,
            "init": f"while [ ! -e {gate} ]; do sleep 0.05; done; {fill}; exec /bin/sh -i"}


@pytest.fixture
def two_hosts(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LabHost, FakeHost]]:
    fake = FakeHost(runtime / "fakehost")
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("VCONSOLE_PROVIDERS")  # the config file chooses, so a reload can change it
    host = LabHost(runtime)
    host.write_config(_config(fake, openvz=True, history="1MiB"))
    host.start_lab(host.write_fleet([_lab_guest(host)]))
    host.start_broker()
    (host.ctl_dir("web") / "go").touch()
    yield host, fake
    host.cleanup()
    fake.close()


def _config(fake: FakeHost, *, openvz: bool, history: str) -> str:
    text = fake.config().replace("[providers.openvz]\nenabled = true", f"[providers.openvz]\nenabled = {str(openvz).lower()}")
    text = text.replace("[providers.xen]\nenabled = true", "[providers.xen]\nenabled = false")  # two are enough
    return f'[broker]\nhistory = "{history}"\n[lab]\nenabled = true\n{text}'


def _listing(host: LabHost) -> dict[str, Any]:
    result = host.cli("ls", "--json")
    assert result.returncode == EXIT_OK, result.stderr
    listing: dict[str, Any] = json.loads(result.stdout)
    return listing


def test_sighup_lowers_the_cap_and_disables_a_provider_without_touching_the_others(
    two_hosts: tuple[LabHost, FakeHost],
) -> None:
    host, fake = two_hosts
    wait_for(lambda: {g["provider"] for g in _listing(host)["guests"]} == {"lab", "openvz"}, timeout=20,
             what="both providers' guests")
    wait_for(lambda: next(g for g in _listing(host)["guests"] if g["provider"] == "lab")["consoles"][0]["history"]
             > 16 * 1024, what="the lab guest's output")

    async def run() -> None:
        client = await Client.connect(host.paths, autostart=False)
        try:
            reply = await client.attach(parse_target("lab:211"))
            before = await client.read_events(Events())
            host.write_config(_config(fake, openvz=False, history="8KiB"))
            assert host.broker is not None
            host.broker.send_signal(signal.SIGHUP)
            for _ in range(200):
                listing = await client.list_guests()
                if {g["provider"] for g in listing["guests"]} == {"lab"}:
                    break
                await asyncio.sleep(0.1)
            (web,) = listing["guests"]
            console = web["consoles"][0]
            assert console["history"] <= 8 * 1024 and console["clients"] == 1
            assert console["state"] == ConsoleState.CONNECTED
            # The client's attachment lives on: it types and sees the answer, no reconnect.
            await client.input(reply.session, b"echo still-$((40+2))\n")
            seen = b""
            while b"still-42" not in seen:
                event = await asyncio.wait_for(client.events.get(), 10)
                assert event.get("event") != "state" or event.get("state") == ConsoleState.CONNECTED, event
                seen += event.get("data", b"")
            after = (await client.read_events(Events(since=before.last))).events
            gone = [e for e in after if e.kind == EventKind.STATE and e.session.provider == "openvz"]
            assert gone and all(e.name == "gone" and "provider openvz disabled" in e.text for e in gone)
            assert not [e for e in after if e.session.provider == "lab" and e.kind == EventKind.STATE]
        finally:
            await client.close()

    asyncio.run(run())


def test_reload_says_what_changed_and_a_broken_file_changes_nothing(two_hosts: tuple[LabHost, FakeHost]) -> None:
    host, fake = two_hosts
    host.write_config(_config(fake, openvz=True, history="64KiB"))
    done = host.cli("reload")
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout.startswith("reloaded: history cap 1048576 -> 65536 bytes"), done.stdout
    again = host.cli("reload")
    assert (again.returncode, again.stdout) == (EXIT_OK, "reloaded: nothing changed\n")
    host.write_config(_config(fake, openvz=False, history="64KiB") + "[broker.oops]\n")
    broken = host.cli("reload")
    assert broken.returncode == EXIT_USAGE and broken.stdout == ""
    assert broken.stderr.count("\n") == 1 and "the configuration stays as it was" in broken.stderr, broken.stderr
    host.write_config(_config(fake, openvz=True, history="64KiB") + '[[watches]]\nname = "x"\nregex = "[bad"\n')
    bad_watch = host.cli("reload")
    assert bad_watch.returncode == EXIT_USAGE and "watches[0].regex" in bad_watch.stderr, bad_watch.stderr
    assert {g["provider"] for g in _listing(host)["guests"]} == {"lab", "openvz"}
