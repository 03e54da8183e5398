"""The client protocol's requests as typed values (docs/protocol.md); replies: protocol_replies.py.

One definition of each operation's fields for both ends: the client builds
a request and sends its ``fields()``; the broker's operations table rebuilds
it with ``parse()``, which checks every field (requests are untrusted) and
raises ProtocolError. Replies the broker builds from a dataclass go out with
``fields()`` and come back on the client with ``from_wire()``.

Keys are sent this way on every keystroke: the classes have slots and are
not frozen, which makes one three times cheaper to build.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from vconsole.domain import (
    MAX_WINDOW,
    SEVERITY_ORDER,
    AttachMode,
    SessionKey,
    Severity,
    Target,
    TargetSyntaxError,
    parse_target,
)
from vconsole.wire import (
    PROTOCOL_VERSION,
    Message,
    ProtocolError,
    field_bool,
    field_bytes,
    field_choice,
    field_int,
    field_opt_int,
    field_str,
)

MAX_OFFSET = (1 << 64) - 1
MAX_INPUT = 64 * 1024
# The most events one ``events`` reply carries (the broker keeps more; follow with ``since``).
MAX_EVENTS_READ = 1000  # each at most ~750 bytes: one reply stays under a frame


def console_field(msg: Message, name: str = "console") -> int | str | None:
    """An optional console: an index or a name (``vtty1``)."""
    value = msg.get(name)
    if value is not None and (not isinstance(value, int | str) or isinstance(value, bool)):
        raise ProtocolError("bad_request", f"field {name!r} must be an index or a name")
    return value


def target_field(msg: Message, name: str = "target", console: str = "console") -> Target:
    """A target from its text and an optional separate console field."""
    try:
        target = parse_target(field_str(msg, name), console_field(msg, console))
    except TargetSyntaxError as exc:
        raise ProtocolError("bad_request", str(exc)) from None
    if target.host is not None:  # a client picks the host; a broker is one
        raise ProtocolError("bad_request", f"{target}: a broker takes targets without HOST/")
    return target


def target_fields(target: Target) -> Message:
    """A target as the requests that name one carry it."""
    return {"target": target.guest_ref, "console": target.console}


def window_size(msg: Message) -> tuple[int, int]:
    """A window size: ``cols`` and ``rows`` (``resize``, and ``attach`` when it gives one)."""
    return field_int(msg, "cols", lo=1, hi=MAX_WINDOW), field_int(msg, "rows", lo=1, hi=MAX_WINDOW)


def created_field(msg: Message) -> float | None:
    """An optional history creation time (seconds since the epoch, finite)."""
    value = msg.get("created")
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ProtocolError("bad_request", "field 'created' must be a finite number")
    return float(value)


def time_field(msg: Message, name: str) -> float | None:
    """An optional time (seconds since the epoch, finite)."""
    value = msg.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ProtocolError("bad_request", f"field {name!r} must be a finite number")
    return float(value)


def session_field(msg: Message) -> SessionKey:
    """The session a request is about; a key that names none is ``not_attached``."""
    text = field_str(msg, "session", max_len=1024)
    try:
        return SessionKey.parse(text)
    except ValueError:
        raise ProtocolError("not_attached", f"not attached to {text}") from None


# --- requests ------------------------------------------------------------


@dataclass(slots=True)
class Hello:
    """The first request: which protocol version the client speaks."""

    version: int = PROTOCOL_VERSION

    def fields(self) -> Message:
        return {"version": self.version, "client": "vconsole"}

    @classmethod
    def parse(cls, msg: Message) -> Hello:
        version = field_int(msg, "version", lo=0, hi=1 << 16)
        if version != PROTOCOL_VERSION:
            raise ProtocolError(
                "version", f"protocol version {version} is not supported (want {PROTOCOL_VERSION})"
            )
        return cls(version)


@dataclass(slots=True)
class NoFields:
    """``list``, ``watch`` and ``shutdown``: the operation is all there is."""

    @classmethod
    def parse(cls, msg: Message) -> NoFields:
        return cls()


@dataclass(slots=True)
class Attach:
    """Attach to a console, replaying from an offset, the last lines, or from now.

    ``created`` goes with ``start``: the history that offset counts in, as an
    earlier attach reply named it (a client resuming after a broker restart).
    ``size`` is the client's window (cols, rows), for the size rule.
    """

    target: Target
    mode: AttachMode = AttachMode.RW
    start: int | None = None  # "from" on the wire
    tail_lines: int | None = None
    created: float | None = None
    size: tuple[int, int] | None = None
    paused: bool = False  # attach paused (see Pause): a resuming client whose tab is hidden
    # Take the console: end an outside holder of a busy console, make other read-write clients read-only.
    force: bool = False

    def fields(self) -> Message:
        out: Message = {**target_fields(self.target), "mode": self.mode}
        if self.paused:
            out["paused"] = True
        if self.force:
            out["force"] = True
        if self.start is not None:
            out["from"] = self.start
        if self.tail_lines is not None:
            out["tail_lines"] = self.tail_lines
        if self.created is not None:
            out["created"] = self.created
        if self.size is not None:
            out["cols"], out["rows"] = self.size
        return out

    @classmethod
    def parse(cls, msg: Message) -> Attach:
        target = target_field(msg)
        mode = AttachMode(field_choice(msg, "mode", tuple(AttachMode), AttachMode.RW))
        start = field_opt_int(msg, "from", lo=0, hi=MAX_OFFSET)
        tail = field_opt_int(msg, "tail_lines", lo=0, hi=100_000)
        size = None if msg.get("cols") is None and msg.get("rows") is None else window_size(msg)
        paused = field_bool(msg, "paused", default=False)
        force = field_bool(msg, "force", default=False)
        return cls(target, mode, start, tail, created_field(msg), size, paused, force)


@dataclass(slots=True)
class Input:
    """Keystrokes for an attached session; ``ack`` false answers only errors."""

    session: SessionKey
    data: bytes
    ack: bool = True

    def fields(self) -> Message:
        return {"session": self.session.text, "data": self.data, "ack": self.ack}

    @classmethod
    def parse(cls, msg: Message) -> Input:
        session = session_field(msg)
        return cls(session, field_bytes(msg, "data", max_len=MAX_INPUT), field_bool(msg, "ack", default=True))


@dataclass(slots=True)
class Resize:
    """The window size of an attached session's client (each at most MAX_WINDOW)."""

    session: SessionKey
    cols: int
    rows: int

    def fields(self) -> Message:
        # A window larger than a console may be is sent as the largest one
        # (the broker refuses more), so a huge terminal still gets a size.
        return {"session": self.session.text, "cols": min(self.cols, MAX_WINDOW),
                "rows": min(self.rows, MAX_WINDOW)}

    @classmethod
    def parse(cls, msg: Message) -> Resize:
        session = session_field(msg)
        return cls(session, *window_size(msg))


