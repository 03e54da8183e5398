"""LxcProvider: LXC containers, found with lxc-ls / lxc-info, attached with lxc-console.

Discovery runs ``lxc-ls -f -F NAME,STATE,PID`` and, per container,
``lxc-info -n NAME -s -p -c lxc.tty.max -c lxc.console.logfile -c
lxc.console.buffer.size``. A container has consoles ``vtty0`` (its
/dev/console) to ``vtty<tty.max>``.

A console is attached by running ``lxc-console -n NAME -t N -e ^a`` on a pty.
Every Ctrl-a the user types is sent doubled, which lxc-console turns back
into one Ctrl-a for the guest, so every byte reaches the guest and Ctrl-a q
never detaches (see LxcEscapeGuard).
lxc-console refuses a tty another client holds ("Denied access to tty"): the
console is busy. When the container logs its console to a file
(``lxc.console.logfile``), the tail of that file is the console's history.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import termios
from dataclasses import dataclass
from typing import Any

from vconsole.console.endpoint import ConsoleEndpoint
from vconsole.console.process_endpoint import ProcessEndpoint
from vconsole.domain import GuestState, ProviderName
from vconsole.providers.base import (
    ConsoleBusy,
    ConsoleHolder,
    ConsoleSpec,
    ConsoleUnavailable,
    GuestInfo,
    GuestNotRunning,
    Provider,
    ProviderError,
)
from vconsole.providers.host_processes import option_value, parent_of, processes_running
from vconsole.providers.tools import DEFAULT_TIMEOUT, garbage, run_tool

READY = re.compile(rb"Connected to tty \d+\r?\n(?:Type <[^\n]*\n)?")
FAILURES: list[tuple[re.Pattern[bytes], type[Exception]]] = [
    (re.compile(rb"Denied access to tty|Failed to get tty|tty is busy"), ConsoleBusy),
    (re.compile(rb"is not running"), GuestNotRunning),
]


def _proxy_slaves(pid: int) -> list[str]:
    """The pty slaves whose masters process ``pid`` holds (from /proc: ``tty-index`` of its ptmx fds)."""
    slaves = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = f.read()
        except OSError:
            continue
        found = re.search(r"^tty-index:\s*(\d+)$", info, re.MULTILINE)
        if os.path.basename(target) == "ptmx" and found:
            directory = os.path.dirname(target)
            pts = directory if os.path.basename(directory) == "pts" else os.path.join(directory, "pts")
            slaves.append(os.path.join(pts, found.group(1)))
    return slaves


def unprocess_console_proxy(pid: int) -> None:
    """Turn off output processing on the proxy pty LXC relays console 0 through.

    lxc-console gets /dev/console's output through a proxy pty of the
    container's monitor, whose slave LXC (since 4.0.10) sets to OPOST|ONLCR:
    every ``\r\n`` the guest's console wrote arrived as ``\r\r\n``. The
    proxy lives as long as this lxc-console (``pid``) holds its master; its
    slave is found by the master's index. Best effort: where it cannot be
    opened, the extra CRs stay.
    """
    try:
        slaves = _proxy_slaves(pid)
    except OSError:
        return
    for slave in slaves:
        try:
            fd = os.open(slave, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            log.info("cannot open LXC's console proxy %s: %s", slave, exc.strerror)
            continue
        try:
            attrs = termios.tcgetattr(fd)
            if attrs[1] & termios.OPOST:
                attrs[1] &= ~termios.OPOST
                termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except termios.error as exc:
            log.info("cannot set LXC's console proxy %s: %s", slave, exc)
        finally:
            os.close(fd)


class LxcEscapeGuard:
    """Doubles lxc-console's escape byte, which it turns back into one.

    lxc-console reads its terminal a byte at a time: an escape byte (Ctrl-a
    by default) followed by ``q`` detaches, followed by another escape byte
    sends one escape byte to the guest, followed by anything else sends just
    that byte. Doubling every escape byte therefore delivers every byte as
    typed and never leaves an escape waiting for a ``q``. (``-e ^@`` would
    disable the escape, but then lxc-console prints no banner to wait for.)
    """

    def __init__(self, escape: int = 0x01) -> None:
        self._escape = bytes([escape])

    def encode(self, data: bytes) -> bytes:
        """``data`` with every escape byte doubled."""
        return data.replace(self._escape, self._escape * 2)
log = logging.getLogger("vconsole.providers.lxc")
MAX_LOG_HISTORY = 64 << 10  # how much of a console log file to show as history
STATES = {"RUNNING": GuestState.RUNNING, "STOPPED": GuestState.STOPPED, "FROZEN": GuestState.FROZEN,
          "STARTING": GuestState.STARTING, "STOPPING": GuestState.STOPPING,
          "ABORTING": GuestState.STOPPING, "FREEZING": GuestState.RUNNING, "THAWED": GuestState.RUNNING}


@dataclass
class LxcInfo:
    """What ``lxc-info`` says about one container."""

    state: GuestState
    pid: int | None
    tty_max: int
    logfile: str
    buffer_size: int


def parse_ls_fancy(text: str) -> list[tuple[str, str]]:
    """(name, STATE) pairs from ``lxc-ls -f -F NAME,STATE,PID``."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0].split()
    if header[:2] != ["NAME", "STATE"]:
        raise garbage("lxc-ls", f"header {lines[0].strip()[:60]!r}")
    rows = []
    for line in lines[1:]:
        cols = line.split()
        if len(cols) < 2 or cols[1] not in STATES:
            raise garbage("lxc-ls", f"row {line.strip()[:60]!r}")
        rows.append((cols[0], cols[1]))
    return rows


