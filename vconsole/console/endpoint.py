"""ConsoleEndpoint: the host side of one guest console, as the broker sees it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from vconsole.snapshot.model import NotCaptured, Termios


class EndpointClosed(Exception):
    """The console went away (guest stopped, pty hung up, ring unmapped)."""


@dataclass(frozen=True)
class RingIndices:
    """A Xen console ring's free-running indices and its ``connection`` flag."""

    in_cons: int
    in_prod: int
    out_cons: int
    out_prod: int
    connection: int


@dataclass(frozen=True)
class SourceFacts:
    """What an endpoint knows about its source, read without consuming anything.

    ``pending_output``: bytes the guest wrote that the broker has not read;
    ``pending_input``: bytes the broker wrote that the guest has not read
    (None: unknown). ``unknown`` names the facts this kind of source has but
    that could not be read now, and why; a fact the source does not have at
    all (a ring's termios) is simply None.
    """

    pending_output: int | None = None
    pending_input: int | None = None
    termios: Termios | None = None
    winsize: tuple[int, int] | None = None  # (cols, rows)
    ring: RingIndices | None = None
    unknown: tuple[NotCaptured, ...] = ()


class ConsoleEndpoint(ABC):
    """A non-blocking byte pipe to a guest console.

    The broker watches ``fileno()`` for readability and calls ``read`` until it
    returns ``b""`` (or, for a ``level_triggered`` endpoint, a short read), a
    bounded amount per turn. ``initial`` is what the source had buffered for us before
    we opened it (a vtty's port buffer) and ``lost`` how many bytes the source
    dropped while nobody held it; the broker records both.
    """

    initial: bytes = b""
    lost: int = 0
    # (start, end, source) ranges of ``initial`` that did not come from the
    # console itself, e.g. a domU's hypervisor console log ("hypervisor").
    initial_marks: tuple[tuple[int, int, str], ...] = ()
    # True when ``fileno()`` is readable exactly while ``read`` has data (a pty
    # master): then a short read means the source is drained, and the broker
    # ends its read turn rather than issue one more read that only fails with
    # EAGAIN; the event loop calls again when more arrives. A ring's event
    # channel says only "something changed", so it must be read until empty.
    level_triggered: bool = False
    # True when the source's pending output cannot be copied without consuming
    # it (a pty): a snapshot first reads it into the history, as the broker
    # would next anyway. A ring's pending output stays put for its provider to copy.
    drain_before_snapshot: bool = False

    @abstractmethod
    def fileno(self) -> int:
        """An fd that becomes readable when ``read`` may return data."""

    @abstractmethod
    def read(self) -> bytes:
        """Available output, ``b""`` when there is none; EndpointClosed when gone."""

    @abstractmethod
    def write(self, data: bytes) -> int:
        """Send input without blocking; return how many bytes were taken."""

    def write_fileno(self) -> int | None:
        """An fd that becomes writable when ``write`` may take more, if any."""
        return None

    def wake_after(self) -> float | None:
        """Seconds after which ``read`` should be tried again without fd readiness.

        For sources that can hold data without signalling it: a rate-limited
        ring (bytes wait in the ring until the next period) or a shared page
        serviced by a slow fallback poll. None: rely on ``fileno()`` alone.
        """
        return None

    def resize(self, cols: int, rows: int) -> None:  # noqa: B027 - optional for endpoints
        """Tell the guest its window size, where the console has one."""

    @abstractmethod
    def pending_output(self) -> int:
        """Bytes the guest wrote that we have not read yet."""

    def pending_input(self) -> int | None:
        """Bytes we wrote that the guest has not read yet, or None if unknowable."""
        return None

    def source_facts(self) -> SourceFacts:
        """The source's own state for a snapshot; reads nothing the guest would read."""
        return SourceFacts(pending_output=self.pending_output(), pending_input=self.pending_input())

    @abstractmethod
    def close(self) -> None:
        """Release the console so another opener may take it."""
