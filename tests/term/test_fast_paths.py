"""The bulk paths (log lines, CSI-dense output) leave exactly the general path's state.

``vconsole.term.terminal.FAST_PATHS = False`` sends everything through the
token-by-token loop; the same stream, fed with and without the bulk paths
(and cut at arbitrary feed boundaries), must give the same terminal.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.term import streams
from vconsole.term import dense, terminal
from vconsole.term.lines import LazyRow
from vconsole.term.screen import PackedLine
from vconsole.term.terminal import Terminal


@contextmanager
def general_path() -> Iterator[None]:
    """Turn the bulk paths off for the duration."""
    terminal.FAST_PATHS = False
    try:
        yield
    finally:
        terminal.FAST_PATHS = True


def snapshot(term: Terminal) -> dict[str, Any]:
    """Everything observable: runs and text read before the cells are built, then the state."""
    rows = [(line.runs(), line.text()) for line in [*term.scrollback, *term.lines]]
    return {"rows": rows, "state": term.to_state(), "screen": term.screen_text(),
            "cursor": term.cursor, "replies": term.read_replies(), "pending": term._pending,
            "dirty": term.changed_rows()}


def run(data: bytes, cuts: list[int], cols: int = 80, rows: int = 24, general: bool = False
        ) -> dict[str, Any]:
    """Feed ``data`` cut at ``cuts`` (offsets) and return :func:`snapshot`."""
    term = Terminal(cols, rows, scrollback=50)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
    if general:
        with general_path():
            for a, b in itertools.pairwise(bounds):
                term.feed(data[a:b])
    else:
        for a, b in itertools.pairwise(bounds):
            term.feed(data[a:b])
    return snapshot(term)


def check(data: bytes, cuts: list[int], cols: int = 80, rows: int = 24) -> None:
    """Fast path == general path, fed whole and fed with the cuts.

    (The general path itself may differ between the two: a malformed
    ``ESC [`` cut off at the end of a feed does not swallow the next ESC.)
    """
    assert run(data, [], cols, rows) == run(data, [], cols, rows, general=True)
    assert run(data, cuts, cols, rows) == run(data, cuts, cols, rows, general=True)


# Sequences the dense path must hand to the general path, or get right itself.
_odd = st.sampled_from([
    "\x1b[", "\x1b[\x1b[5H", "\x1b[1 1q", "\x1b[2 q", "\x1b[!p", "\x1b]2;a\r\nb\x07",
    "\x1b]0;t\x1b\\", "\x9b", "\x1bP1$r\r\n\x1b\\", "\x1b[?25l", "\x1b[?7l", "\x1b[4h",
    "\x1b[5b", "\x1b[3;4r", "\x1b[?6h", "\x1b[6n", "\x1b(0", "\x1b(B", "\r\n", "\n", "\r",
    "\t", "\x08", "\u4e2d\u6587", "e\u0301", "\x1b[38;2;1;2;3m", "\x1b[48:5:99m", "\x1b[0m",
    "\x1b[<1m", "\x1b[>c", "\x1b7", "\x1b8", "\x1bM", "\x1b[\r1H", "\x1b[12", "\x1bc",
    "\x1b[?6h\x1bc", "\x1b#8", "\x1b]0;t", "\x1bP1", "\x1b[1", "\x1b 1",
])
_short = st.text(alphabet="abcdefghij XYZ.", min_size=1, max_size=12)
dense_token = st.one_of(streams.cursor_move, streams.cursor_move, streams.edit, streams.sgr,
                        streams.sgr, streams.margins, streams.modes, _short, _short, _odd)
dense_stream = st.lists(dense_token, min_size=8, max_size=120).map("".join)
log_stream = st.lists(st.one_of(streams.log_burst, streams.log_line.map(lambda s: s + "\r\n"),
                                dense_token), min_size=1, max_size=12).map("".join)
cuts = st.lists(st.integers(0, 4000), max_size=6)
_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(dense_stream, cuts)
def test_dense_streams(text: str, at: list[int]) -> None:
    check(text.encode(), at)


@_settings
@given(log_stream, cuts)
def test_log_streams(text: str, at: list[int]) -> None:
    check(text.encode(), at)


@_settings
@given(streams.tokens.map("".join), cuts)
def test_mixed_streams(text: str, at: list[int]) -> None:
    check(text.encode(), at)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dense_stream, st.integers(1, 12), st.integers(1, 6))
def test_small_screens(text: str, cols: int, rows: int) -> None:
    check(text.encode(), [len(text) // 2], cols, rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log_stream, st.integers(1, 30), st.integers(1, 6), cuts)
def test_small_screens_logs(text: str, cols: int, rows: int, at: list[int]) -> None:
    check(text.encode(), at, cols, rows)


def test_benchmark_streams_match() -> None:
    """The three benchmark streams, 60 KB each, in 16 KiB feeds (as the benchmark)."""
    from benchmarks import engine

    rng = random.Random(7)
    for make in (engine.plain_text, engine.sgr_heavy, engine.cursor_addressing):
        data = make(60000, rng)
        at = list(range(16384, len(data), 16384))
        check(data, at)


# -- unit tests ---------------------------------------------------------------


def test_is_dense() -> None:
    assert dense.is_dense("\x1b[H" * 8) == 8
    assert dense.is_dense("\x1b[H" * 7) == 0  # too few to be worth it
    assert dense.is_dense("\x1b[H" * 8 + "x" * 300) == 0  # mostly text


def test_dense_cursor_stream() -> None:
    term = Terminal(20, 5)
    term.process_tokens("")  # nothing
    dense.process_dense(term, "\x1b[2;3Habc\x1b[1;1Hxy\x1b[K\x1b[3;5H\x1b[7mrev\x1b[m"
                              "\x1b[2A\x1b[4Cz\x1b[3;1H\x1b[2X\x1b[1P\x1b[2@q")
    assert term.screen_text() == ["xy" + " " * 9 + "z", "  abc", "q    rev", "", ""]
    assert term.cursor == (1, 2)
    assert term.lines[2].styles[5] != 0 and term.lines[2].styles[8] == 0


def test_dense_falls_back_on_malformed_csi() -> None:
    # "ESC [ ESC [" is one malformed sequence: "5H" after it is text.
    text = "\x1b[1;1H" * 8 + "\x1b[\x1b[5Hok"
    term = Terminal(20, 5)
    dense.process_dense(term, text)
    assert term.screen_text()[0] == "5Hok"


def test_dense_sgr_line_and_lf() -> None:
    term = Terminal(20, 3)
    dense.process_dense(term, "\x1b[1;31mred\x1b[0m \x1b[42mgreen\x1b[m\r\n\x1b[2;19r\x1b[2;1H\nx")
    assert term.screen_text()[:2] == ["red green", ""]
    assert term.cursor == (1, 2)


def test_coloured_log_rows_stay_lazy_until_read() -> None:
    lines = "".join(f"\x1b[3{i % 8}mline {i}\x1b[0m tail\r\n" for i in range(60))
    fast = Terminal(20, 5, scrollback=100)
    fast.feed(("\x1b[5;1H" + lines).encode())
    assert any(isinstance(line, LazyRow) for line in fast.scrollback)
    assert all(isinstance(line, PackedLine) for line in list(fast.scrollback)[6:])
    with general_path():
        slow = Terminal(20, 5, scrollback=100)
        slow.feed(("\x1b[5;1H" + lines).encode())
    assert snapshot(fast) == snapshot(slow)


def test_bulk_lines_skip_crlf_inside_a_string() -> None:
    # The first CRLF is inside an OSC title: the bulk path must not start there.
    text = "\x1b]2;a\r\nb\x07" + "".join(f"l{i}\r\n" for i in range(30))
    check(("\x1b[24;1H" + text).encode(), [])


def test_dense_after_full_reset_in_text() -> None:
    # RIS (ESC c, in the text after a CSI) replaces the modes: origin mode set
    # after it must still apply to CUP.
    text = "\x1b[1;1Hx\x1bc" + "\x1b[5;10r\x1b[?6h\x1b[2;3Hy" + "\x1b[1;1H" * 8
    check(text.encode(), [])


def test_recorded_programs() -> None:
    """Real programs' output (tests/fixtures/term), whole and in small feeds."""
    from pathlib import Path

    fixtures = sorted((Path(__file__).parent.parent / "fixtures" / "term").glob("*.bin"))
    assert fixtures
    for path in fixtures:
        data = path.read_bytes()
        check(data, list(range(997, len(data), 997)))


def test_bulk_lines_heads_with_escapes() -> None:
    # What precedes the first CRLF decides whether it is a real line end.
    lines = "".join(f"\x1b[3{i % 8}ml{i}\x1b[m\r\n" for i in range(30))
    for head in ("\x1b[1mab", "\x1b[\x1b[0mab", "\x1b[1", "\x1b[1 ", "\x1b 1", "\x1b]0;t",
                 "\x1bP1", "\x1b[?", "x\x1b", "\x1b[5;5H\x1b[2Kz"):
        check(("\x1b[24;1H" + head + "\r\n" + lines).encode(), [])
        check(("\x1b[24;1H" + head + "\r\n" + lines).encode(), [3, 9, 40])


def test_bulk_lines_around_odd_lines() -> None:
    # Lines with a tab, an SGR between CR and LF, or another escape go to the
    # general path; the lines around them are still written in bulk.
    odd = {3: "a\tb", 10: "c\r\x1b[0m\nd", 11: "\x1b[2Kx", 30: "\x1b]0;t\x07y"}
    for chosen in ([3], [10], [11], [30], [3, 10, 11, 30]):
        lines = [f"\x1b[3{i % 8}ml{i}\x1b[m" for i in range(40)]
        for n in chosen:
            lines[n] = odd[n]
        data = ("\x1b[24;1H" + "".join(line + "\r\n" for line in lines)).encode()
        check(data, [])
        check(data, [50, 200, 333])
