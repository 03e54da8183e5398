"""OpenVzProvider: OpenVZ / Virtuozzo containers and their vttys.

Discovery runs ``vzlist -a -j`` (``ctid`` is a number on legacy OpenVZ and a
string, often a UUID, on Virtuozzo 7) or, without vzlist, ``prlctl list -a -j``
(containers are the entries with ``"type": "CT"``).

Consoles follow the vtty rules: ``vtty0`` is the container's /dev/console and
a container has at most 12 (``MAX_NR_VTTY_CONSOLES``); we show ``vttys`` of
them (default 2: the console and tty2, which vzctl preconfigures).

Attaching uses the kernel interface when ``/dev/vzctl`` exists:
``ioctl(VZCTL_VE_CONFIGURE)`` with ``VE_CONFIGURE_OPEN_TTY`` returns the vtty
master fd (EBUSY: someone else holds it). Otherwise ``vzctl console CTID N``
runs on a pty, where ``N`` counts from 1 (tty1 is vtty0) and a guard keeps its
``ESC .`` detach from ever being triggered by what the user types.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import re
import struct
from typing import Any

from vconsole.console.endpoint import ConsoleEndpoint
from vconsole.console.process_endpoint import ProcessEndpoint
from vconsole.console.pty_endpoint import PtyEndpoint
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
from vconsole.providers.host_processes import parent_of, processes_running
from vconsole.providers.tools import DEFAULT_TIMEOUT, find_tool, garbage, parse_json, run_tool

MAX_VTTYS = 12
# _IOW('.', 15, struct vzctl_ve_configure): four unsigned ints, no data.
VE_CONFIGURE_OPEN_TTY = 5
_CONFIGURE = struct.Struct("IIII")
VZCTL_VE_CONFIGURE = (1 << 30) | (_CONFIGURE.size << 16) | (ord(".") << 8) | 15
READY = re.compile(rb"Attached to CT [^\n]*\n")
FAILURES: list[tuple[re.Pattern[bytes], type[Exception]]] = [
    (re.compile(rb"[Bb]usy"), ConsoleBusy),
    (re.compile(rb"not running"), GuestNotRunning),
]
ESC = 0x1B
CR = 0x0D
STATES = {"running": GuestState.RUNNING, "stopped": GuestState.STOPPED, "mounted": GuestState.STOPPED,
          "suspended": GuestState.STOPPED, "paused": GuestState.STOPPED}


class VzctlEscapeGuard:
    """Keeps ``vzctl console``'s ``ESC .`` / ``ESC ,`` after Enter from detaching.

    vzctl reads its terminal a byte at a time; after a CR it treats ESC
    specially: the next byte ``.`` or ``,`` detaches, anything else is passed
    on as ESC plus that byte. There is no way to send ``ESC .`` after a CR
    through vzctl, so when the user types exactly that, the guard puts one
    extra ESC between them: the guest receives ``ESC ESC .`` and vzctl stays
    attached. Every other byte sequence reaches the guest unchanged.
    """

    def __init__(self) -> None:
        self._after_cr = True  # vzctl starts with its "after Enter" state clear; be safe
        self._esc_pending = False  # we sent an ESC that vzctl holds, waiting for the next byte

    def encode(self, data: bytes) -> bytes:
        """``data`` as vzctl must read it; the state carries over to the next call."""
        out = bytearray()
        for b in data:
            if self._esc_pending:
                self._esc_pending = False
                if b in b".,":
                    out.append(ESC)  # vzctl writes ESC ESC, then this byte normally
                out.append(b)
                self._after_cr = b == CR
            elif b == ESC and self._after_cr:
                out.append(b)
                self._esc_pending = True
            else:
                out.append(b)
                self._after_cr = b == CR
        return bytes(out)


def veid_of(ctid: str) -> int:
    """The numeric veid the kernel knows a container by (as libvzctl's ctid2veid)."""
    try:
        raw = int(ctid) if len(ctid) < 36 else int(ctid.split("-")[0], 16)
    except ValueError:
        raise ProviderError(f"container id {ctid!r} has no numeric veid") from None
    return raw & 0x7FFFFFFF


def parse_vzlist(text: str) -> list[dict[str, Any]]:
    """Containers from ``vzlist -a -j``: dicts with ctid (str), name, state."""
    data = parse_json(text, "vzlist")
    if not isinstance(data, list):
        raise garbage("vzlist", "not a JSON list")
    out = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("ctid"), (int, str)):
            raise garbage("vzlist", "an entry without a ctid")
        ctid = str(entry["ctid"])
        status = entry.get("status")
        if status not in STATES:
            raise garbage("vzlist", f"CT {ctid} status {status!r}")
        name = entry.get("name") or entry.get("hostname") or ctid
        out.append({"ctid": ctid, "name": str(name), "state": STATES[status],
                    "hostname": entry.get("hostname"), "status": status})
    return out


