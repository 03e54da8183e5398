"""Keystroke echo latency: client -> broker -> guest -> broker -> client, against a PTY and tmux.

The guest is a raw echo program (benchmarks/echo_guest.py). One key at a
time, from the moment it is sent until its echo comes back:

- vconsole: a Client sends ``input`` and waits for the ``output`` event.
- direct PTY: the key is written to the guest's pty master and read back.
- tmux: the guest runs in a tmux pane; the key is written to the pty of a
  tmux client and read back from that client's output (escapes stripped).
- bare asyncio relay: a Python process relaying raw bytes between a socket
  and the guest's pty, nothing more (benchmarks/bare_relay.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.bare_relay import BareRelay
from benchmarks.harness import Tmux, cpu_ns, echo_argv, lab, read_until, spawn_on_pty, stop
from benchmarks.report import Report, Row, Stats
from tests.lab_host import LabHost
from vconsole.client import Client

ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78M]|[\r\n\x07\x08]")
KEYS = b"abcdefghijklmnopqrstuvwxyz"
GAP = 0.002  # seconds between keys: one key in flight at a time, like typing


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


class _EchoClock:
    """Times one key at a time; ``seen`` is called from the code that receives output.

    The clock stops inside that receiving callback, at the moment the echo is
    in hand. Stopping it after handing the bytes on through an asyncio.Queue
    and ``wait_for`` measured that hop as well: a task switch and a timer,
    about 70 µs at p50 and 100-200 µs at p99 on this machine, which is no
    part of the relay. Every path (broker, direct PTY, tmux) is timed by the
    same clock, from a callback of the same event loop, so they compare fairly.
    """

    def __init__(self, strip: bool = False) -> None:
        self.strip = strip
        self.key = b""
        self.buf = b""
        self.began = 0.0
        self.done: asyncio.Future[float] | None = None

    def start(self, key: bytes) -> asyncio.Future[float]:
        """Arm for ``key``; call just before sending it."""
        self.key, self.buf = key, b""
        self.done = asyncio.get_running_loop().create_future()
        self.began = time.perf_counter()
        return self.done

    def seen(self, data: bytes) -> None:
        """Output arrived: stop the clock if it holds the key's echo."""
        now = time.perf_counter()
        done = self.done
        if done is None or done.done():
            return
        self.buf += data
        if self.key in (ESCAPES.sub(b"", self.buf) if self.strip else self.buf):
            done.set_result(now - self.began)


async def _keys(clock: _EchoClock, send: Callable[[bytes], None], keys: int, line: int = 0) -> list[float]:
    """``line``: Ctrl-U after that many keys (a shell's line never wraps), untimed."""
    out = []
    for i in range(keys):
        if line and i and i % line == 0:
            send(b"\x15")
            await asyncio.sleep(0.05)  # its redraw comes while the clock is not armed
        key = KEYS[i % len(KEYS):][:1]
        done = clock.start(key)
        send(key)
        out.append(await asyncio.wait_for(done, 10))
        await asyncio.sleep(GAP)
    return out


async def _broker_keys(host: LabHost, keys: int) -> list[float]:
    return await client_keys(await host.client(), keys)


async def client_keys(client: Client, keys: int, guest: str = "echo", marker: bytes = b"READY",
                      line: int = 0, strip: bool = False) -> list[float]:
    """Key echo times through ``client``, attached to ``guest`` once it showed ``marker``; closes the client."""
    clock = _EchoClock(strip)
    ready = asyncio.get_running_loop().create_future()
    banner = bytearray()

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] != "output":
            return
        clock.seen(event["data"])
        if not ready.done():
            banner.extend(event["data"])
            if marker in banner:
                ready.set_result(None)

    try:
        client.on_event = on_event
        reply = await client.request("attach", target=guest, console=0, mode="rw", **{"from": 0})
        await asyncio.wait_for(ready, 20)
        await asyncio.sleep(0.2)  # the rest of the replay lands before the clock is armed
        session = reply["session"]
        # send_nowait: `input` with ack false, as `vconsole attach` and the TUI send keys.
        return await _keys(clock, lambda key: client.send_nowait("input", session=session, data=key), keys, line)
    finally:
        await client.close()


async def _fd_keys(fd: int, keys: int, strip: bool, line: int = 0) -> list[float]:
    """Keys written to ``fd`` and read back from it by an event-loop reader."""
    clock = _EchoClock(strip)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        clock.seen(data)

    blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        return await _keys(clock, lambda key: _write_all(fd, key), keys, line)
    finally:
        loop.remove_reader(fd)
        os.set_blocking(fd, blocking)


def _write_all(fd: int, data: bytes) -> None:
    if os.write(fd, data) != len(data):
        raise OSError(f"short write of a key to fd {fd}")


async def _bare_keys(relay: BareRelay, keys: int) -> list[float]:
    clock = _EchoClock()
    transport = await relay.connect(clock.seen)
    try:
        return await _keys(clock, transport.write, keys)
    finally:
        transport.close()


