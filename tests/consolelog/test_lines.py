"""Lines of a console log: assembled across reads, with times and boots; text for reading."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Iterator

from hypothesis import example, given
from hypothesis import strategies as st

from tests.consolelog.line_reference import (
    ReferenceAssembler,
    reference_iso_time,
    reference_lines,
    reference_reading_text,
)
from vconsole.consolelog import lines as lines_module
from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.lines import (
    LineAssembler,
    LineRun,
    LogLine,
    iso_time,
    json_line,
    log_lines,
)
from vconsole.consolelog.reader import Boot, LogBlock, LogChunk
from vconsole.consolelog.reading import MAX_LINE, MAX_SHOWN, reading_text, shown_lines, shown_text

# What guests write, in pieces a test cuts anywhere: text, line ends, colours, moves,
# erases, OSC, lone ESCs, C1 controls (raw and in UTF-8), bad UTF-8, bidi, NUL, BEL, DEL.
PIECES = [
    b"a", b"bc", b" ", b"x" * 9, b"\n", b"\r\n", b"\r", b"\r\r\n", b"\x08", b"\t", b"\x1b[31m", b"\x1b[0m",
    b"\x1b[1;32m", b"\x1b[K", b"\x1b[2D", b"\x1b[5G", b"\x1b[1K", b"\x1b]0;t\x07", b"\x1b", b"[", b"m", b"\x9b",
    "\u009b".encode(), b"\xc2\x85", b"\xc3\xa9", b"\xc3", b"\xe2\x80", b"\xe2\x80\xae", b"\xff", b"\x00", b"\x07",
    b"\x7f", "\u00a0".encode(), "\u65e5".encode(), b"\x1bP", b"\x1b\\", b"\x1b[?25l", b"\x1b(B",
]
guest_bytes = st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join)


def _chunks(data: bytes, cuts: list[int], start: int = 100) -> list[LogChunk]:
    """``data`` from ``start`` split at ``cuts``, each piece at time = its index."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    return [LogChunk(start + a, data[a:b], float(i)) for i, (a, b) in enumerate(itertools.pairwise(bounds))]


def _holed(chunks: list[LogChunk], at: int, gap: int) -> list[LogChunk]:
    """``chunks`` with ``gap`` bytes missing before the one at ``at`` (a hole in the log)."""
    return [LogChunk(c.offset + (gap if n >= at else 0), c.data, c.time) for n, c in enumerate(chunks)]


def _blocks(chunks: list[LogChunk], every: int) -> list[LogBlock]:
    """``chunks`` as blocks of up to ``every`` read turns (a hole ends a block)."""
    blocks: list[LogBlock] = []
    for chunk in chunks:
        last = blocks[-1] if blocks else None
        if last is None or len(last.ends) == every or last.ends[-1] != chunk.offset:
            blocks.append(LogBlock(chunk.offset, chunk.data, [chunk.offset + len(chunk.data)], [chunk.time]))
        else:
            blocks[-1] = LogBlock(last.offset, last.data + chunk.data, [*last.ends, last.ends[-1] + len(chunk.data)],
                                  [*last.times, chunk.time])
    return blocks


def _read_of(chunks: list[LogChunk], offset: int) -> int:
    return next(n for n, c in enumerate(chunks) if c.offset <= offset < c.offset + len(c.data))


def _time_of(chunks: list[LogChunk], offset: int) -> float:
    return next(c.time for c in chunks if c.offset <= offset < c.offset + len(c.data))


def test_a_line_split_over_two_reads_is_one_line_with_the_first_reads_time() -> None:
    chunks = [LogChunk(0, b"hel", 1.0), LogChunk(3, b"lo\nwor", 2.0), LogChunk(9, b"ld\n", 3.0)]
    lines = list(log_lines(chunks))
    assert [(x.raw, x.offset, x.time) for x in lines] == [(b"hello\n", 0, 1.0), (b"world\n", 6, 2.0)]
    assert all(x.complete for x in lines)


def test_a_last_line_without_newline_is_emitted_at_the_end() -> None:
    lines = list(log_lines([LogChunk(0, b"a\nlogin: ", 5.0)]))
    assert [x.raw for x in lines] == [b"a\n", b"login: "]
    assert not lines[-1].complete and lines[-1].text == "login: "


def test_follow_mode_flushes_a_pending_line_and_continues_after_it() -> None:
    asm = LineAssembler()
    assert asm.feed(LogChunk(0, b"Password: ", 1.0)) == []
    assert asm.pending
    (flushed,) = asm.flush()
    assert (flushed.raw, flushed.offset) == (b"Password: ", 0)
    assert not asm.pending and asm.flush() == []
    (line,) = asm.feed(LogChunk(10, b"ok\n", 2.0))
    assert (line.raw, line.offset, line.time) == (b"ok\n", 10, 2.0)


