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

Then, in this process, what one ConsoleLogWriter.append costs (one read
turn: its bytes to the segment, one record to the index, rotation and
eviction when due) against the two bare ``os.write`` calls it makes at
least, for read turns of 64 B, 4 KiB and 64 KiB, and for 64 KiB with a
segment too large to rotate (the difference is what rotating 1 MiB
segments costs: closing, fsync of closed segments once more than a few
wait, unlinking evicted ones, all on the caller's thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import cpu_ns, lab, stop
from benchmarks.relay import BrokerRelay, RawPty
from benchmarks.report import Report, Row, Stats
from tests.lab_host import LabHost
from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.reader import console_logs
from vconsole.consolelog.records import RECORD_SIZE, RecordKind
from vconsole.consolelog.store import LogStore
from vconsole.consolelog.writer import LogLimits

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


def append_cost(directory: Path, size: int, count: int, limits: LogLimits) -> tuple[float, float]:
    """µs per ConsoleLogWriter.append of ``size`` bytes, and per the two bare writes of the same bytes."""
    data = b"x" * (size - 1) + b"\n"
    store = LogStore(directory / "log", limits_for=lambda meta: limits)
    store.open()
    try:
        writer = store.console(LogMeta("lab", "1", "g", "vtty0", 0, "bench"))
        began = time.perf_counter()
        for _ in range(count):
            writer.append(data, time.time())
        logged = time.perf_counter() - began
    finally:
        store.close()
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
    seg, idx = os.open(directory / "bare.seg", flags, 0o600), os.open(directory / "bare.idx", flags, 0o600)
    record = bytes(RECORD_SIZE)
    try:
        began = time.perf_counter()
        for _ in range(count):
            os.write(seg, data)
            os.write(idx, record)
        bare = time.perf_counter() - began
    finally:
        os.close(seg)
        os.close(idx)
    for name in ("bare.seg", "bare.idx"):
        os.unlink(directory / name)
    return logged / count * 1e6, bare / count * 1e6


def append_rows(quick: bool) -> list[Row]:
    """Rows of append_cost for each read turn size, repeats alternating with the bare writes."""
    cases = [(64, LogLimits()), (4096, LogLimits()), (64 << 10, LogLimits()),
             (64 << 10, LogLimits(console=4 << 30, segment=2 << 30))]
    rows = []
    for size, limits in cases:
        count = min(20000, (16 if quick else 64) * (1 << 20) // size)
        logged, bare = [], []
        for _ in range(3 if quick else 5):
            with tempfile.TemporaryDirectory(prefix="vcba") as tmp:
                a, b = append_cost(Path(tmp), size, count, limits)
            logged.append(a)
            bare.append(b)
        what = f"{size} B" if size < 1024 else f"{size >> 10} KiB"
        rotating = "no rotation" if limits.segment > count * size else f"{limits.segment >> 20} MiB segments"
        rows.append(Row("logrelay", f"writer.append of {what} ({rotating}, {count} appends)", "µs",
                        Stats(logged), "2 bare os.write (bytes + 32-byte record)", Stats(bare)))
    return rows


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
        *append_rows(quick),
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
    report.note("logrelay", "writer.append: a LogStore in a temporary directory (default limits: 1 MiB segments, "
                "16 MiB per console, so the larger runs rotate and evict), no sync timer (a run is shorter "
                "than its 1 s beat, as a burst is in the broker: closed segments wait and the writer fsyncs "
                "them itself past 8 waiting fds); the reference writes the same bytes and a 32-byte record "
                "to two O_APPEND files.")
    report.note("logrelay", "Broker CPU: utime+stime of every broker thread (schedstat) during a run, "
                "per MB relayed; includes the once-a-second fsync thread.")
