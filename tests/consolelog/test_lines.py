"""Lines of a console log: assembled across reads, with times and boots; text for reading."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.lines import LineAssembler, LogLine, json_line, log_lines, reading_text
from vconsole.consolelog.reader import Boot, LogChunk


def _chunks(data: bytes, cuts: list[int], start: int = 100) -> list[LogChunk]:
    """``data`` from ``start`` split at ``cuts``, each piece at time = its index."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    return [LogChunk(start + a, data[a:b], float(i)) for i, (a, b) in enumerate(itertools.pairwise(bounds))]


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
