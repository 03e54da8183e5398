"""Encoding a snapshot as ``.vcsnap`` bytes, as a list of pieces that reference the histories.

The file is one msgpack map ``{"magic", "version", "sha256", "body"}`` whose
``body`` is the msgpack encoding of ``{"created", "host", ["origin_host",] "records"}``
(docs/snapshot-format.md). A thousand 1 MiB histories make a body of a
gigabyte, so the body is not built in memory: :func:`encode_body` returns its
pieces in order — small ``bytes`` packed here and, for each history, the
history's own buffers — and their total size. The pieces are exactly the
bytes ``msgpack.packb(body_map)`` would produce (same key order, smallest
headers), so a streamed file is byte-identical to one made by :func:`encode`.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

import msgpack

from vconsole.snapshot.model import (
    FORMAT_VERSION,
    MAGIC,
    MAX_FILE,
    Chunk,
    ConsoleRecord,
    Pending,
    SnapshotError,
    SnapshotFile,
)

# The record map's keys in the order they are written: ``history`` sits
# between ``last_output`` and ``marks`` as it always has.
_BEFORE_HISTORY = ("provider", "guest_id", "guest_name", "guest_kind", "console_type",
                   "console_index", "created", "last_output")
_AFTER_HISTORY = ("marks", "pending_output", "pending_input", "termios", "winsize", "ring",
                  "hypervisor_log", "screen", "log")
RECORD_KEYS = len(_BEFORE_HISTORY) + 1 + len(_AFTER_HISTORY)


@dataclass
class EncodedBody:
    """The body's bytes as pieces in file order, and their total length."""

    pieces: list[Chunk]
    size: int


def bin_header(n: int) -> bytes:
    """The smallest msgpack bin header for ``n`` bytes (as msgpack.packb chooses it)."""
    if n < 1 << 8:
        return struct.pack(">BB", 0xC4, n)
    if n < 1 << 16:
        return struct.pack(">BH", 0xC5, n)
    if n < 1 << 32:
        return struct.pack(">BI", 0xC6, n)
    raise SnapshotError(f"a bin of {n} bytes cannot be encoded")


def _pending(p: Pending) -> dict[str, Any]:
    return {"how": p.how, "count": p.count, "data": p.data}


def _record_fields(r: ConsoleRecord) -> dict[str, Any]:
    """Every field of a record but the history, as msgpack values."""
    out: dict[str, Any] = {
        "provider": r.provider, "guest_id": r.guest_id, "guest_name": r.guest_name,
        "guest_kind": r.guest_kind, "console_type": r.console_type,
        "console_index": r.console_index, "created": r.created, "last_output": r.last_output,
        "marks": [dict(m) for m in r.marks],
        "pending_output": _pending(r.pending_output), "pending_input": _pending(r.pending_input),
        "termios": None, "winsize": None, "ring": None, "hypervisor_log": None, "screen": r.screen,
        "log": None if r.log_range is None else {"start": r.log_range[0], "end": r.log_range[1]},
    }
    if r.termios is not None:
        t = r.termios
        out["termios"] = {"iflag": t.iflag, "oflag": t.oflag, "cflag": t.cflag, "lflag": t.lflag,
                          "line": t.line, "ispeed": t.ispeed, "ospeed": t.ospeed, "cc": t.cc}
    if r.winsize is not None:
        out["winsize"] = {"cols": r.winsize[0], "rows": r.winsize[1]}
    if r.ring is not None:
        g = r.ring
        out["ring"] = {"in_cons": g.in_cons, "in_prod": g.in_prod, "out_cons": g.out_cons,
                       "out_prod": g.out_prod, "connection": g.connection,
                       "in": g.in_data, "out": g.out_data}
    if r.hypervisor_log is not None:
        out["hypervisor_log"] = {"data": r.hypervisor_log.data, "dropped": r.hypervisor_log.dropped}
    return out


def record_pieces(packer: msgpack.Packer, r: ConsoleRecord, pieces: list[Chunk]) -> None:
    """Append one record's pieces: packed fields around the history's own buffers."""
    fields = _record_fields(r)
    h = r.history
    head = bytearray(packer.pack_map_header(RECORD_KEYS))
    for key in _BEFORE_HISTORY:
        head += packer.pack(key) + packer.pack(fields[key])
    head += packer.pack("history") + packer.pack_map_header(5) + packer.pack("data") + bin_header(h.size)
    pieces.append(bytes(head))
    pieces += [p for p in h.parts if len(p)]
    tail = bytearray()
    for key, value in (("start", h.start), ("end", h.end), ("dropped", h.dropped), ("lost", h.lost)):
        tail += packer.pack(key) + packer.pack(value)
    for key in _AFTER_HISTORY:
        tail += packer.pack(key) + packer.pack(fields[key])
    pieces.append(bytes(tail))


def body_head(packer: msgpack.Packer, created: float, host: str, count: int, origin_host: str | None = None) -> bytes:
    """The body's first piece: the map up to the header of its ``count`` records.

    ``origin_host`` is written only when there is one, so a snapshot of this
    machine's broker is the same file it always was.
    """
    origin = b"" if origin_host is None else packer.pack("origin_host") + packer.pack(origin_host)
    head: bytes = (packer.pack_map_header(3 if origin_host is None else 4) + packer.pack("created")
                   + packer.pack(created) + packer.pack("host") + packer.pack(host) + origin
                   + packer.pack("records") + packer.pack_array_header(count))
    return head


def check_size(body_size: int) -> int:
    """The file's size for a body of ``body_size`` bytes; SnapshotError beyond the limit."""
    total = body_size + len(envelope(body_size, bytes(32)))
    if total > MAX_FILE:
        raise SnapshotError(f"snapshot of {total} bytes exceeds the limit of {MAX_FILE}")
    return total


def encode_body(snapshot: SnapshotFile) -> EncodedBody:
    """The body's pieces; the histories are referenced, not copied."""
    packer = msgpack.Packer(use_bin_type=True)
    pieces: list[Chunk] = [body_head(packer, snapshot.created, snapshot.host, len(snapshot.records),
                                     snapshot.origin_host)]
    for r in snapshot.records:
        record_pieces(packer, r, pieces)
    size = sum(len(p) for p in pieces)
    check_size(size)
    return EncodedBody(pieces, size)


def envelope(body_size: int, digest: bytes) -> bytes:
    """Everything in front of the body: its length is known before the digest is."""
    head: bytes = msgpack.packb(
        {"magic": MAGIC, "version": FORMAT_VERSION, "sha256": digest}, use_bin_type=True
    )
    # {"magic", "version", "sha256"} packed as a 3-map, then the 4th key: turn the
    # fixmap header 0x83 into 0x84 so the four entries are one map, as before.
    key: bytes = msgpack.packb("body")
    return bytes([0x84]) + head[1:] + key + bin_header(body_size)


def encode(snapshot: SnapshotFile) -> bytes:
    """The whole file in memory (small snapshots: inline replies, tests)."""
    body = encode_body(snapshot)
    data = b"".join(body.pieces)
    return envelope(body.size, hashlib.sha256(data).digest()) + data
