"""SGR attributes and colours; modes; alternate screen; rows, runs and changes for the TUI."""

from __future__ import annotations

import pytest

from tests.term.helpers import cell_style, run
from vconsole.term import sgr
from vconsole.term.sgr import Color


@pytest.mark.parametrize(("param", "attr"), [
    ("1", "bold"), ("2", "dim"), ("3", "italic"), ("4", "underline"), ("5", "blink"),
    ("7", "reverse"), ("8", "hidden"), ("9", "strike"), ("4:3", "underline"), ("21", "underline"),
])
def test_sgr_attributes_set_and_reset(param: str, attr: str) -> None:
    term = run(f"\x1b[{param}mA\x1b[0mB")
    assert getattr(cell_style(term, 0, 0), attr)
    assert not getattr(cell_style(term, 1, 0), attr)


@pytest.mark.parametrize(("on", "off", "attr"), [
    ("1", "22", "bold"), ("2", "22", "dim"), ("3", "23", "italic"), ("4", "24", "underline"),
    ("4", "4:0", "underline"), ("5", "25", "blink"), ("7", "27", "reverse"),
    ("8", "28", "hidden"), ("9", "29", "strike"),
])
def test_sgr_attribute_specific_off(on: str, off: str, attr: str) -> None:
    term = run(f"\x1b[1;{on}mA\x1b[{off}mB")
    assert getattr(cell_style(term, 0, 0), attr)
    assert not getattr(cell_style(term, 1, 0), attr)


@pytest.mark.parametrize(("seq", "fg", "bg"), [
    ("31", Color("palette", 1), Color("default")),
    ("97;44", Color("palette", 15), Color("palette", 4)),
    ("102", Color("default"), Color("palette", 10)),
    ("38;5;196", Color("palette", 196), Color("default")),
    ("38:5:17;48:5:18", Color("palette", 17), Color("palette", 18)),
    ("38;2;1;2;3", Color("rgb", 0x010203), Color("default")),
    ("48;2;255;128;0", Color("default"), Color("rgb", 0xFF8000)),
    ("38:2::10:20:30", Color("rgb", 0x0A141E), Color("default")),
    ("38:2:10:20:30", Color("rgb", 0x0A141E), Color("default")),
    ("31;39", Color("default"), Color("default")),
    ("41;49", Color("default"), Color("default")),
    ("38;5;300", Color("default"), Color("default")),  # out of range: ignored
    ("38;2;1;2", Color("default"), Color("default")),  # truncated: ignored
])
def test_sgr_colours(seq: str, fg: Color, bg: Color) -> None:
    style = cell_style(run(f"\x1b[{seq}mX"), 0, 0)
    assert (style.fg, style.bg) == (fg, bg)


def test_sgr_colour_then_more_params_in_same_sequence() -> None:
    style = cell_style(run("\x1b[38;5;100;1;48;2;9;8;7;4mX"), 0, 0)
    assert style.fg == Color("palette", 100) and style.bg == Color("rgb", 0x090807)
    assert style.bold and style.underline


def test_empty_sgr_resets() -> None:
    assert run("\x1b[1;31m\x1b[mX").lines[0].styles[0] == sgr.DEFAULT


def test_rgb_accessor() -> None:
    assert Color("rgb", 0x102030).rgb == (0x10, 0x20, 0x30)


# -- modes -------------------------------------------------------------------------

