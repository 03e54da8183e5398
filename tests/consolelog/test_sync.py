"""fsync off the event loop: take_dirty hands over fds that stay valid, sync_fds syncs and closes them."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.consolelog.conftest import meta, open_store
from vconsole.consolelog.records import LogMarkKind
from vconsole.consolelog.store import LogStore, sync_fds
from vconsole.consolelog.writer import LogLimits

T0 = 1_700_000_000.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_take_dirty_gives_fds_of_written_files_only(store: LogStore) -> None:
    a, b = store.console(meta("a")), store.console(meta("b"))
    a.append(b"abc", T0)
    fds = store.take_dirty()
    assert len(fds) == 2  # a's segment and index, duplicated
    assert {os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1] for fd in fds} == {
        "0000000000000000.seg",
        "0000000000000000.idx",
    }
    assert store.take_dirty() == []  # nothing written since
    b.mark(LogMarkKind.CONNECTED, when=T0)
    assert len(store.take_dirty()) == 2
    sync_fds(fds)


def test_fds_stay_valid_across_rotation_and_close(root: Path) -> None:
    store = open_store(root, LogLimits(segment=100))
    w = store.console(meta())
    before = open_fds()
    w.append(b"x" * 100, T0)
    fds = store.take_dirty()
    w.append(b"y" * 100, T0 + 1)  # rotates: the first segment's own fds wait for the next sync
    w.close()
    thread = threading.Thread(target=sync_fds, args=(fds + store.take_dirty(),))
    thread.start()  # as the broker does, off the event loop
    thread.join()
    assert open_fds() == before
    assert w.read(0, 1000) == (0, b"x" * 100 + b"y" * 100)
    store.close()


def test_describe(store: LogStore) -> None:
    w = store.console(meta())
    w.new_boot("one", T0)
    w.append(b"hello", T0)
    w.mark(LogMarkKind.ATTACH, value=1 << 70)  # out of range: not logged, never raised
    d = w.describe()
    assert d["log_state"] == "ok" and d["log_reason"] == ""
    assert (d["log_start"], d["log_end"], d["not_logged"], d["boot"], d["log_dropped"]) == (0, 5, 0, 1, 0)
    assert d["log_bytes"] == 5 + 3 * 32  # HEADER, BOOT, DATA
    s = store.describe()
    assert s["bytes"] == d["log_bytes"] and s["state"] == "ok" and s["evicted"] == 0
    assert s["total_limit"] == 2 << 30 and s["dir"] == str(store.root)


def test_without_a_sync_timer_closed_segments_do_not_pile_up_fds(root: Path) -> None:
    store = open_store(root, LogLimits(segment=100))
    w = store.console(meta())
    before = open_fds()
    for n in range(200):  # 200 rotations, nobody calls take_dirty
        w.append(b"%099d" % n, T0 + n)
    assert open_fds() <= before + 2 + 2 * 10
    store.close()
    assert open_fds() == before - 1
