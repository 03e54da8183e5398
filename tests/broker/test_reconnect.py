"""Issue 14 item 3: ReconnectingClient outlives the broker and resumes its consoles from their offsets.

A real lab and a real broker process; the broker is stopped (SIGTERM: it
saves its histories) or killed (SIGKILL: it does not) and started again.
The client's connect is gated by the test, so what happens while it is away
is decided before it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import pytest

from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.client import BrokerUnreachable, Client
from vconsole.domain import AttachMode, SessionKey, parse_target
from vconsole.reconnect import (
    Backoff,
    Connected,
    Disconnected,
    GaveUp,
    LinkEvent,
    ReconnectingClient,
    Resumed,
    ResumeFailed,
)

CAP = 64 * 1024
PORT_BUFFER = 4096
READY = b"READY\n"


class Recorder:
    """A ReconnectingClient and everything it reported, in order."""

    def __init__(self, lab_host: LabHost, **options: Any) -> None:
        self.lab_host = lab_host
        self.gate = asyncio.Event()  # connections after the first wait for it
        self.gate.set()
        self.links: list[LinkEvent] = []
        self.output = bytearray()
        self.offsets: list[tuple[int, int]] = []  # (offset, length) of each output event
        self.changed = asyncio.Event()
        options.setdefault("backoff", Backoff(0.05, 0.2))
        self.link = ReconnectingClient(self._connect, self._on_link, self._on_event, **options)

    async def _connect(self) -> Client:
        await self.gate.wait()
        return await Client.connect(self.lab_host.paths, autostart=False)

    def _on_link(self, event: LinkEvent) -> None:
        self.links.append(event)
        self.changed.set()

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") == "output":
            self.offsets.append((event["offset"], len(event["data"])))
            self.output += event["data"]
        self.changed.set()

    async def wait(self, check: Any, what: str, timeout: float = 20.0) -> None:
        """Wait until ``check()`` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            self.changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                pytest.fail(f"{what} never happened; link events {self.links}, output {bytes(self.output[-200:])!r}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.links if isinstance(e, kind)]


def _fleet(lab_host: LabHost, logged: bool = True) -> None:
    """The keeper guest, a small history, and a console log unless ``logged`` is False."""
    log = "" if logged else "[log]\nenabled = false\n"
    lab_host.write_config(f'[broker]\nhistory = "{CAP // 1024}KiB"\n{log}')
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 301, "name": "keeper", "vttys": 1, "init": lab_host.scripted("keeper")},
    ]))
    lab_host.start_broker()


async def _attached(lab_host: LabHost, **options: Any) -> tuple[Recorder, SessionKey]:
    rec = Recorder(lab_host, **options)
    await rec.link.start()
    reply = await rec.link.attach(parse_target("keeper:0"), AttachMode.RO, start=0)
    await rec.wait(lambda: bytes(rec.output) == READY, "READY")
    return rec, reply.session


async def _write(lab_host: LabHost, seq: int, count: int) -> bytes:
    lab_host.command("keeper", seq, f"write {count}")
    await asyncio.to_thread(lab_host.wait_done, "keeper", seq)
    return pattern(seq, count)


async def test_resumes_after_a_graceful_restart_from_its_offset_and_reports_lost_bytes(lab_host: LabHost) -> None:
    _fleet(lab_host)
    rec, session = await _attached(lab_host)
    try:
        first = await _write(lab_host, 1, 1000)
        await rec.wait(lambda: bytes(rec.output) == READY + first, "the first write")
        rec.gate.clear()
        lab_host.kill_broker(signal.SIGTERM)  # saves the history: offsets go on
        await rec.wait(lambda: rec.of(Disconnected), "Disconnected")
        assert rec.link.client is None
        assert not rec.link.input_nowait(session, b"x"), "keys are refused while disconnected"
        # Nobody holds the console: the lab keeps 4 KiB of it and zaps the rest.
        second = await _write(lab_host, 2, 10000)
        lab_host.start_broker()
        rec.gate.set()
        await rec.wait(lambda: rec.of(Resumed), "Resumed")
        resumed = rec.of(Resumed)[0]
        assert [type(e) for e in rec.links] == [Connected, Disconnected, Connected, Resumed]
        assert rec.links[2] == Connected(reconnected=True)
        assert resumed.session == session
        assert not resumed.history_restarted
        assert resumed.missed == 0
        assert resumed.lost == 10000 - PORT_BUFFER
        before = len(READY + first)
        assert resumed.reply.offset == before, "re-attached from the last byte it had"
        await rec.wait(lambda: len(rec.output) == before + PORT_BUFFER, "the port buffer's bytes")
        assert bytes(rec.output[before:]) in second
        # Live again: new output follows.
        third = await _write(lab_host, 3, 500)
        await rec.wait(lambda: bytes(rec.output).endswith(third), "output after the resume")
        # One history throughout: every output event starts where the one before ended.
        ends = [offset + length for offset, length in rec.offsets]
        assert [offset for offset, _ in rec.offsets] == [0, *ends[:-1]]
    finally:
        await rec.link.close()


