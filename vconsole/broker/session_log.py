"""SessionLog: what a console session tells its durable log, beside the bytes.

The session's history is the log's hot tail: at start it is reloaded from
the log, so offsets go on where the previous broker stopped. Boots, state
changes, clients coming and going, and counts of lost bytes become marks.
"""

from __future__ import annotations

import time
import zlib
from typing import TYPE_CHECKING, Any

from vconsole.broker.history import OutputHistory
from vconsole.console_events import ConsoleEvent, EventKind
from vconsole.consolelog.reader import ConsoleLog, LogUnreadable
from vconsole.consolelog.records import AttachCode, LogMarkKind
from vconsole.consolelog.writer import ConsoleLogWriter
from vconsole.domain import AttachMode, ConsoleState, MarkSource

if TYPE_CHECKING:
    from vconsole.broker.attachment import Attachment

# The log's newest bytes looked for in a reopened console's initial bytes (see unlogged_initial).
ANCHOR = 256
MIN_ANCHOR = 16
# At most this much of a console's log is reloaded into memory at start: older
# bytes are replayed from disk, so a thousand logged consoles do not fill the
# broker's memory when it restarts.
RELOAD_BYTES = 256 * 1024
_ATTACH_CODES = {AttachMode.RW: AttachCode.RW, AttachMode.RO: AttachCode.RO, AttachMode.LOG: AttachCode.LOG}
_RANGE_MARKS: dict[str, LogMarkKind] = {MarkSource.HYPERVISOR: LogMarkKind.HYPERVISOR, MarkSource.RESTORED: LogMarkKind.RESTORED}
_EVENT_MARKS = {
    EventKind.WATCH: LogMarkKind.WATCH,
    EventKind.SILENCE: LogMarkKind.SILENCE,
    EventKind.ACTIVITY: LogMarkKind.ACTIVITY,
    EventKind.TAKEOVER: LogMarkKind.TAKEOVER,
    EventKind.DEMOTED: LogMarkKind.DEMOTED,
    EventKind.HOLDER: LogMarkKind.HOLDER,
}
_STATE_MARKS = {
    ConsoleState.CONNECTED: LogMarkKind.CONNECTED,
    ConsoleState.DISCONNECTED: LogMarkKind.DISCONNECTED,
    ConsoleState.STOPPED: LogMarkKind.GUEST_STOPPED,
}


