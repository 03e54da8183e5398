"""Read turns: a flooding console neither starves the others nor outruns its own clients.

The broker reads a console for at most a bounded turn (and stops at a short
pty read) before it pumps clients and lets the event loop serve everyone
else. These tests use real guests, a real broker and real sockets; they
assert what happened in which order, never how long it took.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from typing import Any

from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.broker.session import READ_BUDGET, ConsoleSession
from vconsole.client import Client
from vconsole.console.pty_endpoint import READ_CHUNK, PtyEndpoint
from vconsole.providers.base import ConsoleSpec, GuestInfo

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


async def test_one_read_turn_takes_a_bounded_share_of_a_full_source() -> None:
    """However much is waiting, a turn reads at most READ_BUDGET (plus the read that crossed it).

    A pipe stands in for the pty here because it can hold a whole MiB before
    the turn starts, so the bound is checked exactly, not by timing.
    """
    rfd, wfd = os.pipe()
    size = 1 << 20
    fcntl.fcntl(wfd, fcntl.F_SETPIPE_SZ, size)
    os.write(wfd, pattern(1, size))
    guest = GuestInfo(provider="test", host="h", kind="container", id="1", name="t", state="running")
    session = ConsoleSession(guest, ConsoleSpec("vtty", 0), 4 << 20, lambda s: None, lambda s: None)
    try:
        session.bind(PtyEndpoint(rfd))  # binding reads one turn at once
        first = len(session.history)
        assert 0 < first <= READ_BUDGET + READ_CHUNK < size
        for _ in range(1000):  # the loop takes the rest in later turns
            if len(session.history) == size:
                break
            await asyncio.sleep(0.001)
        assert session.history.read(0) == pattern(1, size)
    finally:
        session.unbind("disconnected")
        os.close(wfd)


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
    # The default 1 MiB history: at this pace the client has ~60 ms of slack,
    # which a host stealing CPU can take from it now and then. So up to three
    # tries, each of which must account for every byte exactly, and one of
    # which must miss nothing (a collapse check; the turn bound itself is
    # checked exactly above).
    _fleet(lab_host)
    reader = await lab_host.client()
    size = 24 * 1024 * 1024
    try:
        session, seen = await _attach_tracking(reader, "flood", "ro")
        assert session == "lab:361:vtty0"
        for attempt in range(1, 4):
            begin, received, missed = seen["end"], len(seen["data"]), seen["missed"]
            lab_host.command("flood", attempt, f"write {size} 16000000")
            await asyncio.to_thread(lab_host.wait_done, "flood", attempt, 60)
            for _ in range(3000):
                if seen["end"] >= begin + size:
                    break
                await asyncio.sleep(0.01)
            got = len(seen["data"]) - received
            lost = seen["missed"] - missed
            assert seen["end"] == begin + size and got + lost == size  # every byte received or counted
            if lost == 0:
                assert bytes(seen["data"][received:]) == pattern(attempt, size)
                break
        else:
            raise AssertionError("the client missed bytes of a paced flood in three tries out of three")
    finally:
        await reader.close()
