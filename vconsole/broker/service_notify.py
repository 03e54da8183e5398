"""The service manager's notify protocol (sd_notify), in pure Python.

Under systemd with ``Type=notify`` the broker is "started" only when it says
``READY=1`` on the datagram socket named by ``$NOTIFY_SOCKET`` (a path, or a
Linux abstract name written with a leading ``@``). The broker says it once
every provider's first discovery is done and its socket listens, so a unit
ordered after vconsole.service finds every console already listed. After
that it reports ``STATUS=`` (guests and consoles, shown by ``systemctl
status``) whenever the counts change, pings ``WATCHDOG=1`` every half of
``$WATCHDOG_USEC`` (when set, and meant for this process by
``$WATCHDOG_PID``) from the event loop, so a stuck loop gets the service
restarted, and says ``STOPPING=1`` on its way out.

Without ``$NOTIFY_SOCKET`` every call is a no-op. The variables are taken out
of the environment when read, so no process the broker starts (the lab, a
host's console tool) talks to the service manager in the broker's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass

from vconsole.broker.registry import ConsoleRegistry
from vconsole.domain import ConsoleState

log = logging.getLogger("vconsole.broker")
NOTIFY_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
# How often the counts are looked at for a STATUS= line (a change is told at most this late).
STATUS_INTERVAL = 1.0


@dataclass(frozen=True)
class NotifyTarget:
    """Where and how often to notify: from the environment the service manager set."""

    address: str  # for socket.sendto: a path, or "\0name" for an abstract socket
    watchdog: float | None  # seconds between WATCHDOG=1 pings, None for no watchdog

    @classmethod
    def from_environment(cls, env: dict[str, str], pid: int) -> NotifyTarget | None:
        """The target ``env`` names for process ``pid``; None when there is none to notify."""
        name = env.get("NOTIFY_SOCKET", "")
        if not name.startswith(("/", "@")) or len(name) < 2:
            return None  # unset, or not a form sd_notify(3) knows
        address = "\0" + name[1:] if name.startswith("@") else name
        return cls(address, watchdog_interval(env, pid))


def watchdog_interval(env: dict[str, str], pid: int) -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds, if the watchdog is on and meant for ``pid``."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
        owner = int(env["WATCHDOG_PID"]) if env.get("WATCHDOG_PID") else pid
    except ValueError:
        return None
    if usec <= 0 or owner != pid:
        return None
    return usec / 2e6


def service_status(registry: ConsoleRegistry) -> str:
    """The STATUS= text: guests and consoles held, and providers that fail."""
    sessions = [s for s in registry.sessions.values() if s.state != ConsoleState.GONE]
    connected = sum(1 for s in sessions if s.state == ConsoleState.CONNECTED)
    text = f"{_count(len(registry.guests), 'guest')}, {_count(len(sessions), 'console')} ({connected} connected)"
    if registry.provider_errors:
        text += "; failing: " + ", ".join(sorted(registry.provider_errors))
    return text


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


class ServiceNotifier:
    """Tells the service manager the broker's readiness, status, liveness and stop."""

    def __init__(self, target: NotifyTarget | None) -> None:
        self.target = target
        self._socket: socket.socket | None = None
        self._failed = False  # a failed send is logged once, not every ping

    @classmethod
    def from_environment(cls) -> ServiceNotifier:
        """The notifier this process's environment asks for, taking the variables out of it."""
        target = NotifyTarget.from_environment(dict(os.environ), os.getpid())
        for name in NOTIFY_ENV:
            os.environ.pop(name, None)
        return cls(target)

    def send(self, *lines: str) -> None:
        """One datagram of ``KEY=VALUE`` lines; a failure is logged once and otherwise ignored."""
        if self.target is None:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(lines).encode(), self.target.address)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("cannot notify the service manager at %s: %s", self.target.address, exc)

    async def run(self, registry: ConsoleRegistry) -> None:
        """Say READY=1 and the status now, then status changes and watchdog pings until cancelled.

        Started once discovery is done (Broker.start); the broker's close
        cancels it, which says STOPPING=1.
        """
        if self.target is None:
            return
        status = service_status(registry)
        self.send("READY=1", f"STATUS={status}")
        loop = asyncio.get_running_loop()
        interval = self.target.watchdog
        next_ping = loop.time() + interval if interval is not None else None
        try:
            while True:
                wait = STATUS_INTERVAL if next_ping is None else min(STATUS_INTERVAL, next_ping - loop.time())
                await asyncio.sleep(max(wait, 0.0))
                if next_ping is not None and interval is not None and loop.time() >= next_ping:
                    self.send("WATCHDOG=1")
                    next_ping = loop.time() + interval
                now = service_status(registry)
                if now != status:
                    status = now
                    self.send(f"STATUS={status}")
        finally:
            self.send("STOPPING=1", "STATUS=stopping")
            if self._socket is not None:
                with contextlib.suppress(OSError):
                    self._socket.close()
                self._socket = None