def parse_info(text: str) -> LxcInfo:
    """Parse ``lxc-info -s -p -c lxc.tty.max -c lxc.console.logfile -c lxc.console.buffer.size``."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and line.startswith("lxc."):
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    state = fields.get("State")
    if state not in STATES:
        raise garbage("lxc-info", f"state {state!r}")
    try:
        pid = int(fields["PID"]) if "PID" in fields else None
        tty_max = int(fields.get("lxc.tty.max", "0") or "0")
        buffer_size = int(fields.get("lxc.console.buffer.size", "0") or "0")
    except ValueError as exc:
        raise garbage("lxc-info", str(exc)) from None
    if not 0 <= tty_max <= 1024:
        raise garbage("lxc-info", f"lxc.tty.max {tty_max}")
    return LxcInfo(STATES[state], pid, tty_max, fields.get("lxc.console.logfile", ""), buffer_size)


def read_log_tail(path: str, limit: int = MAX_LOG_HISTORY) -> bytes:
    """The last ``limit`` bytes of a console log file, or b"" if unreadable."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - limit))
            return f.read(limit)
    except OSError:
        return b""


class LxcProvider(Provider):
    """LXC containers of one lxcpath."""

    name = ProviderName.LXC

    def __init__(
        self,
        *,
        bindir: str | None = None,
        lxcpath: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        host: str | None = None,
    ) -> None:
        super().__init__()
        self.bindir = bindir
        self.lxcpath = lxcpath
        self.timeout = timeout
        self.host = host or os.uname().nodename
        self._info: dict[str, LxcInfo] = {}
        # Per container, the run (incarnation) whose console log was shown as history.
        self._history_given: dict[str, str] = {}

    def _tool(self, name: str) -> list[str]:
        argv = [os.path.join(self.bindir, name) if self.bindir else name]
        if self.lxcpath:
            argv += ["-P", self.lxcpath]
        return argv

    async def _run(self, name: str, *args: str) -> str:
        return await run_tool([*self._tool(name), *args], timeout=self.timeout)

    async def info(self, name: str) -> LxcInfo:
        """Fresh lxc-info for one container."""
        text = await self._run(
            "lxc-info", "-n", name, "-s", "-p",
            "-c", "lxc.tty.max", "-c", "lxc.console.logfile", "-c", "lxc.console.buffer.size",
        )
        return parse_info(text)

    async def discover(self) -> list[GuestInfo]:
        rows = parse_ls_fancy(await self._run("lxc-ls", "-f", "-F", "NAME,STATE,PID"))
        guests = []
        infos: dict[str, LxcInfo] = {}
        for name, _ in rows:
            info = await self.info(name)
            infos[name] = info
            extra: dict[str, Any] = {"pid": info.pid} if info.pid else {}
            if info.logfile:
                extra["console_log"] = info.logfile
            guests.append(
                GuestInfo(
                    provider=self.name,
                    host=self.host,
                    kind="container",
                    id=name,
                    name=name,
                    state=info.state,
                    consoles=[ConsoleSpec("vtty", i) for i in range(info.tty_max + 1)],
                    extra=extra,
                    # init's pid names the run: a stop and start between two discoveries changes it.
                    incarnation=str(info.pid or ""),
                )
            )
            if info.state != GuestState.RUNNING:
                self._history_given.pop(name, None)
        self._info = infos
        return guests

    async def open_console(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleEndpoint:
        if guest.state != GuestState.RUNNING:
            raise GuestNotRunning(f"container {guest.name} is {guest.state}")
        if spec.type != "vtty":
            raise ConsoleUnavailable(f"LXC containers have no {spec.type} consoles")
        endpoint = await ProcessEndpoint.spawn(
            [*self._tool("lxc-console"), "-n", guest.id, "-t", str(spec.index), "-e", "^a"],
            ready=READY,
            failures=FAILURES,
            error=ProviderError,
            guard=LxcEscapeGuard(0x01),
            timeout=self.timeout,
        )
        if spec.index == 0:
            unprocess_console_proxy(endpoint.proc.pid)
        info = self._info.get(guest.id)
        # The console log holds /dev/console's output from before we attached:
        # shown once per container run, as the start of vtty0's history.
        given = self._history_given.get(guest.id)
        if spec.index == 0 and info is not None and info.logfile and given != guest.incarnation:
            self._history_given[guest.id] = guest.incarnation
            endpoint.initial = read_log_tail(info.logfile) + endpoint.initial
        return endpoint

    async def find_holder(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleHolder | None:
        """The oldest ``lxc-console -n NAME -t N`` for this console that is not ours (from /proc)."""
        return await asyncio.to_thread(self._holder, guest.id, spec.index)

    def _holder(self, name: str, index: int) -> ConsoleHolder | None:
        def holds(args: list[str]) -> bool:
            tty = option_value(args, "-t", "--tty")
            path = option_value(args, "-P", "--lxcpath")
            # Without -P, lxc-console uses the default lxcpath: then only the name can tell.
            same_path = path is None or self.lxcpath is None or os.path.realpath(path) == os.path.realpath(
                self.lxcpath)
            return option_value(args, "-n", "--name") == name and tty == str(index) and same_path

        me = os.getpid()
        found = [p for p in processes_running("lxc-console", holds) if parent_of(p.pid) != me]
        return found[0].holder() if found else None

    def console_extra(self, guest: GuestInfo, spec: ConsoleSpec) -> dict[str, Any]:
        info = self._info.get(guest.id)
        if spec.index == 0 and info is not None and info.logfile:
            return {"log": info.logfile}
        return {}

    async def start_guest(self, guest: GuestInfo) -> None:
        await self._run("lxc-start", "-n", guest.id)
        self.changed()

    async def stop_guest(self, guest: GuestInfo) -> None:
        try:
            await run_tool([*self._tool("lxc-stop"), "-n", guest.id], timeout=max(self.timeout, 30.0))
        except ProviderError:
            await self._run("lxc-stop", "-k", "-n", guest.id)
        self.changed()
