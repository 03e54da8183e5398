"""Streamed snapshot files: the same bytes as the in-memory encoder, atomic, checksummed, decoded without copies."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.snapshot.strategies import sessions
from tests.snapshot.test_fuzz import sample
from vconsole.broker.history import OutputHistory
from vconsole.broker.session import ConsoleSession
from vconsole.broker.snapshots.capture import capture_session, release_histories
from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import _record_fields, encode, encode_body
from vconsole.snapshot.model import (
    FORMAT_VERSION,
    MAGIC,
    ConsoleRecord,
    History,
    SnapshotError,
    SnapshotFile,
)
from vconsole.snapshot.stream import StreamingWriter, read_snapshot_file, write_snapshot


def reference_encode(snapshot: SnapshotFile) -> bytes:
    """The encoder as it was before streaming: one msgpack.packb of the whole body, then of the envelope."""
    records = []
    for r in snapshot.records:
        f = _record_fields(r)
        h = r.history
        m = {k: f[k] for k in ("provider", "guest_id", "guest_name", "guest_kind", "console_type",
                               "console_index", "created", "last_output")}
        m["history"] = {"data": h.data, "start": h.start, "end": h.end, "dropped": h.dropped, "lost": h.lost}
        for k in ("marks", "pending_output", "pending_input", "termios", "winsize", "ring",
                  "hypervisor_log", "screen", "log"):
            m[k] = f[k]
        records.append(m)
    body = msgpack.packb({"created": snapshot.created, "host": snapshot.host, "records": records},
                         use_bin_type=True)
    return msgpack.packb({"magic": MAGIC, "version": FORMAT_VERSION,
                          "sha256": hashlib.sha256(body).digest(), "body": body}, use_bin_type=True)


def wrapped(size: int, cap: int, seed: int) -> tuple[OutputHistory, History]:
    """A history whose ring has wrapped, and a record history referencing its two pieces."""
    history = OutputHistory(cap)
    data = bytes((seed + i * 7) & 0xFF for i in range(size))
    for at in range(0, size, 10_000):  # in chunks, so the ring wraps
        history.append(data[at : at + 10_000])
    view = history.view()
    return history, History(view.parts, view.start, view.end, view.start)


def big_snapshot() -> SnapshotFile:
    snap = sample()
    for i, rec in enumerate(snap.records):
        _, rec.history = wrapped(300_000 + i * 77_777, 256 * 1024, i)
    return snap


def test_streamed_file_is_the_reference_encoding(tmp_path: Path) -> None:
    snap = big_snapshot()
    assert len(snap.records[0].history.parts) == 2  # really by reference, in two pieces
    path = tmp_path / "s.vcsnap"
    size = write_snapshot(str(path), encode_body(snap))
    data = path.read_bytes()
    assert size == len(data)
    assert data == reference_encode(snap) == encode(snap)  # byte-compatible: same format, same bytes
    assert decode(data) == decode(reference_encode(snap)) == snap
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["s.vcsnap"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(sessions(), min_size=1, max_size=4, unique_by=lambda s: s.key))
def test_captured_sessions_stream_like_the_reference(tmp_path: Path, drawn: list[ConsoleSession]) -> None:
    import asyncio

    async def grab() -> list[ConsoleRecord]:
        return [(await capture_session(s, None)).record for s in drawn]

    snap = SnapshotFile(1.7e9, "h", asyncio.run(grab()))
    path = tmp_path / "h.vcsnap"
    write_snapshot(str(path), encode_body(snap))
    assert path.read_bytes() == reference_encode(snap)
    assert decode(read_snapshot_file(str(path), 1 << 30)) == snap
    release_histories(drawn, snap)


def test_output_during_the_write_does_not_change_what_is_written(tmp_path: Path) -> None:
    history, rec_history = wrapped(200_000, 128 * 1024, 3)
    before = rec_history.data
    snap = sample()
    snap.records[0].history = rec_history
    body = encode_body(snap)
    history.append(b"new output " * 5000)  # the console keeps printing while the writer works
    history.seed(b"restored", 0)
    write_snapshot(str(tmp_path / "s.vcsnap"), body)
    assert decode((tmp_path / "s.vcsnap").read_bytes()).records[0].history.data == before
    assert history.read(history.end - 11) == b"new output "


@pytest.mark.parametrize("fail_at", ["writev", "writev-later", "pwrite", "fsync", "replace"])
def test_an_interrupted_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      fail_at: str) -> None:
    path = tmp_path / "s.vcsnap"
    path.write_bytes(b"the previous snapshot")
    real_writev = os.writev
    calls = []

    def partly(fd: int, buffers: Any) -> int:
        calls.append(1)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real_writev(fd, [bytes(buffers[0])[:1000]])  # a short write first: it is resumed

    def broken(*args: Any) -> Any:
        raise OSError(5, "Input/output error")

    if fail_at == "writev-later":
        monkeypatch.setattr("vconsole.snapshot.stream.os.writev", partly)
    else:
        monkeypatch.setattr(f"vconsole.snapshot.stream.os.{fail_at}", broken)
    with pytest.raises(OSError):
        write_snapshot(str(path), encode_body(big_snapshot()))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["s.vcsnap"]  # the temporary file is gone
    assert path.read_bytes() == b"the previous snapshot"  # and the old file is untouched


def test_short_writes_are_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_writev = os.writev

    def stingy(fd: int, buffers: Any) -> int:
        return real_writev(fd, [bytes(buffers[0])[:77_777]])

    monkeypatch.setattr("vconsole.snapshot.stream.os.writev", stingy)
    snap = big_snapshot()
    write_snapshot(str(tmp_path / "s.vcsnap"), encode_body(snap))
    monkeypatch.undo()
    assert (tmp_path / "s.vcsnap").read_bytes() == reference_encode(snap)


def test_a_writer_given_up_leaves_nothing(tmp_path: Path) -> None:
    writer = StreamingWriter(str(tmp_path / "s.vcsnap"))
    writer.add(encode_body(big_snapshot()).pieces)
    writer.abort()
    assert os.listdir(tmp_path) == []


def test_small_bodies_move_up_behind_their_shorter_envelope(tmp_path: Path) -> None:
    snap = SnapshotFile(1.0, "h", [])
    path = tmp_path / "s.vcsnap"
    write_snapshot(str(path), encode_body(snap))
    assert path.read_bytes() == reference_encode(snap)
    assert decode(path.read_bytes()) == snap


def test_the_checksum_covers_the_streamed_histories(tmp_path: Path) -> None:
    path = tmp_path / "s.vcsnap"
    snap = big_snapshot()
    write_snapshot(str(path), encode_body(snap))
    data = bytearray(path.read_bytes())
    outer = msgpack.unpackb(bytes(data), raw=False)
    assert outer["sha256"] == hashlib.sha256(outer["body"]).digest()
    at = data.find(snap.records[1].history.data[1000:1100])
    assert at > 0
    data[at] ^= 0x01  # one bit in the middle of a history
    with pytest.raises(SnapshotError, match=r"^sha256: checksum mismatch"):
        decode(data)


def test_decode_returns_views_into_the_file_not_copies(tmp_path: Path) -> None:
    path = tmp_path / "s.vcsnap"
    write_snapshot(str(path), encode_body(big_snapshot()))
    buf = read_snapshot_file(str(path), 1 << 30)
    snap = decode(buf)
    for rec in snap.records:
        (part,) = rec.history.parts
        assert isinstance(part, memoryview) and part.obj is buf


def test_any_key_order_decodes_and_bad_files_get_the_general_message() -> None:
    snap = sample()
    good = msgpack.unpackb(encode(snap), raw=False)
    # Same content, keys in another order and the body first: still valid.
    shuffled = msgpack.packb({k: good[k] for k in ("body", "sha256", "version", "magic")}, use_bin_type=True)
    back = decode(shuffled)
    assert back == snap
    assert all(type(p) is memoryview for r in back.records for p in r.history.parts)
    # What the view path cannot handle falls back to the general path, which names the problem.
    with pytest.raises(SnapshotError, match="trailing bytes"):
        decode(encode(snap) + b"\xc0")
    with pytest.raises(SnapshotError, match="truncated"):
        decode(encode(snap)[:-3])


def test_restore_copies_only_what_survives_the_cap() -> None:
    from vconsole.broker.snapshots.restore import seed_session
    from vconsole.providers.base import ConsoleSpec, GuestInfo

    guest = GuestInfo(provider="lab", host="h", kind="container", id="1", name="g", state="running")
    session = ConsoleSession(guest, ConsoleSpec("vtty", 0), 1000, lambda s: None, lambda s: None)
    session.history.append(b"n" * 400)
    rec = sample().records[0]
    _, rec.history = wrapped(5000, 4096, 9)
    seed_session(session, rec, 1.7e9)
    everything = rec.history.data + b"n" * 400
    assert session.history.read(0) == everything[-1000:]
    assert session.history.end == rec.history.end + 400
    assert session.history.start == session.history.end - 1000


async def test_capture_to_file_writes_while_capturing(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from vconsole.broker.snapshots.capture import capture_to_file
    from vconsole.providers.base import ConsoleSpec, GuestInfo

    drawn = []
    for i in range(5):
        guest = GuestInfo(provider="lab", host="h", kind="container", id=str(i), name=f"g{i}", state="running")
        session = ConsoleSession(guest, ConsoleSpec("vtty", 0), 200_000, lambda s: None, lambda s: None)
        for n in range(40):
            session.history.append(f"line {n} of console {i}\r\n".encode() * 300)
        drawn.append(session)
    registry: Any = SimpleNamespace(providers=[])
    path = tmp_path / "all.vcsnap"
    captured, size = await capture_to_file(registry, drawn, "h", str(path))
    snap = captured.snapshot
    kept = [r.history.data for r in snap.records]
    drawn[0].history.append(b"after the snapshot")  # copy on write, even before the release
    release_histories(drawn, snap)
    data = path.read_bytes()
    assert size == len(data) and data == reference_encode(snap)
    assert [r.history.data for r in decode(data).records] == kept
    assert [r.key for r in snap.records] == [s.key for s in drawn]
    drawn[1].history.append(b"x")  # released: changes in place again
    assert drawn[1].history.read(drawn[1].history.end - 1) == b"x"
