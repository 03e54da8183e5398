"""XenProvider: Xen domUs, their consoles found in xenstore, attached like ``xl console``.

Discovery runs ``xl list -l`` (JSON: each domain's domid and config, the name
in ``config.c_info.name``), ``xl list`` for the state flags, and
``xenstore-ls -f /local/domain/<domid>`` for the consoles:
``console/tty`` is pv 0, ``device/console/<n>/tty`` pv n, ``serial/<n>/tty``
serial n (paths of ptys xenconsoled or qemu made), and ``console/limit``.

Attaching does what ``xl console`` (the xenconsole client) does: take the
per-domain flock ``<lock dir>/xenconsole.<domid>`` (non-blocking; a held lock
means another client is attached: busy), re-read the pty path from xenstore,
open it and put it in raw mode. vconsole and ``xl console`` therefore never
fight over a domain: whoever holds the lock has it. The lock is one per
domain, shared by all of its consoles we hold, and removed when the last one
closes, as xenconsole does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import re
import termios
import tty
from typing import Any

from vconsole.console.endpoint import ConsoleEndpoint
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
from vconsole.providers.host_processes import flock_owners, read_process
from vconsole.providers.tools import DEFAULT_TIMEOUT, garbage, parse_json, run_tool

DEFAULT_LOCK_DIR = "/var/lock"  # XEN_LOCK_DIR on Linux builds
_LS_LINE = re.compile(r'^(/\S*) = "(.*)"(?:\s+\(.*\))?$')
_CONSOLE_PATHS = (
    (re.compile(r"^console/tty$"), "pv"),
    (re.compile(r"^device/console/(\d+)/tty$"), "pv"),
    (re.compile(r"^serial/(\d+)/tty$"), "serial"),
)


def parse_xl_list_long(text: str) -> list[tuple[int, str]]:
    """(domid, name) of every domain in ``xl list -l``, Domain-0 included."""
    data = parse_json(text, "xl")
    if not isinstance(data, list):
        raise garbage("xl", "xl list -l is not a JSON list")
    out = []
    for entry in data:
        try:
            domid = entry["domid"]
            name = entry["config"]["c_info"]["name"]
        except (KeyError, TypeError):
            raise garbage("xl", "a domain without domid or config.c_info.name") from None
        if not isinstance(domid, int) or not isinstance(name, str):
            raise garbage("xl", f"domain {domid!r}")
        out.append((domid, name))
    return out


def parse_xl_list(text: str) -> dict[int, str]:
    """domid -> state flags (``r-----``) from plain ``xl list``."""
    states: dict[int, str] = {}
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Name"):
        raise garbage("xl", "xl list has no header")
    for line in lines[1:]:
        cols = line.split()
        if len(cols) < 6:
            continue
        try:
            states[int(cols[-5])] = cols[-2]
        except ValueError:
            raise garbage("xl", f"xl list row {line.strip()[:60]!r}") from None
    return states


def state_of(flags: str) -> GuestState:
    """Our state for xl's flags: paused, shutdown, crashed and dying are not running."""
    if any(f in flags for f in "scd"):
        return GuestState.STOPPED
    if "p" in flags:
        return GuestState.PAUSED
    return GuestState.RUNNING


def unquote(value: str) -> str:
    """A xenstore-ls value with its C-style escapes undone."""
    return value.encode("latin-1", "backslashreplace").decode("unicode_escape")


def parse_xenstore_ls(text: str, base: str) -> dict[str, str]:
    """``xenstore-ls -f BASE`` as {path relative to BASE: value}."""
    out: dict[str, str] = {}
    prefix = base.rstrip("/") + "/"
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _LS_LINE.match(line)
        if not m:
            raise garbage("xenstore-ls", f"line {line.strip()[:60]!r}")
        path, value = m.group(1), unquote(m.group(2))
        if path.startswith(prefix):
            out[path[len(prefix):]] = value
    return out


def consoles_from_store(store: dict[str, str]) -> dict[ConsoleSpec, str]:
    """Each console of a domain and its xenstore tty key, from its store subtree."""
    found: dict[ConsoleSpec, str] = {}
    for key in store:
        for pattern, ctype in _CONSOLE_PATHS:
            m = pattern.match(key)
            if m:
                index = int(m.group(1)) if m.groups() else 0
                if ctype == "pv" and index == 0 and key != "console/tty":
                    continue  # device/console/0 is the same console as console/tty
                found[ConsoleSpec(ctype, index)] = key
    return dict(sorted(found.items()))


