"""Per-console and global limits: whole segments evicted oldest first, counted exactly; the boot rule."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.consolelog.conftest import meta, open_store
from vconsole.consolelog.layout import console_dir
from vconsole.consolelog.reader import ConsoleLog
from vconsole.consolelog.writer import ConsoleLogWriter, LogLimits

T0 = 1_700_000_000.0


def disk(directory: Path) -> tuple[int, int, int]:
    """(bytes of segments and indexes, bytes of segments, number of segments) in a console directory."""
    files = [p for p in directory.iterdir() if p.suffix in (".seg", ".idx")]
    segs = [p for p in files if p.suffix == ".seg"]
    return sum(p.stat().st_size for p in files), sum(p.stat().st_size for p in segs), len(segs)


def pattern(offset: int, n: int) -> bytes:
    """Bytes that say where they are: a byte's value is its offset mod 251."""
    return bytes((offset + i) % 251 for i in range(n))


def fill(w: ConsoleLogWriter, total: int, chunk: int, when: float) -> None:
    while total > 0:
        n = min(chunk, total)
        w.append(pattern(w.end, n), when)
        total -= n


def test_rotation_keeps_at_most_limit_plus_one_segment_and_counts_dropped_exactly(root: Path) -> None:
    limits = LogLimits(console=64 << 10, segment=8 << 10)
    store = open_store(root, limits)
    w = store.console(meta())
    d = console_dir(root, meta().key)
    written = 0
    while written < 10 * limits.console:
        n = 1000 + written % 777  # odd sizes: segments end anywhere
        w.append(pattern(written, n), T0 + written / 1e6)
        written += n
        on_disk, held, _ = disk(d)
        assert on_disk <= limits.console + limits.segment
        assert w.dropped == written - held  # every evicted byte counted, no other
    on_disk, held, count = disk(d)
    assert on_disk <= limits.console and count <= limits.console // limits.segment + 1
    assert w.start == written - held and w.end == written
    assert w.read(w.start, 1 << 20) == (w.start, pattern(w.start, held))
    dropped = w.dropped
    store.close()

    log = ConsoleLog(d)
    assert (log.start, log.end, log.dropped, log.not_logged) == (written - held, written, dropped, 0)
    assert log.read(0, 100) == (log.start, pattern(log.start, 100))
    again = open_store(root, limits)
    assert again.console(meta()).dropped == dropped  # computed from the files after a restart
    again.close()


def test_per_console_limits_come_from_limits_for(root: Path) -> None:
    from vconsole.consolelog.store import LogStore

    big, small = LogLimits(console=200 << 10, segment=8 << 10), LogLimits(console=40 << 10, segment=8 << 10)
    store = LogStore(root, limits_for=lambda m: big if m.guest_id == "big" else small)
    store.open()
    for guest in ("big", "small"):
        fill(store.console(meta(guest)), 150 << 10, 4096, T0)
    assert disk(console_dir(root, meta("big").key))[0] > 140 << 10
    assert disk(console_dir(root, meta("small").key))[0] <= 40 << 10
    store.close()


def test_global_limit_evicts_oldest_first_across_consoles(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    limits = LogLimits(console=1 << 30, segment=8 << 10)
    store = open_store(root, limits, total_limit=200 << 10)
    a, b, c = (store.console(meta(g)) for g in ("a", "b", "c"))
    fill(a, 60 << 10, 4096, T0)  # oldest
    fill(b, 60 << 10, 4096, T0 + 100)
    fill(c, 60 << 10, 4096, T0 + 200)
    assert (a.dropped, b.dropped, c.dropped) == (0, 0, 0)
    with caplog.at_level(logging.INFO, logger="vconsole.broker"):
        fill(c, 40 << 10, 4096, T0 + 300)
    assert a.dropped > 0 and b.dropped == 0 and c.dropped == 0  # the oldest console paid
    assert store.describe()["evicted"] == a.dropped
    assert store.total_bytes <= 200 << 10
    assert store.total_bytes == sum(disk(console_dir(root, meta(g).key))[0] for g in "abc")
    assert any("global limit" in r.getMessage() and "lab:a:vtty0" in r.getMessage() for r in caplog.records)
    fill(c, 200 << 10, 4096, T0 + 400)  # now a and b are older than all of c
    assert b.dropped > 0 and c.dropped > 0
    for w in (a, b):  # never the newest segment of a console
        assert len(list(w.directory.glob("*.seg"))) >= 1
        assert w.tail(10) == (w.end - 10, pattern(w.end - 10, 10))
    store.close()

    # Consoles nobody opens this run are evicted too, by a store opened with a smaller limit.
    smaller = open_store(root, limits, total_limit=100 << 10)
    assert smaller.total_bytes <= 100 << 10
    assert smaller.describe()["evicted"] > 0
    smaller.close()


def test_boot_rule_keeps_the_previous_boots_tail(root: Path) -> None:
    limits = LogLimits(console=80 << 10, segment=8 << 10)  # limit/4 = 20 KiB: two 8 KiB segments
    store = open_store(root, limits)
    w = store.console(meta())
    w.new_boot("crashed", T0)
    fill(w, 40 << 10, 4096, T0 + 1)
    crash_end = w.end
    w.new_boot("next", T0 + 10)
    fill(w, 400 << 10, 4096, T0 + 11)  # a chatty next boot: 5x the limit
    d = console_dir(root, meta().key)
    assert disk(d)[0] <= limits.console
    boots = ConsoleLog(d).boots()
    assert [b.number for b in boots] == [1, 2]
    assert boots[0].end == crash_end
    # The crashed boot's last 16 KiB are still there, its beginning and the next boot's are not.
    assert w.read(crash_end - (16 << 10), 16 << 10) == (crash_end - (16 << 10), pattern(crash_end - (16 << 10), 16 << 10))
    assert w.read(0, 10)[0] == crash_end - (16 << 10)
    assert w.read(crash_end, 10)[0] > crash_end
    assert w.dropped == w.end - disk(d)[1]  # the hole in boot 2 is counted as dropped

    # A third boot: boot 1 is no longer the previous boot, so it goes first.
    w.new_boot("third", T0 + 20)
    fill(w, 200 << 10, 4096, T0 + 21)
    assert [b.number for b in ConsoleLog(d).boots()] == [2, 3]
    store.close()
