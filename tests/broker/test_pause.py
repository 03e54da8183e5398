"""Pause and resume: a client's hidden console is sent no output; resumed, it continues or skips as asked.

A real lab and broker: the guest writes while the attachment is paused, and
what the client is sent afterwards is checked byte for byte, by offset.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from tests.broker.test_history_cap import _console, collect
from tests.broker.test_reconnect import CAP, READY, Recorder, _fleet, _write
from tests.lab_host import LabHost
from vconsole.client import Client, RequestFailed
from vconsole.domain import AttachMode, SessionKey, parse_target
from vconsole.reconnect import Resumed


async def _end(client: Client, at_least: int) -> int:
    """The console's history end, once it reaches ``at_least``."""
    for _ in range(200):
        end = int(_console(await client.request("list"), "keeper", "vtty0")["end"])
        if end >= at_least:
            return end
        await asyncio.sleep(0.05)
    raise AssertionError(f"the history never reached {at_least}")


def _outputs(client: Client, session: str) -> list[dict[str, Any]]:
    """The output and missed events of ``session`` queued so far (the queue is emptied)."""
    events = []
    while not client.events.empty():
        event = client.events.get_nowait()
        if event.get("session") == session and event["event"] in ("output", "missed"):
            events.append(event)
    return events


async def _attached(lab_host: LabHost, logged: bool = True) -> tuple[Client, SessionKey]:
    _fleet(lab_host, logged)
    client = await lab_host.client()
    reply = await client.attach(parse_target("keeper:0"), AttachMode.RW, start=0)
    data, _ = await collect(client, reply.session.text, len(READY))
    assert data == READY
    return client, reply.session


async def test_a_paused_client_is_sent_nothing_and_resumes_where_it_paused(lab_host: LabHost) -> None:
    client, session = await _attached(lab_host)
    try:
        await client.request("pause", session=session.text)
        described = _console(await client.request("list"), "keeper", "vtty0")["attached"]
        assert [a["paused"] for a in described] == [True]
        first = await _write(lab_host, 1, 1000)
        end = await _end(client, len(READY) + 1000)
        await asyncio.sleep(0.3)
        assert _outputs(client, session.text) == [], "a paused client was sent output"

        reply = await client.resume(session)
        assert (reply.offset, reply.end, reply.skipped, reply.missed) == (len(READY), end, 0, 0)
        events: list[dict[str, Any]] = []
        while sum(len(e["data"]) for e in events) < len(first):
            event = await asyncio.wait_for(client.events.get(), 10)
            if event.get("session") == session.text and event["event"] == "output":
                events.append(event)
        assert b"".join(e["data"] for e in events) == first
        assert events[0]["offset"] == len(READY)
        # What was written while paused is a replay: never marked for answering; live output is.
        assert not any(e.get("answer") for e in events)
        second = await _write(lab_host, 2, 100)
        data, missed = await collect(client, session.text, end + 100)
        assert data == second and missed == []
        assert _console(await client.request("list"), "keeper", "vtty0")["attached"][0]["paused"] is False
    finally:
        await client.close()


@pytest.mark.parametrize("logged", [False, True], ids=["no-log", "log"])
async def test_resuming_at_the_last_lines_skips_the_rest_and_a_wrapped_cursor_is_told_what_it_missed(
    lab_host: LabHost, logged: bool
) -> None:
    client, session = await _attached(lab_host, logged)
    try:
        # A flood bigger than the history, then the newest three lines (64 bytes each).
        await client.request("pause", session=session.text)
        flood = await _write(lab_host, 1, 3125 * 64)
        end = await _end(client, len(READY) + len(flood))
        reply = await client.resume(session, tail_lines=3)
        assert reply.offset == end - 3 * 64
        assert (reply.skipped, reply.missed) == (end - 3 * 64 - len(READY), 0)
        assert reply.start == end - CAP
        data, missed = await collect(client, session.text, end)
        assert data == flood[-3 * 64 :] and missed == []

        # Resumed where it paused, after the history wrapped past it: missed, as an attach says.
        await client.request("pause", session=session.text)
        more = await _write(lab_host, 2, 100_000)
        end2 = await _end(client, end + len(more))
        reply = await client.resume(session)
        if logged:  # the log holds what memory dropped: resumed where it paused, nothing missed
            assert (reply.offset, reply.skipped, reply.missed) == (end, 0, 0)
            data, missed = await collect(client, session.text, end2)
            assert data == more and missed == []
        else:
            assert (reply.offset, reply.skipped) == (end2 - CAP, end2 - CAP - end)
            assert reply.missed == end2 - CAP - end
            data, missed = await collect(client, session.text, end2)
            assert data == more[-CAP:] and missed == []

        # A cursor never moves back; a bad request changes nothing.
        await client.request("pause", session=session.text)
        reply = await client.resume(session, start=0)
        assert (reply.offset, reply.skipped, reply.missed) == (end2, 0, 0)
        try:
            await client.request("resume", session=session.text, tail_lines=1, **{"from": 0})
        except RequestFailed as exc:
            assert exc.code == "bad_request"
        else:
            raise AssertionError("from and tail_lines together were accepted")
        try:
            await client.request("pause", session="lab:999:vtty0")
        except RequestFailed as exc:
            assert exc.code == "not_attached"
        else:
            raise AssertionError("pausing a session not attached was accepted")
    finally:
        await client.close()


async def test_a_paused_session_stays_paused_across_a_broker_restart_and_resumes_contiguously(
    lab_host: LabHost,
) -> None:
    _fleet(lab_host)
    rec = Recorder(lab_host)
    await rec.link.start()
    try:
        reply = await rec.link.attach(parse_target("keeper:0"), AttachMode.RO, start=0)
        session = reply.session
        await rec.wait(lambda: bytes(rec.output) == READY, "READY")
        rec.link.pause_nowait(session)
        lab_host.kill_broker(signal.SIGTERM)  # saves the history: offsets go on
        lab_host.start_broker()
        await rec.wait(lambda: rec.of(Resumed), "Resumed")
        first = await _write(lab_host, 1, 2000)
        await asyncio.sleep(1.0)
        assert bytes(rec.output) == READY, "re-attached paused, it was sent output"
        resumed = await rec.link.resume(session)
        assert resumed is not None and resumed.offset == len(READY)
        await rec.wait(lambda: bytes(rec.output) == READY + first, "the output written while paused")
        ends = [offset + length for offset, length in rec.offsets]
        assert [offset for offset, _ in rec.offsets] == [0, *ends[:-1]]
    finally:
        await rec.link.close()