def test_a_hole_ends_the_line_before_it() -> None:
    lines = list(log_lines([LogChunk(0, b"abc", 1.0), LogChunk(50, b"def\n", 2.0)]))
    assert [(x.raw, x.offset) for x in lines] == [(b"abc", 0), (b"def\n", 50)]


def test_lines_know_their_boot_and_a_boot_start_ends_a_line() -> None:
    boots = [Boot(1, 0, 8, 1.0, 2.0), Boot(2, 8, 20, 3.0, 4.0)]
    lines = list(log_lines([LogChunk(0, b"one\nabcdxy\n", 1.0)], boots))
    assert [(x.raw, x.offset, x.boot) for x in lines] == [(b"one\n", 0, 1), (b"abcd", 4, 1), (b"xy\n", 8, 2)]
    assert LineAssembler().boot_of(5) == 0  # no boots: before the first


def test_very_long_lines_are_cut() -> None:
    lines = list(log_lines([LogChunk(0, b"x" * 25 + b"\n", 1.0)]))
    assert len(lines) == 1
    asm = LineAssembler(max_line=10)
    out = asm.feed(LogChunk(0, b"x" * 7, 1.0)) + asm.feed(LogChunk(7, b"y" * 18 + b"\n", 2.0)) + asm.flush()
    assert [(x.raw, x.offset, x.time) for x in out] == [
        (b"x" * 7 + b"yyy", 0, 1.0), (b"y" * 10, 10, 2.0), (b"yyyyy\n", 20, 2.0)]