@pytest.mark.parametrize(("seq", "attr", "value"), [
    ("\x1b[?1h", "app_cursor", True), ("\x1b[?2004h", "bracketed_paste", True),
    ("\x1b[?25l", "cursor_visible", False), ("\x1b[?1000h", "mouse_tracking", 1000),
    ("\x1b[?1002h", "mouse_tracking", 1002), ("\x1b[?1003h", "mouse_tracking", 1003),
    ("\x1b[?9h", "mouse_tracking", 9), ("\x1b[?1006h", "mouse_encoding", 1006),
    ("\x1b[?1005h", "mouse_encoding", 1005), ("\x1b[?1015h", "mouse_encoding", 1015),
    ("\x1b[?1004h", "focus_events", True), ("\x1b=", "app_keypad", True),
    ("\x1b[?5h", "reverse_video", True), ("\x1b[?12h", "cursor_blink", True),
    ("\x1b[4 q", "cursor_shape", 4), ("\x1b[4h", "insert", True), ("\x1b[20h", "newline", True),
])
def test_modes_recorded(seq: str, attr: str, value: object) -> None:
    term = run(seq)
    assert getattr(term.modes, attr) == value
    off = seq.replace("h", "l") if seq.endswith("h") else None
    if off:
        term.feed(off.encode())
        assert getattr(term.modes, attr) in (False, 0)


def test_several_modes_in_one_sequence() -> None:
    term = run("\x1b[?1000;1006;2004h")
    m = term.modes
    assert (m.mouse_tracking, m.mouse_encoding, m.bracketed_paste) == (1000, 1006, True)


@pytest.mark.parametrize("mode", ["47", "1047", "1049"])
def test_alternate_screen_keeps_main_screen(mode: str) -> None:
    term = run(f"main\x1b[?{mode}h")
    assert term.modes.alt_screen
    assert term.screen_text()[0] == ""
    term.feed(b"alt text")
    term.feed(f"\x1b[?{mode}l".encode())
    assert not term.modes.alt_screen
    assert term.screen_text()[0] == "main"


def test_1049_saves_and_restores_cursor() -> None:
    term = run("ab\x1b[?1049h\x1b[4;4Hx\x1b[?1049lc")
    assert term.screen_text()[0] == "abc"


def test_alternate_screen_does_not_feed_scrollback() -> None:
    term = run("\x1b[?1049h" + "x\r\n" * 20)
    assert len(term.scrollback) == 0
    term = run("x\r\n" * 20)
    assert len(term.scrollback) == 16


def test_alternate_screen_is_cleared_on_entry() -> None:
    term = run("\x1b[?1049hjunk\x1b[?1049l\x1b[?1049h")
    assert term.screen_text()[0] == ""


# -- rendering interface -----------------------------------------------------------

def test_row_runs_cover_the_row_with_wide_chars_once() -> None:
    term = run("ab\x1b[31m中c\x1b[m")
    runs = term.row_runs(0)
    assert "".join(text for text, _ in runs) == "ab中c" + " " * 5
    assert [sgr.decode_style(s).fg for _, s in runs] == [
        Color("default"), Color("palette", 1), Color("default")]


def test_changed_rows() -> None:
    term = run("")
    assert term.changed_rows() == set(range(5))
    assert term.changed_rows() == set()
    term.feed(b"\x1b[3;1Hx")
    assert term.changed_rows() == {2}
    term.feed(b"\x1b[5;1H\n")
    assert term.changed_rows() == set(range(5))


def test_resize_keeps_cursor_row_and_content() -> None:
    term = run("".join(f"{i}\r\n" for i in range(4)) + "last", rows=5)
    term.resize(6, 3)
    assert term.screen_text() == ["2", "3", "last"]
    assert term.cursor == (4, 2)
    assert [line.text() for line in term.scrollback][-2:] == ["0", "1"]
    term.resize(12, 6)
    assert term.screen_text()[:3] == ["2", "3", "last"]
    assert (term.cols, term.rows) == (12, 6)
    term.feed(b"\x1b[6;12HZ")
    assert term.screen_text()[5] == " " * 11 + "Z"


def test_resize_cuts_wide_character_at_new_edge() -> None:
    term = run("abc中")
    term.resize(4, 5)
    assert term.lines[0].chars == ["a", "b", "c", " "]


def test_resize_rejects_empty() -> None:
    with pytest.raises(ValueError):
        run("").resize(0, 5)
