"""The typed domain every layer shares: states, session keys, marks and targets.

A leaf module: it imports nothing from vconsole, so the broker, the
providers, the clients and the wire layer can all speak in these values. The
enums are StrEnums, so a state compares equal to, and travels on the wire
as, the same string it always was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Any


class ConsoleState(StrEnum):
    """What the broker's hold on one console is."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # retried on every refresh
    STOPPED = "stopped"  # the guest is not running
    BUSY = "busy"  # another opener holds the console exclusively
    GONE = "gone"  # the guest was removed from its host (its provider no longer lists it)


class GuestState(StrEnum):
    """A guest's state as providers report it (only RUNNING has consoles)."""

    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"  # a Xen domain
    FROZEN = "frozen"  # an LXC container
    STARTING = "starting"
    STOPPING = "stopping"


class ProviderName(StrEnum):
    """Every provider there is; a target ``NAME:X`` is ``provider:id`` when NAME is one."""

    LAB = "lab"
    LXC = "lxc"
    OPENVZ = "openvz"
    XEN = "xen"


# The largest window a console may have, in columns and in rows. Terminals
# top out around here; a larger size only costs memory (a snapshot renders
# the screen at the console's size), so the protocol refuses it.
MAX_WINDOW = 1000


class AttachMode(StrEnum):
    """How a client attaches: typing, or only watching."""

    RW = "rw"
    RO = "ro"
    # `vconsole log --follow`: read-only, and never counts as reading (unread stays as it was).
    LOG = "log"


SEVERITY_ORDER = ("info", "warning", "error", "critical")


class Severity(StrEnum):
    """How much a hit matters; ordered: info < warning < error < critical."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Its place in the order (0 for info)."""
        return SEVERITY_ORDER.index(self.value)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank


class MarkSource(StrEnum):
    """Where a marked range of a history came from (files may name others)."""

    HYPERVISOR = "hypervisor"  # a domU's hypervisor console log, before the ring connected
    RESTORED = "restored"  # a snapshot's history


@dataclass(frozen=True)
class SessionKey:
    """One console the broker holds: ``provider:guest id:console`` on the wire."""

    provider: str
    guest_id: str
    console: str  # "vtty0", "pv1"

    def __str__(self) -> str:
        return self.text

    def __hash__(self) -> int:
        # The text's hash, which Python keeps: keys are looked up on every keystroke.
        return hash(self.text)

    @cached_property
    def text(self) -> str:
        """The wire form, made once: it names every output event."""
        return f"{self.provider}:{self.guest_id}:{self.console}"

    @property
    def target(self) -> Target:
        """This console as a target (``provider:id:console``, never ambiguous)."""
        return Target(self.guest_id, self.provider, self.console)

    @classmethod
    def parse(cls, text: str) -> SessionKey:
        """The key a wire string names; ValueError if it is not ``provider:id:console``.

        A guest id may itself hold a colon; a provider or console name never does.
        """
        return _parse_session_key(text)


@lru_cache(maxsize=4096)  # every keystroke names its session: parse each key once
def _parse_session_key(text: str) -> SessionKey:
    provider, sep, rest = text.partition(":")
    guest_id, sep2, console = rest.rpartition(":")
    if not (sep and sep2 and provider and guest_id and console):
        raise ValueError(f"{text!r} is not a session key (provider:id:console)")
    return SessionKey(provider, guest_id, console)


