"""Snapshot and restore of 1000+ consoles holding 1 MiB of history each: time and file size.

The scale fleet (84 containers x 12 vttys), where every console first prints
a little over 1 MiB (so each 1 MiB history is full) and then sleeps. Then
``snapshot`` of every console to a file and ``restore`` of that file into the
live consoles, through the broker's protocol ops (what ``vconsole snapshot
--all -o FILE`` and ``vconsole restore FILE`` send). The reference is copying
the same number of history bytes: writing them to a file and reading them back.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Gate, lab
from benchmarks.report import Report, Row, Stats
from benchmarks.scale import CONTAINERS, VTTYS, fleet, wait_all_connected
from tests.lab_host import LabHost

MIB = 1 << 20
# 64-byte lines (63 + CRLF after the pty's onlcr): a little more than 1 MiB, then idle.
TALK = ("yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789a | head -c 1070000; "
        "exec sleep 100000")


async def _full(host: LabHost, count: int, timeout: float = 240) -> float:
    client = await host.client()
    began = time.monotonic()
    try:
        while True:
            listing = await client.request("list")
            full = sum(c["history"] >= MIB for g in listing["guests"] for c in g["consoles"])
            if full >= count:
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"only {full} of {count} histories full")
            await asyncio.sleep(1)
    finally:
        await client.close()


async def _snapshot_restore(host: LabHost, path: Path, repeat: int) -> tuple[list[float], list[float], int, int]:
    client = await host.client()
    snaps, restores, records = [], [], 0
    try:
        for _ in range(repeat):
            began = time.perf_counter()
            reply = await client.request("snapshot", path=str(path), all=True)
            snaps.append(time.perf_counter() - began)
            records = int(reply["records"])
            began = time.perf_counter()
            await client.request("restore", path=str(path), inject_input=False)
            restores.append(time.perf_counter() - began)
        return snaps, restores, records, path.stat().st_size
    finally:
        await client.close()


def _reference(nbytes: int, path: Path) -> tuple[float, float]:
    """Seconds to write ``nbytes`` to a file (fsync included, as the broker does) and to read them back."""
    block = os.urandom(MIB)
    began = time.perf_counter()
    with open(path, "wb") as f:
        for _ in range(nbytes // MIB):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    wrote = time.perf_counter() - began
    began = time.perf_counter()
    with open(path, "rb") as f:
        while f.read(16 * MIB):
            pass
    read = time.perf_counter() - began
    path.unlink()
    return wrote, read


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    try:
        from vconsole.broker.snapshots import requests  # noqa: F401
    except ImportError:
        report.add([Row("snapshot", "snapshot/restore", "s", None, note="not available yet")])
        report.note("snapshot", "vconsole has no snapshot operation yet: nothing measured.")
        return
    count = CONTAINERS * VTTYS
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="vcbn") as tmp:
        gate = Gate(Path(tmp))
        talk = gate.guard(TALK)
        with lab(fleet(talk, talk), start_timeout=180) as host:
            asyncio.run(wait_all_connected(host, count, poll=0.2))
            gate.open()  # the broker holds every console: now every guest prints its 1 MiB
            filled = asyncio.run(_full(host, count))
            path = Path(tmp) / "all.vcsnap"
            snaps, restores, records, size = asyncio.run(_snapshot_restore(host, path, repeat))
            path.unlink()
        refs = [_reference(count * MIB, Path(tmp) / "ref.bin") for _ in range(repeat)]
    report.add([
        Row("snapshot", f"snapshot --all ({records} x 1 MiB)", "s", Stats(snaps),
            "write+fsync the same bytes to a file", Stats([w for w, _ in refs]), "< 5 s", absolute_max=5.0),
        Row("snapshot", "restore of that file", "s", Stats(restores),
            "read the same bytes from a file", Stats([r for _, r in refs])),
        Row("snapshot", "file size", "MiB", Stats([size / MIB]), "history bytes held",
            Stats([count * MIB / MIB])),
    ])
    report.note("snapshot", f"{count} consoles each printed ~1.02 MiB so every 1 MiB history is full "
                f"({filled:.0f} s to fill, once the broker held every console: the guests wait on a flock "
                f"until then, since a vtty with no reader keeps only 4 KiB); snapshot and restore through the broker's `snapshot` "
                f"(all: true) and `restore` ops, {repeat} runs, each restore into the live consoles.")
