"""Acceptance 2: output written while nobody is attached is kept, up to the cap, and the rest is counted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.client import Client

CAP = 64 * 1024


def _console(listing: dict[str, Any], guest: str, name: str) -> dict[str, Any]:
    for g in listing["guests"]:
        if g["name"] == guest:
            for c in g["consoles"]:
                if c["name"] == name:
                    return c
    raise AssertionError(f"{guest}:{name} not listed: {listing}")


async def collect(client: Client, session: str, until: int, timeout: float = 20) -> tuple[bytes, list[dict[str, Any]]]:
    """Output events of ``session`` up to offset ``until``, and any missed events."""
    data = bytearray()
    missed = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    end = None
    while end is None or end < until:
        event = await asyncio.wait_for(client.events.get(), max(0.1, deadline - loop.time()))
        if event.get("session") != session:
            continue
        if event["event"] == "output":
            if end is not None:
                assert event["offset"] == end, "output must be contiguous"
            data += event["data"]
            end = event["offset"] + len(event["data"])
        elif event["event"] == "missed":
            missed.append(event)
            end = event["offset"]
    return bytes(data), missed


@pytest.mark.parametrize("logged", [False, True], ids=["no-log", "log"])
async def test_unattached_output_is_kept_up_to_the_cap(lab_host: LabHost, logged: bool) -> None:
    # With a console log, memory is its hot tail: what the cap evicts is still on disk.
    log = "" if logged else "[log]\nenabled = false\n"
    lab_host.write_config(f'[broker]\nhistory = "{CAP // 1024}KiB"\n{log}')
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 201, "name": "quiet", "vttys": 1, "init": lab_host.scripted("quiet")},
    ]))
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        # Wait for the guest's READY, then make it print 300 KiB with nobody attached.
        total_before = 0
        for _ in range(100):
            con = _console(await client.request("list"), "quiet", "vtty0")
            if con["end"] >= 6:
                total_before = con["end"]
                break
            await asyncio.sleep(0.05)
        assert total_before == len(b"READY\n")
        lab_host.command("quiet", 1, "write 307200")
        await asyncio.to_thread(lab_host.wait_done, "quiet", 1)
        expected = b"READY\n" + pattern(1, 307200)
        for _ in range(200):
            con = _console(await client.request("list"), "quiet", "vtty0")
            if con["end"] == len(expected):
                break
            await asyncio.sleep(0.05)
        assert con["end"] == len(expected)
        assert con["history"] == CAP
        assert con["dropped"] == (0 if logged else len(expected) - CAP)
        assert con["unread"] == (len(expected) if logged else CAP)
        assert con["clients"] == 0

        reply = await client.request("attach", target="quiet", console=0, mode="ro", **{"from": 0})
        kept = len(expected) if logged else CAP
        assert reply["missed"] == len(expected) - kept
        assert reply["offset"] == len(expected) - kept
        data, missed = await collect(client, reply["session"], len(expected))
        assert missed == []
        assert data == expected[-kept:]
        con = _console(await client.request("list"), "quiet", "vtty0")
        assert con["unread"] == 0 and con["clients"] == 1
    finally:
        await client.close()
