"""Recovery at open: torn tails repaired with a one-line report, corrupt files never raise, SIGKILL loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.consolelog.conftest import meta, open_store
from vconsole.consolelog.layout import console_dir
from vconsole.consolelog.reader import ConsoleLog
from vconsole.consolelog.records import RECORD_SIZE, LogMarkKind, RecordKind
from vconsole.consolelog.writer import LogLimits, LogState

T0 = 1_700_000_000.0
LIMITS = LogLimits(console=1 << 30, segment=4000)


def numbered(n: int) -> bytes:
    return f"line {n:06d}\n".encode()  # 12 bytes


def write_log(root: Path, lines: int) -> Path:
    """A closed log of ``lines`` numbered lines (several segments); its directory."""
    store = open_store(root, LIMITS)
    w = store.console(meta())
    for n in range(lines):
        w.append(numbered(n), T0 + n)
    store.close()
    return console_dir(root, meta().key)


def newest(d: Path, suffix: str) -> Path:
    return sorted(d.glob(f"*{suffix}"))[-1]


def check_consistent(d: Path, written: bytes, *, repaired: bool = True) -> ConsoleLog:
    """The log reads back as a prefix of ``written``, every byte timed; once repaired,
    every index holds whole records."""
    log = ConsoleLog(d)
    chunks = list(log.chunks())
    data = b"".join(c.data for c in chunks)
    assert log.start == 0 and len(data) == log.end
    assert written.startswith(data)
    assert all(c.time >= T0 for c in chunks)
    for seg in d.glob("*.seg") if repaired else ():
        idx = seg.with_suffix(".idx").read_bytes()
        assert len(idx) % RECORD_SIZE == 0
    return log


def tear_segment(d: Path) -> None:
    seg = newest(d, ".seg")
    os.truncate(seg, seg.stat().st_size - 17)


def tear_index(d: Path) -> None:
    idx = newest(d, ".idx")
    os.truncate(idx, idx.stat().st_size - 45)  # one and a half records


def garbage_index(d: Path) -> None:
    with open(newest(d, ".idx"), "ab") as f:
        f.write(b"\x02garbage after a crash, not a record at all" * 3)


@pytest.mark.parametrize(
    "tears",
    [[tear_segment], [tear_index], [garbage_index], [tear_segment, tear_index, garbage_index]],
    ids=["segment", "index", "garbage", "all"],
)
def test_torn_tail_is_repaired_with_one_line(root: Path, tears: list[object]) -> None:
    d = write_log(root, 1000)
    written = b"".join(numbered(n) for n in range(1000))
    for tear in tears:
        tear(d)  # type: ignore[operator]
    check_consistent(d, written, repaired=False)  # the reader copes before any repair
    store = open_store(root, LIMITS)
    assert len(store.repairs) == 1
    assert store.repairs[0].startswith("log lab:201:vtty0: repaired: ")
    w = store.console(meta())
    assert w.state is LogState.OK
    end = w.end
    w.append(b"after the repair\n", T0 + 5000)
    store.close()
    log = check_consistent(d, written[:end] + b"after the repair\n")
    assert log.end == end + 17
    assert log.time_at(end) == T0 + 5000
    again = open_store(root, LIMITS)
    assert again.repairs == []  # repaired once, clean since
    again.close()


def test_bytes_after_the_last_record_are_timed_at_the_mtime(root: Path) -> None:
    d = write_log(root, 100)
    with open(newest(d, ".seg"), "ab") as f:  # a crash between the data and its DATA record
        f.write(b"unrecorded\n")
    mtime = newest(d, ".seg").stat().st_mtime_ns / 1e9
    store = open_store(root, LIMITS)
    assert "timed 11 bytes" in store.repairs[0]
    store.close()
    log = ConsoleLog(d)
    assert log.read(log.end - 11, 11)[1] == b"unrecorded\n"
    assert log.time_at(log.end - 1) == pytest.approx(mtime)
    last = [r for r in log.records() if r.kind == RecordKind.DATA][-1]
    assert last.offset == log.end


def test_torn_closed_segment_and_stray_files(root: Path) -> None:
    d = write_log(root, 1000)
    segs = sorted(d.glob("*.seg"))
    lost = segs[1].stat().st_size - 1001
    os.truncate(segs[1], 1001)  # an older segment cut short
    segs[2].with_suffix(".idx").unlink()  # an index lost
    (d / f"{1 << 40:016x}.idx").write_bytes(b"orphan")  # an index without its segment
    store = open_store(root, LIMITS)
    assert len(store.repairs) == 1
    line = store.repairs[0]
    assert "rebuilt index" in line and "without its segment" in line and "bad or torn records" in line
    w = store.console(meta())
    assert w.dropped == lost  # the bytes the cut segment lost are a hole
    store.close()
    log = ConsoleLog(d)
    first = segs[1].stat().st_size + int(segs[1].stem, 16)
    assert log.read(0, 1 << 20)[1] == b"".join(numbered(n) for n in range(1000))[:first]


def test_corrupt_files_never_raise(root: Path) -> None:
    d = write_log(root, 100)
    newest(d, ".idx").write_bytes(os.urandom(100))  # a header that is not one
    (d / f"{1 << 40:016x}.seg").mkdir()  # a "segment" that is a directory
    store = open_store(root, LIMITS)  # no exception
    w = store.console(meta())
    assert w.state is LogState.DEGRADED and w.reason
    w.append(b"x", T0)  # never raises either
    w.mark(LogMarkKind.ATTACH)
    assert w.not_logged == 1
    assert any("not writable" in line for line in store.repairs)
    store.close()
    ConsoleLog(d).read(0, 100)  # the reader copes too


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from vconsole.consolelog.layout import LogMeta
    from vconsole.consolelog.store import LogStore
    from vconsole.consolelog.writer import LogLimits

    store = LogStore(Path(sys.argv[1]), limits_for=lambda m: LogLimits(console=1 << 30, segment=64 << 10))
    store.open()
    w = store.console(LogMeta("lab", "201", "guest-201", "vtty0", 0, "testhost"))
    n = 0
    while True:
        w.append(b"line %08d\\n" % n, time.time())
        os.write(1, b"%d\\n" % n)  # only after append returned
        n += 1
    """
)