@dataclass(slots=True)
class Detach:
    """Stop receiving a session's output (the broker keeps the session)."""

    session: SessionKey

    def fields(self) -> Message:
        return {"session": self.session.text}

    @classmethod
    def parse(cls, msg: Message) -> Detach:
        return cls(session_field(msg))


@dataclass(slots=True)
class Pause:
    """Stop sending a session's output to this client; the attachment and its cursor stay."""

    session: SessionKey

    def fields(self) -> Message:
        return {"session": self.session.text}

    @classmethod
    def parse(cls, msg: Message) -> Pause:
        return cls(session_field(msg))


@dataclass(slots=True)
class Resume:
    """Send a paused session's output again, from the cursor moved forward to ``start`` or the last lines.

    The cursor never moves back: a ``start`` (``from`` on the wire) or a tail
    behind it keeps it where it is.
    """

    session: SessionKey
    start: int | None = None  # "from" on the wire
    tail_lines: int | None = None

    def fields(self) -> Message:
        out: Message = {"session": self.session.text}
        if self.start is not None:
            out["from"] = self.start
        if self.tail_lines is not None:
            out["tail_lines"] = self.tail_lines
        return out

    @classmethod
    def parse(cls, msg: Message) -> Resume:
        start = field_opt_int(msg, "from", lo=0, hi=MAX_OFFSET)
        tail = field_opt_int(msg, "tail_lines", lo=0, hi=100_000)
        if start is not None and tail is not None:
            raise ProtocolError("bad_request", "give 'from' or 'tail_lines', not both")
        return cls(session_field(msg), start, tail)


@dataclass(slots=True)
class GuestCommand:
    """``start`` or ``stop`` one guest."""

    target: Target

    def fields(self) -> Message:
        return {"target": self.target.guest_ref}

    @classmethod
    def parse(cls, msg: Message) -> GuestCommand:
        target = target_field(msg)
        if target.console is not None:
            raise ProtocolError("bad_request", f"{target} names a console: start and stop take a guest")
        return cls(target)



# A log_read reply's bytes stay well inside one frame (wire.MAX_FRAME).
MAX_LOG_READ = 512 * 1024


