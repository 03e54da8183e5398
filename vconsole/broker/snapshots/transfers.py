"""Transfer buffers: snapshots larger than a frame, moved over the connection in parts.

A client that may not name a file for the broker (another uid: the system
broker's members, ``allow_uids``; another host's client over ``vconsole
bridge``) cannot have a snapshot written or read at a path, and one frame
(wire.MAX_FRAME, 1 MiB) holds less than one default history. So a snapshot
asked for with ``parts`` is encoded into a *download* buffer that the client
reads with ``transfer_read``, and a restore first fills an *upload* buffer
with ``transfer_open`` and ``transfer_write``, then names it in ``restore``.

A buffer is named by a random token and belongs to the connection that made
it: another connection's token is unknown here. Memory is bounded: a
connection holds at most :attr:`TransferLimits.count` buffers of together
:attr:`TransferLimits.per_connection` bytes (one snapshot of the largest
size), the broker :attr:`TransferLimits.total`; an upload reserves its
declared size when it opens, a download its size before it is copied. A
buffer is freed when read to its end, when ``restore`` is done with it, when
its connection ends, and after :attr:`TransferLimits.idle` seconds untouched.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from vconsole.protocol_replies import TransferPart, TransferState
from vconsole.protocol_snapshots import TransferOpen, TransferRead, TransferWrite
from vconsole.snapshot.encode import EncodedBody, envelope
from vconsole.snapshot.model import MAX_FILE
from vconsole.wire import Message, ProtocolError, ok_reply

if TYPE_CHECKING:
    from vconsole.broker.connection import ClientConnection

log = logging.getLogger("vconsole.broker")


class TransferKind(StrEnum):
    """Which way a buffer's bytes go."""

    DOWNLOAD = "download"  # a snapshot the broker made, for the client to read
    UPLOAD = "upload"  # a snapshot file the client writes, for ``restore``


@dataclass(frozen=True)
class TransferLimits:
    """How much transfer memory a connection and the broker may hold."""

    per_connection: int = MAX_FILE
    count: int = 4
    total: int = 2 * MAX_FILE
    idle: float = 120.0  # seconds a buffer may go untouched


class TransferPool:
    """The broker-wide account of every connection's transfer buffers."""

    def __init__(self, limits: TransferLimits | None = None) -> None:
        self.limits = limits or TransferLimits()
        self.held = 0  # bytes reserved by open buffers
        self.buffers = 0

    def reserve(self, size: int) -> None:
        """Count ``size`` more bytes; ProtocolError ``transfers_full`` when the broker holds too much."""
        if self.held + size > self.limits.total:
            raise ProtocolError(
                "transfers_full",
                f"the broker holds {self.held} bytes of other transfers and {size} more would exceed its"
                f" limit of {self.limits.total}: try again when they are done",
            )
        self.held += size
        self.buffers += 1

    def release(self, size: int) -> None:
        """A buffer of ``size`` bytes is gone."""
        self.held -= size
        self.buffers -= 1


