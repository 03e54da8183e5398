"""Attachment: one client's view of one session, with its own cursor."""

from __future__ import annotations

import itertools
import time
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

    @property
    def peer_uid(self) -> int | None:
        """The client's uid (SO_PEERCRED), for the log's attach marks."""

    @property
    def peer_pid(self) -> int | None:
        """The client's pid (SO_PEERCRED)."""

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
        self.since = time.time()  # when the client attached (``list`` shows it)
        self.size: tuple[int, int] | None = None  # (cols, rows) the client reported
        self.active = 0  # when the client last typed, resized or attached with a size
        # The client asked for no output (a tab nobody sees); the cursor waits (see resume).
        self.held = False
        # Output from here on is live; before it, a replay: never marked for answering.
        self.live_from = session.history.end

    @property
    def read_only(self) -> bool:
        """Whether this client may only watch."""
        return self.mode != AttachMode.RW

    def touch(self) -> None:
        """The client was active just now (for the size rule: the latest active client's size)."""
        self.active = next(_activity)

    def pump(self) -> None:
        """Send whatever the client has not had yet, as far as its socket allows."""
        if self.held:
            return
        history = self.session.history
        key = self.session.key.text  # made once: it names every output event
        if self.cursor < history.start and not self._pump_log(key):
            return
        # The active writer's terminal answers the queries in live output (docs/protocol.md).
        answer = self.session.active_writer() is self
        while self.cursor < history.end and not self.sink.paused:
            replay = self.cursor < self.live_from
            data = history.read(self.cursor, min(CHUNK, self.live_from - self.cursor) if replay else CHUNK)
            event = {"event": "output", "session": key, "offset": self.cursor, "data": data}
            if answer and not replay:
                event["answer"] = True
            self.sink.send(event)
            self.cursor += len(data)
        if self.mode != AttachMode.LOG:  # a log reader never counts as reading
            self.session.sent(self.cursor)

    def _pump_log(self, key: str) -> bool:
        """Replay what is older than the memory history from the log; False if the socket filled."""
        history = self.session.history
        while self.cursor < history.start:
            if self.sink.paused:
                return False
            at, data = self.session.read_back(self.cursor, CHUNK)
            if at > self.cursor:  # neither on disk nor in memory: say exactly how much
                gap = at - self.cursor
                self.missed += gap
                self.sink.send({"event": "missed", "session": key, "offset": at, "count": gap})
                self.cursor = at
            if data:
                self.sink.send({"event": "output", "session": key, "offset": self.cursor, "data": data})
                self.cursor += len(data)
        return True

    def resume(self, start: int | None, tail_lines: int | None) -> tuple[int, int]:
        """Send output again, the cursor moved forward to ``start`` or the last lines; (skipped, missed).

        The cursor never moves back. ``missed`` counts the bytes from where
        output was asked to resume that the history no longer holds; what was
        passed over on purpose is ``skipped``. All of it up to the history's
        end now is a replay: its queries were asked while nobody looked.
        """
        history = self.session.history
        if start is None:
            start = history.tail_offset(tail_lines) if tail_lines is not None else self.cursor
        wanted = max(self.cursor, start)
        oldest = self.session.oldest
        cursor = max(min(wanted, history.end), oldest)
        skipped = max(0, cursor - self.cursor)
        missed = max(0, oldest - wanted)
        self.cursor = cursor
        self.missed += missed
        self.live_from = max(self.live_from, history.end)
        self.held = False
        return skipped, missed

    def describe(self) -> Message:
        """This client as ``list`` reports it."""
        return {
            "client": self.sink.client_id,
            "uid": self.sink.peer_uid,
            "pid": self.sink.peer_pid,
            "since": self.since,
            "mode": self.mode,
            "cursor": self.cursor,
            "unread": self.session.history.end - self.cursor,
            "missed": self.missed,
            "paused": self.held,
        }