@pytest.mark.parametrize("logged", [False, True], ids=["no-log", "log"])
async def test_missed_bytes_are_reported_exactly(lab_host: LabHost, logged: bool) -> None:
    _fleet(lab_host, logged)
    rec, _session = await _attached(lab_host)
    try:
        rec.gate.clear()
        lab_host.kill_broker(signal.SIGTERM)
        await rec.wait(lambda: rec.of(Disconnected), "Disconnected")
        lab_host.start_broker()
        # While the client is away, the new broker's history wraps past its offset.
        flood = await _write(lab_host, 1, 3 * CAP)
        probe = await lab_host.client()
        try:
            for _ in range(200):
                listing = await probe.list_guests()
                console = listing["guests"][0]["consoles"][0]
                if console["end"] == len(READY) + len(flood):
                    break
                await asyncio.sleep(0.05)
        finally:
            await probe.close()
        rec.gate.set()
        await rec.wait(lambda: rec.of(Resumed), "Resumed")
        resumed = rec.of(Resumed)[0]
        end = len(READY) + len(flood)
        if logged:  # what memory no longer holds comes from the console's log: nothing missed
            assert (resumed.missed, resumed.reply.offset) == (0, len(READY))
            await rec.wait(lambda: len(rec.output) == end, "the whole flood from the log")
            assert bytes(rec.output) == READY + flood
            return
        assert resumed.missed == end - CAP - len(READY)
        assert resumed.reply.offset == end - CAP
        await rec.wait(lambda: len(rec.output) == len(READY) + CAP, "the history's bytes")
        assert bytes(rec.output[len(READY):]) == flood[-CAP:]
    finally:
        await rec.link.close()


@pytest.mark.parametrize("logged", [False, True], ids=["no-log", "log"])
async def test_a_killed_broker_gives_a_new_history_replayed_from_its_start(lab_host: LabHost, logged: bool) -> None:
    _fleet(lab_host, logged)
    rec, _session = await _attached(lab_host)
    try:
        first = await _write(lab_host, 1, 30000)
        await rec.wait(lambda: bytes(rec.output) == READY + first, "the first write")
        rec.gate.clear()
        lab_host.kill_broker(signal.SIGKILL)  # nothing saved: the next broker starts a new history
        await rec.wait(lambda: rec.of(Disconnected), "Disconnected")
        second = await _write(lab_host, 2, 2000)
        lab_host.start_broker()
        rec.gate.set()
        await rec.wait(lambda: rec.of(Resumed), "Resumed")
        resumed = rec.of(Resumed)[0]
        if logged:  # the log kept the history and its offsets: the client resumes where it was
            assert not resumed.history_restarted and resumed.reply.offset == len(READY + first)
            await rec.wait(lambda: len(rec.output) == len(READY + first) + 2000, "the rest")
            assert bytes(rec.output) == READY + first + second
            return
        assert resumed.history_restarted
        # Its offset (30006) would be past the new history's end: replay from the start instead.
        assert resumed.reply.offset == resumed.reply.start == 0
        await rec.wait(lambda: len(rec.output) == len(READY + first) + 2000, "the new history")
        assert bytes(rec.output[len(READY + first):]) == second
    finally:
        await rec.link.close()


async def test_told_not_to_wait_it_gives_up_at_once_or_after_the_timeout(lab_host: LabHost) -> None:
    _fleet(lab_host)
    now, _ = await _attached(lab_host, reconnect=False)
    later, _ = await _attached(lab_host, timeout=1.0)
    try:
        loop = asyncio.get_running_loop()
        lost_at = loop.time()
        lab_host.kill_broker(signal.SIGKILL)
        await now.wait(lambda: now.of(GaveUp), "GaveUp (no reconnect)")
        assert [type(e) for e in now.links] == [Connected, Disconnected, GaveUp]
        await later.wait(lambda: later.of(GaveUp), "GaveUp (timeout)")
        waited = loop.time() - lost_at
        assert 0.9 <= waited < 5, waited
        assert "1 s" in later.of(GaveUp)[0].reason
    finally:
        await now.link.close()
        await later.link.close()


async def test_a_console_gone_while_away_fails_to_resume(lab_host: LabHost) -> None:
    _fleet(lab_host)
    rec, session = await _attached(lab_host)
    try:
        rec.gate.clear()
        lab_host.kill_broker(signal.SIGTERM)
        await rec.wait(lambda: rec.of(Disconnected), "Disconnected")
        await lab_host.destroy("keeper")
        lab_host.start_broker()
        rec.gate.set()
        await rec.wait(lambda: rec.of(ResumeFailed), "ResumeFailed")
        failed = rec.of(ResumeFailed)[0]
        assert failed.session == session and failed.code == "unknown_guest"
        assert session.text not in rec.link.sessions
    finally:
        await rec.link.close()


async def test_the_first_connect_fails_plainly(lab_host: LabHost) -> None:
    rec = Recorder(lab_host)
    with pytest.raises(BrokerUnreachable):
        await rec.link.start()