class Transfer:
    """One buffer: its token, kind, size, the bytes so far, and its idle timer."""

    def __init__(self, owner: ConnectionTransfers, kind: TransferKind, size: int) -> None:
        self.owner = owner
        self.token = secrets.token_urlsafe(12)
        self.kind = kind
        self.size = size
        self.data = bytearray()  # a download's whole file once filled; an upload's bytes received
        self.freed = False
        self._timer: asyncio.TimerHandle | None = None
        self.touch()

    @property
    def received(self) -> int:
        """Bytes in the buffer (an upload's progress)."""
        return len(self.data)

    def fill(self, data: bytearray) -> None:
        """A download's whole file (unless the buffer was freed meanwhile)."""
        if not self.freed:
            self.data = data

    def touch(self) -> None:
        """The client used the buffer: its idle timeout starts again."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.owner.pool.limits.idle, self._expire)

    def _expire(self) -> None:
        log.info("transfer %s of %d bytes unused for %.0f s: freed", self.kind, self.size,
                 self.owner.pool.limits.idle)
        self.free()

    def free(self) -> None:
        """Drop the bytes and give the memory back (again: nothing)."""
        if self.freed:
            return
        self.freed = True
        if self._timer is not None:
            self._timer.cancel()
        self.data = bytearray()
        self.owner.forget(self)


class ConnectionTransfers:
    """One connection's transfer buffers, by token."""

    def __init__(self, pool: TransferPool) -> None:
        self.pool = pool
        self.buffers: dict[str, Transfer] = {}
        self.held = 0
        self.closed = False

    def open(self, kind: TransferKind, size: int) -> Transfer:
        """A new buffer of ``size`` bytes, reserved; ProtocolError when over a limit."""
        limits = self.pool.limits
        if size > MAX_FILE:
            raise ProtocolError("too_large", f"a snapshot of {size} bytes exceeds the limit of {MAX_FILE}")
        if self.closed:
            raise ProtocolError("transfers_full", "the connection is closing")
        if len(self.buffers) >= limits.count:
            raise ProtocolError("transfers_full", f"this connection holds {limits.count} transfers already:"
                                " read them to the end or restore them first")
        if self.held + size > limits.per_connection:
            raise ProtocolError("transfers_full", f"this connection holds {self.held} bytes of transfers and"
                                f" {size} more would exceed its limit of {limits.per_connection}")
        self.pool.reserve(size)
        transfer = Transfer(self, kind, size)
        self.buffers[transfer.token] = transfer
        self.held += size
        return transfer

    def find(self, token: str, kind: TransferKind) -> Transfer:
        """This connection's buffer ``token`` of ``kind``; ProtocolError ``no_transfer`` otherwise."""
        transfer = self.buffers.get(token)
        if transfer is None or transfer.kind != kind:
            raise ProtocolError("no_transfer", f"no {kind} {token!r} on this connection (read to its end,"
                                " restored, idle too long, or another connection's)")
        return transfer

    def take_upload(self, token: str) -> Transfer:
        """The complete upload ``token`` for ``restore``, no longer writable; free it once restored."""
        transfer = self.find(token, TransferKind.UPLOAD)
        if transfer.received != transfer.size:
            raise ProtocolError("incomplete", f"transfer {token!r} holds {transfer.received} of its"
                                f" {transfer.size} bytes: write the rest first")
        del self.buffers[token]  # still reserved, until the restore frees it
        return transfer

    def forget(self, transfer: Transfer) -> None:
        """``transfer`` was freed: its reservation goes."""
        if self.buffers.get(transfer.token) is transfer:
            del self.buffers[transfer.token]
        self.held -= transfer.size
        self.pool.release(transfer.size)

    def close(self) -> None:
        """The connection ended: every buffer it holds goes."""
        self.closed = True
        for transfer in list(self.buffers.values()):
            transfer.free()


def assemble(body: EncodedBody) -> bytearray:
    """The whole snapshot file of ``body`` in one buffer, copied once (run off the loop)."""
    digest = hashlib.sha256()
    for piece in body.pieces:
        digest.update(piece)
    head = envelope(body.size, digest.digest())
    out = bytearray(len(head) + body.size)
    out[: len(head)] = head
    pos = len(head)
    for piece in body.pieces:
        out[pos : pos + len(piece)] = piece
        pos += len(piece)
    return out


# --- the operations (broker/operations.py's table) -------------------------


def transfer_open(conn: ClientConnection, rid: int | None, req: TransferOpen) -> Message:
    """An upload buffer of ``size`` bytes for a snapshot file that ``restore`` will name."""
    transfer = conn.transfers.open(TransferKind.UPLOAD, req.size)
    return ok_reply(rid, **TransferState(transfer.token, transfer.size, 0).fields())


def transfer_write(conn: ClientConnection, rid: int | None, req: TransferWrite) -> Message:
    """The next part of an upload, at exactly the offset received so far."""
    transfer = conn.transfers.find(req.transfer, TransferKind.UPLOAD)
    if req.offset != transfer.received:
        raise ProtocolError("bad_offset", f"transfer {req.transfer!r} holds {transfer.received} bytes:"
                            f" write at offset {transfer.received}, not {req.offset}")
    if transfer.received + len(req.data) > transfer.size:
        raise ProtocolError("too_large", f"{len(req.data)} bytes at offset {req.offset} go beyond the"
                            f" {transfer.size} bytes transfer {req.transfer!r} was opened for")
    transfer.data += req.data
    transfer.touch()
    return ok_reply(rid, **TransferState(transfer.token, transfer.size, transfer.received).fields())


def transfer_read(conn: ClientConnection, rid: int | None, req: TransferRead) -> Message:
    """A part of a download; the buffer is freed once its last byte is read."""
    transfer = conn.transfers.find(req.transfer, TransferKind.DOWNLOAD)
    if req.offset > transfer.size:
        raise ProtocolError("bad_offset", f"transfer {req.transfer!r} holds {transfer.size} bytes:"
                            f" offset {req.offset} is beyond them")
    end = min(transfer.size, req.offset + req.limit)
    with memoryview(transfer.data) as view:
        part = TransferPart(req.offset, transfer.size, bytes(view[req.offset : end]))
    if end == transfer.size:
        transfer.free()
    else:
        transfer.touch()
    return ok_reply(rid, **part.fields())