class DomainLock:
    """xenconsole's per-domain flock, shared by the consoles we hold of one domain."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1
        self.users = 0

    def acquire(self) -> None:
        """Take the lock (once per domain); ConsoleBusy when another client holds it."""
        if self.users:
            self.users += 1
            return
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise ProviderError(f"cannot open {self.path}: {exc.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise ConsoleBusy(f"another console client holds {self.path}") from None
                raise ProviderError(f"cannot lock {self.path}: {exc.strerror}") from None
            # The holder unlinks the file on release: make sure we locked the live one.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd, self.users = fd, 1
                return
            os.close(fd)

    def release(self) -> None:
        """Drop one user; the last one unlinks and unlocks, as xenconsole does."""
        self.users -= 1
        if self.users == 0 and self.fd >= 0:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(self.fd)
            self.fd = -1


class XenProvider(Provider):
    """DomUs of the local Xen toolstack."""

    name = ProviderName.XEN

    def __init__(
        self,
        *,
        bindir: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        lock_dir: str | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__()
        self.bindir = bindir
        self.timeout = timeout
        self.lock_dir = lock_dir or DEFAULT_LOCK_DIR
        self.host = host or os.uname().nodename
        self._stores: dict[str, dict[str, str]] = {}
        self._locks: dict[str, DomainLock] = {}

    def _tool(self, name: str) -> str:
        return os.path.join(self.bindir, name) if self.bindir else name

    async def _run(self, *argv: str) -> str:
        return await run_tool([self._tool(argv[0]), *argv[1:]], timeout=self.timeout)

    async def discover(self) -> list[GuestInfo]:
        domains = parse_xl_list_long(await self._run("xl", "list", "-l"))
        flags = parse_xl_list(await self._run("xl", "list"))
        guests, stores = [], {}
        for domid, name in domains:
            if domid == 0:
                continue  # dom0 has no console to attach to
            base = f"/local/domain/{domid}"
            store = parse_xenstore_ls(await self._run("xenstore-ls", "-f", base), base)
            stores[str(domid)] = store
            guests.append(
                GuestInfo(
                    provider=self.name,
                    host=self.host,
                    kind="domu",
                    id=str(domid),
                    name=name,
                    state=state_of(flags.get(domid, "r")),
                    consoles=list(consoles_from_store(store)),
                    extra={"flags": flags.get(domid, "")},
                )
            )
        self._stores = stores
        return guests

    async def open_console(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleEndpoint:
        if guest.state != GuestState.RUNNING:
            raise GuestNotRunning(f"domain {guest.name} is {guest.state}")
        key = consoles_from_store(self._stores.get(guest.id, {})).get(spec)
        if key is None:
            raise ConsoleUnavailable(f"domain {guest.name} has no {spec.name} console")
        lock = self._locks.setdefault(
            guest.id, DomainLock(os.path.join(self.lock_dir, f"xenconsole.{guest.id}"))
        )
        lock.acquire()
        try:
            pty = (await self._run("xenstore-read", f"/local/domain/{guest.id}/{key}")).strip()
            if not pty:
                raise ConsoleUnavailable(f"{spec.name} of {guest.name} has no pty yet")
            fd = _open_raw(pty)
        except BaseException:
            lock.release()
            raise
        return PtyEndpoint(fd, on_close=lock.release)

    async def find_holder(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleHolder | None:
        """The owner of the domain's xenconsole flock, from /proc/locks (the lock is per domain)."""
        return await asyncio.to_thread(_lock_holder, os.path.join(self.lock_dir, f"xenconsole.{guest.id}"))

    def console_extra(self, guest: GuestInfo, spec: ConsoleSpec) -> dict[str, Any]:
        store = self._stores.get(guest.id, {})
        key = consoles_from_store(store).get(spec)
        extra: dict[str, Any] = {}
        if key is not None:
            extra["tty"] = store.get(key, "")
        if spec == ConsoleSpec("pv", 0) and "console/limit" in store:
            with contextlib.suppress(ValueError):
                extra["limit"] = int(store["console/limit"])
        return extra

    async def start_guest(self, guest: GuestInfo) -> None:
        if guest.state == GuestState.PAUSED:
            await self._run("xl", "unpause", guest.id)
        else:
            raise ProviderError("xl cannot start a domain by id; use xl create with its config")
        self.changed()

    async def stop_guest(self, guest: GuestInfo) -> None:
        await run_tool([self._tool("xl"), "shutdown", "-w", guest.id], timeout=max(self.timeout, 60.0))
        self.changed()


def _lock_holder(path: str) -> ConsoleHolder | None:
    for pid in flock_owners(path):
        process = read_process(pid) if pid != os.getpid() else None
        if process is not None:
            return process.holder()
    return None


def _open_raw(path: str) -> int:
    """Open a console pty as xenconsole does: read-write, no controlling tty, raw."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise ProviderError(f"cannot open {path}: {exc.strerror}") from None
    with contextlib.suppress(termios.error):
        tty.setraw(fd, termios.TCSANOW)
    return fd
