"""Many hosts in one TUI: 16 hosts x 64 consoles, over ssh, in a real terminal (tmux).

Each "host" is a lab runtime directory of its own (its broker and lab
started here, before the runs) reached through one private sshd on
127.0.0.1 by ``ssh ... env XDG_RUNTIME_DIR=... python -m vconsole bridge``,
as tests/hosts/conftest.py reaches its three; the client's config.toml names
them all in ``[[hosts]]`` (``local = false``). Figures:

- startup to a full tree: from the Enter that starts ``vconsole`` in a tmux
  pane until the tree shows every host's consoles connected. The tree of
  16 x 64 consoles is far taller than a screen, so the check is made through
  the TUI's own filter: as soon as the TUI draws, the guest list is focused
  (prefix l) and ``tail`` typed; every host has one guest ``tail`` with one
  console, so the filtered tree is 4 rows a host and fits the pane (COLS x
  ROWS). Guest ids encode the host (host k: 1000 + 100 k + i), so each of
  the 16 ``tail`` rows names its host. Reference: ``vconsole ls --json``
  over the same hosts (the same 16 ssh logins, no drawing).
- idle CPU of the TUI (user + system of all its threads, schedstat) with the
  full tree shown (filter cleared), against the same TUI configured with one
  of the hosts, both running at once over the same windows; the ssh clients
  the TUI runs and the 16 brokers are reported too.
- filter keystroke to redrawn tree: from the full tree, one letter that is
  in exactly one guest name (FILTER_KEYS), timed from just before its
  send-keys to the ``%output`` after which a capture shows only that guest
  (benchmarks/tmux_control.py, as tuiterm times echo); Backspace restores
  the full tree between keys (not timed).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import cpu_ns, lab
from benchmarks.report import Report, Row, Stats
from benchmarks.scale import wait_all_connected
from benchmarks.ssh_hosts import loopback_sshd, ssh_argv
from benchmarks.tmux_control import Check, Screen, TmuxControl
from benchmarks.tui_terminal import CpuMeter, tui_pid
from tests.hosts.conftest import RemoteHost, host_table, write_client_config
from tests.lab_host import LabHost
from tests.ssh_server import SshServer, _descendants
from tests.tmux_pane import TmuxPane
from tests.tui.person import vconsole_argv

BENCH = "tuihosts"
COLS, ROWS = 160, 72  # the filtered tree (4 rows a host) fits: 16 hosts, 64 rows
GUESTS = ("web", "db", "cache", "mail", "dns", "proxy", "queue")  # each (consoles - 1) / 7 vttys
LAST = "tail"  # one guest of one console per host: what the startup check filters to
FILTER_KEYS = "wxqmn"  # each letter is in exactly one guest name: web, proxy, queue, mail, dns
PREFIX = b"\x1d"  # Ctrl-], the TUI's default prefix
POLL = 0.01  # seconds between captures while waiting for a screen (tmux shares the cores)
GUEST_ROW = re.compile(r"\b(" + "|".join((*GUESTS, LAST)) + r") (\d{4})\b")


@dataclass(frozen=True)
class BenchHost:
    """One host of the benchmark: its name, index and lab."""

    name: str
    index: int
    lab: LabHost

    def guest_id(self, i: int) -> int:
        """The id of its ``i``-th guest (the last is ``tail``): the host is in it."""
        return 1000 + 100 * self.index + i

    def table(self, server: SshServer) -> str:
        """Its ``[[hosts]]`` table."""
        return host_table(self.name, server, RemoteHost(self.name, self.lab.base).command)


def fleet(index: int, consoles: int) -> list[dict[str, Any]]:
    """len(GUESTS) containers of (consoles - 1) / len(GUESTS) vttys, and ``tail`` with one: ``consoles`` in all."""
    vttys = (consoles - 1) // len(GUESTS)
    idle = ["sleep", "100000"]
    guests = [{"id": 1000 + 100 * index + i, "name": name, "vttys": vttys, "init": idle, "login": idle}
              for i, name in enumerate(GUESTS)]
    return [*guests, {"id": 1000 + 100 * index + len(GUESTS), "name": LAST, "vttys": 1, "init": idle, "login": idle}]


@contextlib.contextmanager
def hosts_running(count: int, consoles: int) -> Iterator[list[BenchHost]]:
    """``count`` labs with their brokers, every console connected."""
    with contextlib.ExitStack() as stack:
        hosts = [BenchHost(f"h{k:02d}", k, stack.enter_context(lab(fleet(k, consoles), start_timeout=120)))
                 for k in range(count)]
        for host in hosts:
            asyncio.run(wait_all_connected(host.lab, len(GUESTS) * ((consoles - 1) // len(GUESTS)) + 1, poll=0.2))
        yield hosts


def client_env(base: Path, tables: list[str]) -> dict[str, str]:
    """The environment of a vconsole client whose config names ``tables`` (no local broker)."""
    base.mkdir()
    (base / "run").mkdir(mode=0o700)
    write_client_config(base, tables, local=False)
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "VCONSOLE_SOCKET")}
    env.update(XDG_RUNTIME_DIR=str(base / "run"), XDG_STATE_HOME=str(base / "state"),
               XDG_CONFIG_HOME=str(base / "config"), VCONSOLE_PROVIDERS="lab", TERM="xterm-256color")
    return env


def ls_json(env: dict[str, str], hosts: list[BenchHost]) -> float:
    """Seconds ``vconsole ls --json`` takes over every host; checks it listed them all."""
    began = time.perf_counter()
    done = subprocess.run([*vconsole_argv(), "ls", "--json"], env=env, capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"vconsole ls --json exited {done.returncode}: {done.stderr.strip()[-500:]}")
    out = json.loads(done.stdout)
    connected = [h["name"] for h in out.get("hosts", []) if h.get("state") == "connected"]
    if sorted(connected) != sorted(h.name for h in hosts) or len(out["guests"]) != len(hosts) * (len(GUESTS) + 1):
        raise RuntimeError(f"ls --json listed hosts {connected} and {len(out['guests'])} guests")
    return took


def ssh_logins(server: SshServer, count: int) -> float:
    """Seconds ``count`` concurrent ``ssh HOST true`` take: OpenSSH's own share of a start over ``count`` hosts."""
    began = time.perf_counter()
    procs = [subprocess.Popen(ssh_argv(server, "true"), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(count)]
    failed = [p.stderr.read().decode(errors="replace").strip() for p in procs if p.wait(60) != 0 and p.stderr]
    took = time.perf_counter() - began
    for proc in procs:
        if proc.stderr is not None:
            proc.stderr.close()
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} ssh logins failed: {failed[0]}")
    return took


