"""Watchers hear of a console's new output (its unread count) as events: once a second at most, nothing when idle."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.broker.test_history_cap import _console
from tests.lab_host import LabHost
from vconsole.broker.server import OUTPUT_REPORT_INTERVAL
from vconsole.client import Client


async def drain(client: Client, seconds: float) -> list[dict[str, Any]]:
    """Every event that arrives within ``seconds``."""
    events = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            events.append(await asyncio.wait_for(client.events.get(), left))
        except TimeoutError:
            break
    return events


def reports(events: list[dict[str, Any]], guest: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == "state" and e.get("guest") == guest]


async def test_output_growth_is_reported_to_watchers_and_an_idle_host_sends_nothing(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 401, "name": "talker", "vttys": 1, "init": lab_host.scripted("talker")},
        {"id": 402, "name": "quiet", "vttys": 2, "init": ["sleep", "100000"], "login": ["sleep", "100000"]},
    ]))
    lab_host.start_broker()
    client, watcher = await lab_host.client(), await lab_host.client()
    try:
        for _ in range(100):
            if _console(await client.request("list"), "talker", "vtty0")["end"] >= 6:  # READY\n
                break
            await asyncio.sleep(0.1)
        await watcher.request("watch")
        # The first report after a watcher appears may name every console once.
        await drain(watcher, 3 * OUTPUT_REPORT_INTERVAL)

        idle = await drain(watcher, 3 * OUTPUT_REPORT_INTERVAL)
        assert idle == [], f"an idle host sent events: {idle}"

        before = _console(await client.request("list"), "talker", "vtty0")
        lab_host.command("talker", 1, "write 5000")
        await asyncio.to_thread(lab_host.wait_done, "talker", 1)
        events = await drain(watcher, 3 * OUTPUT_REPORT_INTERVAL)
        told = reports(events, "talker")
        assert told, f"no report of talker's output: {events}"
        last = told[-1]["console"]
        assert last["session"] == before["session"]
        assert last["end"] == before["end"] + 5000
        assert last["unread"] == before["unread"] + 5000  # nobody is attached: all of it unread
        # One write, one report or two (if it straddled a report), never one per read.
        assert len(told) <= 2, told
        assert reports(events, "quiet") == []
    finally:
        await client.close()
        await watcher.close()
