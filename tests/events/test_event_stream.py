"""The broker's event stream with a real lab and broker: watch hits, alerts, acknowledging, following."""

from __future__ import annotations

import asyncio
import os
import time

from tests.conftest import wait_for
from tests.lab_host import LabHost
from vconsole.client import Client
from vconsole.console_events import ConsoleAlert, ConsoleEvent, EventKind
from vconsole.domain import AttachMode, Severity, parse_target
from vconsole.protocol import Events

FOREVER = "sleep 1000"
# The panic's first line comes in two writes half a second apart (as a slow serial console gives it).
PANIC = (
    "printf 'Kernel pan'; sleep 0.5; printf 'ic - not syncing: Fatal exception\\n'; "
    "printf 'CPU: 0 PID: 1 Comm: init Not tainted\\n---[ end Kernel panic - not syncing: Fatal exception ]---\\n'"
)


def _events(lab_host: LabHost, request: Events) -> list[ConsoleEvent]:
    async def read() -> list[ConsoleEvent]:
        client = await Client.connect(lab_host.paths, autostart=False)
        try:
            return (await client.read_events(request)).events
        finally:
            await client.close()

    return asyncio.run(read())


def test_a_panic_split_over_two_writes_is_one_event_with_its_line_and_offset(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet([
        {"id": 501, "name": "db", "vttys": 1, "init": f"sleep 1; {PANIC}; {FOREVER}"},
        {"id": 502, "name": "web", "vttys": 1, "init": f"echo fine; {FOREVER}"},
    ])
    lab_host.start_lab(fleet)
    lab_host.start_broker()

    def panics() -> list[ConsoleEvent]:
        return [e for e in _events(lab_host, Events()) if e.kind == EventKind.WATCH]

    wait_for(lambda: panics(), what="the panic event")
    (panic,) = panics()
    assert (panic.name, panic.severity, panic.guest) == ("panic", Severity.CRITICAL, "db")
    assert panic.text == "Kernel panic - not syncing: Fatal exception"
    assert panic.offset is not None
    history = lab_host.cli("log", "db", "--raw").stdout
    assert history.encode()[panic.offset :].startswith(b"Kernel panic - not syncing")
    only_web = _events(lab_host, Events(target=parse_target("web")))
    assert all(e.guest == "web" for e in only_web)
    assert _events(lab_host, Events(severity=Severity.CRITICAL)) == [panic]


def test_alert_rises_and_acknowledging_clears_it(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet([{"id": 503, "name": "db", "vttys": 1, "init": f"sleep 1; {PANIC}; {FOREVER}"}])
    lab_host.start_lab(fleet)
    lab_host.start_broker()

    async def run() -> None:
        client = await Client.connect(lab_host.paths, autostart=False)
        try:
            followed = await client.read_events(Events(follow=True, severity=Severity.WARNING))
            assert followed.events == []
            pushed = await asyncio.wait_for(client.events.get(), 15)
            assert pushed["event"] == "console_event"
            event = ConsoleEvent.from_wire(pushed)
            assert (event.kind, event.name) == (EventKind.WATCH, "panic")
            listing = await client.list_guests()
            console = listing["guests"][0]["consoles"][0]
            assert ConsoleAlert.from_wire(console["alert"]) == ConsoleAlert(Severity.CRITICAL, "panic", 1, event.seq)
            assert await client.acknowledge(parse_target("db")) == 1
            listing = await client.list_guests()
            assert listing["guests"][0]["consoles"][0]["alert"] is None
        finally:
            await client.close()

    asyncio.run(run())


def test_attached_clients_and_their_events_name_uid_pid_mode_and_since(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet([{"id": 504, "name": "app", "vttys": 1, "init": f"echo up; {FOREVER}"}])
    lab_host.start_lab(fleet)
    lab_host.start_broker()

    async def run() -> None:
        client = await Client.connect(lab_host.paths, autostart=False)
        try:
            before = time.time()
            reply = await client.attach(parse_target("app"), AttachMode.RO)
            listing = await client.list_guests()
            (attached,) = listing["guests"][0]["consoles"][0]["attached"]
            assert (attached["uid"], attached["pid"], attached["mode"]) == (os.getuid(), os.getpid(), "ro")
            assert before - 1 <= attached["since"] <= time.time()
            await client.detach(reply.session)
            found = (await client.read_events(Events(target=parse_target("app")))).events
            clients = [(e.kind, e.uid, e.pid, e.mode) for e in found if e.kind in (EventKind.ATTACH, EventKind.DETACH)]
            assert clients == [
                (EventKind.ATTACH, os.getuid(), os.getpid(), AttachMode.RO),
                (EventKind.DETACH, os.getuid(), os.getpid(), AttachMode.RO),
            ]
        finally:
            await client.close()

    asyncio.run(run())
