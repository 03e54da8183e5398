"""ConsoleSession: one console the broker holds open, its history and its clients."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from vconsole.broker.attachment import Attachment, EventSink
from vconsole.broker.guest_input import GuestInput
from vconsole.broker.history import OutputHistory
from vconsole.broker.session_events import SessionEvents
from vconsole.broker.session_log import SessionLog
from vconsole.console.endpoint import ConsoleEndpoint, EndpointClosed
from vconsole.consolelog.writer import ConsoleLogWriter
from vconsole.domain import AttachMode, ConsoleState, GuestState, Mark, SessionKey
from vconsole.providers.base import ConsoleHolder, ConsoleSpec, GuestInfo
from vconsole.snapshot.model import SourceState

log = logging.getLogger("vconsole.broker")

# One flooding console may take at most this much per loop turn, so the
# others (and the clients' keystrokes) get their turn, and so its own clients
# are pumped often: a turn of 1 MiB let a paced flood outrun the clients'
# sockets between pumps, and they missed bytes.
READ_BUDGET = 64 * 1024
# A read shorter than this from a level-triggered endpoint (a pty) means it is
# drained: the turn ends instead of paying for a read that returns EAGAIN.
SHORT_READ = 512
MAX_MARKS = 64


class ConsoleSession:
    """A console held by the broker: read continuously, whoever is attached."""

    def __init__(
        self,
        guest: GuestInfo,
        spec: ConsoleSpec,
        history_cap: int,
        on_state: Callable[[ConsoleSession], None],
        on_closed: Callable[[ConsoleSession], None],
        log: ConsoleLogWriter | None = None,
    ) -> None:
        self.guest = guest
        self.spec = spec
        self.key = session_key(guest, spec)
        # The console's durable log (None: logging off); the history is its hot tail.
        self.log = SessionLog(log) if log is not None else None
        self.history = self.log.reload(history_cap) if self.log is not None else OutputHistory(history_cap)
        self.endpoint: ConsoleEndpoint | None = None
        self.state = (
            ConsoleState.STOPPED if guest.state != GuestState.RUNNING else ConsoleState.DISCONNECTED
        )
        self.reason = ""
        self.attachments: set[Attachment] = set()
        # Furthest offset any client has been sent (bytes reloaded from the log count as seen).
        self.seen = self.history.end
        self.lost = 0  # bytes the source dropped before we could read them
        self.last_output: float | None = None
        # What offsets count in: a log keeps them across broker restarts.
        self.created = self.log.created if self.log is not None else time.time()
        self.input = GuestInput()
        # Source-side facts (termios, rings...) restored from a snapshot while
        # no endpoint is bound; see broker/snapshots/.
        self.restored_source: SourceState | None = None
        self.size: tuple[int, int] | None = None
        # The attachment whose window gave the console its size (see client_size).
        self.size_owner: Attachment | None = None
        # active_writer() is asked on every pump of every attachment: it is worked out
        # again only when a client comes, goes or is active.
        self._writer: Attachment | None = None
        self._writer_stale = True
        self._wake: asyncio.TimerHandle | None = None
        # Ranges of the history that came from elsewhere than the console
        # itself (a domU's hypervisor console log, a restored snapshot).
        self.marks: list[Mark] = []
        # What this console tells the broker's event stream (None: nothing, as in unit tests).
        self.events: SessionEvents | None = None
        # Who outside the broker holds the console while it is busy (broker/holders.py).
        self.holder: ConsoleHolder | None = None
        self._on_state = on_state
        self._on_closed = on_closed

    # --- the source side -------------------------------------------------

    def bind(self, endpoint: ConsoleEndpoint) -> None:
        """Start servicing a freshly opened endpoint."""
        self.endpoint = endpoint
        self.input.bind(endpoint)
        self.restored_source = None
        # A console reopened in the same boot (a broker restart, a ring
        # reconnected) offers what its source kept from before (a domU's
        # hypervisor log, LXC's console log file) again: the log has it already.
        replayed = self.log is not None and not self.log.bound(self.guest.incarnation)
        if endpoint.lost:
            self.lost += endpoint.lost
            log.info("%s: the source dropped %d bytes while nobody held it", self.key, endpoint.lost)
            if self.log is not None:
                self.log.lost(endpoint.lost)
        initial, initial_marks = endpoint.initial, endpoint.initial_marks
        if initial and replayed and self.log is not None:
            initial, initial_marks = self.log.unlogged_initial(self.history, initial, initial_marks)
            if len(initial) < len(endpoint.initial):
                log.info("%s: %d bytes from before the console was opened are in its log already",
                         self.key, len(endpoint.initial) - len(initial))
        if initial:
            base = self.history.end
            previous = self.last_output
            self._record(initial)
            self._log_turn([initial], previous)
            for start, end, source in initial_marks:
                self.marks.append(Mark(base + start, base + end, source))
                if self.log is not None:
                    self.log.range_mark(base + start, base + end, source)
            del self.marks[:-MAX_MARKS]
        if self.size is not None:
            endpoint.resize(*self.size)
        asyncio.get_running_loop().add_reader(endpoint.fileno(), self._readable)
        self.set_state(ConsoleState.CONNECTED)
        self._readable()

    def unbind(self, state: ConsoleState, reason: str = "") -> None:
        """Stop servicing the endpoint (if any) and close it."""
        endpoint = self.endpoint
        if endpoint is not None:
            self.endpoint = None
            loop = asyncio.get_running_loop()
            if self._wake is not None:
                self._wake.cancel()
                self._wake = None
            loop.remove_reader(endpoint.fileno())
            self.input.unbind()
            endpoint.close()
        self.set_state(state, reason)

    def set_state(self, state: ConsoleState, reason: str = "") -> None:
        """Change the state and tell whoever watches."""
        if (state, reason) != (self.state, self.reason):
            old = self.state
            if self.log is not None and state != old:
                self.log.state_changed(state)
            self.state, self.reason = state, reason
            if self.events is not None and state != old:
                self.events.state(old, state, reason)
            self._on_state(self)

    def read_now(self) -> None:
        """Read what the source holds into the history now, as the event loop would next."""
        self._readable()

    def _readable(self) -> None:
        endpoint = self.endpoint
        if endpoint is None:
            return
        taken = 0
        drained_at = SHORT_READ if endpoint.level_triggered else 1
        turn: list[bytes] = []  # one log write per turn, not per read
        previous = self.last_output
        try:
            while taken < READ_BUDGET:
                data = endpoint.read()
                if data:
                    taken += len(data)
                    self._record(data)
                    turn.append(data)
                if len(data) < drained_at:
                    break
        except EndpointClosed as exc:
            self._log_turn(turn, previous)
            self._flush_clients()
            self.unbind(ConsoleState.DISCONNECTED, str(exc))
            self._on_closed(self)
            return
        self._log_turn(turn, previous)
        self._flush_clients()
        if self.input.waiting:  # a ring has no write fd: its reader's events free space
            self.input.write_some()
        self._schedule_wake(endpoint)

    def _schedule_wake(self, endpoint: ConsoleEndpoint) -> None:
        """Re-read later without an event when the endpoint asks (throttling, polling)."""
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        delay = endpoint.wake_after()
        if delay is not None and self.endpoint is endpoint:
            self._wake = asyncio.get_running_loop().call_later(max(0.0, delay), self._readable)

    def _record(self, data: bytes) -> None:
        self.history.append(data)
        self.last_output = time.time()

    def _log_turn(self, turn: list[bytes], previous_output: float | None) -> None:
        """A turn's reads go to the log, then past the watches (``previous_output``: the turn before's time)."""
        if not turn:
            return
        data = turn[0] if len(turn) == 1 else b"".join(turn)
        # Written through to the kernel before any client is sent the bytes:
        # a broker killed after this loses none of them.
        if self.log is not None:
            self.log.append(data, self.last_output or time.time())
        if self.events is not None:
            self.events.output(data, self.history.end - len(data), previous_output)

    def _flush_clients(self) -> None:
        for attachment in list(self.attachments):
            attachment.pump()

    # --- the client side -------------------------------------------------

    def attach(
        self, sink: EventSink, mode: AttachMode, start: int | None, tail_lines: int | None
    ) -> Attachment:
        """A client's attachment, replaying from ``start``, the last lines, or from now.

        A client attaches to a session once: attaching again replaces its
        attachment. ``missed`` counts the bytes asked for that the history
        no longer holds; the caller pumps the attachment once the client
        knows the session key.
        """
        history = self.history
        if start is None:
            start = history.tail_offset(tail_lines) if tail_lines is not None else history.end
        oldest = self.oldest
        attachment = Attachment(self, sink, mode, max(min(start, history.end), oldest))
        attachment.missed = max(0, oldest - start)
        for old in [a for a in self.attachments if a.sink is sink]:
            self.attachments.discard(old)
            if not attachment.read_only:  # the same client: its size and activity carry over
                attachment.size, attachment.active = old.size, old.active
            if old is self.size_owner:
                self.size_owner = attachment if not attachment.read_only else None
        self.attachments.add(attachment)
        self._writer_stale = True
        if self.log is not None:
            self.log.client(attachment, attached=True)
        if self.events is not None:
            self.events.client(attachment, attached=True)
        self._on_state(self)  # the client count changed
        return attachment

    def detach(self, attachment: Attachment) -> None:
        """A client leaves; the session goes on being serviced.

        If its window gave the console its size, the size goes to the
        read-write client that was active most recently of those left.
        """
        if attachment in self.attachments:
            self.attachments.discard(attachment)
            self._writer_stale = True
            if self.log is not None:
                self.log.client(attachment, attached=False)
            if self.events is not None:
                self.events.client(attachment, attached=False)
            if attachment is self.size_owner:
                self.size_owner = None
                sized = [a for a in self.attachments if a.size is not None and not a.read_only]
                if sized:
                    self._size_from(max(sized, key=lambda a: a.active))
            self._on_state(self)

    # --- the window size: the latest active read-write client's (tmux's window-size latest) ---

    def client_size(self, attachment: Attachment, cols: int, rows: int) -> None:
        """A read-write client's window size, at attach or on resize: the console takes it."""
        attachment.size = (cols, rows)
        self._touched(attachment)
        self._size_from(attachment)

    def client_typed(self, attachment: Attachment) -> None:
        """A client typed: it is now the latest active one, so the console takes its size."""
        self._touched(attachment)
        if attachment is not self.size_owner and attachment.size is not None:
            self._size_from(attachment)

    def _touched(self, attachment: Attachment) -> None:
        """``attachment`` (read-write) was active just now: the latest active, so the active writer."""
        attachment.touch()
        if attachment.read_only:
            self._writer_stale = True
        else:
            self._writer, self._writer_stale = attachment, False

    def _size_from(self, attachment: Attachment) -> None:
        self.size_owner = attachment
        if attachment.size is not None and attachment.size != self.size:
            self.resize(*attachment.size)

    def sent(self, offset: int) -> None:
        """A client has been sent the history up to ``offset``."""
        if offset > self.seen:
            self.seen = offset

    def send_input(self, data: bytes) -> None:
        """Queue keystrokes for the guest without ever blocking the broker (see GuestInput)."""
        if self.endpoint is None:
            raise EndpointClosed(f"console is {self.state}")
        self.input.send(data)

    @property
    def input_backlog(self) -> bytes:
        """Input accepted from clients that the guest has not taken yet."""
        return self.input.backlog

    @property
    def input_log(self) -> bytearray:
        """The newest bytes the guest took (a snapshot counts its unread input from them)."""
        return self.input.written

    def resize(self, cols: int, rows: int) -> None:
        """Set the guest's window size (clients go through client_size and client_typed)."""
        self.size = (cols, rows)
        if self.endpoint is not None:
            self.endpoint.resize(cols, rows)

    def seed_history(self, data: bytes, start: int, marks: list[Mark]) -> None:
        """Put restored bytes (and their marks) before the current history; tell whoever watches.

        Offsets already handed out move by the length of the restored range,
        so attached clients' cursors and existing marks move with them.
        """
        # Nothing to put in front (all of it held already): nothing moves.
        shift = self.history.seed(data, start) if data else 0
        self.marks = [mark.shifted(shift) for mark in self.marks]
        for attachment in self.attachments:
            attachment.cursor += shift
        self.seen = self.seen + shift if self.seen else 0
        self.marks[:0] = marks
        del self.marks[:-MAX_MARKS]
        self._on_state(self)

    # --- reporting -------------------------------------------------------

    def active_writer(self) -> Attachment | None:
        """The attached read-write client that was active last, if any: its terminal answers queries.

        Active means typed, resized or attached with a size (``Attachment.active``);
        of clients never active, the one that attached last. It is the one
        terminal that answers the terminal queries in live output
        (docs/protocol.md, "Terminal queries").
        """
        if self._writer_stale:
            writers = [a for a in self.attachments if not a.read_only]
            self._writer = max(writers, key=lambda a: (a.active, a.id), default=None)
            self._writer_stale = False
        return self._writer

    @property
    def oldest(self) -> int:
        """The oldest offset a replay can start at: in the log, or else in the memory history."""
        return self.log.oldest(self.history) if self.log is not None else self.history.start

    def read_back(self, offset: int, limit: int) -> tuple[int, bytes]:
        """Bytes older than the memory history, from the log: (their offset, bytes), as ConsoleLog.read."""
        if self.log is None:
            return self.history.start, b""
        return self.log.read_back(self.history, offset, limit)

    @property
    def unread(self) -> int:
        """Bytes no client has been sent yet."""
        return self.history.end - max(self.seen, self.oldest)

    def describe(self) -> dict[str, Any]:
        """The console as ``list`` reports it."""
        endpoint = self.endpoint
        info: dict[str, Any] = {
            "name": self.spec.name,
            "index": self.spec.index,
            "type": self.spec.type,
            "session": self.key,
            "state": self.state,
            "reason": self.reason,
            "pending": endpoint.pending_output() if endpoint is not None else 0,
            "unread": self.unread,
            "clients": len(self.attachments),
            "history": len(self.history),
            "start": self.history.start,
            "end": self.history.end,
            # Bytes no longer held anywhere (the log holds what memory dropped).
            "dropped": self.log.writer.dropped if self.log is not None else self.history.dropped,
            "lost": self.lost,
            "last_output": self.last_output,
            "attached": [a.describe() for a in self.attachments],
            "marks": list(self.marks),  # in their wire form when encoded
            "alert": self.events.alert() if self.events is not None else None,
            "holder": self.holder.to_wire() if self.holder is not None and self.state == ConsoleState.BUSY else None,
        }
        info.update(self.log.describe() if self.log is not None else {"log_state": "off"})
        if endpoint is not None:
            input_pending = endpoint.pending_input()
            if input_pending is not None:
                info["input_pending"] = input_pending
        return info


def session_key(guest: GuestInfo, spec: ConsoleSpec) -> SessionKey:
    """The key of the session that holds console ``spec`` of ``guest``."""
    return SessionKey(guest.provider, guest.id, spec.name)