def test_sigkill_loses_no_appended_byte(root: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    reported = -1
    deadline = time.monotonic() + 60
    while reported < 30_000 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        reported = int(line)
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read().split()
    proc.wait()
    assert reported >= 30_000, proc.stderr.read() if proc.stderr else ""
    last_reported = int(rest[-1]) if rest else reported

    store = open_store(root)
    w = store.console(meta())
    data = w.read(0, 1 << 30)[1]
    store.close()
    lines = data.split(b"\n")
    complete = lines[:-1]
    assert len(complete) >= last_reported + 1  # every line whose append returned
    assert complete == [b"line %08d" % n for n in range(len(complete))]  # in order, no gap
    assert len(list(console_dir(root, meta().key).glob("*.seg"))) > 3  # it rotated meanwhile
    log = ConsoleLog(console_dir(root, meta().key))
    assert all(c.time > T0 for c in log.chunks())


BUSY_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from vconsole.consolelog.layout import LogMeta
    from vconsole.consolelog.store import LogStore
    from vconsole.consolelog.writer import LogLimits

    store = LogStore(Path(sys.argv[1]), limits_for=lambda m: LogLimits(console=64 << 10, segment=4 << 10))
    store.open()
    w = store.console(LogMeta("lab", "201", "guest-201", "vtty0", 0, "testhost"))
    print("ready", flush=True)
    n = 0
    while True:
        if n % 5000 == 0:
            w.new_boot(str(n), time.time())
        w.append(bytes((w.end + i) % 251 for i in range(97)), time.time())
        n += 1
    """
)


def test_reader_never_fails_while_the_writer_rotates_and_evicts(root: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", BUSY_WRITER, str(root)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        d = console_dir(root, meta().key)
        deadline = time.monotonic() + 2
        checked = 0
        while time.monotonic() < deadline:
            log = ConsoleLog(d)
            for chunk in log.chunks():  # segments vanish under it: skipped, never an error
                assert chunk.data == bytes((chunk.offset + i) % 251 for i in range(len(chunk.data)))
                checked += len(chunk.data)
            log.offset_at(time.time() - 0.5)
            log.boots()
            log.read(0, 1 << 20)
        assert checked > 0
    finally:
        proc.kill()
        proc.wait()
