"""TUI in a real terminal: the ``vconsole`` TUI in a tmux pane, typed into and read as a person does.

Figures, each with a reference measured in the same run:

- key echo, idle: a letter typed at a lab guest's bash in a TUI tab until it
  shows in the pane, against the same in a plain tmux pane running the same
  bash (same size, same tmux server); the TUI has a second, quiet tab open;
- key echo while a hidden tab floods: the same while the other tab's guest
  runs ``yes``, against the same TUI between floods (rounds interleaved);
- Ctrl-C on ``yes`` in the visible tab until the next prompt shows (the
  flood runs for FLOOD_BEFORE_CTRL_C first), against the plain pane;
- idle CPU of the TUI, and of the broker, with a lab fleet of 100 containers
  x 12 vttys (1200 consoles), from /proc/PID/task/*/schedstat.

Method. One tmux server (private socket, no config) holds one detached
session with two windows of COLS x ROWS: the TUI, run as the pane's command,
and a plain bash. Keys go in with ``send-keys -H`` (raw bytes, no key-name
parsing) through one persistent control-mode client
(benchmarks/tmux_control.py, ``tmux -C``): a command is a line on a pipe and
its reply, with no process started per key.

Echo is timed by the panes' ``%output`` notifications (the client's pane
output is on while echo is timed): a figure runs from just before the
send-keys to the moment the client reads the first ``%output`` of that pane
whose printable text (escapes stripped) holds the typed letter and after which
one ``capture-pane`` shows the echo at the prompt. tmux parses what a pane's
program wrote into the pane's screen in the same step that queues the
``%output``, so the figure is when the echo is on the pane's screen, within a
tmux loop and a pipe wake-up (tens of µs); a capture-pane poll instead would
round every figure up to its interval (an earlier version polled every 1 ms,
and a plain pane's ~0.4 ms echo read as 0.4 or 1.4 ms by luck, which made the
ratio meaningless). Should no such ``%output`` come, a capture after
SILENCE (50 ms) of silence times the echo, and the notes count how often. The
plain pane and the TUI take turns key by key, so host noise hits both alike.

Ctrl-C on a flood is timed with capture-pane every POLL seconds (pane output
off: copying a flood through the control pipe would load tmux for both
panes), so that figure is at most about POLL plus a capture late, the same for
both panes; its target (50 ms) is far above that.
Tabs are opened as tests/tui/person.py does (prefix l, filter, Enter): the
benchmark follows the TUI's keys as the tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from benchmarks.echo import _percentiles
from benchmarks.harness import cpu_ns, lab
from benchmarks.report import Report, Row, Stats
from benchmarks.scale import wait_all_connected
from benchmarks.tmux_control import (
    LINE_KEYS,
    POLL,
    SILENCE,
    Screen,
    TmuxControl,
    Typist,
    shows,
)
from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane
from tests.tui.person import open_console, vconsole_argv, wait_tui_ready

BENCH = "tuiterm"
COLS, ROWS = 120, 40
GAP = 0.01  # seconds between keys: one key in flight at a time, like typing
WARM_KEYS = 10  # letters per pane before any is timed
MIN_KEYS = LINE_KEYS  # samples per phase at the least, whatever its time budget
FLOOD_BEFORE_CTRL_C = 0.5  # seconds ``yes`` runs before Ctrl-C: the backlog a person meets
PLAIN_PROMPT = "plain# "
FLEET_CONTAINERS, FLEET_VTTYS = 100, 12
FLOOD_LINE = re.compile(r"(?:^|\W)y$")  # a line of ``yes`` output, right of whatever frames it


def flooding(screen: Screen) -> bool:
    """``yes`` fills the pane and has scrolled away the command that started it."""
    return sum(bool(FLOOD_LINE.search(row.rstrip())) for row in screen) >= 10 and \
        not any("PS1=" in row for row in screen)


def echo_round(typists: list[Typist], count: int, budget: float) -> list[list[float]]:
    """Seconds from each letter to its echo, a list per typist, one key each in turn.

    ``count`` rounds of keys, or fewer (never under MIN_KEYS) once ``budget``
    seconds have passed: a slow path still gets enough samples for its median.
    Taking turns key by key, every pane meets the same host noise.
    """
    out: list[list[float]] = [[] for _ in typists]
    end = time.monotonic() + budget
    while len(out[0]) < count and (len(out[0]) < MIN_KEYS or time.monotonic() < end):
        for typist, samples in zip(typists, out, strict=True):
            samples.append(typist.key())
            time.sleep(GAP)
    for typist in typists:
        typist.clear()
    return out


def ctrl_c(tmux: TmuxControl, pane: str, trial: int) -> float:
    """Start ``yes``, let it run, press Ctrl-C: seconds until the next prompt shows."""
    mark = f"c{trial}>"
    tmux.send(pane, f"PS1='{mark} '; yes\r".encode())
    tmux.wait(pane, flooding, "the yes flood")
    time.sleep(FLOOD_BEFORE_CTRL_C)
    began = time.perf_counter()
    tmux.send(pane, b"\x03")
    tmux.wait(pane, shows(mark), f"the prompt {mark!r} after Ctrl-C")
    return time.perf_counter() - began


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99, in ms."""
    p50, p99 = _percentiles(samples)
    return p50 * 1e3, p99 * 1e3