def shows_tails(hosts: list[BenchHost]) -> Check:
    """The filtered tree: every host's ``tail`` guest, its console connected on the next row."""
    wanted = {h.guest_id(len(GUESTS)) for h in hosts}

    def check(screen: Screen) -> bool:
        ready: set[int] = set()
        for row, below in itertools.pairwise(screen):
            found = GUEST_ROW.search(row)
            if found and found[1] == LAST and re.search(r"\bvtty0 ●", below):
                ready.add(int(found[2]))
        return ready >= wanted

    return check


def guests_shown(screen: Screen) -> set[str]:
    """The guest names on the screen (rows ``NAME ID``)."""
    return {m[1] for row in screen for m in GUEST_ROW.finditer(row)}


def filtered_to(guest: str) -> Check:
    """The tree shows ``guest`` and no other guest."""
    return lambda screen: guests_shown(screen) == {guest}


def unfiltered(screen: Screen) -> bool:
    """The tree shows more than one guest name (the filter is cleared)."""
    return len(guests_shown(screen)) > 1


def wait_screen(tmux: TmuxControl, pane: str, check: Check, what: str, timeout: float = 60.0) -> float:
    """Capture every POLL s until ``check`` holds; time.perf_counter() of the capture that showed it."""
    deadline = time.monotonic() + timeout
    while True:
        screen = tmux.screen(pane)
        if check(screen):
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} never showed; screen:\n" + "\n".join(screen))
        time.sleep(POLL)


