"""The client protocol's replies as typed values (docs/protocol.md).

The broker builds a reply from one of these and sends its ``fields()``; the
client rebuilds it with ``from_wire()``. Requests are in vconsole/protocol.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from vconsole.console_events import ConsoleEvent
from vconsole.domain import (
    AttachMode,
    ConsoleState,
    Mark,
    SessionKey,
)
from vconsole.wire import (
    MAX_FRAME,
    Message,
)


@dataclass(slots=True)
class HelloReply:
    """The broker's answer to ``hello``."""

    version: int
    pid: int
    max_frame: int = MAX_FRAME
    # The providers the broker runs (lab, lxc, ...); a broker that does not say sends none.
    providers: tuple[str, ...] = ()
    # What this client may do: "full", or "spy" (list, read, attach read-only: broker.spy_groups).
    access: str = "full"
    # The broker's uid: only a client of that uid may name files for it (snapshot, restore).
    uid: int | None = None

    def fields(self) -> Message:
        return {"version": self.version, "pid": self.pid, "max_frame": self.max_frame,
                "providers": list(self.providers), "access": self.access, "uid": self.uid}

    @property
    def watch_only(self) -> bool:
        """Whether this client may only watch (attach read-only)."""
        return self.access == "spy"

    @classmethod
    def from_wire(cls, reply: Message) -> HelloReply:
        providers = reply.get("providers", [])
        if not isinstance(providers, list):
            raise TypeError("providers")
        uid = reply.get("uid")
        return cls(int(reply["version"]), int(reply["pid"]), int(reply["max_frame"]),
                   tuple(str(p) for p in providers), str(reply.get("access", "full")),
                   None if uid is None else int(uid))


@dataclass(slots=True)
class AttachReply:
    """Where an attachment starts: its session, state and history bounds."""

    session: SessionKey
    guest: str
    console: str
    state: ConsoleState
    mode: AttachMode
    offset: int  # where replay starts
    start: int
    end: int
    missed: int  # bytes asked for that the history no longer holds
    lost: int
    marks: list[Mark] = field(default_factory=list)
    # When this history began: the same value after a broker restart means the
    # same history (saved and restored), so offsets in it still count.
    created: float | None = None

    def fields(self) -> Message:
        return {
            "session": self.session, "guest": self.guest, "console": self.console,
            "state": self.state, "mode": self.mode, "offset": self.offset, "start": self.start,
            "end": self.end, "missed": self.missed, "lost": self.lost, "marks": list(self.marks),
            "created": self.created,
        }

    @classmethod
    def from_wire(cls, reply: Message) -> AttachReply:
        created = reply.get("created")
        return cls(
            SessionKey.parse(reply["session"]), str(reply["guest"]), str(reply["console"]),
            ConsoleState(reply["state"]), AttachMode(reply["mode"]), int(reply["offset"]),
            int(reply["start"]), int(reply["end"]), int(reply["missed"]), int(reply["lost"]),
            [Mark.from_wire(m) for m in reply.get("marks", [])],
            None if created is None else float(created),
        )


@dataclass(slots=True)
class ResumeReply:
    """Where a resumed session's output continues: the cursor, the history bounds, what was passed over."""

    offset: int  # the next output event starts here
    start: int
    end: int
    skipped: int  # bytes the cursor moved over without sending them (the client asked to)
    missed: int  # bytes asked for that the history no longer holds

    def fields(self) -> Message:
        return {"offset": self.offset, "start": self.start, "end": self.end,
                "skipped": self.skipped, "missed": self.missed}

    @classmethod
    def from_wire(cls, reply: Message) -> ResumeReply:
        return cls(int(reply["offset"]), int(reply["start"]), int(reply["end"]),
                   int(reply["skipped"]), int(reply["missed"]))


@dataclass(slots=True)
class SnapshotReply:
    """What a snapshot holds, and where it went (or the file's bytes, inline)."""

    records: int
    size: int
    sessions: list[SessionKey]
    path: str | None = None
    data: bytes | None = None
    not_captured: list[NotCaptured] = field(default_factory=list)
    transfer: str | None = None  # ``parts``: the buffer to ``transfer_read`` the file's ``size`` bytes from

    @classmethod
    def from_wire(cls, reply: Message) -> SnapshotReply:
        transfer = reply.get("transfer")
        return cls(
            int(reply["records"]), int(reply["size"]),
            [SessionKey.parse(s) for s in reply.get("sessions", [])],
            reply.get("path"), reply.get("data"),
            [NotCaptured.from_wire(m) for m in reply.get("not_captured", []) if isinstance(m, dict)],
            None if transfer is None else str(transfer),
        )

    def summary(self) -> Message:
        """The reply as ``vconsole snapshot --json`` prints it."""
        return {
            "path": self.path, "records": self.records, "size": self.size,
            "sessions": [k.text for k in self.sessions],
            "not_captured": [dataclasses.asdict(m) for m in self.not_captured],
        }


