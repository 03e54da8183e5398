"""The broker's event stream, as values: what happened on which console, when, and who did it.

A leaf beside vconsole.domain: the broker builds these, the wire carries
them (``to_wire``/``from_wire``), and the CLI and the TUI read them. Every
event belongs to one console (a guest's start and stop to its first
console), so a client can jump from an event to the console and, where
``offset`` is set, to the line in its history or log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vconsole.domain import AttachMode, SessionKey, Severity

# An event's text (a matched line) is cut to this many characters, so a reply of many events fits a frame.
MAX_EVENT_TEXT = 512


class EventKind(StrEnum):
    """What an event says happened."""

    WATCH = "watch"  # a watch matched a line: ``name`` is the watch, ``text`` the line, ``offset`` its start
    SILENCE = "silence"  # a console that usually talks printed nothing for the watch's time
    ACTIVITY = "activity"  # a console that was silent printed again
    STATE = "state"  # the broker's hold on the console changed (``text``: state and reason)
    GUEST_STARTED = "guest_started"
    GUEST_STOPPED = "guest_stopped"
    ATTACH = "attach"  # a client attached: uid, pid, mode
    DETACH = "detach"
    TAKEOVER = "takeover"  # ``attach --force`` ended an outside holder (pid, command) for uid/pid
    DEMOTED = "demoted"  # a read-write client was made read-only by another's --force
    HOLDER = "holder"  # a busy console's outside holder was found (pid, command, uid)


@dataclass(frozen=True, slots=True)
class ConsoleEvent:
    """One event of the stream.

    ``seq`` numbers the events of one broker from 1 (a client follows from
    the last it saw); ``name`` is the watch's name for WATCH, else the kind.
    ``uid``/``pid``/``mode`` name the client for ATTACH/DETACH/DEMOTED and the
    taker for TAKEOVER; ``holder_pid``/``command``/``holder_uid`` the outside
    holder for HOLDER and TAKEOVER. Text from guests and tools is kept as it
    came; clients sanitise it before it reaches a terminal.
    """

    seq: int
    time: float
    kind: EventKind
    severity: Severity
    name: str
    session: SessionKey
    guest: str
    text: str = ""
    offset: int | None = None
    uid: int | None = None
    pid: int | None = None
    mode: AttachMode | None = None
    holder_pid: int | None = None
    holder_uid: int | None = None
    command: str = ""

    @property
    def console(self) -> str:
        """The console's name (``console``, ``vtty1``, ``hvc0``)."""
        return self.session.console

    def to_wire(self) -> dict[str, Any]:
        """As the ``events`` reply and the ``console_event`` push carry it (unset fields left out)."""
        out: dict[str, Any] = {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "name": self.name,
            "session": self.session.text,
            "guest": self.guest,
            "console": self.session.console,
        }
        if self.text:
            out["text"] = self.text
        for key in ("offset", "uid", "pid", "holder_pid", "holder_uid"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.mode is not None:
            out["mode"] = self.mode.value
        if self.command:
            out["command"] = self.command
        return out

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> ConsoleEvent:
        """Back from the wire; ValueError/KeyError/TypeError on a malformed event."""

        def opt_int(key: str) -> int | None:
            value = raw.get(key)
            return None if value is None else int(value)

        mode = raw.get("mode")
        return cls(
            seq=int(raw["seq"]),
            time=float(raw["time"]),
            kind=EventKind(raw["kind"]),
            severity=Severity(raw["severity"]),
            name=str(raw["name"]),
            session=SessionKey.parse(str(raw["session"])),
            guest=str(raw["guest"]),
            text=str(raw.get("text", "")),
            offset=opt_int("offset"),
            uid=opt_int("uid"),
            pid=opt_int("pid"),
            mode=AttachMode(mode) if mode is not None else None,
            holder_pid=opt_int("holder_pid"),
            holder_uid=opt_int("holder_uid"),
            command=str(raw.get("command", "")),
        )


@dataclass(frozen=True, slots=True)
class ConsoleAlert:
    """A console's unacknowledged events, as ``list`` reports them: the worst, and how many.

    ``severity`` is the highest of the unacknowledged events at WARNING or
    above (INFO events, like a login prompt, never raise an alert); ``name``
    that event's name (``panic``); ``seq`` the first unacknowledged one.
    """

    severity: Severity
    name: str
    count: int
    seq: int

    def to_wire(self) -> dict[str, Any]:
        """As a console's ``alert`` in ``list`` and state events."""
        return {"severity": self.severity.value, "name": self.name, "count": self.count, "seq": self.seq}

    @classmethod
    def from_wire(cls, raw: dict[str, Any] | None) -> ConsoleAlert | None:
        """None when the console has no alert."""
        if not raw:
            return None
        return cls(Severity(raw["severity"]), str(raw["name"]), int(raw["count"]), int(raw["seq"]))