@dataclass
class HostsTui:
    """A tmux pane whose shell starts the TUI on each Enter (and waits again when it quits)."""

    pane: TmuxPane
    tmux: TmuxControl
    pane_id: str
    hosts: list[BenchHost]
    pid: int = 0  # the running TUI's process

    def start(self) -> float:
        """Enter: seconds until the tree, filtered to ``tail``, shows every host's console connected."""
        began = time.perf_counter()
        self.tmux.send(self.pane_id, b"\r")
        wait_screen(self.tmux, self.pane_id, lambda s: any("vconsole ·" in row for row in s), "the TUI")
        self.tmux.send(self.pane_id, PREFIX + b"l" + LAST.encode())
        shown = wait_screen(self.tmux, self.pane_id, shows_tails(self.hosts), "every host's tail console")
        pane_pid = int(self.tmux.command(f"display -p -t {self.pane_id} '#{{pane_pid}}'")[0])
        self.pid = tui_pid(pane_pid)
        return shown - began

    def clear_filter(self) -> None:
        """Backspace until the filter is empty: the full tree."""
        self.tmux.send(self.pane_id, b"\x7f" * len(LAST))
        wait_screen(self.tmux, self.pane_id, unfiltered, "the full tree")

    def quit(self) -> None:
        """Prefix q; wait until the TUI's process is gone."""
        self.tmux.send(self.pane_id, PREFIX + b"q")
        deadline = time.monotonic() + 20
        while Path(f"/proc/{self.pid}").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the TUI did not quit")
            time.sleep(0.05)

    def filter_key(self, key: str, guest: str) -> float:
        """From the full tree: seconds from typing ``key`` until the tree shows only ``guest``."""
        self.tmux.drain()
        began = time.perf_counter()
        self.tmux.send(self.pane_id, key.encode())
        echo = self.tmux.wait_echo(self.pane_id, key, filtered_to(guest), f"the tree filtered to {guest}")
        took = echo.at - began
        self.tmux.send(self.pane_id, b"\x7f")
        wait_screen(self.tmux, self.pane_id, unfiltered, "the full tree again")
        time.sleep(0.2)
        return took


@contextlib.contextmanager
def hosts_tui(env: dict[str, str], hosts: list[BenchHost]) -> Iterator[HostsTui]:
    """The pane, its shell waiting for Enter to start ``vconsole`` (again after each quit)."""
    command = f"while read _; do {shlex.join(vconsole_argv())}; done"
    pane = TmuxPane(env, cols=COLS, rows=ROWS, command=command)
    tmux: TmuxControl | None = None
    try:
        tmux = TmuxControl(pane.name, "0", env)
        pane_id = tmux.command("display -p -t 0 '#{pane_id}'")[0].strip()
        yield HostsTui(pane, tmux, pane_id, hosts)
    finally:
        if tmux is not None:
            tmux.close()
        pane.close()


@contextlib.contextmanager
def stray_daemons(workdir: Path) -> Iterator[None]:
    """On the way out, kill any broker or lab a client started in its own runtime directory.

    With ``local = false`` none should start; a TUI without the many-host mode does start one.
    """
    try:
        yield
    finally:
        for base in workdir.glob("client*"):
            RemoteHost(base.name, base).kill_daemons()


def ssh_cpu_ns(pid: int) -> int:
    """CPU of the ssh clients under the TUI's process so far, in ns."""
    total = 0
    for child in _descendants(pid):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{child}/comm").read_text().strip() == "ssh":
                total += cpu_ns(child)
    return total


def measure(count: int, consoles: int, trials: int, windows: int, seconds: float, keys: int,
            workdir: Path) -> dict[str, list[float]]:
    """Every figure's samples."""
    out: dict[str, list[float]] = {k: [] for k in ("startup", "ls", "logins", "idle", "idle_one", "ssh", "brokers",
                                                   "filter")}
    with loopback_sshd(workdir) as server, hosts_running(count, consoles) as hosts:
        env = client_env(workdir / "client", [h.table(server) for h in hosts])
        one_env = client_env(workdir / "client1", [hosts[0].table(server)])
        ls_json(env, hosts)  # a warm-up: every host's sshd login and bridge once
        with stray_daemons(workdir), hosts_tui(env, hosts) as tui, hosts_tui(one_env, hosts[:1]) as one:
            for trial in range(trials):
                out["ls"].append(ls_json(env, hosts))
                out["logins"].append(ssh_logins(server, count))
                out["startup"].append(tui.start())
                if trial < trials - 1:
                    tui.quit()
            one.start()
            tui.clear_filter()
            one.clear_filter()
            time.sleep(3)  # the tree drawn, the TUIs' first listings handled
            meters = [CpuMeter(tui.pid), CpuMeter(one.pid)]
            brokers = [CpuMeter(h.lab.broker.pid) for h in hosts if h.lab.broker is not None]
            ssh_began, at = ssh_cpu_ns(tui.pid), time.monotonic()
            for _ in range(windows):
                time.sleep(seconds)
                out["idle"].append(meters[0].percent())
                out["idle_one"].append(meters[1].percent())
                out["brokers"].append(sum(b.percent() for b in brokers))
            out["ssh"].append((ssh_cpu_ns(tui.pid) - ssh_began) / 1e9 / (time.monotonic() - at) * 100)
            tui.tmux.watch_output(True)
            for i in range(keys):
                key = FILTER_KEYS[i % len(FILTER_KEYS)]
                guest = next(g for g in GUESTS if key in g)
                out["filter"].append(tui.filter_key(key, guest) * 1e3)
    return out