@dataclass(slots=True)
class LogRead:
    """Read a console's durable log, with arrival times.

    Forward from ``start`` (``from`` on the wire), or from the first byte that
    arrived at or after ``since``; else the newest ``limit`` bytes before
    ``end`` (``to``; default the log's end). Never moves any cursor.
    """

    target: Target
    start: int | None = None
    end: int | None = None
    since: float | None = None
    limit: int = 256 * 1024

    def fields(self) -> Message:
        out: Message = {**target_fields(self.target), "limit": self.limit}
        for name, value in (("from", self.start), ("to", self.end), ("since", self.since)):
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def parse(cls, msg: Message) -> LogRead:
        start = field_opt_int(msg, "from", lo=0, hi=MAX_OFFSET)
        since = time_field(msg, "since")
        if start is not None and since is not None:
            raise ProtocolError("bad_request", "give 'from' or 'since', not both")
        return cls(
            target_field(msg),
            start,
            field_opt_int(msg, "to", lo=0, hi=MAX_OFFSET),
            since,
            field_int(msg, "limit", lo=1, hi=MAX_LOG_READ, default=256 * 1024),
        )


@dataclass(slots=True)
class Events:
    """Read the broker's event stream, and with ``follow`` keep being sent new events.

    Events after ``since`` (a ``seq``; default: all the broker keeps), or at or
    after ``since_time``; at or above ``severity``; of one guest or console
    when ``target`` is given. The newest ``limit`` of those are answered.
    With ``follow`` every later event that passes the same filter comes as a
    ``console_event`` push, until the client sends ``events`` again or leaves.
    """

    target: Target | None = None
    since: int | None = None
    since_time: float | None = None
    severity: Severity = Severity.INFO
    follow: bool = False
    limit: int = MAX_EVENTS_READ

    def fields(self) -> Message:
        out: Message = {"severity": self.severity.value, "follow": self.follow, "limit": self.limit}
        if self.target is not None:
            out.update(target_fields(self.target))
        if self.since is not None:
            out["since"] = self.since
        if self.since_time is not None:
            out["since_time"] = self.since_time
        return out

    @classmethod
    def parse(cls, msg: Message) -> Events:
        return cls(
            target_field(msg) if msg.get("target") is not None else None,
            field_opt_int(msg, "since", lo=0, hi=MAX_OFFSET),
            time_field(msg, "since_time"),
            Severity(field_choice(msg, "severity", SEVERITY_ORDER, Severity.INFO.value)),
            field_bool(msg, "follow", default=False),
            field_int(msg, "limit", lo=1, hi=MAX_EVENTS_READ, default=MAX_EVENTS_READ),
        )


@dataclass(slots=True)
class Acknowledge:
    """Acknowledge a console's (or a guest's, or every console's) events up to ``upto`` (a seq; default all).

    Acknowledged events stay in the stream; they no longer count in the console's ``alert``.
    """

    target: Target | None = None
    upto: int | None = None

    def fields(self) -> Message:
        out: Message = {}
        if self.target is not None:
            out.update(target_fields(self.target))
        if self.upto is not None:
            out["upto"] = self.upto
        return out

    @classmethod
    def parse(cls, msg: Message) -> Acknowledge:
        return cls(
            target_field(msg) if msg.get("target") is not None else None,
            field_opt_int(msg, "upto", lo=0, hi=MAX_OFFSET),
        )


class StdioKind(StrEnum):
    """What a bridge's standard input and output are (what sshd gave it)."""

    SOCKET = "socket"  # one socket for both: one fd
    PIPES = "pipes"  # a read pipe and a write pipe: two fds, in that order

    @property
    def nfds(self) -> int:
        """How many fds the bridge hands over."""
        return 1 if self is StdioKind.SOCKET else 2


class HandoffStage(StrEnum):
    """What a ``pending`` reply to ``handoff`` means (its ``stage``)."""

    SEND_FDS = "send_fds"  # the broker waits for the fds frame
    SERVING = "serving"  # it took them: the bridge lets go of its own copies


@dataclass(slots=True)
class Handoff:
    """A bridge hands its standard input and output to the broker (docs/protocol.md, "Bridges")."""

    stdio: StdioKind

    def fields(self) -> Message:
        return {"stdio": self.stdio.value}

    @classmethod
    def parse(cls, msg: Message) -> Handoff:
        choices = tuple(kind.value for kind in StdioKind)
        return cls(StdioKind(field_choice(msg, "stdio", choices, StdioKind.PIPES.value)))
