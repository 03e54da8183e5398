"""Scale with durable console logs: 1008 idle consoles, a broker with logs on beside one with logs off.

Two labs of the scale fleet (84 containers x 12 vttys, every program
``sleep``) run at once, one broker with ``[log] enabled = true`` and one
with ``enabled = false``. Once both hold every console: each broker's RSS
and open fds, and their CPU over the same idle interval. Then each broker
is restarted (SIGTERM, start, all connected), alternating between the two.
Logs on, each console's log gets its files when the broker starts (a
"broker started" mark); the store keeps only a bounded number of them open.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from benchmarks.harness import cpu_ns, fd_count, lab, lab_environment, rss_mb
from benchmarks.report import Report, Row, Stats
from benchmarks.scale import CONTAINERS, VTTYS, fleet, restart_broker, wait_all_connected
from tests.lab_host import LabHost


def _config(logging: bool) -> str:
    return f'[log]\nenabled = {"true" if logging else "false"}\n'


async def _log_info(host: LabHost) -> dict[str, Any]:
    """``log`` of the broker's ``list`` reply (state, open_files, bytes, ...)."""
    client = await host.client()
    try:
        listing = await client.request("list")
        return dict(listing["log"])
    finally:
        await client.close()


def _pid(host: LabHost) -> int:
    assert host.broker is not None
    return host.broker.pid


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    count = CONTAINERS * VTTYS
    idle = 5.0 if quick else 10.0
    with contextlib.ExitStack() as stack:
        on = stack.enter_context(lab(fleet(), config=_config(True), start_timeout=180))
        asyncio.run(wait_all_connected(on, count, poll=0.1))
        off = stack.enter_context(lab(fleet(), config=_config(False), start_timeout=180))
        asyncio.run(wait_all_connected(off, count, poll=0.1))
        on_log, off_log = asyncio.run(_log_info(on)), asyncio.run(_log_info(off))
        if on_log.get("state") != "ok" or off_log.get("state") != "off":
            raise RuntimeError(f"log state on/off: {on_log.get('state')}/{off_log.get('state')}")
        time.sleep(2)  # settle after the last open
        rss = {h: [rss_mb(_pid(h))] for h in (on, off)}
        fds = {h: fd_count(_pid(h)) for h in (on, off)}
        # Both brokers idle over the same interval.
        c0 = {h: cpu_ns(_pid(h)) for h in (on, off)}
        w0 = time.monotonic()
        time.sleep(idle)
        wall = time.monotonic() - w0
        cpu = {h: (cpu_ns(_pid(h)) - c0[h]) / 1e9 / wall * 100 for h in (on, off)}
        for h in (on, off):
            rss[h].append(rss_mb(_pid(h)))
        cycles: dict[LabHost, list[tuple[float, float]]] = {on: [], off: []}
        for _ in range(1 if quick else 2):
            for h in (on, off):
                with lab_environment(h):  # its own config: the other lab's was entered last
                    cycles[h].append(restart_broker(h, count))
        rss_after = {h: rss_mb(_pid(h)) for h in (on, off)}
        fds_after = {h: fd_count(_pid(h)) for h in (on, off)}
        on_log_after = asyncio.run(_log_info(on))
        if on_log_after.get("state") != "ok":
            raise RuntimeError(f"logs on after the restarts: state {on_log_after.get('state')}")
    ref = "same fleet, logs off"
    restarts = {h: Stats([r for r, _ in cycles[h]]) for h in (on, off)}
    starts = {h: Stats([s for _, s in cycles[h]]) for h in (on, off)}
    report.add([
        Row("logscale", f"broker RSS, {count} consoles, logs on", "MB", Stats(rss[on]), ref, Stats(rss[off]),
            "< 150 MB", absolute_max=150),
        Row("logscale", "broker fds, logs on", "fds", Stats([fds[on]]), ref, Stats([fds[off]]),
            "≤ 1.1x logs off", ratio_max=1.1),
        Row("logscale", f"idle CPU over {idle:.0f} s, logs on", "% of a core", Stats([cpu[on]]), ref,
            Stats([cpu[off]]), "< 2%", absolute_max=2.0),
        Row("logscale", "broker start until all connected, logs on", "s", starts[on], ref, starts[off]),
        Row("logscale", "broker restart (SIGTERM, start, all connected), logs on", "s", restarts[on], ref,
            restarts[off]),
    ])
    report.note("logscale", f"Two labs of {CONTAINERS} containers x {VTTYS} vttys = {count} consoles each, every "
                "program `sleep`, at once: one broker with logs on, one with logs off. RSS sampled before and "
                "after the idle interval; idle CPU: every broker thread (schedstat) over the same interval. "
                "Restarts alternate between the two brokers; start: the new broker spawned (old one gone, lab "
                "idle) until every console is connected.")
    report.note("logscale", f"Logs on: the store said {on_log.get('consoles')} console logs, "
                f"{on_log.get('open_files')} files open, {on_log.get('bytes')} bytes on disk after the first "
                f"start; after the restarts {on_log_after.get('consoles')} logs, {on_log_after.get('open_files')} "
                f"files open, broker RSS {rss_after[on]:.1f} MB and {fds_after[on]} fds (logs off: "
                f"{rss_after[off]:.1f} MB, {fds_after[off]} fds).")