def tui_pid(pane_pid: int) -> int:
    """The TUI's Python process: the pane's process or a descendant of it."""
    todo = [pane_pid]
    while todo:
        pid = todo.pop(0)
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/exe").resolve().name.startswith("python"):
                return pid
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                todo += [int(c) for c in children.read_text().split()]
    raise RuntimeError(f"no Python process under pane process {pane_pid}")


class CpuMeter:
    """Share of one core a process used between two readings."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mark()

    def mark(self) -> None:
        """Start a new interval."""
        self._ns, self._at = cpu_ns(self.pid), time.monotonic()

    def percent(self) -> float:
        """% of a core since the last mark (and mark again)."""
        used, wall = cpu_ns(self.pid) - self._ns, time.monotonic() - self._at
        self.mark()
        return used / 1e9 / wall * 100


@dataclass
class TuiPane:
    """The TUI running in a tmux pane."""

    pane: TmuxPane  # the tmux server and pane, driven as the tests drive it
    tmux: TmuxControl  # a control client of the same server, for timing
    pane_id: str
    pid: int  # the TUI's process


@contextlib.contextmanager
def tui_pane(host: LabHost) -> Iterator[TuiPane]:
    """The TUI in a tmux pane on ``host``'s broker."""
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env["TERM"] = "xterm-256color"
    command = shlex.join([*vconsole_argv(), "--socket", str(host.paths.socket)])
    pane = TmuxPane(env, cols=COLS, rows=ROWS, command=command)
    tmux: TmuxControl | None = None
    try:
        tmux = TmuxControl(pane.name, "0", env)
        pane_id, pane_pid = tmux.command("display -p -t 0 '#{pane_id} #{pane_pid}'")[0].split()
        yield TuiPane(pane, tmux, pane_id, tui_pid(int(pane_pid)))
    finally:
        if tmux is not None:
            tmux.close()
        pane.close()


@contextlib.contextmanager
def person_steps() -> Iterator[None]:
    """tests/tui/person.py fails a test with pytest.fail; here that is an ordinary error."""
    try:
        yield
    except pytest.fail.Exception as exc:
        raise RuntimeError(str(exc)) from None


def flood_fleet(host: LabHost) -> list[dict[str, Any]]:
    """web: the demo shell; flood: ``yes`` while its go file exists (as many times as asked)."""
    go = shlex.quote(str(host.ctl_dir("flood") / "go"))
    script = (f"while :; do while [ ! -e {go} ]; do sleep 0.05; done; yes & p=$!; "
              f"while [ -e {go} ]; do sleep 0.05; done; kill $p; wait $p; done")
    return [{"id": 101, "name": "web", "vttys": 1}, {"id": 103, "name": "flood", "vttys": 1,
                                                      "init": ["/bin/sh", "-c", script]}]


def history_end(host: LabHost, session: str) -> int:
    """How many bytes the broker has read from ``session``'s console."""
    async def ask() -> int:
        client = await host.client()
        try:
            listing = await client.request("list")
        finally:
            await client.close()
        for guest in listing["guests"]:
            for con in guest["consoles"]:
                if con["session"] == session:
                    return int(con["end"])
        raise RuntimeError(f"no session {session} in the listing")
    return asyncio.run(ask())


def settle(meter: CpuMeter, below: float = 15.0, timeout: float = 10.0) -> None:
    """Wait until the process uses under ``below`` % of a core (a flood's backlog is drained)."""
    deadline = time.monotonic() + timeout
    meter.mark()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        if meter.percent() < below:
            return