class SessionLog:
    """One session's side of its ConsoleLogWriter."""

    def __init__(self, writer: ConsoleLogWriter) -> None:
        self.writer = writer
        self.created = writer.created
        # The log began in this run: it holds only what memory holds (see relog).
        self.began_empty = writer.end == 0
        self._saw_stop = False  # the guest was seen stopped since the last boot

    def reload(self, cap: int) -> OutputHistory:
        """A history holding the log's newest bytes (at most ``cap``), at their offsets."""
        offset, tail = self.writer.tail(min(cap, RELOAD_BYTES))
        if offset + len(tail) != self.writer.end:  # the newest bytes never reached the disk
            return OutputHistory(cap, start=self.writer.end)
        history = OutputHistory(cap, start=offset)
        history.append(tail)
        return history

    def oldest(self, history: OutputHistory) -> int:
        """The oldest offset held on disk or in ``history``."""
        return min(self.writer.start, history.start)

    def read_back(self, history: OutputHistory, offset: int, limit: int) -> tuple[int, bytes]:
        """Bytes from ``offset`` that are older than ``history``, from the files: (their offset, bytes).

        ``(history.start, b"")`` when the log holds none of them before the memory starts.
        """
        if offset >= history.start:
            return history.start, b""
        at, data = self.writer.read(offset, min(limit, history.start - offset))
        if at >= history.start or not data:
            return history.start, b""
        return at, data[: history.start - at]

    def relog(self, history: OutputHistory, restored_end: int, restored_time: float) -> None:
        """Write ``history`` into the log again at its offsets (history was put in front of it).

        Only for a log that began in this run and holds nothing memory does
        not (``began_empty``): its bytes moved, so its files are rewritten.
        Bytes before ``restored_end`` came from a snapshot (their time: when
        it was written); the rest arrived just now.
        """
        self.writer.forget(history.start)
        now = time.time()
        front = history.read(history.start, max(0, restored_end - history.start))
        self.writer.append(front, restored_time)
        self.writer.append(history.read(history.start + len(front)), now)
        if front:
            self.range_mark(history.start, history.start + len(front), MarkSource.RESTORED)

    def append(self, data: bytes, when: float) -> None:
        """One read turn's bytes."""
        self.writer.append(data, when)

    def bound(self, incarnation: str) -> bool:
        """The console was opened: a new boot if the guest started since the last one; whether it did."""
        now = time.time()
        started = False
        if incarnation:
            before = self.writer.boot
            started = self.writer.new_boot(incarnation, now) != before
        elif self._saw_stop or self.writer.boot == 0:
            # No incarnation from the provider: a start seen by this broker is a new boot.
            self.writer.new_boot(f"started {now:.6f}", now)
            started = True
        if started:
            self.writer.mark(LogMarkKind.GUEST_STARTED, when=now)
        self._saw_stop = False
        return started

    def unlogged_initial(
        self, history: OutputHistory, initial: bytes, marks: tuple[tuple[int, int, str], ...]
    ) -> tuple[bytes, tuple[tuple[int, int, str], ...]]:
        """What of a reopened console's ``initial`` bytes the log does not hold yet, and their marks.

        A console reopened in the same boot (a broker restart, a ring
        reconnected) offers what its source kept from before again: a domU's
        hypervisor log (marked: the log's last range of that kind is cut from
        the front of the new one), LXC's console log file (unmarked: cut up to
        where the log's newest bytes appear in it). What cannot be matched is
        kept whole: better twice than lost.
        """
        if marks:
            start, end, source = marks[0]
            old = self._last_range(source)
            if old and initial[start:end].startswith(old):
                end -= len(old)
                if end == start:
                    return b"", ()
                return initial[:start] + initial[start + len(old) :], ((start, end, source), *marks[1:])
            return initial, marks
        anchor = history.read(max(history.start, history.end - ANCHOR))
        at = initial.rfind(anchor) if len(anchor) >= MIN_ANCHOR else -1
        return (initial[at + len(anchor) :], ()) if at >= 0 else (initial, marks)

    def _last_range(self, source: str) -> bytes:
        """The bytes of the log's newest range marked as coming from ``source`` (b"" if none)."""
        kind = _RANGE_MARKS.get(source)
        try:
            log = ConsoleLog(self.writer.directory)
        except LogUnreadable:
            return b""
        ranges = [m for m in log.marks() if m.kind == kind]
        if kind is None or not ranges:
            return b""
        start, end = ranges[-1].offset, ranges[-1].value
        at, data = log.read(start, end - start)
        return data if at == start and len(data) == end - start else b""

    def state_changed(self, state: ConsoleState) -> None:
        """A state change worth a mark."""
        kind = _STATE_MARKS.get(state)
        if state == ConsoleState.STOPPED:
            self._saw_stop = True
        if kind is not None:
            self.writer.mark(kind)

    def lost(self, count: int) -> None:
        """The source dropped ``count`` bytes before the broker read them."""
        self.writer.mark(LogMarkKind.LOST, value=count)

    def range_mark(self, start: int, end: int, source: str) -> None:
        """Bytes ``[start, end)`` came from elsewhere than the console (hypervisor log, snapshot)."""
        kind = _RANGE_MARKS.get(source)
        if kind is not None:
            self.writer.mark(kind, value=end, offset=start)

    def client(self, attachment: Attachment, attached: bool) -> None:
        """A client attached or detached: its mode, uid and pid."""
        sink = attachment.sink
        uid, pid = sink.peer_uid or 0, sink.peer_pid or 0
        self.writer.mark(
            LogMarkKind.ATTACH if attached else LogMarkKind.DETACH,
            value=(uid << 32) | (pid & 0xFFFFFFFF),
            aux=_ATTACH_CODES[attachment.mode],
        )

    def event(self, event: ConsoleEvent) -> None:
        """An event of the stream the log has no mark of its own for (watch hits, takeovers)."""
        kind = _EVENT_MARKS.get(event.kind)
        if kind is None:
            return  # states, starts and clients are marked as they happen
        if kind in (LogMarkKind.WATCH, LogMarkKind.SILENCE, LogMarkKind.ACTIVITY):
            value, aux = zlib.crc32(event.name.encode()), event.severity.rank
        else:
            who_uid, who_pid = (
                (event.uid, event.pid) if kind == LogMarkKind.DEMOTED else (event.holder_uid, event.holder_pid)
            )
            value, aux = ((who_uid or 0) << 32) | ((who_pid or 0) & 0xFFFFFFFF), 0
        self.writer.mark(kind, value=value, aux=aux, offset=event.offset, when=event.time)

    def describe(self) -> dict[str, Any]:
        """The log's part of a console in ``list``."""
        return self.writer.describe()
