"""Printing: runs, autowrap with pending-wrap semantics, wide and combining characters, UTF-8."""

from __future__ import annotations

import pytest

from tests.term.helpers import run
from vconsole.term.terminal import Terminal


def test_plain_run_and_cursor() -> None:
    term = run("hello")
    assert term.screen_text()[0] == "hello"
    assert term.cursor == (5, 0)


def test_screen_text_strips_trailing_blanks_only() -> None:
    term = run("  a  b   ")
    assert term.screen_text()[0] == "  a  b"


def test_pending_wrap_holds_cursor_at_last_column() -> None:
    term = run("0123456789")
    assert term.cursor == (9, 0)
    assert term.wrap
    term.feed(b"X")
    assert term.screen_text()[:2] == ["0123456789", "X"]
    assert term.lines[0].wrapped


def test_cr_cancels_pending_wrap() -> None:
    term = run("0123456789\rX")
    assert term.screen_text()[:2] == ["X123456789", ""]


def test_long_run_wraps_over_several_rows() -> None:
    term = run("a" * 25)
    assert term.screen_text()[:3] == ["a" * 10, "a" * 10, "a" * 5]
    assert term.cursor == (5, 2)


def test_wrap_at_bottom_scrolls_into_scrollback() -> None:
    term = run("x" * 10 * 6, rows=5)
    assert len(term.scrollback) == 1
    assert term.scrollback[0].text() == "x" * 10


def test_no_autowrap_overwrites_last_column() -> None:
    term = run("\x1b[?7l0123456789ABC")
    assert term.screen_text()[:2] == ["012345678C", ""]
    assert term.cursor == (9, 0)
    assert not term.wrap


def test_lines_fast_path_matches_slow_path() -> None:
    text = "".join(f"line {i} " + "w" * (i % 23) + "\r\n" for i in range(40))
    fast = run(text, rows=5)
    slow = Terminal(10, 5, scrollback=100)
    for ch in text:  # one character per feed never takes the many-lines path
        slow.feed(ch.encode())
    assert fast.to_state() == slow.to_state()


def test_lines_fast_path_in_scroll_region_keeps_outside_rows() -> None:
    term = run("top\x1b[2;4r\x1b[4;1H" + "a\r\nb\r\nc\r\nd\r\n", rows=5)
    assert term.screen_text()[0] == "top"
    assert term.screen_text()[1:4] == ["c", "d", ""]
    assert len(term.scrollback) == 0


def test_wide_characters_take_two_cells_and_count_once() -> None:
    term = run("a中b")
    assert term.screen_text()[0] == "a中b"
    assert term.lines[0].chars[:4] == ["a", "中", "", "b"]
    assert term.cursor == (4, 0)


def test_wide_character_at_last_column_wraps_first() -> None:
    term = run("123456789中")
    assert term.screen_text()[:2] == ["123456789", "中"]
    assert term.cursor == (2, 1)


def test_overwriting_half_a_wide_character_blanks_the_other_half() -> None:
    term = run("中文\x1b[1;2Hx")
    assert term.lines[0].chars[:4] == [" ", "x", "文", ""]
    term = run("中文\x1b[1;1Hx")
    assert term.lines[0].chars[:2] == ["x", " "]


def test_emoji_is_wide() -> None:
    term = run("\U0001f600x")
    assert term.cursor == (3, 0)
    assert term.screen_text()[0] == "\U0001f600x"


def test_combining_marks_join_previous_cell() -> None:
    term = run("e\u0301a\u0308")
    assert term.lines[0].chars[:2] == ["e\u0301", "a\u0308"]
    assert term.cursor == (2, 0)
    assert term.screen_text()[0] == "e\u0301a\u0308"


def test_combining_mark_after_wide_character_joins_it() -> None:
    term = run("中\u0301")
    assert term.lines[0].chars[:2] == ["中\u0301", ""]


def test_combining_mark_with_pending_wrap_joins_last_column() -> None:
    term = run("123456789e\u0301")
    assert term.lines[0].chars[9] == "e\u0301"
    assert term.wrap