def parse_prlctl(text: str) -> list[dict[str, Any]]:
    """Containers (``"type": "CT"``) from ``prlctl list -a -j``."""
    data = parse_json(text, "prlctl")
    if not isinstance(data, list):
        raise garbage("prlctl", "not a JSON list")
    out = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("uuid"), str):
            raise garbage("prlctl", "an entry without a uuid")
        if entry.get("type", "CT") != "CT":
            continue
        ctid = entry["uuid"].strip("{}")
        status = entry.get("status")
        if status not in STATES:
            raise garbage("prlctl", f"CT {ctid} status {status!r}")
        out.append({"ctid": ctid, "name": str(entry.get("name") or ctid),
                    "state": STATES[status], "hostname": None, "status": status})
    return out


def open_vtty(device: str, veid: int, index: int) -> int:
    """The master fd of vtty ``index`` through the kernel; ConsoleBusy on EBUSY."""
    try:
        dev = os.open(device, os.O_RDONLY)
    except OSError as exc:
        raise ProviderError(f"cannot open {device}: {exc.strerror}") from None
    try:
        arg = bytearray(_CONFIGURE.pack(veid, VE_CONFIGURE_OPEN_TTY, index, 0))
        return int(fcntl.ioctl(dev, VZCTL_VE_CONFIGURE, arg))
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise ConsoleBusy(f"vtty{index} of CT {veid} is held by another opener") from None
        if exc.errno in (errno.ENOENT, errno.ESRCH, errno.EINVAL):
            raise GuestNotRunning(f"CT {veid} is not running") from None
        raise ProviderError(f"VE_CONFIGURE_OPEN_TTY: {exc.strerror}") from None
    finally:
        os.close(dev)


class OpenVzProvider(Provider):
    """Containers of an OpenVZ or Virtuozzo host."""

    name = ProviderName.OPENVZ

    def __init__(
        self,
        *,
        bindir: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        vzctl_device: str = "/dev/vzctl",
        vttys: int = 2,
        host: str | None = None,
    ) -> None:
        super().__init__()
        self.bindir = bindir
        self.timeout = timeout
        self.vzctl_device = vzctl_device
        self.vttys = max(1, min(MAX_VTTYS, vttys))
        self.host = host or os.uname().nodename

    def _tool(self, name: str) -> str:
        return os.path.join(self.bindir, name) if self.bindir else name

    def _have(self, name: str) -> bool:
        return find_tool(name, self._tool(name) if self.bindir else None) is not None

    async def discover(self) -> list[GuestInfo]:
        if self._have("vzlist") or not self._have("prlctl"):
            cts = parse_vzlist(await run_tool([self._tool("vzlist"), "-a", "-j"], timeout=self.timeout))
        else:
            cts = parse_prlctl(
                await run_tool([self._tool("prlctl"), "list", "-a", "-j"], timeout=self.timeout)
            )
        return [
            GuestInfo(
                provider=self.name,
                host=self.host,
                kind="container",
                id=ct["ctid"],
                name=ct["name"],
                state=ct["state"],
                consoles=[ConsoleSpec("vtty", i) for i in range(self.vttys)],
                extra={"status": ct["status"], **({"hostname": ct["hostname"]} if ct["hostname"] else {})},
            )
            for ct in cts
        ]

    async def open_console(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleEndpoint:
        if guest.state != GuestState.RUNNING:
            raise GuestNotRunning(f"CT {guest.id} is {guest.state}")
        if spec.type != "vtty" or not 0 <= spec.index < MAX_VTTYS:
            raise ConsoleUnavailable(f"containers have vtty0..vtty{MAX_VTTYS - 1} only")
        if os.path.exists(self.vzctl_device):
            return PtyEndpoint(open_vtty(self.vzctl_device, veid_of(guest.id), spec.index))
        return await ProcessEndpoint.spawn(
            [self._tool("vzctl"), "console", guest.id, str(spec.index + 1)],
            ready=READY,
            failures=FAILURES,
            error=ProviderError,
            guard=VzctlEscapeGuard(),
            timeout=self.timeout,
        )

    async def find_holder(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleHolder | None:
        """The oldest ``vzctl console CTID N`` for this vtty that is not ours (from /proc).

        It is what holds a vtty master on a real host, whether we open ours
        through the kernel or through vzctl.
        """
        return await asyncio.to_thread(_vzctl_console_holder, guest.id, spec.index)

    def console_extra(self, guest: GuestInfo, spec: ConsoleSpec) -> dict[str, Any]:
        via = "kernel" if os.path.exists(self.vzctl_device) else "vzctl console"
        return {"attach": via}

    async def start_guest(self, guest: GuestInfo) -> None:
        await run_tool([self._tool("vzctl"), "start", guest.id], timeout=max(self.timeout, 60.0))
        self.changed()

    async def stop_guest(self, guest: GuestInfo) -> None:
        await run_tool([self._tool("vzctl"), "stop", guest.id], timeout=max(self.timeout, 60.0))
        self.changed()


def _vzctl_console_holder(ctid: str, index: int) -> ConsoleHolder | None:
    def holds(args: list[str]) -> bool:
        if "console" not in args:
            return False
        rest = args[args.index("console") + 1 :]
        tty = rest[1] if len(rest) > 1 else "1"  # vzctl counts ttys from 1: tty1 is vtty0
        return bool(rest) and rest[0] == ctid and tty == str(index + 1)

    me = os.getpid()
    found = [p for p in processes_running("vzctl", holds) if parent_of(p.pid) != me]
    return found[0].holder() if found else None