@dataclass(frozen=True)
class Mark:
    """A range of a history that came from elsewhere than the console itself.

    ``first``, ``last`` and ``snapshot`` are the times a restored range
    carries (docs/snapshot-format.md); other marks have none of them.
    """

    start: int
    end: int
    source: str  # a MarkSource, or what a snapshot file named
    first: float | None = None
    last: float | None = None
    snapshot: float | None = None

    @property
    def timed(self) -> bool:
        """Whether the mark carries the times of a restored range."""
        return self.source == MarkSource.RESTORED or any(
            t is not None for t in (self.first, self.last, self.snapshot)
        )

    def shifted(self, by: int) -> Mark:
        """The same range ``by`` bytes later (history was put in front of it)."""
        return replace(self, start=self.start + by, end=self.end + by)

    def to_wire(self) -> dict[str, Any]:
        """The map ``list``, ``attach`` and snapshot files carry."""
        out: dict[str, Any] = {"start": self.start, "end": self.end, "source": self.source}
        if self.timed:
            out.update(first=self.first, last=self.last, snapshot=self.snapshot)
        return out

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Mark:
        """A mark from an already validated map (a decoded snapshot record)."""
        return cls(
            int(raw["start"]),
            int(raw["end"]),
            str(raw["source"]),
            raw.get("first"),
            raw.get("last"),
            raw.get("snapshot"),
        )


class TargetSyntaxError(ValueError):
    """A target that is none of the forms :func:`parse_target` accepts."""


TARGET_FORMS = "NAME, NAME:N, provider:id or provider:id:N, each optionally HOST/ in front"
_PROVIDERS = frozenset(p.value for p in ProviderName)


@dataclass(frozen=True)
class Target:
    """A guest (by name or id, optionally under one provider) and maybe one of its consoles."""

    guest: str  # a name or an id
    provider: str | None = None
    console: int | str | None = None  # an index, a name like "vtty1", or the first console
    host: str | None = None  # a host of ``--host``/``[[hosts]]`` (``h1/web``); never sent to a broker

    @property
    def guest_ref(self) -> str:
        """The guest part as text: ``provider:id`` or ``NAME``."""
        return f"{self.provider}:{self.guest}" if self.provider else self.guest

    def __str__(self) -> str:
        text = self.guest_ref if self.console is None else f"{self.guest_ref}:{self.console}"
        return text if self.host is None else f"{self.host}/{text}"

    def on_host(self, host: str | None) -> Target:
        """This target on ``host`` (None: as its host's broker names it, unqualified)."""
        return replace(self, host=host)

    def with_console(self, console: int | str | None) -> Target:
        """This target with ``console`` (TargetSyntaxError if it already names one)."""
        if console is None:
            return self
        if self.console is not None:
            raise TargetSyntaxError(f"{self} names its console already; drop {console!r}")
        return replace(self, console=console)


def console_designator(text: str) -> int | str:
    """A console given as text: an index if it is all digits, else a name like ``vtty1``."""
    return int(text) if text.isdigit() else text


def parse_target(text: str, console: int | str | None = None) -> Target:
    """The one parser for targets: ``NAME``, ``NAME:N``, ``provider:id``, ``provider:id:N``, maybe after ``HOST/``.

    ``console`` is the separate ``N`` of ``NAME N``. ``X:Y`` is ``provider:id``
    when X is a provider's name, else guest X's console Y: name a guest that
    is called like a provider as ``provider:id``.
    """
    if "/" in text:
        host, _, unqualified = text.partition("/")
        if not host or not unqualified or "/" in unqualified or ":" in host:
            raise TargetSyntaxError(f"bad target {text!r}: use {TARGET_FORMS}")
        return parse_target(unqualified, console).on_host(host)
    parts = text.split(":")
    if not all(parts) or len(parts) > 3:
        raise TargetSyntaxError(f"bad target {text!r}: use {TARGET_FORMS}")
    if isinstance(console, str):
        console = console_designator(console)
    if len(parts) == 1:
        return Target(text).with_console(console)
    first, second, *rest = parts
    if first in _PROVIDERS:
        found = Target(second, first, console_designator(rest[0]) if rest else None)
        return found.with_console(console)
    if rest:
        names = ", ".join(ProviderName)
        raise TargetSyntaxError(f"bad target {text!r}: {first!r} is not a provider ({names})")
    return Target(first, None, console_designator(second)).with_console(console)
