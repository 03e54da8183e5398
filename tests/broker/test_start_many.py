"""A broker starting on a fleet of 160 consoles opens them concurrently and wires each to its own guest."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.lab_host import LabHost
from vconsole.broker.registry import OPEN_CONCURRENCY
from vconsole.snapshot.decode import decode

GUESTS, VTTYS = 16, 10  # 160 consoles


def _program(name: str) -> list[str]:
    # Printed before the broker holds the console: the lab keeps it in the
    # vtty's port buffer and hands it over when the console is opened.
    return ["sh", "-c", f"echo hello-{name}-end; exec sleep 100000"]


async def test_start_opens_every_console_and_keeps_them_apart(lab_host: LabHost, tmp_path: Path) -> None:
    assert GUESTS <= OPEN_CONCURRENCY  # every guest is opened at the same time
    names = [f"many{i}" for i in range(GUESTS)]
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 700 + i, "name": name, "vttys": VTTYS, "init": _program(name), "login": _program(name)}
        for i, name in enumerate(names)
    ]))
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        deadline = time.monotonic() + 60
        while True:
            listing = await client.request("list")
            consoles = [(g["name"], c) for g in listing["guests"] for c in g["consoles"]]
            states = [c["state"] for _, c in consoles]
            if len(consoles) == GUESTS * VTTYS and all(s == "connected" for s in states):
                break
            assert time.monotonic() < deadline, f"not all connected: {sorted(set(states))}, {len(consoles)}"
            await asyncio.sleep(0.2)
        assert [g["name"] for g in listing["guests"]] == names  # discovery order is kept
        # Every console's history holds its own guest's greeting and no other.
        deadline = time.monotonic() + 30
        while True:
            path = tmp_path / "all.vcsnap"
            await client.request("snapshot", all=True, path=str(path))
            snap = decode(path.read_bytes())
            greeted = {r.key: r.history.data for r in snap.records if b"-end" in r.history.data}
            if len(greeted) == GUESTS * VTTYS:
                break
            assert time.monotonic() < deadline, f"only {len(greeted)} consoles printed"
            await asyncio.sleep(0.5)
        assert [r.guest_name for r in snap.records] == [n for n in names for _ in range(VTTYS)]
        for rec in snap.records:
            assert f"hello-{rec.guest_name}-end".encode() in rec.history.data
            assert rec.history.data.count(b"hello-") == 1
    finally:
        await client.close()
