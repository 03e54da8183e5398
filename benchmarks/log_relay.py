"""Relay throughput with durable console logs on, against the same relay with logs off and a raw PTY.

Two labs and brokers run side by side, the same guest program in each
(tests/guest_program.py ``pattern``, raw mode), one broker with ``[log]
enabled = true`` (every read turn written to the console's segment and
index files on disk, fsync once a second) and one with ``enabled = false``;
the raw PTY reference is the same program on a pty this process reads.
Each repeat runs all three, in an order that rotates from repeat to repeat,
so a busy machine hurts all of them alike. Timing as in benchmarks/relay.py:
first byte the client receives to the last. The broker's CPU time per MB
(every thread, the fsync thread included) is paired the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import cpu_ns, lab, stop
from benchmarks.relay import BrokerRelay, RawPty
from benchmarks.report import Report, Row, Stats
from tests.lab_host import LabHost
from vconsole.consolelog.reader import console_logs
from vconsole.consolelog.records import RecordKind

HISTORY = 4 << 20


def _config(logging: bool) -> str:
    return f'[broker]\nhistory = "{HISTORY >> 20}MiB"\n\n[log]\nenabled = {"true" if logging else "false"}\n'


def _fleet(host: LabHost) -> list[dict[str, Any]]:
    return [{"id": 401, "name": "talker", "vttys": 1, "init": host.scripted("talker")}]


class _Side:
    """One broker's relay, its throughput and its CPU per MB over the repeats."""

    def __init__(self, host: LabHost, size: int) -> None:
        self.host = host
        self.relay = BrokerRelay(host, size)
        self.rates: list[float] = []
        self.cpu_ms_per_mb: list[float] = []
        self.missed: list[int] = []

    async def once(self) -> None:
        assert self.host.broker is not None
        pid = self.host.broker.pid
        before = cpu_ns(pid)
        rate, lost = await self.relay.once()
        spent = cpu_ns(pid) - before
        self.rates.append(rate)
        self.missed.append(lost)
        self.cpu_ms_per_mb.append(spent / 1e6 / (self.relay.size / 1e6))

    async def console(self) -> dict[str, Any]:
        """The talker console as ``list`` shows it (its log_state, log_end, ...), and from its
        log files (if any) ``turn_bytes``: the bytes per DATA record (per read turn) held."""
        listing = await self.relay.client.request("list")
        consoles: list[dict[str, Any]] = [c for g in listing["guests"] for c in g["consoles"]]
        info = dict(consoles[0])
        logs = console_logs(Path(listing["log"]["dir"]))
        turns = sum(1 for log in logs for rec in log.records() if rec.kind == RecordKind.DATA)
        held = sum(log.end - log.start for log in logs)
        info["turn_bytes"] = held / turns if turns else 0.0
        return info


async def measure(size: int, repeat: int, workdir: Path) -> tuple[_Side, _Side, list[float], dict[str, Any]]:
    """Interleaved runs (logs on, logs off, raw PTY), their order rotating from repeat to repeat."""
    with contextlib.ExitStack() as stack:
        on_host = stack.enter_context(lab(build=_fleet, config=_config(True)))
        off_host = stack.enter_context(lab(build=_fleet, config=_config(False)))
        on, off = _Side(on_host, size), _Side(off_host, size)
        await on.relay.start()
        await off.relay.start()
        raw = RawPty(size, workdir)
        raw_rates: list[float] = []

        async def raw_once() -> None:
            raw_rates.append(raw.once())

        try:
            order = [on.once, off.once, raw_once]
            for n in range(repeat):
                for step in order[n % 3:] + order[: n % 3]:
                    await step()
            logged, unlogged = await on.console(), await off.console()
        finally:
            await on.relay.client.close()
            await off.relay.client.close()
            stop(raw.proc, raw.master)
    # A figure of the wrong configuration would be worse than none.
    if logged.get("log_state") != "ok" or unlogged.get("log_state") != "off":
        raise RuntimeError(f"log_state on/off: {logged.get('log_state')}/{unlogged.get('log_state')}")
    return on, off, raw_rates, logged


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    size = (8 if quick else 32) << 20
    repeat = 3 if quick else 6
    with tempfile.TemporaryDirectory(prefix="vcbl") as tmp:
        on, off, raw, logged = asyncio.run(measure(size, repeat, Path(tmp)))
    vc = Stats(on.rates)
    # (ms/MB logs on - logs off) / appends per MB, in µs.
    turns_per_mb = 1e6 / logged["turn_bytes"] if logged["turn_bytes"] else 0.0
    extra_us = ((Stats(on.cpu_ms_per_mb).median - Stats(off.cpu_ms_per_mb).median) * 1e3 / turns_per_mb
                if turns_per_mb else 0.0)
    report.add([
        Row("logrelay", "guest->broker->client, logs on", "MB/s", vc, "same relay, logs off",
            Stats(off.rates), "≥ 0.85x logs off", ratio_min=0.85),
        Row("logrelay", "guest->broker->client, logs on", "MB/s", vc, "raw PTY read directly",
            Stats(raw), "≥ 0.7x raw PTY", ratio_min=0.7),
        Row("logrelay", "broker CPU per MB relayed, logs on", "ms/MB", Stats(on.cpu_ms_per_mb),
            "same relay, logs off", Stats(off.cpu_ms_per_mb)),
    ])
    report.note("logrelay", f"{size >> 20} MiB of 64-byte lines per run, {repeat} runs of each, the order of the "
                f"three rotating per run; broker history {HISTORY >> 20} MiB; log limits the defaults (so the "
                f"logged console rotates and evicts segments during the runs). Bytes the client missed per run "
                f"(not counted as received), logs on: {on.missed}, off: {off.missed}.")
    report.note("logrelay", f"After the runs the logged console showed log_state {logged.get('log_state')}, "
                f"log_end {logged.get('log_end')}, {logged.get('log_bytes')} bytes on disk, "
                f"log_dropped {logged.get('log_dropped')}; the other broker log_state off. The segments held "
                f"averaged {logged['turn_bytes']:.0f} bytes per DATA record (per read turn, so per append): "
                f"the extra CPU per append is about {extra_us:.1f} µs.")
    report.note("logrelay", "Broker CPU: utime+stime of every broker thread (schedstat) during a run, "
                "per MB relayed; includes the once-a-second fsync thread.")
