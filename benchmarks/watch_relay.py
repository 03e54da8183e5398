"""Relay throughput with the watches on, against the same relay with them off (issue 16).

Three labs and brokers run side by side, the same guest program in each
(raw mode), console logs off in all three so only the watches differ:

- watches off: ``[events] builtin_watches = false`` and no ``[[watches]]``
  (nothing is matched; the reference);
- built-ins: the default, every built-in signature;
- built-ins + one user regex, ``segfault at`` (unanchored).

Each repeat runs all three in an order that rotates from repeat to repeat,
so a busy machine hurts all of them alike. Timing as in benchmarks/relay.py:
first byte the client receives to the last. The broker's CPU time per MB
(every thread) is paired the same way. Two kinds of output, each in its
own three labs: the 64-byte numbered lines of tests/guest_program.py (what
the other relay benchmarks send) and console text (benchmarks/text_guest.py:
kernel and service log lines, systemd's colours, some UTF-8; no hits).

Then, in this process, what LineMatcher.feed costs per MB for reads of
64 KiB of each kind, against the naive way (every line split out, made
reading text and tried against every watch), which the tests compare it with.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import cpu_ns, lab
from benchmarks.relay import BrokerRelay
from benchmarks.report import Report, Row, Stats
from benchmarks.text_guest import text
from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.console_events import EventKind
from vconsole.consolelog.reading import reading_text
from vconsole.protocol import MAX_EVENTS_READ, Events
from vconsole.watches.matcher import LineMatcher
from vconsole.watches.signatures import BUILTIN, Signature, parse_watches

HISTORY = 4 << 20
USER_REGEX = "segfault at"
_BASE = f'[broker]\nhistory = "{HISTORY >> 20}MiB"\n\n[log]\nenabled = false\n'
_USER = f'\n[[watches]]\nname = "segv"\nregex = "{USER_REGEX}"\nseverity = "error"\n'
CONFIGS = {
    "off": _BASE + "\n[events]\nbuiltin_watches = false\n",
    "builtin": _BASE,
    "user": _BASE + _USER,
}
TEXT_GUEST = [sys.executable, "-u", str(Path(__file__).with_name("text_guest.py"))]


def _fleet(guest: str) -> Callable[[LabHost], list[dict[str, Any]]]:
    def build(host: LabHost) -> list[dict[str, Any]]:
        init = host.scripted("talker") if guest == "lines" else [*TEXT_GUEST, str(host.ctl_dir("talker"))]
        return [{"id": 401, "name": "talker", "vttys": 1, "init": init}]

    return build


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

    async def watch_events(self) -> int:
        """How many watch events the broker published (the guests print no hit: 0)."""
        reply = await self.relay.client.read_events(Events(limit=MAX_EVENTS_READ))
        return sum(1 for e in reply.events if e.kind == EventKind.WATCH)


async def measure(guest: str, size: int, repeat: int) -> dict[str, _Side]:
    """Interleaved runs of the three brokers, their order rotating from repeat to repeat."""
    with contextlib.ExitStack() as stack:
        sides = {name: _Side(stack.enter_context(lab(build=_fleet(guest), config=config)), size)
                 for name, config in CONFIGS.items()}
        for side in sides.values():
            await side.relay.start()
        try:
            order = list(sides.values())
            for n in range(repeat):
                for side in order[n % 3:] + order[: n % 3]:
                    await side.once()
            hits = {name: await side.watch_events() for name, side in sides.items()}
        finally:
            for side in sides.values():
                await side.relay.client.close()
    if any(hits.values()):
        raise RuntimeError(f"watch events where the guest printed no hit: {hits}")
    return sides


def _naive(watches: Sequence[Signature], data: bytes) -> int:
    hits = 0
    for raw in re.findall(rb"[^\n]*\n|[^\n]+$", data):
        line = reading_text(raw)
        hits += sum(1 for w in watches if w.matches(line))
    return hits


def feed_rows(quick: bool) -> list[Row]:
    """MB/s of LineMatcher.feed over 64 KiB reads, against the naive way, for each output and watch set."""
    user = parse_watches([{"name": "segv", "regex": USER_REGEX}]).watches
    anchored = parse_watches([{"name": "err", "regex": "^ERROR: "}]).watches
    size = (4 if quick else 16) << 20
    outputs = {"64-byte lines": pattern(1, size), "console text": text(size)}
    sets = {"built-ins": BUILTIN, f"built-ins + `{USER_REGEX}`": BUILTIN + user,
            "built-ins + `^ERROR: `": BUILTIN + anchored}
    rows = []
    for out_name, data in outputs.items():
        reads = [data[i : i + 65536] for i in range(0, len(data), 65536)]
        naive_part = data[: size // 8]  # the naive way is slow: a part of the data is enough
        for set_name, watches in sets.items():
            fast, slow = [], []
            for _ in range(3 if quick else 5):
                matcher = LineMatcher(watches)
                began = time.perf_counter()
                for chunk in reads:
                    matcher.feed(chunk)
                fast.append(len(data) / 1e6 / (time.perf_counter() - began))
                began = time.perf_counter()
                _naive(watches, naive_part)
                slow.append(len(naive_part) / 1e6 / (time.perf_counter() - began))
            rows.append(Row("watchrelay", f"LineMatcher.feed, {out_name}, {set_name}", "MB/s", Stats(fast),
                            "naive: every line rendered and matched", Stats(slow)))
    return rows


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    size = (8 if quick else 32) << 20
    repeat = 3 if quick else 6
    rows: list[Row] = []
    missed: dict[str, dict[str, list[int]]] = {}
    for guest, label in (("lines", "64-byte lines"), ("text", "console text")):
        sides = asyncio.run(measure(guest, size, repeat))
        off = sides["off"]
        ref = "same relay, watches off"
        for name, what, target in (("builtin", "built-in watches", True),
                                   ("user", f"built-ins + user regex `{USER_REGEX}`", False)):
            side = sides[name]
            rows.append(Row("watchrelay", f"guest->broker->client, {label}, {what}", "MB/s", Stats(side.rates),
                            ref, Stats(off.rates), "≥ 0.9x watches off" if target else "",
                            ratio_min=0.9 if target else None))
            rows.append(Row("watchrelay", f"broker CPU per MB, {label}, {what}", "ms/MB",
                            Stats(side.cpu_ms_per_mb), ref, Stats(off.cpu_ms_per_mb)))
        missed[guest] = {name: side.missed for name, side in sides.items()}
    rows += feed_rows(quick)
    report.add(rows)
    report.note("watchrelay", f"{size >> 20} MiB per run, {repeat} runs of each broker, the order of the three "
                f"rotating per run; broker history {HISTORY >> 20} MiB; console logs off in all three. Watches "
                "off: `[events] builtin_watches = false` and no `[[watches]]`. Bytes the client missed per run "
                f"(not counted as received): {missed}. No broker published a watch event (checked).")
    report.note("watchrelay", "Console text: benchmarks/text_guest.py, ten kinds of log line (kernel, systemd "
                "with colours, a web log with UTF-8), CR LF. Broker CPU: utime+stime of every broker thread "
                "(schedstat) during a run, per MB relayed.")
    report.note("watchrelay", "LineMatcher.feed: 64 KiB reads in this process (the broker's read turn is at most "
                "64 KiB); the naive reference splits every line, makes its reading text and tries every watch "
                "(the tests' reference), timed on an eighth of the data.")
