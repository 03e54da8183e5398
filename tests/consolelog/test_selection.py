"""Selecting lines of a real console log: batches, holes, eviction, boots, times, the last N."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.consolelog.line_reference import (
    reference_chunks,
    reference_lines,
    reference_merged,
    reference_select,
)
from vconsole.consolelog import selection
from vconsole.consolelog.layout import LogMeta, console_dir
from vconsole.consolelog.lines import LineAssembler
from vconsole.consolelog.reader import ConsoleLog, LogChunk
from vconsole.consolelog.selection import (
    BootNotHeld,
    LineQuery,
    batched_blocks,
    last_lines,
    merged,
    pick_boot,
    select_lines,
    select_runs,
)
from vconsole.consolelog.store import LogStore
from vconsole.consolelog.writer import ConsoleLogWriter, LogLimits

META = LogMeta("lab", "101", "web", "vtty0", 0, "h")


def _log(root: Path, meta: LogMeta = META) -> ConsoleLog:
    return ConsoleLog(console_dir(root, meta.key))


def _store(root: Path, limits: LogLimits | None = None) -> LogStore:
    store = LogStore(root, limits_for=lambda meta: limits or LogLimits())
    store.open()
    return store


def _bytes(chunks: list[LogChunk]) -> list[tuple[int, int, float]]:
    return [(c.offset + k, byte, c.time) for c in chunks for k, byte in enumerate(c.data)]


def _texts(log: ConsoleLog, query: LineQuery | None = None) -> list[str]:
    return [line.text for line in select_lines(log, query or LineQuery())]


def test_batches_give_the_same_chunks_across_segments_and_holes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, LogLimits(console=1 << 20, segment=4096))
    writer = store.console(META)
    for i in range(400):
        writer.append(b"%04d:" % i + b"x" * 40 + b"\n", 1000.0 + i)
        if i == 200:
            writer.skip_to(writer.end + 5000, 1000.0 + i)  # a hole of bytes never logged
    store.close()
    log = _log(tmp_path)
    monkeypatch.setattr(selection, "BATCH", 1000)
    whole = list(log.chunks())
    assert whole == list(reference_chunks(log))
    batched = [chunk for block in batched_blocks(log, log.start, None) for chunk in block.chunks()]
    assert len(batched) > len(whole)  # cut at batch ends
    # Every byte at the same offset with the same time, the hole skipped alike.
    assert _bytes(batched) == _bytes(whole)
    texts = _texts(log)
    assert len(texts) == 400 and texts[0].startswith("0000:") and texts[-1].startswith("0399:")


def test_a_hole_ends_a_line_and_the_oldest_held_byte_starts_one(tmp_path: Path) -> None:
    store = _store(tmp_path)
    writer = store.console(META)
    writer.append(b"before the hole", 1.0)
    writer.skip_to(writer.end + 100, 2.0)
    writer.append(b" after\nnext\n", 3.0)
    store.close()
    log = _log(tmp_path)
    assert _texts(log) == ["before the hole", " after", "next"]
    # Reading from inside the line after the hole: its piece is skipped, as for --since.
    assert [line.text for run in selection._runs(log, [], log.end - 8, log.end, None, 0) for line in run.lines()] == ["next"]


def test_evicted_bytes_leave_the_held_rest_readable(tmp_path: Path) -> None:
    store = _store(tmp_path, LogLimits(console=16384, segment=4096))
    writer = store.console(META)
    for i in range(1000):
        writer.append(b"line %04d\n" % i, float(i))
    store.close()
    log = _log(tmp_path)
    assert log.start > 0
    texts = _texts(log)
    assert texts[-1] == "line 0999" and len(texts) < 1000
    assert _texts(log, LineQuery(last=3)) == ["line 0997", "line 0998", "line 0999"]
    assert _texts(log, LineQuery(since=995.0)) == ["line 0995", "line 0996", "line 0997", "line 0998", "line 0999"]
    assert _texts(log, LineQuery(since=995.0, until=997.0)) == ["line 0995", "line 0996"]


def test_boots_and_the_last_lines_of_one(tmp_path: Path) -> None:
    store = _store(tmp_path)
    writer: ConsoleLogWriter = store.console(META)
    for boot in range(3):
        writer.new_boot(f"inc{boot}", 100.0 * boot)
        for i in range(5):
            writer.append(b"boot %d line %d\n" % (boot + 1, i), 100.0 * boot + i + 1)
    store.close()
    log = _log(tmp_path)
    boots = log.boots()
    assert [b.number for b in boots] == [1, 2, 3]
    assert pick_boot(boots, 0).number == 3 and pick_boot(boots, -2).number == 1 and pick_boot(boots, 2).number == 2
    with pytest.raises(BootNotHeld, match="no boot -3: the log holds 3"):
        pick_boot(boots, -3)
    with pytest.raises(BootNotHeld, match="holds no boot"):
        pick_boot([], 0)
    assert _texts(log, LineQuery(boot=-1, last=2)) == ["boot 2 line 3", "boot 2 line 4"]
    assert [line.boot for line in select_lines(log, LineQuery())] == [1] * 5 + [2] * 5 + [3] * 5
    assert _texts(log, LineQuery(boot=1, since=103.0)) == []  # the boot ended before that time
    assert _texts(log, LineQuery(last=0)) == []


def test_merged_orders_by_time_then_by_stream(tmp_path: Path) -> None:
    other = LogMeta("lab", "102", "db", "vtty0", 0, "h")
    store = _store(tmp_path)
    a, b = store.console(META), store.console(other)
    a.append(b"a1\na3\n", 1.0)
    b.append(b"b1\n", 1.0)
    b.append(b"b2\n", 2.0)
    a.append(b"a4\n", 3.0)
    store.close()
    streams = [select_runs(_log(tmp_path, meta), LineQuery(), source=i) for i, meta in enumerate((META, other))]
    lines = [(run.source, line.text) for run in merged(streams) for line in run.lines()]
    assert lines == [(0, "a1"), (0, "a3"), (1, "b1"), (1, "b2"), (0, "a4")]


def _stream(pieces: list[tuple[bytes, float]]) -> list[LogChunk]:
    chunks, offset = [], 0
    for data, when in pieces:
        chunks.append(LogChunk(offset, data, when))
        offset += len(data)
    return chunks


streams_of_reads = st.lists(
    st.lists(st.tuples(st.sampled_from([b"a\n", b"b", b"cd\ne", b"\n\n", b"f\ng\nh"]), st.sampled_from([1.0, 2.0, 3.0, 1.5])),
             min_size=1, max_size=8),
    min_size=1, max_size=4,
)


@given(streams=streams_of_reads, last=st.integers(0, 30))
def test_runs_merged_give_the_lines_merged_one_by_one(streams: list[list[tuple[bytes, float]]], last: int) -> None:
    """Ties, times going back, lines over reads: merging runs orders lines as merging lines did."""
    chunks = [_stream(pieces) for pieces in streams]
    expected = [(i, line) for i, line in reference_merged([reference_lines(c) for c in chunks])]
    got = list(merged([LineAssembler(source=i).runs(c) for i, c in enumerate(chunks)]))
    assert [(run.source, line) for run in got for line in run.lines()] == expected
    kept, seen = last_lines(iter(got), last)
    assert seen == len(expected)
    assert [(run.source, line) for run in kept for line in run.lines()] == (expected[-last:] if last else [])


def test_the_runs_of_a_log_are_its_lines_as_selected_one_by_one(tmp_path: Path) -> None:
    store = _store(tmp_path, LogLimits(console=1 << 20, segment=4096))
    writer = store.console(META)
    data = b"".join(b"%04d:" % i + b"y" * (i % 50) + b"\n" for i in range(600))
    for n in range(0, len(data), 333):
        writer.append(data[n : n + 333], 1000.0 + n // 333)
    store.close()
    log = _log(tmp_path)
    for query in (LineQuery(), LineQuery(since=1010.0), LineQuery(until=1020.0), LineQuery(last=7), LineQuery(last=450)):
        runs = list(select_runs(log, query))
        lines = [line for run in runs for line in run.lines()]
        assert lines == reference_select(log, query)
        assert len(runs) < len(lines) / 3  # a run per read of 333 bytes, of about 12 lines