def _drain(fd: int, quiet: float = 0.2) -> None:
    while select.select([fd], [], [], quiet)[0]:
        os.read(fd, 65536)


PATHS = ("vconsole", "pty", "tmux", "bare")


def _costing(relay_pid: int, keys: int, run: Callable[[], list[float]]) -> tuple[list[float], float]:
    """Run one round; also the relay process's CPU seconds per key during it."""
    before = cpu_ns(relay_pid)
    samples = run()
    return samples, (cpu_ns(relay_pid) - before) / 1e9 / keys


def measure(keys: int, repeat: int) -> tuple[dict[str, list[tuple[float, float]]], dict[str, list[float]]]:
    """(p50, p99) per run for each path, and the relay process's CPU per key; runs interleaved."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in PATHS}
    cpu: dict[str, list[float]] = {"vconsole": [], "tmux": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="vcbe") as tmp, \
            lab([{"id": 501, "name": "echo", "vttys": 1, "init": echo_argv()}]) as host, \
            BareRelay(Path(tmp) / "bare.sock", echo_argv()) as bare:
        proc, master = spawn_on_pty(echo_argv())
        tmux = Tmux(Path(tmp), " ".join(echo_argv()))
        try:
            read_until(master, b"READY")
            read_until(tmux.master, b"READY")
            _drain(tmux.master)
            assert host.broker is not None and bare.proc is not None
            relays = {"vconsole": host.broker.pid, "tmux": tmux.server_pid(), "bare": bare.proc.pid}
            for run in range(repeat + 1):  # the first round warms up and is not counted
                rounds: dict[str, tuple[list[float], float]] = {
                    "vconsole": _costing(relays["vconsole"], keys, lambda: asyncio.run(_broker_keys(host, keys))),
                    "pty": (asyncio.run(_fd_keys(master, keys, strip=False)), 0.0),
                    "tmux": _costing(relays["tmux"], keys,
                                     lambda: asyncio.run(_fd_keys(tmux.master, keys, strip=True))),
                    "bare": _costing(relays["bare"], keys, lambda: asyncio.run(_bare_keys(bare, keys))),
                }
                _drain(tmux.master, 0.05)
                if run:
                    for name, (samples, per_key) in rounds.items():
                        results[name].append(_percentiles(samples))
                        if name in cpu:
                            cpu[name].append(per_key)
        finally:
            stop(proc, master)
            tmux.close()
    return results, cpu


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    keys, repeat = (100, 3) if quick else (300, 5)
    res, cpu = measure(keys, repeat)

    def col(name: str, i: int) -> Stats:
        return Stats([pair[i] * 1e6 for pair in res[name]])

    rows: list[Row] = []
    for i, pct in ((0, "p50"), (1, "p99")):
        vc = col("vconsole", i)
        extra: dict[str, Any] = {"target": "≤ 4x direct PTY", "ratio_max": 4.0} if pct == "p99" else {}
        rows.append(Row("echo", f"key echo {pct}", "µs", vc, "direct PTY", col("pty", i), **extra))
        extra = {"target": "≤ 1x tmux", "ratio_max": 1.0} if pct == "p99" else {}
        rows.append(Row("echo", f"key echo {pct}", "µs", vc, "tmux client via pty", col("tmux", i), **extra))
        rows.append(Row("echo", f"key echo {pct}", "µs", vc, "bare asyncio relay (no framing)", col("bare", i)))
    broker_cpu = Stats([c * 1e6 for c in cpu["vconsole"]])
    rows.append(Row("echo", "relay CPU per key", "µs", broker_cpu, "tmux server",
                    Stats([c * 1e6 for c in cpu["tmux"]])))
    rows.append(Row("echo", "relay CPU per key", "µs", broker_cpu, "bare asyncio relay",
                    Stats([c * 1e6 for c in cpu["bare"]])))
    report.add(rows)
    report.note("echo", f"{keys} keys per run, one in flight at a time ({GAP * 1000:.0f} ms apart), {repeat} runs "
                "interleaved with the references after one warm-up run; p50/p99 within a run, then median and "
                "[min..max] over runs. The broker client is the async Client (send_nowait `input` with "
                "ack false, `output` event).")
    report.note("echo", "Every path is timed the same way: the key is sent from an asyncio loop and the clock "
                "stops in the callback that receives the echo (the Client's event handler, a loop reader on "
                "the pty or tmux client master, a Protocol on the bare relay's socket).")
    report.note("echo", "Relay CPU per key: CPU time (user + system, /proc/PID/task/*/schedstat) of the process "
                "between client and guest (the broker, the tmux server, the bare relay) during a run, over the "
                "keys of the run.")
    report.note("echo", "The bare asyncio relay (benchmarks/bare_relay.py) is one Python process relaying raw "
                "bytes between a Unix socket and the guest's pty, with nothing else: the floor any asyncio "
                "relay pays, so broker minus bare is the broker's own cost.")
