"""The log view's lines: reads cut anywhere, backward or forward, join into every line exactly once."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from vconsole.tui.log_lines import MAX_LINE, Chunk, LogBoot, split_lines
from vconsole.tui.log_window import LogWindow

LOG = b"".join(b"line %03d \x1b[32mok\x1b[0m\r\n" % i for i in range(200)) + b"prompt$ "
LINE = len(b"line 000 \x1b[32mok\x1b[0m\r\n")
BOOTS = [LogBoot(1, 0, 100.0), LogBoot(2, LOG.index(b"line 120"), 200.0)]


def chunks(lo: int, hi: int, step: int = 37) -> list[Chunk]:
    """Bytes [lo, hi) of LOG as reads of ``step`` bytes, each arriving at its offset's 'time'."""
    return [(at, float(at), LOG[at : min(at + step, hi)]) for at in range(lo, hi, step)]


def texts(lines: list[object]) -> list[str]:
    return [line.text for line in lines]  # type: ignore[attr-defined]


ALL = split_lines(chunks(0, len(LOG)), BOOTS, head_is_line=True, tail_is_end=True, upto=len(LOG))


def test_a_whole_log_is_its_lines_escapes_removed_the_unfinished_last_one_shown() -> None:
    assert texts(ALL.lines)[:2] == ["line 000 ok", "line 001 ok"]
    assert texts(ALL.lines)[-1] == "prompt$ " and ALL.partial
    assert ALL.next == ALL.lines[-1].offset, "a read forward starts at the unfinished line again"
    assert [line.boot for line in ALL.lines[119:121]] == [1, 2]
    assert ALL.lines[5].time == float(ALL.lines[5].offset // 37 * 37), "a line's time is its first byte's read"


def test_a_read_starting_mid_line_leaves_the_piece_to_the_next_older_read() -> None:
    mid = LOG.index(b"line 050") + 3
    split = split_lines(chunks(mid, len(LOG)), BOOTS, head_is_line=False, tail_is_end=True, upto=len(LOG))
    assert split.lines[0].text == "line 051 ok" and split.first == LOG.index(b"line 051")
    kept = split_lines(chunks(mid, len(LOG)), BOOTS, head_is_line=True, tail_is_end=True, upto=len(LOG))
    assert kept.lines[0].text == "e 050 ok"


def test_a_read_not_at_the_end_leaves_its_unfinished_line_for_the_next() -> None:
    cut = LOG.index(b"line 010") + 4
    split = split_lines(chunks(0, cut), BOOTS, head_is_line=True, tail_is_end=False, upto=cut)
    assert texts(split.lines)[-1] == "line 009 ok" and not split.partial
    assert split.next == LOG.index(b"line 010")


def test_text_is_safe_and_long_lines_are_cut() -> None:
    data = b"\x1b]0;owned\x07title \x1b[2Jx\x9b31m\xe2\x80\xaeevil\r\n" + b"a" * (MAX_LINE + 10) + b"\n"
    split = split_lines([(0, 1.0, data)], [], head_is_line=True, tail_is_end=True, upto=len(data))
    first = split.lines[0].text
    assert "\x1b" not in first and "\u202e" not in first and first.startswith("title x")
    assert [len(line.text) for line in split.lines[1:]] == [MAX_LINE, 10]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=2 * LINE, max_value=len(LOG)), min_size=1, max_size=40), st.booleans())
def test_reads_of_any_size_give_every_line_once(sizes: list[int], backward: bool) -> None:
    """A window opened at the end and read backward (or at the start and read forward), reads of any size."""
    window = LogWindow()
    window.bounds(0, len(LOG), BOOTS)
    reads = itertools.cycle(sizes)
    if backward:
        lo = max(0, len(LOG) - next(reads))
        window.replace(split_lines(chunks(lo, len(LOG)), BOOTS, head_is_line=lo == 0, tail_is_end=True,
                                   upto=len(LOG)))
        while not window.at_top:
            lo = max(0, window.start - next(reads))
            window.prepend(split_lines(chunks(lo, window.start), BOOTS, head_is_line=lo == 0, tail_is_end=False,
                                       upto=window.start))
    else:
        hi = min(len(LOG), next(reads))
        window.replace(split_lines(chunks(0, hi), BOOTS, head_is_line=True, tail_is_end=hi == len(LOG), upto=hi))
        while not window.at_bottom:
            hi = min(len(LOG), window.next + next(reads))
            window.append(split_lines(chunks(window.next, hi), BOOTS, head_is_line=True,
                                      tail_is_end=hi == len(LOG), upto=hi))
    assert [(line.offset, line.text) for line in window.lines] == [(line.offset, line.text) for line in ALL.lines]


def test_a_line_longer_than_a_read_is_shown_in_pieces_and_reading_goes_on() -> None:
    data = b"x" * 100 + b"\n"
    back = split_lines([(40, 1.0, data[40:90])], [], head_is_line=False, tail_is_end=False, upto=90)
    assert texts(back.lines) == ["x" * 50] and back.first == 40
    forward = split_lines([(0, 1.0, data[:50])], [], head_is_line=True, tail_is_end=False, upto=50)
    assert texts(forward.lines) == ["x" * 50] and forward.next == 50


def test_find_from_anywhere() -> None:
    window = LogWindow()
    window.replace(ALL)
    count = len(ALL.lines)
    assert window.find("line 199", count + 50, older=True) == 199  # from below the last line: all of it
    assert window.find("line 000", -30, older=False) == 0
    assert window.find("LINE 000", count, older=True) is None, "capitals match exactly"
    assert window.find("Line 000".lower(), 1, older=True) == 0
