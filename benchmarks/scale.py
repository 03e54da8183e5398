"""Scale: one broker holding 1000+ idle consoles, against tmux holding as many windows.

A lab fleet of 84 containers x 12 vttys (1008 consoles) whose programs are
``sleep``; once the broker holds every console: its RSS, its fds, the
latency of ``list`` (a Client request, and ``vconsole ls --json`` end to end)
and its CPU over an idle interval. The reference is a tmux server with 1008
windows running ``sleep``, measured in the same way at the same time.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Tmux, cpu_seconds, fd_count, lab, rss_mb
from benchmarks.report import Report, Row, Stats
from tests.lab_host import LabHost

CONTAINERS, VTTYS = 84, 12
IDLE = ["sleep", "100000"]


def fleet(init: list[str] = IDLE, login: list[str] = IDLE) -> list[dict[str, Any]]:
    """84 containers x 12 vttys."""
    return [{"id": 1000 + i, "name": f"g{i}", "vttys": VTTYS, "init": init, "login": login}
            for i in range(CONTAINERS)]


async def wait_all_connected(host: LabHost, count: int, timeout: float = 180, poll: float = 0.5) -> float:
    """Seconds until ``list`` shows ``count`` connected consoles."""
    client = await host.client()
    began = time.monotonic()
    try:
        while True:
            listing = await client.request("list")
            connected = sum(c["state"] == "connected" for g in listing["guests"] for c in g["consoles"])
            if connected >= count:
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"only {connected} of {count} consoles connected")
            await asyncio.sleep(poll)
    finally:
        await client.close()


def restart_broker(host: LabHost, count: int) -> tuple[float, float]:
    """Seconds from SIGTERM to the old broker until a new one holds ``count`` consoles again,
    and from starting the new broker (once the old one is gone and the lab idle) until then."""
    began = time.monotonic()
    host.kill_broker(signal.SIGTERM)  # graceful: it saves its sessions and lets go of the consoles
    host.start_broker()
    asyncio.run(wait_all_connected(host, count, poll=0.1))
    restart = time.monotonic() - began
    host.kill_broker(signal.SIGTERM)
    time.sleep(2)  # the lab takes the consoles back
    host.start_broker()
    asyncio.run(wait_all_connected(host, count, poll=0.1))
    return restart, time.monotonic() - host.broker_spawned


async def list_latency(host: LabHost, n: int) -> list[float]:
    """Seconds per ``list`` request on one connection."""
    client = await host.client()
    try:
        out = []
        for _ in range(n):
            began = time.perf_counter()
            await client.request("list")
            out.append(time.perf_counter() - began)
        return out
    finally:
        await client.close()


def timed(argv: list[str]) -> float:
    """Seconds one command takes."""
    began = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - began


def tmux_fleet(workdir: Path, count: int) -> Tmux:
    """A tmux server with ``count`` windows running sleep."""
    tmux = Tmux(workdir, " ".join(IDLE))
    for first in range(1, count, 100):
        args: list[str] = []
        for _ in range(first, min(count, first + 100)):
            args += ["new-window", "-d", " ".join(IDLE), ";"]
        try:
            tmux.run(*args[:-1])
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"tmux could not make {count} windows: {exc.stderr.strip()}") from None
    tmux.drain()
    return tmux


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    count = CONTAINERS * VTTYS
    idle = 5.0 if quick else 10.0
    with tempfile.TemporaryDirectory(prefix="vcbs") as tmp, lab(fleet(), start_timeout=180) as host:
        asyncio.run(wait_all_connected(host, count, poll=0.1))
        took = time.monotonic() - host.broker_spawned
        began = time.monotonic()
        tmux = tmux_fleet(Path(tmp), count)
        tmux_took = time.monotonic() - began
        try:
            windows = len(tmux.run("list-windows", "-a").splitlines())
            assert host.broker is not None
            bpid, tpid = host.broker.pid, tmux.server_pid()
            time.sleep(2)  # settle after the last open
            b0, t0, w0 = cpu_seconds(bpid), cpu_seconds(tpid), time.monotonic()
            time.sleep(idle)
            wall = time.monotonic() - w0
            bcpu = (cpu_seconds(bpid) - b0) / wall * 100
            tcpu = (cpu_seconds(tpid) - t0) / wall * 100
            rss = [rss_mb(bpid)]
            trss = [rss_mb(tpid)]
            fds, tfds = fd_count(bpid), fd_count(tpid)
            lat = asyncio.run(list_latency(host, 10))
            tlist = [timed([tmux.tmux, "-S", tmux.sock, "list-windows", "-a"]) for _ in range(10)]
            cli = [timed([sys.executable, "-m", "vconsole", "ls", "--json", "--socket", str(host.paths.socket)])
                   for _ in range(3 if quick else 5)]
            rss.append(rss_mb(bpid))
            trss.append(rss_mb(tpid))
        finally:
            tmux.close()
        cycles = [restart_broker(host, count) for _ in range(1 if quick else 3)]
    restarts, starts = [r for r, _ in cycles], [s for _, s in cycles]
    ms = lambda xs: Stats([x * 1e3 for x in xs])  # noqa: E731
    ref = f"tmux, {windows} windows"
    report.add([
        Row("scale", f"broker RSS, {count} consoles", "MB", Stats(rss), ref, Stats(trss),
            "< 150 MB", absolute_max=150),
        Row("scale", "broker fds", "fds", Stats([fds]), ref, Stats([tfds])),
        Row("scale", f"idle CPU over {idle:.0f} s", "% of a core", Stats([bcpu]), ref, Stats([tcpu]),
            "< 2%", absolute_max=2.0),
        Row("scale", "`list` request (Client)", "ms", ms(lat), "tmux list-windows -a (CLI)", ms(tlist)),
        Row("scale", "`vconsole ls --json` (CLI)", "ms", ms(cli), "tmux list-windows -a (CLI)", ms(tlist)),
        Row("scale", f"broker start until {count} consoles connected", "s", Stats(starts),
            f"tmux making {count - 1} windows", Stats([tmux_took])),
        Row("scale", "broker restart (SIGTERM, start, all connected)", "s", Stats(restarts),
            f"tmux making {count - 1} windows", Stats([tmux_took])),
    ])
    report.note("scale", f"{CONTAINERS} lab containers x {VTTYS} vttys = {count} consoles, every program "
                f"`sleep`. Broker start: process spawned (lab up and idle) until `list` shows every console connected; "
                f"the very first start, while the lab was still booting its {count} guests, took {took:.1f} s. RSS sampled before and after "
                "the list requests. The CLI figure includes Python start-up.")