def measure_keys(report: Report, quick: bool) -> None:
    """Echo (idle, hidden flood) and Ctrl-C, TUI against a plain pane of the same tmux server."""
    keys, budget, rounds, trials = (30, 4.0, 2, 3) if quick else (80, 10.0, 3, 8)
    res: dict[str, list[tuple[float, float]]] = {"plain": [], "quiet": [], "flood": [], "plain_flood": []}
    cpu: dict[str, list[float]] = {"quiet": [], "flood": [], "broker_quiet": [], "broker_flood": []}
    rates: list[float] = []
    cc: dict[str, list[float]] = {"tui": [], "plain": []}
    with lab(build=flood_fleet) as host, tui_pane(host) as shown, person_steps():
        pane, tmux, tui = shown.pane, shown.tmux, shown.pane_id
        go = host.ctl_dir("flood") / "go"
        wait_tui_ready(pane)
        open_console(pane, "flood")
        open_console(pane, "web")
        pane.wait_for("root@web:~#")
        # A window of the TUI's session, so its output reaches the control client too; made
        # only now and not selected (-d): TmuxPane's steps target "0", the TUI's pane.
        plain = tmux.command(f"new-window -d -P -F '#{{pane_id}}' "
                             f"\"env PS1='{PLAIN_PROMPT}' HISTFILE= bash --noprofile --norc -i\"")[0]
        tmux.command(f"resize-window -t {plain} -x {COLS} -y {ROWS}")
        tmux.wait(plain, shows(PLAIN_PROMPT.rstrip()), "the plain prompt")
        began = time.perf_counter()
        for _ in range(100):
            tmux.screen(plain)
        capture_us = (time.perf_counter() - began) / 100 * 1e6
        tmux.watch_output(True)
        typists = [Typist(tmux, plain, PLAIN_PROMPT), Typist(tmux, tui, "# ")]
        # Warm up both paths, checking the %output timing against back-to-back captures.
        lags = [typist.check_key() * 1e6 for _ in range(WARM_KEYS) for typist in typists]
        for typist in typists:
            typist.clear()
        meter = CpuMeter(shown.pid)
        assert host.broker is not None
        broker = CpuMeter(host.broker.pid)
        for _ in range(rounds):
            meter.mark()
            broker.mark()
            plain_s, tui_s = echo_round(typists, keys, budget)
            res["plain"].append(percentiles(plain_s))
            res["quiet"].append(percentiles(tui_s))
            cpu["quiet"].append(meter.percent())
            cpu["broker_quiet"].append(broker.percent())
            start = history_end(host, "lab:103:vtty0")
            go.touch()
            deadline = time.monotonic() + 20
            while history_end(host, "lab:103:vtty0") - start < 1 << 20:
                if time.monotonic() > deadline:
                    raise RuntimeError("the hidden tab's guest did not flood")
                time.sleep(0.1)
            time.sleep(0.5)
            start, at = history_end(host, "lab:103:vtty0"), time.monotonic()
            meter.mark()
            broker.mark()
            plain_s, tui_s = echo_round(typists, keys, budget)
            res["plain_flood"].append(percentiles(plain_s))
            res["flood"].append(percentiles(tui_s))
            cpu["flood"].append(meter.percent())
            cpu["broker_flood"].append(broker.percent())
            rates.append((history_end(host, "lab:103:vtty0") - start) / (time.monotonic() - at) / 1e6)
            go.unlink()
            settle(meter)
        # A flood through the control pipe would load tmux for both panes: Ctrl-C polls captures.
        tmux.watch_output(False)
        for trial in range(trials):
            cc["plain"].append(ctrl_c(tmux, plain, trial) * 1e3)
            cc["tui"].append(ctrl_c(tmux, tui, trial) * 1e3)

    def col(name: str, i: int) -> Stats:
        return Stats([pair[i] for pair in res[name]])

    ref = "plain tmux pane (bash)"
    report.add([
        Row(BENCH, "key echo p50, idle", "ms", col("quiet", 0), ref, col("plain", 0), "≤ 2x plain tmux", ratio_max=2.0),
        Row(BENCH, "key echo p99, idle", "ms", col("quiet", 1), ref, col("plain", 1)),
        Row(BENCH, "key echo p50, hidden tab flooding", "ms", col("flood", 0), "same TUI, no flood", col("quiet", 0),
            "≤ 1.3x no flood", ratio_max=1.3),
        Row(BENCH, "key echo p99, hidden tab flooding", "ms", col("flood", 1), "same TUI, no flood", col("quiet", 1)),
        Row(BENCH, "TUI CPU while typing, hidden tab flooding", "% of a core", Stats(cpu["flood"]),
            "same TUI, no flood", Stats(cpu["quiet"])),
        Row(BENCH, "broker CPU while typing, hidden tab flooding", "% of a core", Stats(cpu["broker_flood"]),
            "no flood", Stats(cpu["broker_quiet"])),
        Row(BENCH, "Ctrl-C on yes until the prompt", "ms", Stats(cc["tui"]), ref, Stats(cc["plain"]),
            "≤ 50 ms p50", absolute_max=50.0),
    ])
    report.note(BENCH, f"tmux {COLS}x{ROWS}; the TUI has two tabs (web: the lab's demo bash, visible; flood: "
                "`yes` while asked, hidden); the plain pane (a second window of the TUI's tmux session) runs "
                f"bash. Echo: {rounds} rounds of (no flood, hidden flood); in each phase the plain pane and the "
                f"TUI take turns key by key ({keys} letters each, fewer, never under {MIN_KEYS}, once a phase took "
                f"{budget:g} s; {GAP * 1e3:.0f} ms between keys, one in flight; {LINE_KEYS} per line then Ctrl-U), "
                f"after {WARM_KEYS} warm-up keys each; p50/p99 within a round, then median [min..max] over rounds. "
                "TUI and broker CPU are over the whole phase, the plain pane's turns included.")
    report.note(BENCH, "Plain tmux pane while the TUI's hidden tab floods (same turns): echo p50 "
                f"{Stats([r[0] for r in res['plain_flood']]).median:.2f} ms, p99 "
                f"{Stats([r[1] for r in res['plain_flood']]).median:.2f} ms (the host's share of the flood's cost).")
    report.note(BENCH, "The hidden flood ran at " + ", ".join(f"{r:.0f}" for r in rates) + " MB/s (bytes the "
                "broker read from the flood guest while keys were timed); after a flood the TUI is left to "
                "drain (its CPU under 15%) before the next round.")
    report.note(BENCH, f"Ctrl-C: {trials} trials per pane, interleaved: `PS1='cN> '; yes`, wait until the flood "
                f"fills the pane, {FLOOD_BEFORE_CTRL_C:g} s more, Ctrl-C, until a capture shows the new prompt "
                f"(captures {POLL * 1e3:g} ms apart, pane output off: resolution about {POLL * 1e3:g} ms plus a "
                "capture, the same for both panes); figure and reference are median [min..max] over trials.")
    method = ", ".join(f"{name} {t.keys - t.by_capture}/{t.keys} by %output, {t.retries} passed over"
                       for name, t in zip(("plain", "TUI"), typists, strict=True))
    report.note(BENCH, "Echo method: one persistent control-mode client (`tmux -C`) sends each letter with "
                "send-keys -H and receives the panes' output as %output lines; the figure runs from just "
                "before the send to the read of the first %output of that pane holding the letter (escapes "
                "stripped) after which one capture-pane shows the echo on screen. tmux updates the pane's "
                "screen in the step that queues the %output, so the resolution is a tmux loop plus a pipe "
                f"wake-up (tens of µs), not a polling interval. This run: {method} (a capture after "
                f"{SILENCE * 1e3:.0f} ms of silence would time the rest); a capture round trip took "
                f"{capture_us:.0f} µs (mean of 100). Check on the warm-up keys (both panes): a capture-pane "
                f"poll with no sleep first showed the echo {Stats(lags).show()} µs after the %output "
                "that times it (below 0 would mean a screen showed an echo before its %output came).")


