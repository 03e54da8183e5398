"""EventFeed: the broker's event stream as this TUI follows it.

At start the link reads the events the broker keeps (history: the events
panel lists them, nobody is notified) and asks to follow; from then on each
new event comes as a ``console_event`` push. After a reconnect it follows
again from the last ``seq`` it saw, so nothing is missed or told twice; a
broker that is another process (its hello's pid) numbers its events from 1
again, so what the old one said is dropped and the new one is read whole.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from vconsole.client import Client, RequestFailed
from vconsole.console_events import ConsoleEvent
from vconsole.domain import Severity
from vconsole.protocol import Events

MAX_KEPT = 5000  # events the TUI remembers for its panel; the broker keeps more


class EventFeed:
    """The events seen, oldest first, each once (by ``seq``), bounded; and who is told of new ones."""

    def __init__(self, on_new: Callable[[ConsoleEvent], None], limit: int = MAX_KEPT) -> None:
        """``on_new`` is told of every event that came after the TUI started following (not of history)."""
        self.on_new = on_new
        self.limit = limit
        self.events: list[ConsoleEvent] = []
        self._seqs: list[int] = []  # the events' seqs, for bisect
        self.broker_pid: int | None = None  # the broker whose numbering ``events`` are in
        self.following = False  # a follow was asked of the broker now connected

    @property
    def last(self) -> int:
        """The newest seq seen (0: none)."""
        return self._seqs[-1] if self._seqs else 0

    def add(self, event: ConsoleEvent) -> bool:
        """Keep ``event``; False if it was seen already."""
        at = bisect.bisect_left(self._seqs, event.seq)
        if at < len(self._seqs) and self._seqs[at] == event.seq:
            return False
        self._seqs.insert(at, event.seq)
        self.events.insert(at, event)
        if len(self.events) > self.limit:
            del self.events[: -self.limit], self._seqs[: -self.limit]
        return True

    def pushed(self, raw: dict[str, Any]) -> None:
        """A ``console_event`` push: kept, and told if new (a malformed one is dropped)."""
        try:
            event = ConsoleEvent.from_wire(raw)
        except (KeyError, TypeError, ValueError):
            return
        if self.add(event):
            self.on_new(event)

    async def follow(self, client: Client) -> None:
        """Read what was missed (the newest the broker keeps, the first time) and follow from there.

        Nothing happens if the broker cannot (an older one) or is lost again
        meanwhile: the next reconnect follows.
        """
        self.following = False
        pid = client.broker_info.pid if client.broker_info is not None else None
        first = self.broker_pid is None
        fresh = pid != self.broker_pid  # a broker whose numbering we have not read yet
        if fresh:
            self.events.clear()
            self._seqs.clear()
            self.broker_pid = pid
        try:
            # A look back answers the newest events; a read from a seq the oldest after it, and ``more``.
            reply = await client.read_events(Events(since=None if fresh else self.last, follow=True))
            self.following = True
            self._take(reply.events, told=not first)
            while reply.more and not fresh:
                reply = await client.read_events(Events(since=self.last, follow=True))
                self._take(reply.events, told=True)
        except (RequestFailed, ConnectionError):
            return

    def _take(self, events: list[ConsoleEvent], told: bool) -> None:
        for event in events:
            if self.add(event) and told:
                self.on_new(event)  # it happened while the TUI was away

    def matching(self, at_least: Severity) -> list[ConsoleEvent]:
        """The events at or above a severity, oldest first."""
        return [e for e in self.events if e.severity >= at_least]
