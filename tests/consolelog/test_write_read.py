"""Writing a console log and reading it back: bytes, times, marks, boots, files."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.consolelog.conftest import meta, open_store
from vconsole.consolelog.layout import console_dir
from vconsole.consolelog.reader import ConsoleLog, LogUnreadable, console_logs
from vconsole.consolelog.records import RECORD_SIZE, IndexRecord, LogMarkKind, RecordKind
from vconsole.consolelog.store import LogStore, LogStoreLocked, sync_fds
from vconsole.consolelog.writer import LogLimits

T0 = 1_700_000_000.0


def write_lines(store: LogStore, count: int, *, guest: str = "201", step: float = 1.0) -> bytes:
    """``count`` numbered lines, one append each, line i arriving at T0 + i * step."""
    w = store.console(meta(guest))
    out = b""
    for i in range(count):
        line = f"line {i:05d}\n".encode()
        w.append(line, T0 + i * step)
        out += line
    return out


def test_bytes_and_times_round_trip(root: Path) -> None:
    store = open_store(root, LogLimits(segment=1000))
    data = write_lines(store, 500)  # 11 bytes a line: several segments
    w = store.console(meta())
    assert (w.start, w.end, w.dropped, w.not_logged) == (0, len(data), 0, 0)
    assert w.read(0, 1 << 20) == (0, data)  # across segment boundaries
    assert w.read(1234, 5) == (1234, data[1234:1239])
    assert w.tail(22) == (len(data) - 22, data[-22:])
    assert w.tail(1 << 20) == (0, data)
    store.close()

    log = ConsoleLog(console_dir(root, meta().key))
    assert log.meta is not None and log.meta.created > 0
    assert replace(log.meta, created=0.0) == meta()
    assert (log.start, log.end, log.dropped, log.not_logged) == (0, len(data), 0, 0)
    assert log.read(0, 1 << 20) == (0, data)
    assert log.read(len(data), 10) == (len(data), b"")
    chunks = list(log.chunks())
    assert b"".join(c.data for c in chunks) == data
    assert [c.time for c in chunks] == [T0 + i for i in range(500)]  # one chunk per append
    part = list(log.chunks(115, 140))  # from inside line 10 to inside line 12
    assert [(c.offset, c.data, c.time) for c in part] == [
        (115, data[115:121], T0 + 10),
        (121, data[121:132], T0 + 11),
        (132, data[132:140], T0 + 12),
    ]


def test_offset_at_and_time_at_against_known_times(root: Path) -> None:
    store = open_store(root, LogLimits(segment=1000))
    data = write_lines(store, 500, step=0.5)
    store.close()
    log = ConsoleLog(console_dir(root, meta().key))
    for i in (0, 1, 90, 91, 92, 250, 499):
        assert log.offset_at(T0 + i * 0.5) == 11 * i  # exactly the time of line i
        assert log.offset_at(T0 + i * 0.5 - 0.1) == 11 * i  # just before it: still line i
        assert log.time_at(11 * i) == T0 + i * 0.5
        assert log.time_at(11 * i + 10) == T0 + i * 0.5
    assert log.offset_at(T0 - 100) == 0
    assert log.offset_at(T0 + 10_000) == len(data)
    assert log.time_at(len(data)) is None


def test_offset_at_does_not_read_every_index(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(root, LogLimits(segment=1000, console=1 << 30))
    write_lines(store, 5000)  # 55 segments
    store.close()
    log = ConsoleLog(console_dir(root, meta().key))
    loaded: list[int] = []
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        loaded.append(1)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    assert log.offset_at(T0 + 3210) == 3210 * 11
    assert len(loaded) <= 2  # one segment's index (a second only at a segment boundary)


def test_marks_and_records(store: LogStore, root: Path) -> None:
    w = store.console(meta())
    w.mark(LogMarkKind.BROKER_STARTED, when=T0)
    w.append(b"hello\n", T0 + 1)
    w.mark(LogMarkKind.ATTACH, (1000 << 32) | 42, 1, when=T0 + 2)
    w.mark(LogMarkKind.LOST, 77, offset=3, when=T0 + 3)
    store.close()
    log = ConsoleLog(console_dir(root, meta().key))
    marks = [(m.kind, m.offset, m.time, m.value, m.aux) for m in log.marks()]
    assert marks == [
        (LogMarkKind.BROKER_STARTED, 0, T0, 0, 0),
        (LogMarkKind.LOST, 3, T0 + 3, 77, 0),
        (LogMarkKind.ATTACH, 6, T0 + 2, (1000 << 32) | 42, 1),
    ]
    assert [m.kind for m in log.marks(4, 10)] == [LogMarkKind.ATTACH]
    kinds = [r.kind for r in log.records()]
    assert kinds == [RecordKind.HEADER, RecordKind.MARK, RecordKind.DATA, RecordKind.MARK, RecordKind.MARK]


def test_boots_each_in_its_own_segment(root: Path) -> None:
    store = open_store(root)
    w = store.console(meta())
    w.append(b"before any boot\n", T0)
    assert w.new_boot("inc-a", T0 + 10) == 1
    w.append(b"boot one\n", T0 + 11)
    assert w.new_boot("inc-a", T0 + 12) == 1  # same incarnation: no new boot
    assert w.new_boot("inc-b", T0 + 20) == 2
    w.append(b"boot two\n", T0 + 21)
    w.append(b"more of two\n", T0 + 22)
    store.close()
    d = console_dir(root, meta().key)
    assert sorted(p.name for p in d.glob("*.seg")) == [
        "0000000000000000.seg",
        f"{16:016x}.seg",
        f"{25:016x}.seg",
    ]
    log = ConsoleLog(d)
    assert [(b.number, b.start, b.end, b.time, b.end_time) for b in log.boots()] == [
        (0, 0, 16, T0, T0),
        (1, 16, 25, T0 + 10, T0 + 11),
        (2, 25, 46, T0 + 20, T0 + 22),
    ]
    # A broker restart while the guest kept running: the same incarnation opens no boot.
    store = open_store(root)
    w = store.console(meta())
    assert w.boot == 2
    assert w.new_boot("inc-b", T0 + 30) == 2
    assert w.new_boot("inc-c", T0 + 31) == 3
    store.close()


def test_boot_with_nothing_logged_reuses_the_empty_segment(store: LogStore, root: Path) -> None:
    w = store.console(meta())
    w.append(b"x" * 10, T0)
    w.new_boot("a", T0 + 1)
    w.mark(LogMarkKind.GUEST_STARTED, when=T0 + 1)
    w.new_boot("b", T0 + 2)  # boot "a" printed nothing
    w.append(b"y" * 5, T0 + 3)
    store.close()
    log = ConsoleLog(console_dir(root, meta().key))
    assert [(b.number, b.start, b.end) for b in log.boots()] == [(0, 0, 10), (2, 10, 15)]
    assert [m.kind for m in log.marks()] == [LogMarkKind.GUEST_STARTED]


def test_files_modes_and_lazy_open(root: Path) -> None:
    store = open_store(root)
    w = store.console(meta())
    d = console_dir(root, meta().key)
    assert not list(d.glob("*.seg"))  # nothing until the first write
    assert not w.has_open_files
    w.append(b"abc", T0)
    assert w.has_open_files
    for p in [root, root / "lab", d.parent, d]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o700, p
    for p in d.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    w.close()
    assert not w.has_open_files
    w.append(b"def", T0 + 1)  # reopens the same segment
    assert w.read(0, 10) == (0, b"abcdef")
    assert len(list(d.glob("*.seg"))) == 1
    store.close()


def test_at_most_max_open_writers_keep_files(root: Path) -> None:
    store = LogStore(root, max_open=8)
    store.open()
    fds_before = len(os.listdir("/proc/self/fd"))
    writers = [store.console(meta(str(n))) for n in range(100)]
    assert len(os.listdir("/proc/self/fd")) == fds_before  # idle consoles cost no fd
    for n, w in enumerate(writers):
        w.append(f"console {n}\n".encode(), T0)
    assert [n for n, w in enumerate(writers) if w.has_open_files] == list(range(92, 100))
    sync_fds(store.take_dirty())  # closed writers' unsynced fds are synced, then closed
    assert len(os.listdir("/proc/self/fd")) == fds_before + 2 * 8
    writers[0].append(b"again\n", T0 + 1)  # reopens lazily, closing the least recent
    assert writers[0].has_open_files and not writers[92].has_open_files
    assert writers[0].read(0, 100) == (0, b"console 0\nagain\n")
    store.close()
    assert len(os.listdir("/proc/self/fd")) == fds_before - 1  # the lock too


def test_second_store_on_the_same_root_is_refused(store: LogStore, root: Path) -> None:
    assert (root / ".lock").read_text().strip() == str(os.getpid())
    other = LogStore(root)
    with pytest.raises(LogStoreLocked, match=f"pid {os.getpid()}"):
        other.open()
    store.close()
    other.open()  # free again once the first one closed
    other.close()


def test_console_logs_lists_every_console_sorted(store: LogStore, root: Path) -> None:
    for guest, console in [("b", "vtty1"), ("a b", "vtty0"), ("b", "vtty0")]:
        store.console(meta(guest, console)).append(b"x", T0)
    (root / "lab" / "junk" / "notalog").mkdir(parents=True)
    logs = console_logs(root)
    assert [(m.guest_id, m.console) for log in logs if (m := log.meta)] == [
        ("a b", "vtty0"),
        ("b", "vtty0"),
        ("b", "vtty1"),
    ]
    with pytest.raises(LogUnreadable, match="not a console log"):
        ConsoleLog(root / "lab" / "junk" / "notalog")
    with pytest.raises(LogUnreadable):
        ConsoleLog(root / "missing")


def test_unknown_format_version_is_unreadable(store: LogStore, root: Path) -> None:
    store.console(meta()).append(b"abc", T0)
    store.close()
    idx = console_dir(root, meta().key) / f"{0:016x}.idx"
    raw = idx.read_bytes()
    header = IndexRecord.decode(raw[:RECORD_SIZE])
    future = IndexRecord(header.kind, header.offset, header.time_ns, header.value, sub=2)
    idx.write_bytes(future.encode() + raw[RECORD_SIZE:])
    with pytest.raises(LogUnreadable, match="format version 2"):
        ConsoleLog(console_dir(root, meta().key))
    again = open_store(root)  # the writer refuses too, without raising
    w = again.console(meta())
    assert w.describe()["log_state"] == "degraded" and "format version 2" in w.reason
    w.append(b"more", time.time())
    assert idx.read_bytes()[:RECORD_SIZE] == future.encode()
    assert w.not_logged == 4
    again.close()
