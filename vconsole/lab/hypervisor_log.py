"""The lab's hypervisor console: a bounded, offset-addressed log, like ``xl dmesg``.

A flag-aware Xen guest writes to the hypervisor console (``HYPERVISOR_console_io``)
while its PV console ring is DISCONNECTED; Xen keeps those bytes in a fixed
console ring and overwrites the oldest.  The lab keeps one such log per domU
(64 KiB, newest bytes kept, the rest counted as dropped), addressed by absolute
offsets so a backend that reconnects asks for "everything after offset N".

The frontend talks to the lab over a stream socket with small records::

    type (1 byte) | length (uint32 little-endian) | payload

frontend -> lab: ``D`` hypervisor console data, ``A`` acknowledgement of a
ping (payload: the ping's 8-byte token, then one byte: the ``connection``
value the frontend now acts on), ``W`` cumulative seconds the frontend waited
for ring space (ASCII float).  lab -> frontend: ``Q`` ping (8-byte token),
``R`` restore output (8-byte token, then bytes the frontend puts back into the
``out`` ring ahead of anything newer, answered with an ``A`` like a ping).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

LOG_SIZE: Final = 64 * 1024  # Xen's default console ring (conring) is of this order
RECORD: Final = struct.Struct("<cI")
MAX_RECORD: Final = 1 << 20

DATA: Final = b"D"
ACK: Final = b"A"
WAITED: Final = b"W"
PING: Final = b"Q"
RESTORE: Final = b"R"


def record(kind: bytes, payload: bytes = b"") -> bytes:
    """One framed record."""
    return RECORD.pack(kind, len(payload)) + payload


@dataclass
class RecordReader:
    """Splits a byte stream into (type, payload) records."""

    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """Add bytes; return the complete records, in order.

        Raises ValueError on a record longer than ``MAX_RECORD`` (a broken peer).
        """
        self._buf += data
        out: list[tuple[bytes, bytes]] = []
        while len(self._buf) >= RECORD.size:
            kind, length = RECORD.unpack_from(self._buf)
            if length > MAX_RECORD:
                raise ValueError(f"record of {length} bytes is too long")
            end = RECORD.size + length
            if len(self._buf) < end:
                break
            out.append((kind, bytes(self._buf[RECORD.size : end])))
            del self._buf[:end]
        return out


class HypervisorLog:
    """Bytes a domain wrote to the hypervisor console, the newest ``size`` kept."""

    def __init__(self, size: int = LOG_SIZE) -> None:
        if size <= 0:
            raise ValueError("log size must be positive")
        self.size = size
        self._data = bytearray()
        self._start = 0

    @property
    def start(self) -> int:
        """Absolute offset of the oldest byte held (= bytes dropped so far)."""
        return self._start

    @property
    def end(self) -> int:
        """Absolute offset one past the newest byte."""
        return self._start + len(self._data)

    @property
    def dropped(self) -> int:
        """Bytes overwritten because the log was full."""
        return self._start

    def __len__(self) -> int:
        return len(self._data)

    def append(self, data: bytes) -> None:
        """Log bytes, dropping the oldest beyond ``size``."""
        self._data += data
        excess = len(self._data) - self.size
        if excess > 0:
            del self._data[:excess]
            self._start += excess

    def read_from(self, offset: int) -> tuple[bytes, int]:
        """(bytes after ``offset``, how many bytes after ``offset`` were dropped)."""
        offset = max(0, min(offset, self.end))
        missed = max(0, self._start - offset)
        return bytes(self._data[max(0, offset - self._start) :]), missed
