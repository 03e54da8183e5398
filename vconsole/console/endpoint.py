"""ConsoleEndpoint: the host side of one guest console, as the broker sees it."""

from __future__ import annotations

from abc import ABC, abstractmethod


class EndpointClosed(Exception):
    """The console went away (guest stopped, pty hung up, ring unmapped)."""


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

    @abstractmethod
    def close(self) -> None:
        """Release the console so another opener may take it."""
