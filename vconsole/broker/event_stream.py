"""EventStream: the broker's one stream of events, kept bounded, served to clients, with alerts.

Everything worth telling an admin (a watch hit, a console's state, a guest
starting, a client attaching, a takeover) is published here once. The
stream keeps the newest :data:`KEEP` events for ``vconsole events``, pushes
each to the clients that follow it, and counts per console the
unacknowledged events that raise an alert (the TUI's badges).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from vconsole.console_events import MAX_EVENT_TEXT, ConsoleAlert, ConsoleEvent, EventKind
from vconsole.domain import AttachMode, SessionKey, Severity
from vconsole.protocol import Events
from vconsole.protocol_replies import EventsReply
from vconsole.wire import Message

KEEP = 10_000  # events the broker keeps for `vconsole events`
# Unacknowledged alerting events remembered per console (the count goes on past it).
ALERT_KEEP = 256
# Kinds that raise a console's alert (at WARNING or above); states show in the tree anyway.
ALERTING = frozenset({EventKind.WATCH, EventKind.SILENCE})


class EventFollower(Protocol):
    """A client following the stream: a connection."""

    @property
    def paused(self) -> bool:
        """True while the client is not keeping up."""

    def send(self, message: Message) -> None:
        """Queue a message to the client without blocking."""


@dataclass
class _Follow:
    """What one follower asked for, and how many events it was not sent while it lagged."""

    severity: Severity
    sessions: frozenset[SessionKey] | None
    skipped: int = 0


@dataclass
class _Unacknowledged:
    """A console's alerting events nobody acknowledged yet (the newest ALERT_KEEP, and how many in all)."""

    events: deque[ConsoleEvent] = field(default_factory=lambda: deque(maxlen=ALERT_KEEP))
    count: int = 0

    def alert(self) -> ConsoleAlert | None:
        if not self.events:
            return None
        worst = max(self.events, key=lambda e: (e.severity.rank, -e.seq))
        return ConsoleAlert(worst.severity, worst.name, self.count, self.events[0].seq)


class EventStream:
    """Publishes events: kept, pushed to followers, counted into alerts.

    ``on_alert`` is called with a console's key when its alert changed (the
    broker sends watchers the console again).
    """

    def __init__(self, on_alert: Callable[[SessionKey], None], keep: int = KEEP) -> None:
        self._events: deque[ConsoleEvent] = deque(maxlen=keep)
        self._seq = 0
        self._followers: dict[EventFollower, _Follow] = {}
        self._unacknowledged: dict[SessionKey, _Unacknowledged] = {}
        self._on_alert = on_alert

    @property
    def last(self) -> int:
        """The newest seq given out (0: none yet)."""
        return self._seq

    def publish(
        self,
        session: SessionKey,
        guest: str,
        kind: EventKind,
        severity: Severity = Severity.INFO,
        *,
        name: str | None = None,
        text: str = "",
        offset: int | None = None,
        uid: int | None = None,
        pid: int | None = None,
        mode: AttachMode | None = None,
        holder_pid: int | None = None,
        holder_uid: int | None = None,
        command: str = "",
    ) -> ConsoleEvent:
        """Add an event (its seq and time given here) and tell whoever follows."""
        self._seq += 1
        event = ConsoleEvent(
            self._seq, time.time(), kind, severity, name or kind.value, session, guest,
            text[:MAX_EVENT_TEXT], offset, uid, pid, mode, holder_pid, holder_uid, command[:MAX_EVENT_TEXT],
        )
        self._events.append(event)
        if kind in ALERTING and severity >= Severity.WARNING:
            pending = self._unacknowledged.setdefault(session, _Unacknowledged())
            pending.events.append(event)
            pending.count += 1
            self._on_alert(session)
        if self._followers:
            wire: Message | None = None
            for follower, wants in self._followers.items():
                if severity < wants.severity or (wants.sessions is not None and session not in wants.sessions):
                    continue
                if follower.paused:  # never buffer without bound for a client that does not read
                    wants.skipped += 1
                    continue
                wire = wire or {"event": "console_event", **event.to_wire()}
                if wants.skipped:
                    follower.send({**wire, "skipped": wants.skipped})
                    wants.skipped = 0
                else:
                    follower.send(wire)
        return event

    def read(self, request: Events, sessions: frozenset[SessionKey] | None) -> EventsReply:
        """The kept events ``request`` asks for (``sessions``: its target's consoles, None for all)."""
        since = request.since or 0
        oldest = self._events[0].seq if self._events else self._seq + 1
        # Events after `since` the stream no longer keeps.
        forgotten = max(0, oldest - since - 1) if request.since is not None else 0
        found = [
            e for e in self._events
            if e.seq > since
            and (request.since_time is None or e.time >= request.since_time)
            and e.severity >= request.severity
            and (sessions is None or e.session in sessions)
        ]
        more = len(found) > request.limit
        # Following on from `since`: the oldest first, the rest next time; a look back: the newest.
        found = found[: request.limit] if request.since is not None else found[-request.limit :]
        return EventsReply(found, self._seq, more, forgotten)

    def follow(self, follower: EventFollower, request: Events, sessions: frozenset[SessionKey] | None) -> None:
        """Push ``follower`` every later event that passes ``request``'s filter (replacing an earlier one)."""
        self._followers[follower] = _Follow(request.severity, sessions)

    def unfollow(self, follower: EventFollower) -> None:
        """Stop pushing to ``follower`` (it asked again without follow, or left)."""
        self._followers.pop(follower, None)

    def alert(self, session: SessionKey) -> ConsoleAlert | None:
        """The console's unacknowledged alert, if any."""
        pending = self._unacknowledged.get(session)
        return pending.alert() if pending is not None else None

    def acknowledge(self, sessions: Iterable[SessionKey] | None, upto: int | None) -> int:
        """Acknowledge the alerting events of ``sessions`` (None: all) up to seq ``upto``; how many."""
        keys = list(self._unacknowledged) if sessions is None else [k for k in sessions if k in self._unacknowledged]
        done = 0
        for key in keys:
            pending = self._unacknowledged[key]
            if upto is None or all(e.seq <= upto for e in pending.events):
                done += pending.count
                del self._unacknowledged[key]
            else:
                kept = deque((e for e in pending.events if e.seq > upto), maxlen=ALERT_KEEP)
                gone = len(pending.events) - len(kept)
                if not gone:
                    continue
                done += gone
                pending.events, pending.count = kept, pending.count - gone
            self._on_alert(key)
        return done
