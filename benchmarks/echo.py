"""Keystroke echo latency: client -> broker -> guest -> broker -> client, against a PTY and tmux.

The guest is a raw echo program (benchmarks/echo_guest.py). One key at a
time, from the moment it is sent until its echo comes back:

- vconsole: a Client sends ``input`` and waits for the ``output`` event.
- direct PTY: the key is written to the guest's pty master and read back.
- tmux: the guest runs in a tmux pane; the key is written to the pty of a
  tmux client and read back from that client's output (escapes stripped).
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Tmux, echo_argv, lab, read_until, spawn_on_pty, stop
from benchmarks.report import Report, Row, Stats
from tests.lab_host import LabHost

ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78M]|[\r\n\x07\x08]")
KEYS = b"abcdefghijklmnopqrstuvwxyz"
GAP = 0.002  # seconds between keys: one key in flight at a time, like typing


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


async def _broker_keys(host: LabHost, keys: int) -> list[float]:
    client = await host.client()
    try:
        got: asyncio.Queue[bytes] = asyncio.Queue()
        client.on_event = lambda e: got.put_nowait(e["data"]) if e["event"] == "output" else None
        reply = await client.request("attach", target="echo", console=0, mode="rw", **{"from": 0})
        buf = b""
        while b"READY" not in buf:
            buf += await asyncio.wait_for(got.get(), 20)
        out = []
        for i in range(keys):
            key = KEYS[i % len(KEYS):][:1]
            began = time.perf_counter()
            client.send_nowait("input", session=reply["session"], data=key)
            buf = b""
            while key not in buf:
                buf += await asyncio.wait_for(got.get(), 10)
            out.append(time.perf_counter() - began)
            await asyncio.sleep(GAP)
        return out
    finally:
        await client.close()


def _fd_keys(write_fd: int, read_fd: int, keys: int, strip: bool) -> list[float]:
    out = []
    for i in range(keys):
        key = KEYS[i % len(KEYS):][:1]
        began = time.perf_counter()
        os.write(write_fd, key)
        buf = b""
        while key not in (ESCAPES.sub(b"", buf) if strip else buf):
            r, _, _ = select.select([read_fd], [], [], 10)
            if not r:
                raise TimeoutError(f"no echo of {key!r}: {buf!r}")
            buf += os.read(read_fd, 65536)
        out.append(time.perf_counter() - began)
        time.sleep(GAP)
    return out


def _drain(fd: int, quiet: float = 0.2) -> None:
    while select.select([fd], [], [], quiet)[0]:
        os.read(fd, 65536)


def measure(keys: int, repeat: int) -> dict[str, list[tuple[float, float]]]:
    """(p50, p99) per run for each path; runs interleaved."""
    results: dict[str, list[tuple[float, float]]] = {"vconsole": [], "pty": [], "tmux": []}
    with tempfile.TemporaryDirectory(prefix="vcbe") as tmp, \
            lab([{"id": 501, "name": "echo", "vttys": 1, "init": echo_argv()}]) as host:
        proc, master = spawn_on_pty(echo_argv())
        tmux = Tmux(Path(tmp), " ".join(echo_argv()))
        try:
            read_until(master, b"READY")
            read_until(tmux.master, b"READY")
            _drain(tmux.master)
            for run in range(repeat + 1):  # the first round warms up and is not counted
                rounds: dict[str, list[float]] = {
                    "vconsole": asyncio.run(_broker_keys(host, keys)),
                    "pty": _fd_keys(master, master, keys, strip=False),
                    "tmux": _fd_keys(tmux.master, tmux.master, keys, strip=True),
                }
                _drain(tmux.master, 0.05)
                if run:
                    for name, samples in rounds.items():
                        results[name].append(_percentiles(samples))
        finally:
            stop(proc, master)
            tmux.close()
    return results


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    keys, repeat = (100, 3) if quick else (300, 5)
    res = measure(keys, repeat)

    def col(name: str, i: int) -> Stats:
        return Stats([pair[i] * 1e6 for pair in res[name]])

    rows: list[Row] = []
    for i, pct in ((0, "p50"), (1, "p99")):
        vc = col("vconsole", i)
        extra: dict[str, Any] = {"target": "≤ 4x direct PTY", "ratio_max": 4.0} if pct == "p99" else {}
        rows.append(Row("echo", f"key echo {pct}", "µs", vc, "direct PTY", col("pty", i), **extra))
        extra = {"target": "≤ 1x tmux", "ratio_max": 1.0} if pct == "p99" else {}
        rows.append(Row("echo", f"key echo {pct}", "µs", vc, "tmux client via pty", col("tmux", i), **extra))
    report.add(rows)
    report.note("echo", f"{keys} keys per run, one in flight at a time ({GAP * 1000:.0f} ms apart), {repeat} runs "
                "interleaved with the references after one warm-up run; p50/p99 within a run, then median and "
                "[min..max] over runs. The broker client is the async Client (send_nowait `input`, `output` event).")
