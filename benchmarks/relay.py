"""Relay throughput: guest -> broker -> attached client, against a raw PTY and against tmux.

All three carry the same bytes (tests/guest_program.py ``pattern``) from a
program whose pty is in raw mode:

- vconsole: a lab guest writes N bytes; a Client attached through the broker
  receives all of them. Time from the first byte of the burst to the last.
- raw PTY: the same guest program on a pty whose master this process reads
  directly. Time from the first byte to the last.
- tmux: ``stty raw; cat FILE`` in a new window of a tmux server with a client
  attached through a pty (so tmux renders to it); time until the window says
  it is done (``tmux wait-for``), minus the same for an empty file.
"""

from __future__ import annotations

import asyncio
import os
import select
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Tmux, guest_program_argv, lab, read_until, spawn_on_pty, stop
from benchmarks.report import Report, Row, Stats
from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.client import Client


class BrokerRelay:
    """A client attached through the broker to the lab guest ``talker``."""

    def __init__(self, host: LabHost, size: int) -> None:
        self.host, self.size = host, size
        self.state: dict[str, Any] = {"end": 0, "first": None, "last": None, "missed": 0}
        self.target = 6  # READY\n
        self.seq = 0
        self.done: asyncio.Future[None] | None = None

    def on_event(self, event: dict[str, Any]) -> None:
        # The only console: no need to filter by session (replay may precede the reply).
        state, now = self.state, time.perf_counter()
        if event["event"] == "output":
            state["end"] = event["offset"] + len(event["data"])
        elif event["event"] == "missed":
            state["missed"] += event["count"]
            state["end"] = event["offset"]
        else:
            return
        if state["first"] is None and state["end"] > self.target - self.size:
            state["first"] = now
        if state["end"] >= self.target and self.done is not None and not self.done.done():
            state["last"] = now
            self.done.set_result(None)

    async def start(self, client: Client | None = None) -> None:
        """Attach ``client`` (by default a new one on the host's socket) and wait for READY."""
        self.client = client if client is not None else await self.host.client()
        self.client.on_event = self.on_event
        self.done = asyncio.get_running_loop().create_future()
        await self.client.request("attach", target="talker", console=0, mode="ro", **{"from": 0})
        await asyncio.wait_for(self.done, 20)

    async def once(self) -> tuple[float, int]:
        """MB/s the client received in one burst, and the bytes it missed."""
        state = self.state
        self.done = asyncio.get_running_loop().create_future()
        state["first"] = None
        before = state["missed"]
        self.target = state["end"] + self.size
        self.seq += 1
        self.host.command("talker", self.seq, f"write {self.size}")
        await asyncio.wait_for(self.done, 60)
        missed = state["missed"] - before
        # Only what the client really received counts.
        return (self.size - missed) / 1e6 / (state["last"] - state["first"]), missed


class RawPty:
    """The same guest program on a pty this process reads directly."""

    def __init__(self, size: int, workdir: Path) -> None:
        self.size = size
        self.ctl = workdir / "rawctl"
        self.ctl.mkdir()
        self.proc, self.master = spawn_on_pty(guest_program_argv(self.ctl))
        self.seq = 0
        read_until(self.master, b"READY\n")

    def once(self) -> float:
        """MB/s read in one burst (first byte to last)."""
        self.seq += 1
        (self.ctl / f"{self.seq}.tmp").write_text(f"write {self.size}")
        os.rename(self.ctl / f"{self.seq}.tmp", self.ctl / f"{self.seq}.cmd")
        got = 0
        first = 0.0
        while got < self.size:
            r, _, _ = select.select([self.master], [], [], 30)
            if not r:
                raise TimeoutError("raw pty writer stalled")
            got += len(os.read(self.master, 1 << 16))
            if not first:
                first = time.perf_counter()
        return self.size / 1e6 / (time.perf_counter() - first)


class _TmuxRelay:
    """``cat`` of the bytes in a tmux window with a client attached."""

    def __init__(self, size: int, workdir: Path) -> None:
        self.size = size
        self.data = workdir / "data.bin"
        self.data.write_bytes(pattern(1, size))
        empty = workdir / "empty.bin"
        empty.write_bytes(b"")
        self.tmux = Tmux(workdir, "sleep 100000")
        self.tmux.drain()
        self.n = 0
        self.base = min(self._time(empty) for _ in range(3))

    def _time(self, path: Path) -> float:
        self.n += 1
        chan = f"done{self.n}"
        t = self.tmux
        began = time.perf_counter()
        t.run("new-window", f"stty raw -echo; cat {path}; {t.tmux} -S {t.sock} wait-for -S {chan}")
        t.run("wait-for", chan)
        return time.perf_counter() - began

    def once(self) -> float:
        """MB/s of one ``cat``."""
        return self.size / 1e6 / max(self._time(self.data) - self.base, 1e-6)


async def measure(size: int, repeat: int, workdir: Path) -> tuple[list[float], list[int], list[float], list[float]]:
    """Interleaved runs (vconsole, raw PTY, tmux) so a busy machine hurts all three alike."""
    with lab(build=lambda h: [{"id": 401, "name": "talker", "vttys": 1, "init": h.scripted("talker")}],
             config='[broker]\nhistory = "4MiB"\n') as host:
        broker = BrokerRelay(host, size)
        await broker.start()
        raw = RawPty(size, workdir)
        tmux = _TmuxRelay(size, workdir)
        vc, missed, rw, tm = [], [], [], []
        try:
            for _ in range(repeat):
                rate, lost = await broker.once()
                vc.append(rate)
                missed.append(lost)
                rw.append(raw.once())
                tm.append(tmux.once())
        finally:
            await broker.client.close()
            stop(raw.proc, raw.master)
            tmux.tmux.close()
    return vc, missed, rw, tm


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    size = (8 if quick else 32) << 20
    repeat = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="vcbr") as tmp:
        broker, missed, raw, tm = asyncio.run(measure(size, repeat, Path(tmp)))
    vc = Stats(broker)
    report.add([
        Row("relay", "guest->broker->client", "MB/s", vc, "raw PTY read directly",
            Stats(raw), "≥ 0.5x raw PTY", ratio_min=0.5),
        Row("relay", "guest->broker->client", "MB/s", vc, "tmux (cat in a pane, client attached)",
            Stats(tm), "≥ 3x tmux", ratio_min=3.0),
    ])
    report.note("relay", f"{size >> 20} MiB of 64-byte lines per run, {repeat} runs each; all pty in raw mode; "
                f"broker history 4 MiB; bytes the client missed per run (history overrun, not counted "
                f"as received): {missed}.")
    report.note("relay", "vconsole and raw PTY: first byte to last byte received; tmux: new-window to "
                "`wait-for` after `cat`, minus the same with an empty file.")
