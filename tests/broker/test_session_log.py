"""SessionLog: what a reopened console offers again is not logged twice; boots; reload."""

from __future__ import annotations

from pathlib import Path

from vconsole.broker.history import OutputHistory
from vconsole.broker.session_log import SessionLog
from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.store import LogStore
from vconsole.domain import MarkSource


def session_log(root: Path) -> SessionLog:
    store = LogStore(root)
    store.open()
    return SessionLog(store.console(LogMeta("lxc", "c1", "c1", "vtty0", 0, "host")))


def test_a_log_file_offered_again_is_cut_where_the_log_ends(tmp_path: Path) -> None:
    log = session_log(tmp_path)
    assert log.bound("1234")  # a first boot
    logged = b"".join(b"line %04d of the container's console\n" % i for i in range(100))
    log.append(logged, 1.0)
    history = log.reload(1 << 20)
    assert history.read(0) == logged
    assert not log.bound("1234")  # reopened in the same boot (a broker restart)
    # LXC's console log file holds older lines, all the log has, and what came since.
    again = logged[-500:] + b"written while no broker held the console\n"
    assert log.unlogged_initial(history, again, ()) == (b"written while no broker held the console\n", ())
    # Nothing to match it against: kept whole (better twice than lost).
    assert log.unlogged_initial(history, b"other bytes\n", ()) == (b"other bytes\n", ())


def test_a_hypervisor_log_offered_again_keeps_only_what_is_new(tmp_path: Path) -> None:
    log = session_log(tmp_path)
    log.bound("")
    banner, hv, end_banner = b"--hv--\n", b"boot messages\n", b"--ring--\n"
    log.append(banner + hv + end_banner, 1.0)
    log.range_mark(len(banner), len(banner) + len(hv), MarkSource.HYPERVISOR)
    history = log.reload(1 << 20)
    assert not log.bound("")
    initial = banner + hv + b"while disconnected\n" + end_banner
    marks = ((len(banner), len(banner) + len(hv) + 19, str(MarkSource.HYPERVISOR)),)
    fresh, fresh_marks = log.unlogged_initial(history, initial, marks)
    assert fresh == banner + b"while disconnected\n" + end_banner
    assert fresh_marks == ((len(banner), len(banner) + 19, "hypervisor"),)
    # Nothing new at all: nothing is recorded, not even the banners.
    same = ((len(banner), len(banner) + len(hv), "hypervisor"),)
    assert log.unlogged_initial(history, banner + hv + end_banner, same) == (b"", ())


def test_history_reloads_the_logs_tail_at_its_offsets(tmp_path: Path) -> None:
    log = session_log(tmp_path)
    log.bound("1")
    log.append(b"x" * 300_000, 1.0)
    history: OutputHistory = log.reload(1 << 20)
    assert (history.start, history.end) == (300_000 - 256 * 1024, 300_000)
    assert log.oldest(history) == 0
    assert log.read_back(history, 10, 100) == (10, b"x" * 100)