@given(
    data=st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\r\n", b"\x1b[31m", b"\xc3\xa9", b"\xc3", b"\t"]), max_size=40).map(b"".join),
    cuts=st.lists(st.integers(0, 200), max_size=12),
    boot_at=st.integers(0, 200),
    max_line=st.integers(1, 30),
)
def test_splitting_the_same_bytes_anywhere_gives_the_same_lines(data: bytes, cuts: list[int], boot_at: int, max_line: int) -> None:
    boots = [Boot(1, 100, 100 + boot_at, 0.0, None), Boot(2, 100 + boot_at, 10**6, 0.0, None)]
    whole = LineAssembler(boots, max_line)
    reference = whole.feed(LogChunk(100, data, 0.0)) + whole.flush()
    chunks = _chunks(data, cuts)
    split = LineAssembler(boots, max_line)
    lines: list[LogLine] = []
    for chunk in chunks:
        lines += split.feed(chunk)
    lines += split.flush()
    assert [(x.offset, x.raw, x.boot) for x in lines] == [(x.offset, x.raw, x.boot) for x in reference]
    assert b"".join(x.raw for x in lines) == data  # nothing lost, nothing doubled
    for line in lines:
        assert line.time == _time_of(chunks, line.offset)
        assert len(line.raw) <= max_line
        assert line.complete or line.end == 100 + len(data) or line.end == 100 + boot_at or len(line.raw) == max_line


def test_reading_text_strips_escape_sequences() -> None:
    assert reading_text(b"\x1b[1;32m  OK  \x1b[0m] Started web.\r\n") == "  OK  ] Started web."
    assert reading_text(b"\x1b]0;user@web: ~\x07$ ls") == "$ ls"  # OSC ended by BEL
    assert reading_text(b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link"  # OSC ended by ST
    assert reading_text(b"a\x1bPq#0;2;0;0;0\x1b\\b") == "ab"  # DCS (sixel)
    assert reading_text(b"\x1b(B\x1b7q\x1b8\x1b=") == "q"  # other ESC sequences
    assert reading_text("\u009b31mred\u009b0m \u009d0;t\u009cx".encode()) == "red x"  # C1 forms
    assert reading_text(b"\x1b[?25l\x1b[?2004hx") == "x"
    assert reading_text(b"end\x1b") == "end"  # a lone ESC
    assert reading_text(b"\x1b]0;never ended") == ""


def test_reading_text_handles_cr_backspace_tabs_like_a_terminal_row() -> None:
    assert reading_text(b"  10%\r  55%\r 100%\r\n") == " 100%"  # a progress line: its last state
    assert reading_text(b"abcdef\rxy\n") == "xycdef"  # overwritten, as on the screen
    assert reading_text(b"abcdef\rxy\x1b[K\n") == "xy"  # erase to the end of the row
    assert reading_text(b"abcdef\x1b[2K\rnew") == "new"
    assert reading_text(b"abc\x1b[1Kd") == "   d"  # erased cells show as spaces
    assert reading_text(b"abc \x1b[2K") == ""  # none at the end
    assert reading_text(b"pass\x08\x08ss\n") == "pass"
    assert reading_text(b"a\tb\tc\t") == "a       b       c"
    assert reading_text(b"abc\x1b[6Gz\x1b[2Dy\x1b[3Cw") == "abc yz  w"


def test_reading_text_replaces_bad_utf8_and_keeps_odd_controls_visible_to_printable() -> None:
    assert reading_text(b"\xff\xfeok\n") == "\ufffd\ufffdok"
    assert reading_text("caf\u00e9 \u65e5\u672c".encode()) == "caf\u00e9 \u65e5\u672c"
    line = LogLine(0.0, 0, 1, b"\x00bell\x07 \x01x \xe2\x80\xaeevil\n")
    assert line.text == "bell \x01x \u202eevil"
    assert line.shown == "bell ^Ax \\u202eevil"  # nothing left that acts on a terminal


def test_json_line_has_time_ts_where_and_text() -> None:
    meta = LogMeta("lab", "101", "web", "vtty0", 0, "host1")
    record = json.loads(json_line(LogLine(1_700_000_000.25, 42, 3, b"\x1b[1mhi\xe2\x80\xae\r\n"), meta))
    assert record == {
        "time": "2023-11-14T22:13:20.250+00:00", "ts": 1_700_000_000.25, "host": "host1",
        "provider": "lab", "guest_id": "101", "guest": "web", "console": "vtty0",
        "boot": 3, "offset": 42, "text": "hi\u202e",
    }
    assert "\u202e" not in json_line(LogLine(0.0, 0, 1, "\u202e".encode()), meta)  # escaped: ASCII only


def _fields(lines: list[LogLine]) -> list[tuple[float, int, int, bytes]]:
    return [(x.time, x.offset, x.boot, x.raw) for x in lines]


# Pieces of guest output, each maybe the last of a read: reads ending at a line's end, or anywhere.
guest_reads = st.lists(st.tuples(st.one_of(st.sampled_from(PIECES), st.sampled_from([b"\n", b"\r\n"])), st.booleans()),
                       max_size=40)


@given(
    reads=guest_reads, cuts=st.lists(st.integers(0, 200), max_size=6), boot_at=st.integers(0, 400),
    max_line=st.sampled_from([1, 2, 5, 13, 30, MAX_LINE, MAX_LINE]), hole_at=st.integers(0, 40),
    gap=st.sampled_from([0, 0, 3]), times=st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=41, max_size=41),
    block_every=st.sampled_from([1, 2, 4, 41, 41]),
)
@example(  # a line that grows over reads until it is cut, after complete lines of its run
    reads=[(b"ab\n", True), (b"cd\nef", True), (b"ghijk", True), (b"lmn\n", True)], cuts=[], boot_at=400, max_line=8,
    hole_at=40, gap=0, times=[0.0, 1.0, 2.5, 3.0] * 10 + [4.0], block_every=1,
)
@example(  # a read as long as a line may be
    reads=[(b"ab\n", True), (b"cdefghij", True), (b"k\n", True)], cuts=[], boot_at=400, max_line=8,
    hole_at=40, gap=0, times=[0.0, 1.0, 2.5, 3.0] * 10 + [4.0], block_every=1,
)
def test_runs_and_followed_lines_are_exactly_the_lines_one_by_one(
    reads: list[tuple[bytes, bool]], cuts: list[int], boot_at: int, max_line: int, hole_at: int, gap: int,
    times: list[float], block_every: int,
) -> None:
    data = b"".join(piece for piece, _ in reads)
    ends = list(itertools.accumulate(len(piece) for piece, _ in reads))
    cuts = cuts + [end for end, (_, last) in zip(ends, reads, strict=True) if last]
    boots = [Boot(1, 100, 100 + boot_at, 0.0, None), Boot(2, 100 + boot_at, 10**6, 0.0, None)]
    pieces = _holed(_chunks(data, cuts), hole_at, gap)
    chunks = [LogChunk(c.offset, c.data, times[n % len(times)]) for n, c in enumerate(pieces)]
    reference = reference_lines(chunks, boots, max_line)
    runs = list(LineAssembler(boots, max_line).runs(chunks))
    assert _fields([line for run in runs for line in run.lines()]) == _fields(reference)
    # The same read turns in blocks of several, as the reader gives them.
    blocked = list(LineAssembler(boots, max_line).block_runs(_blocks(chunks, block_every)))
    assert blocked == runs
    for run in runs:  # a run: lines that began in one read, every one but the last complete
        assert {_read_of(chunks, line.offset) for line in run.lines()} == {_read_of(chunks, run.offset)}
        assert all(line.complete for line in run.lines()[:-1])
        assert run.line_count == len(run.lines())
    # Following: each chunk gives the same lines at once, and an idle flush the same pending line.
    followed, one_by_one = LineAssembler(boots, max_line), ReferenceAssembler(boots, max_line)
    for chunk in chunks:
        assert _fields(followed.feed(chunk)) == _fields(one_by_one.feed(chunk))
        assert followed.pending == bool(one_by_one._pending)
    assert _fields(followed.flush()) == _fields(one_by_one.flush())


def test_a_run_holds_the_lines_a_read_began_and_waits_for_its_last_one() -> None:
    assembler = LineAssembler()
    assert assembler.feed_runs(LogChunk(0, b"a\nb\nc", 1.0)) == []  # "c" goes on
    assert assembler.feed_runs(LogChunk(5, b"d\ne", 2.0)) == [LineRun(1.0, 0, 0, 0, b"a\nb\ncd\n")]
    (run,) = list(assembler.runs([LogChunk(8, b"f\n", 3.0)]))
    assert run == LineRun(2.0, 0, 7, 0, b"ef\n")
    run = LineRun(5.0, 3, 10, 2, b"one\ntwo\nthr")
    assert run.after(1) == LineRun(5.0, 3, 14, 2, b"two\nthr") and run.after(3) is None
    assert run.split_last() == (LineRun(5.0, 3, 10, 2, b"one\ntwo\n"), LogLine(5.0, 18, 2, b"thr"))
    assert LineRun(5.0, 3, 10, 2, b"one").split_last() == (None, LogLine(5.0, 10, 2, b"one"))
    assert run.line_count == 3 and LineRun(5.0, 3, 10, 2, b"\n\n").line_count == 2


@given(data=guest_bytes, prefix=st.sampled_from(["", "g1:vtty0 ", "2026-12-06T07:00:01.000+00:00 we\u0301b:1 "]))
@example(data=b"\x1b[0;32mOK\x1b[0m\r\nplain\r\n", prefix="w ")
@example(data=b"ab\r\x1b[0m\ncd\x1b[K\r\n\r", prefix="")
@example(data=b"\n\n\r", prefix="p ")
def test_lines_shown_a_block_at_a_time_are_the_lines_shown_one_by_one(data: bytes, prefix: str) -> None:
    if not data:
        return
    lines = reference_lines([LogChunk(0, data, 0.0)], max_line=1 << 20)
    expected = "".join(prefix + shown_text(reference_reading_text(line.raw)) + "\n" for line in lines)
    assert shown_lines(data, prefix) == expected.encode()
    for line in lines:
        assert reading_text(line.raw) == reference_reading_text(line.raw)


def test_a_block_shown_keeps_nothing_that_acts_on_a_terminal() -> None:
    raw = b"ok \x1b[1mbold\x1b[0m\r\n\x1b]0;title\x07x \xe2\x80\xae evil \x9b2J \xc2\x9b2J\x07\r\nprogress 10%\rdone\r\n"
    assert shown_lines(raw, "g:0 ").decode() == "g:0 ok bold\ng:0 x \\u202e evil \ufffd2J \ng:0 doneress 10%\n"
    assert shown_lines(b"x" * (MAX_SHOWN + 5)).decode() == shown_text("x" * (MAX_SHOWN + 5)) + "\n"  # bounded alike


@contextlib.contextmanager
def _zone(name: str) -> Iterator[None]:
    """Local time as in ``name`` (the cached texts of times made again)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    iso_time.cache_clear()
    lines_module._second_text.cache_clear()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()
        iso_time.cache_clear()
        lines_module._second_text.cache_clear()


@given(
    second=st.integers(-(2**31), 2**34),
    fraction=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.9999995, 0.0000005, 0.9995, 0.0005, 0.49999, 0.0000015])),
)
def test_iso_time_is_datetimes_isoformat_to_the_millisecond(second: int, fraction: float) -> None:
    when = second + fraction
    with _zone("Europe/Paris"):  # summer time, and odd historical offsets
        for utc in (True, False):
            assert iso_time(when, utc) == reference_iso_time(when, utc)
            assert iso_time(-when, utc) == reference_iso_time(-when, utc)
