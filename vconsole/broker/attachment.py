"""Attachment: one client's view of one session, with its own cursor."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Protocol

from vconsole.domain import AttachMode
from vconsole.wire import Message

if TYPE_CHECKING:
    from vconsole.broker.session import ConsoleSession

CHUNK = 256 * 1024
_ids = itertools.count(1)
_activity = itertools.count(1)  # one clock for every attachment: larger is more recent


class EventSink(Protocol):
    """Where an attachment's events go: a client connection."""

    @property
    def paused(self) -> bool:
        """True while the client is not keeping up (its socket buffer is full)."""

    @property
    def client_id(self) -> int:
        """The connection's number, for ``list``."""

    def send(self, message: Message) -> None:
        """Queue a message to the client without blocking."""


class Attachment:
    """A client attached to a session, read-write or read-only.

    The client is sent history from ``cursor`` on only while its socket keeps
    up; a client that stops reading is simply left behind, so it never slows
    the guest or anyone else, and when it resumes it is told exactly how many
    bytes the history no longer holds.
    """

    def __init__(self, session: ConsoleSession, sink: EventSink, mode: AttachMode, cursor: int) -> None:
        self.id = next(_ids)
        self.session = session
        self.sink = sink
        self.mode = mode
        self.cursor = cursor
        self.missed = 0
        self.size: tuple[int, int] | None = None  # (cols, rows) the client reported
        self.active = 0  # when the client last typed, resized or attached with a size

    @property
    def read_only(self) -> bool:
        """Whether this client may only watch."""
        return self.mode == AttachMode.RO

    def touch(self) -> None:
        """The client was active just now (for the size rule: the latest active client's size)."""
        self.active = next(_activity)

    def pump(self) -> None:
        """Send whatever the client has not had yet, as far as its socket allows."""
        history = self.session.history
        key = self.session.key.text  # made once: it names every output event
        if self.cursor < history.start:
            gap = history.start - self.cursor
            self.missed += gap
            self.sink.send(
                {"event": "missed", "session": key, "offset": history.start, "count": gap}
            )
            self.cursor = history.start
        while self.cursor < history.end and not self.sink.paused:
            data = history.read(self.cursor, CHUNK)
            self.sink.send({"event": "output", "session": key, "offset": self.cursor, "data": data})
            self.cursor += len(data)
        self.session.sent(self.cursor)

    def describe(self) -> Message:
        """This client as ``list`` reports it."""
        return {
            "client": self.sink.client_id,
            "mode": self.mode,
            "cursor": self.cursor,
            "unread": self.session.history.end - self.cursor,
            "missed": self.missed,
        }