def cpu_fleet() -> list[dict[str, Any]]:
    """FLEET_CONTAINERS x FLEET_VTTYS idle consoles (every program ``sleep``)."""
    idle = ["sleep", "100000"]
    return [{"id": 2000 + i, "name": f"g{i}", "vttys": FLEET_VTTYS, "init": idle, "login": idle}
            for i in range(FLEET_CONTAINERS)]


def measure_idle(report: Report, quick: bool) -> None:
    """CPU of the TUI and the broker while nothing happens, with a big fleet listed."""
    windows, seconds = (2, 3.0) if quick else (4, 5.0)
    containers = 20 if quick else FLEET_CONTAINERS
    fleet = cpu_fleet()[:containers]
    count = containers * FLEET_VTTYS
    with lab(fleet, start_timeout=180) as host, tui_pane(host) as shown, person_steps():
        asyncio.run(wait_all_connected(host, count, poll=0.2))
        shown.pane.wait_for("g0 2000", timeout=60)
        time.sleep(3)  # the TUI has had its listing of every console
        assert host.broker is not None
        tui_cpu, broker_cpu = CpuMeter(shown.pid), CpuMeter(host.broker.pid)
        tui_w: list[float] = []
        broker_w: list[float] = []
        for _ in range(windows):
            time.sleep(seconds)
            tui_w.append(tui_cpu.percent())
            broker_w.append(broker_cpu.percent())
    report.add([
        Row(BENCH, f"TUI idle CPU, {count} consoles", "% of a core", Stats(tui_w), target="< 1% of a core",
            absolute_max=1.0),
        Row(BENCH, f"broker idle CPU, {count} consoles, TUI attached", "% of a core", Stats(broker_w)),
    ])
    report.note(BENCH, f"Idle CPU: {containers} lab containers x {FLEET_VTTYS} vttys running `sleep`, the TUI "
                f"showing the guest list (no tab open); {windows} windows of {seconds:g} s after every console "
                "is connected and 3 s more; user + system time of all threads (schedstat).")


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    measure_keys(report, quick)
    measure_idle(report, quick)
