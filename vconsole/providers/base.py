"""The provider interface: where guests and their consoles come from.

A provider discovers guests and opens console endpoints; the broker treats
every provider alike. Each backend (lab, lxc, openvz, xen) is one class behind
this small ABC.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vconsole.console.endpoint import ConsoleEndpoint
from vconsole.domain import GuestState
from vconsole.snapshot.model import HypervisorLog, RingState

CONSOLE_TYPES = ("vtty", "pv", "serial")


class ProviderError(Exception):
    """A provider could not do what was asked; the message says why."""


class ConsoleBusy(ProviderError):
    """Another opener holds the console exclusively (EBUSY, a held flock)."""


class GuestNotRunning(ProviderError):
    """The guest is stopped, so its consoles do not exist."""


class ConsoleUnavailable(ProviderError):
    """The console exists but cannot be opened now (not yet set up, unsupported)."""


class NotSupported(ProviderError):
    """The provider lacks an optional capability (its flag on :class:`Provider` is False)."""


@dataclass(frozen=True, order=True)
class ConsoleSpec:
    """One console of a guest: ``vtty 2``, ``pv 0``, ``serial 0``."""

    type: str
    index: int

    @property
    def name(self) -> str:
        """The console's short name, e.g. ``vtty0`` or ``pv1``."""
        return f"{self.type}{self.index}"


@dataclass
class GuestInfo:
    """A guest as a provider reports it."""

    provider: str
    host: str
    kind: str  # "container" or "domu"
    id: str
    name: str
    state: GuestState
    consoles: list[ConsoleSpec] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # This run of the guest (a boot id, init's pid): when it changes, the guest
    # restarted and endpoints opened before are stale; "" when a provider cannot tell.
    incarnation: str = ""


@dataclass(frozen=True)
class RingCapture:
    """A domU console ring copied for a snapshot without consuming anything, with its hypervisor log."""

    ring: RingState
    hypervisor_log: HypervisorLog


@dataclass(frozen=True)
class ConsoleHolder:
    """The process outside the broker that holds a busy console (``ls`` shows it; ``attach --force`` ends it).

    ``command`` is the process's command line as /proc has it (NULs as
    spaces), kept exact here: clients show it through ``printable``.
    ``since`` is when it took the console if the provider knows (the lab's
    lease), else when the process started (epoch seconds); None if unknown.
    """

    pid: int
    uid: int
    user: str
    command: str
    since: float | None = None

    def to_wire(self) -> dict[str, Any]:
        """The holder as ``list`` reports it."""
        return {"pid": self.pid, "uid": self.uid, "user": self.user, "command": self.command, "since": self.since}


class Provider(ABC):
    """A source of guests and console endpoints.

    Optional capabilities have a flag here, False by default, and methods
    that raise :class:`NotSupported` unless a provider implements them.
    """

    name: str = "provider"
    host: str = "localhost"
    # capture_ring / restore_ring work: the provider reaches a domU's console
    # page itself (the lab does). On a real host the ring belongs to
    # xenconsoled, and a snapshot holds only what came through its pty.
    supports_ring_snapshots: bool = False

    def __init__(self) -> None:
        self.on_change: Callable[[], None] | None = None

    def changed(self) -> None:
        """Tell the broker the guest list changed (started, stopped, new)."""
        if self.on_change is not None:
            self.on_change()

    async def connect(self) -> None:  # noqa: B027 - most providers have nothing to connect
        """Prepare the provider (connect to a daemon, start the lab)."""

    def stop_starting(self) -> None:  # noqa: B027 - most providers start no daemon
        """The broker is stopping: from now on start no daemon, whatever asks (a capture, a request).

        Only discovery while the broker runs may start one (the lab).
        """

    @abstractmethod
    async def discover(self) -> list[GuestInfo]:
        """Every guest this provider knows, running or not."""

    @abstractmethod
    async def open_console(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleEndpoint:
        """Open a console exclusively; ConsoleBusy / GuestNotRunning / ProviderError."""

    async def start_guest(self, guest: GuestInfo) -> None:
        """Start a stopped guest."""
        raise ProviderError(f"{self.name} cannot start guests")

    async def stop_guest(self, guest: GuestInfo) -> None:
        """Stop a running guest."""
        raise ProviderError(f"{self.name} cannot stop guests")

    async def capture_ring(self, guest: GuestInfo, spec: ConsoleSpec) -> RingCapture:
        """A domU ring's indices, unconsumed bytes of both rings and hypervisor log; moves no index."""
        raise NotSupported(f"not supported by this provider ({self.name})")

    async def restore_ring(self, guest: GuestInfo, spec: ConsoleSpec, out: bytes) -> None:
        """Have the domU's frontend put ``out`` back into its ``out`` ring, ahead of newer output."""
        raise NotSupported(f"not supported by this provider ({self.name})")

    async def find_holder(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleHolder | None:
        """Who outside the broker holds console ``spec`` (it answered busy); None if nobody or unknown.

        The broker asks when a console goes busy and on each refresh while it
        stays busy, and before ``attach --force`` ends the holder.
        """
        return None

    def console_extra(self, guest: GuestInfo, spec: ConsoleSpec) -> dict[str, Any]:
        """Provider-specific facts about a console for ``ls --json``."""
        return {}

    async def close(self) -> None:  # noqa: B027 - most providers hold nothing
        """Release connections; leave the guests running."""
