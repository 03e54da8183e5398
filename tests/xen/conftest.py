"""Helpers for the domU console tests: a real lab, a real broker, real pages.

The ``runtime`` and ``lab_host`` fixtures come from tests/conftest.py; this
adds ways to read a console's whole history and its ``list`` entry.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from vconsole.client import Client
from vconsole.console.xen_endpoint import CONNECTED_BANNER, HYPERVISOR_BANNER

HERE = Path(__file__).parent


async def console_info(client: Client, guest: str, console: str = "pv0") -> dict[str, Any]:
    """The ``list`` entry of one console (with the guest's name under ``guest``)."""
    listing = await client.request("list")
    for g in listing["guests"]:
        if g["name"] == guest:
            for c in g["consoles"]:
                if c["name"] == console:
                    return {**c, "guest": g}
    raise AssertionError(f"no console {guest}:{console} in {listing}")


async def wait_console(
    client: Client, guest: str, pred: Any, timeout: float = 20.0, console: str = "pv0"
) -> dict[str, Any]:
    """Poll ``list`` until ``pred(info)`` holds."""
    deadline = time.monotonic() + timeout
    info: dict[str, Any] = {}
    while time.monotonic() < deadline:
        info = await console_info(client, guest, console)
        if pred(info):
            return info
        await asyncio.sleep(0.05)
    raise AssertionError(f"{guest}:{console} never reached the condition; last: {info}")


async def read_history(client: Client, guest: str, console: str | None = None) -> tuple[bytes, dict[str, Any]]:
    """Everything the broker holds for a console: (bytes, attach reply).

    Attaches read-only from offset 0 on a dedicated client so the events of
    other attachments do not interleave.
    """
    reply = await client.request("attach", target=guest, console=console, mode="ro", **{"from": 0})
    key, end = reply["session"], reply["end"]
    data = bytearray()
    offset = reply["offset"]
    while offset < end:
        ev = await asyncio.wait_for(client.events.get(), 10)
        if ev.get("event") == "output" and ev.get("session") == key:
            assert ev["offset"] == offset, (ev["offset"], offset)
            data += ev["data"]
            offset += len(ev["data"])
    await client.request("detach", session=key)
    # Live output sent between the attach and the detach is queued already
    # (it precedes the detach reply); drop it so the next read starts clean.
    keep = []
    while not client.events.empty():
        ev = client.events.get_nowait()
        if ev.get("session") != key:
            keep.append(ev)
    for ev in keep:
        client.events.put_nowait(ev)
    return bytes(data), reply


async def history_until(paths_client: Client, guest: str, needle: bytes, timeout: float = 30.0) -> bytes:
    """Re-read the history until it contains ``needle``."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        data, _ = await read_history(paths_client, guest)
        if needle in data:
            return data
        await asyncio.sleep(0.1)
    raise AssertionError(f"{guest}: {needle[:60]!r} never appeared; history ends {data[-300:]!r}")


def strip_banners(data: bytes) -> bytes:
    """The history without the hypervisor-console banner lines the broker adds."""
    return data.replace(HYPERVISOR_BANNER, b"").replace(CONNECTED_BANNER, b"")


@pytest.fixture(scope="session")
def c_compiler() -> str:
    """A C compiler, or skip."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc/gcc) on PATH")
    return cc


def compile_c(cc: str, source: Path, out: Path) -> Path:
    """Build one of the test C programs with warnings as errors."""
    subprocess.run(
        [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out
