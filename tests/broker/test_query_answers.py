"""Which client answers a console's terminal queries: the broker marks live output for exactly one.

A real lab guest (tests/query_guest.py) writes DA and DSR queries; real
clients attach. Replayed output is never marked ``answer``; live output is
marked for the attached read-write client that was active last, and for no
one else (docs/protocol.md, "Terminal queries").
"""

from __future__ import annotations

import asyncio
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from tests.lab_host import REPO, LabHost
from vconsole.broker.attachment import Attachment
from vconsole.broker.history import OutputHistory
from vconsole.client import Client
from vconsole.domain import AttachMode, Target

QUERY = b"\x1b[c\x1b[6n"
GUEST = Target("asker", console=0)


@pytest.fixture
def asker(lab_host: LabHost) -> LabHost:
    init = [sys.executable, "-u", str(REPO / "tests" / "query_guest.py"), str(lab_host.ctl_dir("asker"))]
    lab_host.start_lab(lab_host.write_fleet([{"id": 371, "name": "asker", "vttys": 1, "init": init}]))
    lab_host.start_broker()
    return lab_host


class Watcher:
    """A client attached to the asker, keeping its output events."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []

    async def until(self, marker: bytes) -> None:
        while marker not in b"".join(e["data"] for e in self.events):
            event = await asyncio.wait_for(self.client.events.get(), 10)
            if event.get("event") == "output":
                self.events.append(event)

    def marked(self, seq: int) -> set[bool]:
        """Whether the bytes of query ``seq`` came marked ``answer`` (a set: they may span events)."""
        data = b"".join(e["data"] for e in self.events)
        flags = b"".join(bytes([bool(e.get("answer"))]) * len(e["data"]) for e in self.events)
        at = data.index(f"ask {seq}\r\n".encode() + QUERY) + len(f"ask {seq}\r\n")
        return {bool(f) for f in flags[at : at + len(QUERY)]}


async def _attach(host: LabHost, mode: AttachMode, start: int | None = None) -> tuple[Watcher, Any]:
    watcher = Watcher(await host.client())
    reply = await watcher.client.attach(GUEST, mode, start=start)
    return watcher, reply.session


async def _ask(host: LabHost, seq: int, *watchers: Watcher) -> None:
    host.command("asker", seq, QUERY.hex())
    for w in watchers:
        await w.until(f"asked {seq}".encode())


async def test_only_the_latest_read_write_client_is_asked_to_answer(asker: LabHost) -> None:
    await _ask_unwatched(asker)
    a, a_key = await _attach(asker, AttachMode.RW, start=0)
    b = c = None
    try:
        await a.until(b"asked 1")
        assert a.marked(1) == {False}, "a replay is never answered"
        await _ask(asker, 2, a)
        assert a.marked(2) == {True}, "the only client answers live queries"

        b, _ = await _attach(asker, AttachMode.RW)
        await _ask(asker, 3, a, b)
        assert (a.marked(3), b.marked(3)) == ({False}, {True}), "the client that attached last answers"

        await a.client.input(a_key, b"k")  # typing makes a the active one again
        await _ask(asker, 4, a, b)
        assert (a.marked(4), b.marked(4)) == ({True}, {False})

        c, _ = await _attach(asker, AttachMode.RO)
        await _ask(asker, 5, a, b, c)
        assert (a.marked(5), b.marked(5), c.marked(5)) == ({True}, {False}, {False}), "a spy never answers"

        await a.client.detach(a_key)
        await _ask(asker, 6, b, c)
        assert (b.marked(6), c.marked(6)) == ({True}, {False}), "the writer's detach hands answering on"
    finally:
        for w in (a, b, c):
            if w is not None:
                await w.client.close()


async def _ask_unwatched(host: LabHost) -> None:
    client = await host.client()
    try:
        await _wait_connected(client)
    finally:
        await client.close()
    host.command("asker", 1, QUERY.hex())
    deadline = asyncio.get_running_loop().time() + 10
    while not (host.ctl_dir("asker") / "1.done").exists():
        assert asyncio.get_running_loop().time() < deadline, "the guest never asked"
        await asyncio.sleep(0.05)


async def _wait_connected(client: Client) -> None:
    for _ in range(200):
        listing = await client.list_guests()
        consoles = [c for g in listing["guests"] if g["name"] == "asker" for c in g["consoles"]]
        if consoles and consoles[0]["state"] == "connected" and consoles[0]["end"] > 0:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the asker's console never connected")


class _Sink:
    paused = False
    client_id = 1

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_output_across_the_replay_boundary_is_split_there() -> None:
    """History that grew between the attach and its first pump: the replay part stays unmarked."""
    history = OutputHistory(1 << 20)
    history.append(b"r" * 100)
    session = SimpleNamespace(history=history, key=SimpleNamespace(text="lab:1:vtty0"), sent=lambda offset: None)
    sink = _Sink()
    attachment = Attachment(session, sink, AttachMode.RW, cursor=40)  # type: ignore[arg-type]
    session.active_writer = lambda: attachment
    history.append(b"L" * 50)
    attachment.pump()
    assert [(e["offset"], e["data"], e.get("answer", False)) for e in sink.sent] == [
        (40, b"r" * 60, False),
        (100, b"L" * 50, True),
    ]
