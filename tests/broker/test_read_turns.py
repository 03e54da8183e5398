"""Read turns: a flooding console neither starves the others nor outruns its own clients.

The broker reads a console for at most a bounded turn (and stops at a short
pty read) before it pumps clients and lets the event loop serve everyone
else. These tests use real guests, a real broker and real sockets; they
assert what happened in which order, never how long it took.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.client import Client

FLOOD = 48 * 1024 * 1024


def _fleet(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 361, "name": "flood", "vttys": 1, "init": lab_host.scripted("flood")},
        {"id": 362, "name": "keys", "vttys": 1, "init": [*lab_host.scripted("keys"), "--hexecho"]},
    ]))
    lab_host.start_broker()


async def _attach_tracking(client: Client, target: str, mode: str) -> tuple[str, dict[str, Any]]:
    """Attach from offset 0; ``seen`` follows the output offsets as they arrive."""
    seen: dict[str, Any] = {"end": 0, "data": bytearray(), "missed": 0}

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "output":
            seen["data"] += event["data"]
            seen["end"] = event["offset"] + len(event["data"])
        elif event["event"] == "missed":
            seen["missed"] += event["count"]
            seen["end"] = event["offset"]

    client.on_event = on_event
    reply = await client.request("attach", target=target, mode=mode, **{"from": 0})
    while b"READY" not in seen["data"]:
        await asyncio.sleep(0.01)
    return reply["session"], seen


async def test_a_flooding_console_does_not_starve_another(lab_host: LabHost) -> None:
    _fleet(lab_host)
    watcher, typist = await lab_host.client(), await lab_host.client()
    try:
        _, flood = await _attach_tracking(watcher, "flood", "ro")
        session, keys = await _attach_tracking(typist, "keys", "rw")
        flood_end = len(b"READY\n") + FLOOD
        lab_host.command("flood", 1, f"write {FLOOD}")
        while flood["end"] < 1 << 20:  # the flood is under way
            await asyncio.sleep(0.005)
        # Type one key at a time, each after the echo of the one before.
        for n, key in enumerate(b"abcdef", start=1):
            typist.send_nowait("input", session=session, data=bytes([key]))
            while keys["data"].count(b"\n") <= n:  # READY, then one in:XX line per key
                await asyncio.sleep(0.002)
        # Every key went to the guest and came back while the other console was still flooding.
        in_flight = flood["end"]
        assert in_flight < flood_end, "the flood ended before the keys came back: make FLOOD larger"
        assert keys["data"].count(b"in:") == 6
        # ... and the flood itself went on to the end.
        while flood["end"] < flood_end:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(lab_host.wait_done, "flood", 1, 60)
    finally:
        await watcher.close()
        await typist.close()


async def test_a_client_keeps_up_with_a_paced_flood(lab_host: LabHost) -> None:
    # The default 1 MiB history. Turns of up to 1 MiB (before pumping the
    # clients) made a client reading at this pace miss bytes now and then.
    _fleet(lab_host)
    reader = await lab_host.client()
    try:
        session, seen = await _attach_tracking(reader, "flood", "ro")
        size = 24 * 1024 * 1024
        lab_host.command("flood", 1, f"write {size} 16000000")
        await asyncio.to_thread(lab_host.wait_done, "flood", 1, 60)
        for _ in range(3000):
            if seen["end"] >= len(b"READY\n") + size:
                break
            await asyncio.sleep(0.01)
        assert seen["missed"] == 0
        assert bytes(seen["data"]) == b"READY\n" + pattern(1, size)
        assert session == "lab:361:vtty0"
    finally:
        await reader.close()
