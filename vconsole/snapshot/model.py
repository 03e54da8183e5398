"""The ``.vcsnap`` snapshot model: what a snapshot holds, and the format's limits.

docs/snapshot-format.md describes every field; vconsole/snapshot/encode.py
writes the format and vconsole/snapshot/decode.py reads and validates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from vconsole.domain import MarkSource, SessionKey


class SnapshotError(Exception):
    """A snapshot file is unusable; the message names what is wrong."""


class SnapshotUnreadable(SnapshotError):
    """A snapshot file could not be read at all (missing, no permission, an IO error)."""


MAGIC = "vconsole-snapshot"
FORMAT_VERSION = 1
MAX_FILE = 2 << 30  # the whole file: 1000 consoles x 1 MiB plus the rest exceeds 1 GiB
MAX_HISTORY = 256 << 20  # one record's history bytes
MAX_PENDING = 1 << 20  # pending output or input of one console
MAX_RECORDS = 4096
MAX_MARKS = 256
MAX_HV_LOG = 1 << 20
MAX_CC = 64
RING_IN, RING_OUT = 1024, 2048  # Xen 4.21 public/io/console.h
CONSOLE_TYPES = ("vtty", "pv", "serial")
HOW = ("exact", "input-log", "count-only", "unavailable")
# The ``source`` of the mark over a history range put back by a restore.
RESTORED_SOURCE = MarkSource.RESTORED


@dataclass
class Pending:
    """Unread data on the source in one direction, and how it was obtained.

    ``exact``: count and bytes read without consuming them; ``input-log``:
    the count is exact and the bytes are the tail of what the broker wrote;
    ``count-only``: the count is exact but the bytes cannot be read without
    consuming them; ``unavailable``: the source gives no way to know.
    """

    how: str = "unavailable"
    count: int | None = None
    data: bytes | None = None


@dataclass
class Termios:
    """The console's termios as the kernel holds it (``struct termios``)."""

    iflag: int
    oflag: int
    cflag: int
    lflag: int
    line: int
    ispeed: int
    ospeed: int
    cc: bytes


@dataclass
class RingState:
    """A Xen console ring: indices, flag and the unconsumed bytes of both rings."""

    in_cons: int
    in_prod: int
    out_cons: int
    out_prod: int
    connection: int
    in_data: bytes
    out_data: bytes


@dataclass
class HypervisorLog:
    """The domU's hypervisor console log (``xl dmesg``) and how much it dropped."""

    data: bytes
    dropped: int


Chunk = bytes | memoryview


class History:
    """The broker's history of a console: bytes ``[start, end)``; ``dropped == start``.

    The bytes are held as ``parts`` (one or two pieces), by reference: views
    of a live history's ring when captured, a view into the file when decoded,
    so a thousand 1 MiB histories are never concatenated or copied on the
    way to or from a file. ``data`` makes one copy, for callers that want
    plain bytes.
    """

    __slots__ = ("dropped", "end", "lost", "parts", "start")

    def __init__(self, data: Chunk | tuple[Chunk, ...], start: int, end: int, dropped: int, lost: int = 0) -> None:
        self.parts: tuple[Chunk, ...] = data if isinstance(data, tuple) else (data,)
        self.start = start
        self.end = end
        self.dropped = dropped
        self.lost = lost

    @property
    def size(self) -> int:
        """Bytes held (``len(data)`` without the copy)."""
        return sum(len(p) for p in self.parts)  # the parts are 1-D views of bytes: len == nbytes

    @property
    def data(self) -> bytes:
        """The bytes, in one copy (none if they are already one ``bytes``)."""
        if len(self.parts) == 1 and type(self.parts[0]) is bytes:
            return self.parts[0]
        return b"".join(self.parts)

    def tail(self, n: int) -> bytes:
        """The last ``n`` bytes (copying only those)."""
        out: list[Chunk] = []
        for part in reversed(self.parts):
            if n <= 0:
                break
            take = part[max(0, len(part) - n) :]
            out.append(take)
            n -= len(take)
        return b"".join(reversed(out))

    def between(self, lo: int, hi: int) -> bytes:
        """The bytes at offsets ``[lo, hi)`` (within ``[start, end]``), copying only those."""
        out: list[Chunk] = []
        at = self.start
        for part in self.parts:
            a, b = max(lo, at), min(hi, at + len(part))
            if a < b:
                out.append(part[a - at : b - at])
            at += len(part)
        return b"".join(out)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return (self.start, self.end, self.dropped, self.lost, self.size) == (
            other.start, other.end, other.dropped, other.lost, other.size
        ) and self.data == other.data

    __hash__ = None  # type: ignore[assignment]  # mutable, like the other records

    def __repr__(self) -> str:
        return f"History({self.size} bytes, start={self.start}, end={self.end}, dropped={self.dropped}, lost={self.lost})"


