"""Scale with watches: 1008 idle consoles, a broker with watches beside one without (issue 16).

Two labs of the scale fleet (84 containers x 12 vttys, every program
``sleep``) run at once. One broker has the built-in watches, a user regex
(``segfault at``) and a silence watch (so the broker's sweep looks at
every console), the other ``[events] builtin_watches = false`` and no
``[[watches]]``; console logs as by default (on) in both. Once both hold
every console: each broker's RSS, and their CPU over the same idle interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from benchmarks.harness import cpu_ns, lab, rss_mb
from benchmarks.report import Report, Row, Stats
from benchmarks.scale import CONTAINERS, VTTYS, fleet, wait_all_connected
from tests.lab_host import LabHost

WATCHES = (
    '[[watches]]\nname = "segv"\nregex = "segfault at"\nseverity = "error"\n\n'
    '[[watches]]\nname = "quiet"\nsilence = 600\n'
)
OFF = "[events]\nbuiltin_watches = false\n"


async def _watch_errors(host: LabHost) -> list[str]:
    client = await host.client()
    try:
        return list((await client.request("list")).get("watch_errors", []))
    finally:
        await client.close()


def _pid(host: LabHost) -> int:
    assert host.broker is not None
    return host.broker.pid


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    count = CONTAINERS * VTTYS
    idle = 5.0 if quick else 10.0
    rounds = 1 if quick else 3
    with contextlib.ExitStack() as stack:
        on = stack.enter_context(lab(fleet(), config=WATCHES, start_timeout=180))
        asyncio.run(wait_all_connected(on, count, poll=0.1))
        off = stack.enter_context(lab(fleet(), config=OFF, start_timeout=180))
        asyncio.run(wait_all_connected(off, count, poll=0.1))
        errors = asyncio.run(_watch_errors(on))
        if errors:
            raise RuntimeError(f"the watches were refused: {errors}")
        time.sleep(2)  # settle after the last open
        rss: dict[LabHost, list[float]] = {h: [rss_mb(_pid(h))] for h in (on, off)}
        cpu: dict[LabHost, list[float]] = {on: [], off: []}
        for _ in range(rounds):  # both brokers idle over the same intervals
            c0 = {h: cpu_ns(_pid(h)) for h in (on, off)}
            w0 = time.monotonic()
            time.sleep(idle)
            wall = time.monotonic() - w0
            for h in (on, off):
                cpu[h].append((cpu_ns(_pid(h)) - c0[h]) / 1e9 / wall * 100)
                rss[h].append(rss_mb(_pid(h)))
    ref = "same fleet, watches off"
    report.add([
        Row("watchscale", f"broker RSS, {count} consoles, watches on", "MB", Stats(rss[on]), ref, Stats(rss[off]),
            "< 150 MB", absolute_max=150),
        Row("watchscale", f"idle CPU per {idle:.0f} s, watches on", "% of a core", Stats(cpu[on]), ref,
            Stats(cpu[off]), "< 2%", absolute_max=2.0),
    ])
    report.note("watchscale", f"Two labs of {CONTAINERS} containers x {VTTYS} vttys = {count} consoles each, every "
                "program `sleep`, at once. Watches on: the built-ins, a user regex `segfault at` and a silence "
                "watch (600 s, so the sweep every 0.25 s looks at every console); off: `[events] builtin_watches = "
                "false`, no `[[watches]]`. Console logs on (the default) in both. RSS sampled after the start and "
                f"after each of {rounds} idle intervals; idle CPU: every broker thread (schedstat) over the same "
                "intervals.")
