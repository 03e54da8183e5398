"""The index record: one fixed-size, checksummed entry of a segment's ``.idx`` file.

Every record is 32 bytes, little-endian (docs/log-format.md):

    kind u8 | sub u8 | aux u16 | crc32 u32 | offset u64 | time_ns i64 | value u64

``crc32`` covers the other 28 bytes (the field itself taken as zero), so a
half-written record or garbage appended after a crash is recognised and cut.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum, StrEnum

FORMAT_VERSION = 1
MAGIC = 0x31474F4C43455356  # b"VSECLOG1" little-endian: the HEADER record's value
_RECORD = struct.Struct("<BBHIQqQ")
RECORD_SIZE = _RECORD.size  # 32


def encode_data(end: int, time_ns: int) -> bytes:
    """A DATA record's 32 bytes, without building an IndexRecord: one per read turn, so it is kept cheap."""
    crc = zlib.crc32(_RECORD.pack(2, 0, 0, 0, end, time_ns, 0))  # 2: RecordKind.DATA
    return _RECORD.pack(2, 0, 0, crc, end, time_ns, 0)


class RecordKind(IntEnum):
    """What a record says."""

    HEADER = 1  # first record of every .idx: sub = format version, offset = segment start
    DATA = 2  # bytes up to ``offset`` (exclusive) arrived at ``time_ns`` (one per read turn)
    BOOT = 3  # a guest boot starts at ``offset``; value = boot number (1, 2, ...)
    MARK = 4  # an event at ``offset``; sub = MarkKind code


class LogMarkKind(StrEnum):
    """The events a console log records beside its bytes (sub of a MARK record)."""

    BROKER_STARTED = "broker_started"
    GUEST_STARTED = "guest_started"
    GUEST_STOPPED = "guest_stopped"
    CONNECTED = "connected"  # the console (a pty, a ring) was opened by the broker
    DISCONNECTED = "disconnected"
    RESTORED = "restored"  # [offset, value) came from a snapshot
    HYPERVISOR = "hypervisor"  # [offset, value) came from a domU's hypervisor console log
    LOST = "lost"  # value = bytes the source dropped before the broker read them
    DROPPED = "dropped"  # value = bytes evicted from this console's log (rotation, global limit)
    NOT_LOGGED = "not_logged"  # [offset, value) reached clients but not the disk (disk full, I/O error)
    ATTACH = "attach"  # a client attached: aux = AttachCode, value = uid << 32 | pid
    DETACH = "detach"  # a client detached: same fields as ATTACH
    # Events of the broker's stream (vconsole events); added after the above: codes never move.
    WATCH = "watch"  # a watch matched the line at offset: aux = severity (0 info..3 critical), value = crc32 of its name
    SILENCE = "silence"  # a silence watch fired: aux, value as WATCH
    ACTIVITY = "activity"  # an activity watch fired: aux, value as WATCH
    TAKEOVER = "takeover"  # an outside holder was ended: value = its uid << 32 | pid
    DEMOTED = "demoted"  # a read-write client was made read-only: value = its uid << 32 | pid
    HOLDER = "holder"  # an outside holder of a busy console was found: value = its uid << 32 | pid


# Codes on disk; never renumber (docs/log-format.md).
MARK_CODES: dict[LogMarkKind, int] = {kind: code for code, kind in enumerate(LogMarkKind, start=1)}
MARK_KINDS: dict[int, LogMarkKind] = {code: kind for kind, code in MARK_CODES.items()}


class AttachCode(IntEnum):
    """An ATTACH/DETACH mark's client mode (aux)."""

    RW = 1
    RO = 2
    LOG = 3  # a `vconsole log --follow` reader


class RecordError(ValueError):
    """A record failed its checksum or names an unknown kind."""


@dataclass(frozen=True)
class IndexRecord:
    """One decoded index record."""

    kind: RecordKind
    offset: int
    time_ns: int
    value: int = 0
    sub: int = 0
    aux: int = 0

    @property
    def time(self) -> float:
        """Arrival time as seconds since the epoch."""
        return self.time_ns / 1e9

    @property
    def mark(self) -> LogMarkKind | None:
        """The mark kind of a MARK record (None otherwise, or for a code this version does not know)."""
        return MARK_KINDS.get(self.sub) if self.kind == RecordKind.MARK else None

    def encode(self) -> bytes:
        """The record's 32 bytes, checksum included."""
        raw = _RECORD.pack(self.kind, self.sub, self.aux, 0, self.offset, self.time_ns, self.value)
        return _RECORD.pack(
            self.kind, self.sub, self.aux, zlib.crc32(raw), self.offset, self.time_ns, self.value
        )

    @classmethod
    def decode(cls, raw: bytes | memoryview) -> IndexRecord:
        """Decode 32 bytes; RecordError when the checksum or the kind is wrong."""
        kind, sub, aux, crc, offset, time_ns, value = _RECORD.unpack(raw)
        if zlib.crc32(_RECORD.pack(kind, sub, aux, 0, offset, time_ns, value)) != crc:
            raise RecordError("bad checksum")
        try:
            return cls(RecordKind(kind), offset, time_ns, value, sub, aux)
        except ValueError:
            raise RecordError(f"unknown record kind {kind}") from None

    @classmethod
    def header(cls, segment_start: int, time_ns: int) -> IndexRecord:
        """The first record of a segment's index."""
        return cls(RecordKind.HEADER, segment_start, time_ns, MAGIC, FORMAT_VERSION)

    @classmethod
    def data(cls, end: int, time_ns: int) -> IndexRecord:
        """The bytes before ``end`` (back to the previous DATA record) arrived at ``time_ns``."""
        return cls(RecordKind.DATA, end, time_ns)

    @classmethod
    def of_mark(
        cls, kind: LogMarkKind, offset: int, time_ns: int, value: int = 0, aux: int = 0
    ) -> IndexRecord:
        """A MARK record."""
        return cls(RecordKind.MARK, offset, time_ns, value, MARK_CODES[kind], aux)