@dataclass
class ConsoleRecord:
    """Everything saved about one console session."""

    provider: str
    guest_id: str
    guest_name: str
    guest_kind: str
    console_type: str
    console_index: int
    history: History
    created: float
    last_output: float | None = None
    marks: list[dict[str, Any]] = field(default_factory=list)
    pending_output: Pending = field(default_factory=Pending)
    pending_input: Pending = field(default_factory=Pending)
    termios: Termios | None = None
    winsize: tuple[int, int] | None = None  # (cols, rows)
    ring: RingState | None = None
    hypervisor_log: HypervisorLog | None = None
    screen: dict[str, Any] | None = None
    # The offsets the console's durable log held when captured, [start, end): the
    # history's bytes in that range are on disk already (None: not logged).
    log_range: tuple[int, int] | None = None

    @property
    def console_name(self) -> str:
        """``vtty0``, ``pv0``..."""
        return f"{self.console_type}{self.console_index}"

    @property
    def key(self) -> SessionKey:
        """The broker's session key for this console."""
        return SessionKey(self.provider, self.guest_id, self.console_name)


@dataclass
class SourceState:
    """What a record holds about the console's source rather than the broker's history.

    A session restored while no endpoint is bound keeps this, so a snapshot
    taken before the console is opened again still carries it.
    """

    pending_output: Pending = field(default_factory=Pending)
    pending_input: Pending = field(default_factory=Pending)
    termios: Termios | None = None
    winsize: tuple[int, int] | None = None  # (cols, rows)
    ring: RingState | None = None
    hypervisor_log: HypervisorLog | None = None

    @classmethod
    def of(cls, record: ConsoleRecord) -> SourceState:
        """The source part of ``record``."""
        return cls(record.pending_output, record.pending_input, record.termios, record.winsize,
                   record.ring, record.hypervisor_log)


class SourceFact(StrEnum):
    """A part of a console's source that a snapshot tries to capture (as a person reads it)."""

    PENDING_OUTPUT = "pending output"
    PENDING_INPUT = "pending input"
    TERMIOS = "termios"
    WINDOW_SIZE = "window size"
    RING = "ring contents"
    SOURCE = "pending data and terminal settings"


@dataclass(frozen=True)
class NotCaptured:
    """A part of a console's source that a snapshot could not capture, and why."""

    what: SourceFact
    why: str

    def line(self, console: str) -> str:
        """``web:pv0: ring contents not captured: not supported by this provider (xen)``."""
        return f"{console}: {self.what} not captured: {self.why}"


@dataclass
class SnapshotFile:
    """A snapshot: when and where it was taken, and one record per console.

    ``host`` names the providers' own hosts; ``origin_host`` is the vconsole
    host (``[[hosts]]`` name or ``--host`` destination) whose broker took it,
    as the client that wrote the file names that host; None: this machine's.
    """

    created: float
    host: str
    records: list[ConsoleRecord] = field(default_factory=list)
    origin_host: str | None = None
