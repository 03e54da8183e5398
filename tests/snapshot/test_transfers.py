"""Snapshots in parts (broker/snapshots/transfers.py): tokens, offsets and memory bounds, on a real broker.

A download is read to its end and then gone; an upload is refused beyond
its declared size or beyond the snapshot limit, and a refused one changes no
console; a token belongs to its connection; a connection's buffers go with
it, and the broker-wide bound refuses more until they do.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.lab_host import LabHost
from tests.xen.conftest import wait_console
from vconsole.broker.snapshots.transfers import (
    ConnectionTransfers,
    TransferKind,
    TransferLimits,
    TransferPool,
)
from vconsole.client import RequestFailed
from vconsole.domain import Target, parse_target
from vconsole.protocol_snapshots import MAX_INLINE_SNAPSHOT, MAX_TRANSFER_PART, RestoreRequest
from vconsole.snapshot.decode import decode
from vconsole.snapshot.model import MAX_FILE
from vconsole.wire import ProtocolError

LINES = b"".join(b"line %07d of a console larger than a frame\n" % i for i in range(40000))  # ~1.8 MB
WEB: Target = parse_target("web:0")


@pytest.fixture
async def broker(lab_host: LabHost, runtime: Path) -> LabHost:
    """A broker keeping 4 MiB per console; ``web`` prints LINES once ``gate`` exists, ``quiet`` nothing."""
    (runtime / "lines.txt").write_bytes(LINES)
    prints = ["/bin/sh", "-c", f"while [ ! -e {runtime}/gate ]; do sleep 0.05; done; cat {runtime}/lines.txt;"
              " exec sleep 100000"]
    fleet = lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 1, "init": prints},
                                  {"id": 102, "name": "quiet", "vttys": 1, "init": ["/bin/sleep", "100000"]}])
    lab_host.write_config('[broker]\nhistory = "4MiB"\n')
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        await wait_console(client, "web", lambda c: c["state"] == "connected", console="vtty0")
        (runtime / "gate").touch()
        shown = len(LINES.replace(b"\n", b"\r\n"))
        await wait_console(client, "web", lambda c: c["history"] >= shown, console="vtty0", timeout=30)
    finally:
        await client.close()
    return lab_host


async def _refused(request: object, code: str) -> str:
    with pytest.raises(RequestFailed) as err:
        await request  # type: ignore[misc]
    assert err.value.code == code, err.value
    return err.value.message


def _history_of(host: LabHost, guest: str) -> tuple[int, int]:
    listing = json.loads(host.cli("ls", "--json").stdout)
    console = next(g for g in listing["guests"] if g["name"] == guest)["consoles"][0]
    return console["history"], console["end"]


async def test_a_large_snapshot_is_read_in_parts_then_gone_and_only_by_its_connection(broker: LabHost) -> None:
    client, other = await broker.client(), await broker.client()
    try:
        reply = await client.snapshot([WEB], parts=True)
        assert reply.data is None and reply.transfer is not None and reply.size > MAX_INLINE_SNAPSHOT
        token = reply.transfer
        await _refused(other.transfer_read(token, 0), "no_transfer")  # another connection's token
        await _refused(client.transfer_read(token, reply.size + 1), "bad_offset")
        data = bytearray()
        while len(data) < reply.size:
            part = await client.transfer_read(token, len(data))
            assert part.offset == len(data) and part.size == reply.size and 0 < len(part.data) <= MAX_TRANSFER_PART
            data += part.data
        snap = decode(data)
        assert snap.records[0].history.data == LINES.replace(b"\n", b"\r\n")
        # Read to its end: freed.
        await _refused(client.transfer_read(token, 0), "no_transfer")
        # Without parts, the same snapshot is too large for a frame, as before.
        assert "does not fit a frame" in await _refused(client.snapshot([WEB]), "too_large")
        # A small one still comes inline.
        small = await client.snapshot([parse_target("quiet:0")], parts=True)
        assert small.transfer is None and small.data is not None and decode(small.data).records[0].guest_name == "quiet"
    finally:
        await client.close()
        await other.close()


async def test_an_oversize_or_incomplete_upload_is_refused_and_changes_nothing(broker: LabHost) -> None:
    before = _history_of(broker, "quiet")
    client, other = await broker.client(), await broker.client()
    try:
        assert str(MAX_FILE) in await _refused(client.transfer_open(MAX_FILE + 1), "too_large")
        # A real snapshot of web, to upload into quiet.
        snap = await client.snapshot([WEB], parts=True)
        assert snap.transfer is not None
        data = bytearray()
        while len(data) < snap.size:
            data += (await client.transfer_read(snap.transfer, len(data))).data
        opened = await client.transfer_open(len(data) - 1)  # declared one byte short
        token = opened.transfer
        part = bytes(data[:MAX_TRANSFER_PART])
        await _refused(client.transfer_write(token, 1, part), "bad_offset")
        assert (await client.transfer_write(token, 0, part)).received == len(part)
        await _refused(other.transfer_write(token, len(part), part), "no_transfer")
        await _refused(other.restore(RestoreRequest(transfer=token, into=parse_target("quiet:0"))), "no_transfer")
        await _refused(client.restore(RestoreRequest(transfer=token, into=parse_target("quiet:0"))), "incomplete")
        offset = len(part)
        while offset + MAX_TRANSFER_PART < len(data) - 1:
            offset = (await client.transfer_write(token, offset, bytes(data[offset : offset + MAX_TRANSFER_PART]))).received
        assert "beyond" in await _refused(client.transfer_write(token, offset, bytes(data[offset:])), "too_large")
        # Complete at its declared size, it is a truncated file: refused, and freed by the restore.
        await client.transfer_write(token, offset, bytes(data[offset:-1]))
        await _refused(client.restore(RestoreRequest(transfer=token, into=parse_target("quiet:0"))), "bad_snapshot")
        await _refused(client.restore(RestoreRequest(transfer=token)), "no_transfer")
        assert _history_of(broker, "quiet") == before

        # The whole file, in parts: restored.
        token = (await client.transfer_open(len(data))).transfer
        for offset in range(0, len(data), MAX_TRANSFER_PART):
            await client.transfer_write(token, offset, bytes(data[offset : offset + MAX_TRANSFER_PART]))
        restored = await client.restore(RestoreRequest(transfer=token, into=parse_target("quiet:0")))
        assert restored.history_bytes == len(LINES.replace(b"\n", b"\r\n"))
        assert _history_of(broker, "quiet")[0] == restored.history_bytes
    finally:
        await client.close()
        await other.close()


async def test_transfer_memory_is_bounded_per_connection_and_in_all_and_freed_on_disconnect(broker: LabHost) -> None:
    clients = [await broker.client() for _ in range(3)]
    first, second, third = clients
    try:
        # Reserved at open, before a byte arrives: these hold no memory yet.
        await first.transfer_open(MAX_FILE)
        assert "this connection holds" in await _refused(first.transfer_open(1), "transfers_full")
        await second.transfer_open(MAX_FILE)
        assert "the broker holds" in await _refused(third.transfer_open(1), "transfers_full")
        assert "the broker holds" in await _refused(third.snapshot([WEB], parts=True), "transfers_full")
        await first.close()
        for _ in range(100):  # the broker frees them once it sees the connection go
            try:
                await third.transfer_open(1)
                break
            except RequestFailed as exc:
                assert exc.code == "transfers_full"
                await asyncio.sleep(0.05)
        else:
            pytest.fail("the closed connection's transfer was never freed")
        snap = await third.snapshot([WEB], parts=True)
        assert snap.transfer is not None
    finally:
        for client in clients:
            await client.close()


async def test_an_untouched_buffer_is_freed_after_the_idle_timeout() -> None:
    pool = TransferPool(TransferLimits(idle=0.2))
    buffers = ConnectionTransfers(pool)
    kept, left = buffers.open(TransferKind.UPLOAD, 10), buffers.open(TransferKind.UPLOAD, 20)
    assert (pool.held, pool.buffers) == (30, 2)
    for _ in range(4):  # kept is used every 0.1 s; left is not
        await asyncio.sleep(0.1)
        kept.touch()
    assert buffers.find(kept.token, TransferKind.UPLOAD) is kept
    with pytest.raises(ProtocolError) as err:
        buffers.find(left.token, TransferKind.UPLOAD)
    assert err.value.code == "no_transfer"
    assert (pool.held, pool.buffers, buffers.held) == (10, 1, 10)
    buffers.close()
    assert (pool.held, pool.buffers, buffers.held) == (0, 0, 0)