def run(report: Report, quick: bool = False) -> None:
    """Measure and add the rows."""
    count, consoles, trials, windows, seconds, keys = (4, 15, 2, 2, 3.0, 5) if quick else (16, 64, 3, 4, 5.0, 20)
    with tempfile.TemporaryDirectory(prefix="vcbth") as tmp:
        res = measure(count, consoles, trials, windows, seconds, keys, Path(tmp))
    total = count * consoles
    report.add([
        Row(BENCH, f"startup to a full tree, {count} hosts x {consoles} consoles", "s", Stats(res["startup"]),
            "vconsole ls --json, same hosts", Stats(res["ls"]), "< 3 s", absolute_max=3.0),
        Row(BENCH, f"startup to a full tree, {count} hosts x {consoles} consoles", "s", Stats(res["startup"]),
            f"{count} concurrent `ssh HOST true`", Stats(res["logins"])),
        Row(BENCH, f"TUI idle CPU, {count} hosts ({total} consoles)", "% of a core", Stats(res["idle"]),
            f"same TUI, 1 host ({consoles} consoles)", Stats(res["idle_one"]), "< 2% of a core", absolute_max=2.0),
        Row(BENCH, f"its {count} ssh clients, idle", "% of a core", Stats(res["ssh"])),
        Row(BENCH, f"{count} brokers together, idle, both TUIs attached", "% of a core", Stats(res["brokers"])),
        Row(BENCH, "filter keystroke to redrawn tree", "ms", Stats(res["filter"]), target="< 100 ms",
            absolute_max=100.0),
    ])
    report.note(BENCH, f"{count} hosts, each a lab runtime directory with its own broker and {consoles} consoles "
                f"({len(GUESTS)} containers x {(consoles - 1) // len(GUESTS)} vttys and `{LAST}` x 1, every "
                "program `sleep`), reached through one private sshd on 127.0.0.1 (tests/ssh_server.py) as "
                "`[[hosts]]` of the client's config.toml (`local = false`); the TUI in a tmux pane of "
                f"{COLS}x{ROWS}.")
    report.note(BENCH, f"Startup: {trials} runs, each from the Enter that starts `vconsole` to the capture (every "
                f"{POLL * 1e3:.0f} ms) showing every host's `{LAST}` console connected, the tree filtered to "
                f"`{LAST}` (prefix l and `{LAST}` typed once the TUI draws); the TUI quit (prefix q) between runs. "
                "References, each just before each run: `vconsole ls --json` over the same hosts (one warm-up "
                f"first), and {count} concurrent `ssh HOST true` through the same sshd (OpenSSH's own share: "
                "a login each, no vconsole).")
    report.note(BENCH, f"Idle CPU: {windows} windows of {seconds:g} s, the full tree shown, 3 s after the last "
                "start; the one-host TUI runs at the same time in another tmux server; ssh clients: the "
                "ssh processes under the TUI over the same span; brokers: sum over the hosts' brokers.")
    report.note(BENCH, f"Filter: {keys} letters ({', '.join(FILTER_KEYS)} in turn, each in one guest name only), "
                "each from the full tree, timed by the pane's %output after which one capture shows the tree "
                "holding only that guest (as tuiterm times echo); Backspace and 0.2 s between letters.")
