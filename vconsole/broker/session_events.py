"""SessionEvents: what one console tells the event stream (watch hits, quiet, states, clients).

The session calls it in the same turn that logs a read, so a watch sees
every byte exactly once, whether or not anyone is attached. Matching is the
LineMatcher's (lines across reads, bounded per console); what waits for a
quiet moment (a prompt without newline, a silence) is checked by the
broker's once-a-second sweep (:meth:`idle`), never with a timer per read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vconsole.broker.event_stream import EventStream
from vconsole.console_events import ConsoleEvent, EventKind
from vconsole.domain import AttachMode, ConsoleState, Severity
from vconsole.watches.matcher import LineMatcher, WatchHit
from vconsole.watches.quiet import QuietKind, QuietWatch
from vconsole.watches.signatures import Signature

if TYPE_CHECKING:
    from vconsole.broker.attachment import Attachment
    from vconsole.broker.session import ConsoleSession

# A prompt (no newline after it) is matched once the console was quiet this long.
PROMPT_QUIET = 0.3
_STATE_SEVERITY = {
    ConsoleState.CONNECTED: Severity.INFO,
    # A guest stopping disconnects its consoles first: news, not a warning.
    ConsoleState.DISCONNECTED: Severity.INFO,
    ConsoleState.BUSY: Severity.WARNING,
    ConsoleState.GONE: Severity.WARNING,
    ConsoleState.STOPPED: Severity.INFO,
}


@dataclass(frozen=True)
class WatchSet:
    """The broker's watches: the signatures (built-in and the user's) and the quiet watches."""

    signatures: tuple[Signature, ...]
    quiet: tuple[QuietWatch, ...] = ()


class SessionEvents:
    """One console's events: its watches applied to its output, its states and clients published."""

    def __init__(self, session: ConsoleSession, stream: EventStream, watches: WatchSet) -> None:
        self._session = session
        self._stream = stream
        guest, spec = session.guest, session.spec
        where = (guest.provider, guest.id, guest.name, spec.name, spec.index)
        self._matcher = LineMatcher([w for w in watches.signatures if w.applies_to(*where)], session.history.end)
        self._quiet = [w for w in watches.quiet if w.applies_to(*where)]
        # Silence watches that fired since the console last printed (each fires once per silence).
        self._silenced: set[str] = set()
        self._fresh = True  # no state change yet: the first connect at broker start is no news
        self._peeked_to = -1  # the offset up to which the unfinished line was looked at

    def rewatch(self, watches: WatchSet) -> None:
        """The broker's watches changed (a reload): match with the new ones from the next byte."""
        guest, spec = self._session.guest, self._session.spec
        where = (guest.provider, guest.id, guest.name, spec.name, spec.index)
        matcher = self._matcher
        self._matcher = LineMatcher([w for w in watches.signatures if w.applies_to(*where)], matcher.offset)
        self._quiet = [w for w in watches.quiet if w.applies_to(*where)]

    @property
    def has_watches(self) -> bool:
        """Whether anything is matched on this console's output."""
        return bool(self._matcher.watches)

    def output(self, data: bytes, start: int, previous_output: float | None) -> None:
        """The bytes ``data`` at offset ``start`` were just read (``previous_output``: when the last were)."""
        matcher = self._matcher
        if matcher.offset != start:
            # Offsets moved under the matcher (restored history went in front): start afresh there.
            self._matcher = matcher = LineMatcher(matcher.watches, start, matcher.max_line)
        if matcher.watches:
            for hit in matcher.feed(data):
                self._hit(hit)
        if self._quiet:
            now = time.time()
            silent_for = None if previous_output is None else now - previous_output
            for watch in self._quiet:
                if watch.kind == QuietKind.ACTIVITY and silent_for is not None and silent_for >= watch.seconds:
                    self._publish_quiet(watch, f"output after {silent_for:.0f} s of silence", start)
            self._silenced.clear()

    def idle(self, now: float) -> None:
        """The broker's sweep: a prompt left unfinished for a while is matched; silences are noticed."""
        last = self._session.last_output
        if last is None:
            return
        matcher = self._matcher
        if matcher.pending and matcher.offset != self._peeked_to and now - last >= PROMPT_QUIET:
            self._peeked_to = matcher.offset  # a prompt sitting there is looked at once
            for hit in matcher.peek():
                self._hit(hit)
        for watch in self._quiet:
            if watch.kind == QuietKind.SILENCE and watch.name not in self._silenced and now - last >= watch.seconds:
                self._silenced.add(watch.name)
                self._publish_quiet(watch, f"no output for {now - last:.0f} s", self._session.history.end)

    @property
    def waiting(self) -> bool:
        """Whether :meth:`idle` has anything to look at on this console."""
        matcher = self._matcher
        return (matcher.pending > 0 and matcher.offset != self._peeked_to) or bool(self._quiet)

    def _hit(self, hit: WatchHit) -> None:
        self.publish(EventKind.WATCH, hit.severity, name=hit.name, text=hit.text, offset=hit.offset)

    def _publish_quiet(self, watch: QuietWatch, text: str, offset: int) -> None:
        kind = EventKind.SILENCE if watch.kind == QuietKind.SILENCE else EventKind.ACTIVITY
        self.publish(kind, watch.severity, name=watch.name, text=text, offset=offset)

    def state(self, old: ConsoleState, new: ConsoleState, reason: str) -> None:
        """The console's state changed: a STATE event, or the guest's start or stop on its first console."""
        fresh, self._fresh = self._fresh, False
        first_console = self._session.spec.index == self._session.guest.consoles[0].index
        text = f"{new.value}: {reason}" if reason else new.value
        if new == ConsoleState.STOPPED or (old == ConsoleState.STOPPED and new != ConsoleState.GONE):
            if first_console:
                kind = EventKind.GUEST_STOPPED if new == ConsoleState.STOPPED else EventKind.GUEST_STARTED
                self.publish(kind, Severity.INFO, text=reason)
            if new == ConsoleState.STOPPED:
                return
        if fresh and new == ConsoleState.CONNECTED:
            return
        self.publish(EventKind.STATE, _STATE_SEVERITY.get(new, Severity.INFO), name=new.value, text=text)

    def alert(self) -> dict[str, object] | None:
        """The console's unacknowledged alert in its wire form, for ``list``."""
        alert = self._stream.alert(self._session.key)
        return alert.to_wire() if alert is not None else None

    def client(self, attachment: Attachment, attached: bool) -> None:
        """A client attached or detached: its uid, pid and mode."""
        sink = attachment.sink
        self.publish(
            EventKind.ATTACH if attached else EventKind.DETACH, Severity.INFO,
            uid=sink.peer_uid, pid=sink.peer_pid, mode=attachment.mode,
        )

    def demoted(self, attachment: Attachment, by_uid: int | None, by_pid: int | None) -> None:
        """A read-write client was made read-only by another client's ``--force``."""
        sink = attachment.sink
        self.publish(
            EventKind.DEMOTED, Severity.WARNING, uid=sink.peer_uid, pid=sink.peer_pid, mode=AttachMode.RO,
            text=f"made read-only by uid {by_uid} pid {by_pid}",
        )

    def publish(
        self,
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
        """Publish an event of this console (see EventStream.publish) and mark it in the console's log."""
        session = self._session
        event = self._stream.publish(
            session.key, session.guest.name, kind, severity, name=name, text=text, offset=offset, uid=uid,
            pid=pid, mode=mode, holder_pid=holder_pid, holder_uid=holder_uid, command=command,
        )
        if session.log is not None:
            session.log.event(event)
        return event