@dataclass(frozen=True, slots=True)
class NotCaptured:
    """One thing a snapshot lacks for one console, and why (e.g. ring contents: not supported)."""

    session: str
    console: str
    what: str
    why: str
    message: str  # the whole line, as `vconsole snapshot` prints it

    @classmethod
    def from_wire(cls, raw: Message) -> NotCaptured:
        return cls(*(str(raw.get(k, "")) for k in ("session", "console", "what", "why", "message")))


@dataclass(slots=True)
class RestoreReply:
    """Which sessions a restore went into, and what it put back beyond histories."""

    restored: list[SessionKey]
    ring_bytes: int
    input_bytes: int
    history_bytes: int = 0  # put in front of the histories
    held_bytes: int = 0  # already there: the console's own snapshot overlaps its history

    def fields(self) -> Message:
        return {"restored": list(self.restored), "ring_bytes": self.ring_bytes,
                "input_bytes": self.input_bytes, "history_bytes": self.history_bytes,
                "held_bytes": self.held_bytes}

    @classmethod
    def from_wire(cls, reply: Message) -> RestoreReply:
        return cls(
            [SessionKey.parse(s) for s in reply.get("restored", [])],
            int(reply.get("ring_bytes", 0)),
            int(reply.get("input_bytes", 0)),
            int(reply.get("history_bytes", 0)),
            int(reply.get("held_bytes", 0)),
        )


@dataclass(slots=True)
class LogReadReply:
    """Bytes of a console's log with their arrival times, and what the log holds."""

    chunks: list[tuple[int, float, bytes]]  # (offset, time, bytes), in order; holes between are possible
    log_start: int
    log_end: int
    boots: list[tuple[int, int, float]]  # (number, start offset, time), oldest first

    def fields(self) -> Message:
        return {"chunks": [list(c) for c in self.chunks], "log_start": self.log_start,
                "log_end": self.log_end, "boots": [list(b) for b in self.boots]}

    @classmethod
    def from_wire(cls, reply: Message) -> LogReadReply:
        return cls([(int(o), float(t), bytes(d)) for o, t, d in reply["chunks"]], int(reply["log_start"]),
                   int(reply["log_end"]), [(int(n), int(s), float(t)) for n, s, t in reply["boots"]])


@dataclass(slots=True)
class EventsReply:
    """The events asked for, oldest first; ``last`` is the newest seq the broker has given out.

    ``more``: there were more matching events after these than ``limit``
    (ask again with ``since`` the last one's seq). ``forgotten``: events
    the broker no longer keeps that ``since`` asked for (the stream is bounded).
    """

    events: list[ConsoleEvent]
    last: int
    more: bool = False
    forgotten: int = 0

    def fields(self) -> Message:
        return {"events": [e.to_wire() for e in self.events], "last": self.last, "more": self.more,
                "forgotten": self.forgotten}

    @classmethod
    def from_wire(cls, reply: Message) -> EventsReply:
        return cls([ConsoleEvent.from_wire(e) for e in reply["events"]], int(reply["last"]),
                   bool(reply.get("more", False)), int(reply.get("forgotten", 0)))


@dataclass(slots=True)
class TransferState:
    """A transfer buffer: its token, its size, and how many bytes were written to it (``transfer_open``, ``_write``)."""

    transfer: str
    size: int
    received: int

    def fields(self) -> Message:
        return {"transfer": self.transfer, "size": self.size, "received": self.received}

    @classmethod
    def from_wire(cls, reply: Message) -> TransferState:
        return cls(str(reply["transfer"]), int(reply["size"]), int(reply["received"]))


@dataclass(slots=True)
class TransferPart:
    """Bytes of a download buffer from ``offset``, and its whole ``size`` (``transfer_read``)."""

    offset: int
    size: int
    data: bytes

    def fields(self) -> Message:
        return {"offset": self.offset, "size": self.size, "data": self.data}

    @classmethod
    def from_wire(cls, reply: Message) -> TransferPart:
        data = reply["data"]
        if not isinstance(data, bytes):
            raise TypeError("data")
        return cls(int(reply["offset"]), int(reply["size"]), data)
