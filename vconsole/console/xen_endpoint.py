"""XenRingEndpoint: the backend (xenconsoled's role) of a domU's PV console ring.

Given the console page and the backend end of the domain's event channel, it:

* maps the page, refuses a corrupt one, sets ``connection`` to
  XENCONSOLE_CONNECTED and notifies the guest (Xen 4.21 console.h);
* drains ``out`` when the event channel fires and on a slow fallback poll,
  notifying the guest after it freed space;
* writes input into ``in`` only as far as there is space (the session keeps
  the rest and retries on the guest's next notification);
* rate-limits like xenconsoled: each console gets a fixed allowance per
  period; what is over the allowance waits *in the ring* (the guest yields,
  ``pending`` shows it) and is read in the next period, never dropped;
* on a graceful close sets DISCONNECTED again and notifies, so a flag-aware
  guest goes back to the hypervisor console.  A backend killed with SIGKILL
  leaves CONNECTED: the guest keeps using the ring and waits for the next
  backend with its output intact.

A corrupt ring (``prod - cons`` above the ring size) is never serviced: read
raises :class:`RingCorruptClosed`, whose message starts ``ring corrupt:``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from vconsole.console.endpoint import ConsoleEndpoint, EndpointClosed, RingIndices, SourceFacts
from vconsole.console.eventchannel import EventChannel
from vconsole.console.xenring import (
    OUT_SIZE,
    XENCONSOLE_CONNECTED,
    XENCONSOLE_DISCONNECTED,
    RingCorrupt,
    XenConsoleRing,
)
from vconsole.domain import MarkSource
from vconsole.snapshot.model import NotCaptured, SourceFact

# xenconsoled allows each domain 30 events per 200 ms and leaves the event
# channel masked for the rest of the period once a domain uses them up.  We
# count bytes instead of events (one event drains at most a 2 KiB ring), with
# the same effect: a flooding domU gets a bounded share of the broker.
RATE_LIMIT_ALLOWANCE = 64 * 1024  # bytes per period
RATE_LIMIT_PERIOD = 0.05  # seconds: 1.25 MiB/s per console
FALLBACK_POLL = 1.0  # look at the ring even without an event this often

HYPERVISOR_SOURCE = MarkSource.HYPERVISOR
HYPERVISOR_BANNER = b"\r\n--- hypervisor console (xl dmesg) ---\r\n"
CONNECTED_BANNER = b"\r\n--- ring connected ---\r\n"


class RingCorruptClosed(EndpointClosed):
    """The ring's indices are inconsistent; the console is no longer serviced."""


def corrupt_reason(exc: RingCorrupt | str) -> str:
    """The session's reason for a corrupt ring."""
    return f"ring corrupt: {exc}"