def test_utf8_split_across_feeds() -> None:
    data = "é中\U0001f600".encode()
    term = Terminal(10, 2)
    for i in range(len(data)):
        term.feed(data[i:i + 1])
    assert term.screen_text()[0] == "é中\U0001f600"


def test_invalid_utf8_becomes_replacement_character() -> None:
    term = run(b"a\xffb")
    assert term.screen_text()[0] == "a\ufffdb"


def test_dec_line_drawing_charset() -> None:
    term = run("\x1b(0lqk\x1b(Bq")
    assert term.screen_text()[0] == "┌─┐q"


def test_shift_out_uses_g1() -> None:
    term = run("\x1b)0x\x0ex\x0fx")
    assert term.screen_text()[0] == "x│x"


def test_insert_mode_shifts_text_right() -> None:
    term = run("abcdef\r\x1b[4hXY\x1b[4lZ")
    assert term.screen_text()[0] == "XYZbcdef"


def test_rep_repeats_last_character() -> None:
    assert run("ab\x1b[3b").screen_text()[0] == "abbbb"


def test_rep_only_right_after_a_character() -> None:
    assert run("ab\x1b[1m\x1b[3b").screen_text()[0] == "ab"


def test_rep_wraps() -> None:
    assert run("x\x1b[12b").screen_text()[:2] == ["x" * 10, "xxx"]


def test_rows_scrolled_off_in_one_feed_read_like_others() -> None:
    text = "\x1b[44m" + "".join(f"row {i}\x1b[m\r\n\x1b[44m" for i in range(3)) + "\x1b[m"
    text += "".join(f"plain {i} " + "x" * (i % 15) + "\r\n" for i in range(60))
    fast = run(text, rows=4)
    slow = Terminal(10, 4, scrollback=100)
    for ch in text:
        slow.feed(ch.encode())
    assert [line.runs() for line in fast.scrollback] == [line.runs() for line in slow.scrollback]
    assert [line.text() for line in fast.scrollback] == [line.text() for line in slow.scrollback]
    assert [line.wrapped for line in fast.scrollback] == [line.wrapped for line in slow.scrollback]
    assert fast.to_state() == slow.to_state()


@pytest.mark.parametrize("sgr", ["41", "1;41", "4"])
def test_lines_with_attributes_scroll_off_with_them(sgr: str) -> None:
    text = f"\x1b[{sgr}m" + "".join(f"r{i}" + "y" * (i % 12) + "\r\n" for i in range(30))
    fast = run(text, rows=4)
    slow = Terminal(10, 4, scrollback=100)
    for ch in text:
        slow.feed(ch.encode())
    assert [line.runs() for line in fast.scrollback] == [line.runs() for line in slow.scrollback]
    assert fast.to_state() == slow.to_state()


def test_coloured_lines_fast_path_matches_slow_path() -> None:
    # Colours change mid-line, across wraps and at line ends (the erase colour
    # of the next scrolled-in row); some lines are empty or exactly full.
    lines = ["\x1b[31mred\x1b[0m plain", "", "\x1b[44mblue bg to the end", "x" * 10,
             "\x1b[1;32mbold green wraps over the edge\x1b[m", "\x1b[38;2;1;2;3mrgb\x1b[48:5:9m",
             "tail\x1b[0m", "\x1b[7m" + "y" * 20, "\x1b[m\x1b[4mu\x1b[24mn"]
    text = "".join(line + "\r\n" for line in lines * 4) + "end"
    fast = run(text, rows=4)
    slow = Terminal(10, 4, scrollback=100)
    for ch in text:
        slow.feed(ch.encode())
    assert [line.runs() for line in fast.scrollback] == [line.runs() for line in slow.scrollback]
    assert [line.text() for line in fast.scrollback] == [line.text() for line in slow.scrollback]
    assert fast.to_state() == slow.to_state()


def test_rep_after_combining_mark_does_nothing() -> None:
    assert run("e\u0301\x1b[3b").screen_text()[0] == "e\u0301"


def test_rep_repeats_wide_character() -> None:
    assert run("\u4e2d\x1b[2b").screen_text()[0] == "\u4e2d\u4e2d\u4e2d"
