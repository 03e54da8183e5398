"""Snapshots moved through the broker connection, for a client that may not name a file for it.

Another host's broker (over ``vconsole bridge``) would read or write a path
on its own machine, and a broker of another uid (the system broker, for its
members) refuses paths from us. Such a client takes the bytes itself: a
snapshot small enough for one frame travels inline, a larger one in parts of
protocol.MAX_TRANSFER_PART through a transfer buffer on the broker
(docs/protocol.md, "Snapshots in parts"), a few parts in flight at a time so
a slow link (ssh) is kept busy.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from vconsole.client import Client
from vconsole.domain import Target
from vconsole.protocol_replies import RestoreReply, SnapshotReply, TransferPart, TransferState
from vconsole.protocol_snapshots import MAX_INLINE_SNAPSHOT, MAX_TRANSFER_PART, RestoreRequest
from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import encode_body
from vconsole.snapshot.model import SnapshotError
from vconsole.snapshot.stream import write_snapshot

# Requests sent before the first is answered: enough to cover a link's round trip.
PARTS_IN_FLIGHT = 4
T = TypeVar("T")


class TransferFailed(Exception):
    """A snapshot could not be taken here or written (one line); ``bad_snapshot``: the broker's bytes were refused."""

    def __init__(self, message: str, *, bad_snapshot: bool = False) -> None:
        super().__init__(message)
        self.bad_snapshot = bad_snapshot


async def _in_order(requests: list[Callable[[], Awaitable[T]]], done: Callable[[T], None]) -> None:
    """Send ``requests`` in order, at most PARTS_IN_FLIGHT unanswered; ``done`` with each reply in order."""
    window: deque[asyncio.Future[T]] = deque()
    try:
        for request in requests:
            # Tasks start in creation order, so the broker gets the requests in order.
            window.append(asyncio.ensure_future(request()))
            if len(window) >= PARTS_IN_FLIGHT:
                done(await window.popleft())
        while window:
            done(await window.popleft())
    finally:
        for future in window:
            future.cancel()


async def receive_snapshot(client: Client, targets: list[Target] | None) -> tuple[SnapshotReply, bytearray]:
    """A snapshot of ``targets`` (None: all) taken by the broker, and the file's bytes, read here."""
    reply = await client.snapshot(targets, None, parts=True)
    if reply.data is not None:
        return reply, bytearray(reply.data)
    token = reply.transfer
    if token is None:
        raise TransferFailed("the broker sent no snapshot data")
    data = bytearray(reply.size)
    got = 0

    def place(part: TransferPart) -> None:
        nonlocal got
        if part.size != reply.size or part.offset + len(part.data) > reply.size:
            raise TransferFailed(f"the broker sent a part at {part.offset} of a {part.size} bytes snapshot,"
                           f" not of {reply.size}")
        data[part.offset : part.offset + len(part.data)] = part.data
        got += len(part.data)

    offsets = range(0, reply.size, MAX_TRANSFER_PART)
    await _in_order([partial(client.transfer_read, token, o) for o in offsets], place)
    if got != reply.size:
        raise TransferFailed(f"the broker sent {got} of the snapshot's {reply.size} bytes")
    return reply, data


async def snapshot_here(client: Client, targets: list[Target] | None, out: Path, origin_host: str | None) -> SnapshotReply:
    """Snapshot ``targets`` through ``client`` into ``out`` on this machine; ``origin_host`` names the broker's host.

    The bytes are checked like a file's before anything is written. TransferFailed says what went wrong.
    """
    reply, data = await receive_snapshot(client, targets)
    try:
        snap = decode(data)
    except SnapshotError as exc:
        raise TransferFailed(f"its snapshot is refused: {exc}", bad_snapshot=True) from None
    del data
    snap.origin_host = origin_host
    try:
        size = await asyncio.get_running_loop().run_in_executor(None, write_snapshot, str(out), encode_body(snap))
    except OSError as exc:
        raise TransferFailed(f"cannot write {out}: {exc.strerror or exc}") from None
    return dataclasses.replace(reply, path=str(out), size=size, data=None, transfer=None)


async def send_restore(client: Client, data: bytes, request: RestoreRequest) -> RestoreReply:
    """Restore the snapshot file ``data`` as ``request`` says: inline if it fits a frame, else uploaded in parts."""
    if len(data) <= MAX_INLINE_SNAPSHOT:
        return await client.restore(dataclasses.replace(request, data=data))
    token = (await client.transfer_open(len(data))).transfer

    async def write(offset: int) -> TransferState:
        return await client.transfer_write(token, offset, data[offset : offset + MAX_TRANSFER_PART])

    await _in_order([partial(write, o) for o in range(0, len(data), MAX_TRANSFER_PART)], lambda state: None)
    return await client.restore(dataclasses.replace(request, transfer=token))