class XenRingEndpoint(ConsoleEndpoint):
    """The backend of one xencons ring: event channel fd, shared page."""

    def __init__(
        self,
        page_fd: int,
        evtchn_fd: int,
        *,
        ring_path: str = "",
        on_close: Callable[[], None] | None = None,
        allowance: int = RATE_LIMIT_ALLOWANCE,
        period: float = RATE_LIMIT_PERIOD,
        poll: float = FALLBACK_POLL,
    ) -> None:
        """Take ownership of both fds, map the page and connect.

        Raises RingCorrupt (closing both fds) if the page is corrupt already.
        """
        try:
            ring = XenConsoleRing.from_fd(page_fd)
        except BaseException:
            os.close(evtchn_fd)
            raise
        finally:
            os.close(page_fd)
        try:
            ring.check()
        except RingCorrupt:
            ring.close()
            os.close(evtchn_fd)
            raise
        self.ring = ring
        self.evtchn = EventChannel(evtchn_fd)
        self.ring_path = ring_path
        self._on_close = on_close
        self._allowance = allowance
        self._period = period
        self._poll = poll
        self._period_end = 0.0
        self._used = 0
        self._throttled = False
        self._closed = False
        self._corrupt = False
        self.throttled_periods = 0  # periods in which the allowance ran out
        ring.connection = XENCONSOLE_CONNECTED
        self.evtchn.notify()

    def set_hypervisor_log(self, data: bytes, missed: int) -> None:
        """What the guest wrote to the hypervisor console before we connected.

        It becomes ``initial``, between two banner lines so a person sees
        where it came from, and ``initial_marks`` records its exact range.
        """
        self.lost = missed
        if not data:
            self.initial = b""
            self.initial_marks = ()
            return
        start = len(HYPERVISOR_BANNER)
        self.initial = HYPERVISOR_BANNER + data + CONNECTED_BANNER
        self.initial_marks = ((start, start + len(data), HYPERVISOR_SOURCE),)

    # --- ConsoleEndpoint ---------------------------------------------------

    def fileno(self) -> int:
        return self.evtchn.fileno()

    def read(self) -> bytes:
        if self._closed:
            raise EndpointClosed("ring unmapped")
        # Clear the pending bit first, as a guest does, so an event that
        # arrives while we look at the ring is not lost.
        self.evtchn.consume()
        now = time.monotonic()
        if now >= self._period_end:
            self._period_end = now + self._period
            self._used = 0
        budget = self._allowance - self._used
        try:
            if budget <= 0:
                if not self._throttled:
                    self._throttled = True
                    self.throttled_periods += 1
                if self.evtchn.peer_closed:
                    return self._final_drain()
                return b""
            self._throttled = False
            self.ring.check()  # either ring corrupt: the console is not serviced
            data = self.ring.read_out(min(budget, OUT_SIZE))
        except RingCorrupt as exc:
            self._corrupt = True
            raise RingCorruptClosed(corrupt_reason(exc)) from None
        if data:
            self._used += len(data)
            self.evtchn.notify()  # space in "out": a waiting guest may go on
            return data
        if self.evtchn.peer_closed:
            raise EndpointClosed("the domain's event channel closed (domain destroyed)")
        return b""

    def _final_drain(self) -> bytes:
        # The domain is gone: nothing can flood any more, take what is left.
        try:
            data = self.ring.read_out()
        except RingCorrupt as exc:
            self._corrupt = True
            raise RingCorruptClosed(corrupt_reason(exc)) from None
        if not data:
            raise EndpointClosed("the domain's event channel closed (domain destroyed)")
        return data

    def wake_after(self) -> float | None:
        if self._closed:
            return None
        if self._throttled:
            return max(0.0, self._period_end - time.monotonic())
        return self._poll

    def write(self, data: bytes) -> int:
        if self._closed:
            raise EndpointClosed("ring unmapped")
        try:
            n = self.ring.write_in(data)
        except RingCorrupt as exc:
            self._corrupt = True
            raise RingCorruptClosed(corrupt_reason(exc)) from None
        if n:
            self.evtchn.notify()
        return n

    def pending_output(self) -> int:
        if self._closed:
            return 0
        try:
            return self.ring.out_pending
        except RingCorrupt:
            return 0

    def pending_input(self) -> int | None:
        if self._closed:
            return None
        try:
            return self.ring.in_pending
        except RingCorrupt:
            return None

    def source_facts(self) -> SourceFacts:
        """The ring's indices and flag, and what waits in each ring (a ring has no termios)."""
        if self._closed:
            return SourceFacts()
        ring = self.ring
        try:
            ring.check()
            return SourceFacts(
                pending_output=ring.out_pending, pending_input=ring.in_pending,
                ring=RingIndices(ring.in_cons, ring.in_prod, ring.out_cons, ring.out_prod, ring.connection),
            )
        except RingCorrupt as exc:
            why = corrupt_reason(exc)
            return SourceFacts(unknown=(NotCaptured(SourceFact.PENDING_OUTPUT, why),
                                        NotCaptured(SourceFact.PENDING_INPUT, why)))

    def close(self) -> None:
        """Graceful backend exit: DISCONNECTED, notify, unmap, release the lease."""
        if self._closed:
            return
        self._closed = True
        try:
            self.ring.connection = XENCONSOLE_DISCONNECTED
            self.evtchn.notify()
        finally:
            self.ring.close()
            self.evtchn.close()
            if self._on_close is not None:
                self._on_close()
