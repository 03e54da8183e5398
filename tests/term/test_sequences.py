"""Unit tests for each family of control sequences."""

from __future__ import annotations

import pytest

from tests.term.helpers import run

# -- C0 controls ---------------------------------------------------------------

def test_backspace_and_tab() -> None:
    term = run("abc\x08\x08X\tY", cols=20)
    assert term.screen_text()[0] == "aXc     Y"
    assert term.cursor == (9, 0)


def test_backspace_stops_at_left_margin() -> None:
    assert run("\x08\x08a").screen_text()[0] == "a"


def test_backspace_from_pending_wrap_goes_left_of_last_column() -> None:
    term = run("0123456789\x08X")  # xterm; tmux writes at the last column
    assert term.screen_text()[0] == "01234567X9"


def test_linefeed_keeps_column_and_vt_ff_act_like_lf() -> None:
    term = run("ab\ncd\x0be\x0cf")
    assert term.screen_text()[:4] == ["ab", "  cd", "    e", "     f"]


def test_lnm_makes_lf_return_to_column_zero() -> None:
    assert run("\x1b[20hab\ncd").screen_text()[:2] == ["ab", "cd"]


def test_bel_nul_del_print_nothing() -> None:
    assert run("a\x07\x00\x7fb").screen_text()[0] == "ab"


# -- cursor movement -------------------------------------------------------------

@pytest.mark.parametrize(("seq", "pos"), [
    ("\x1b[2A", (5, 0)), ("\x1b[A", (5, 1)), ("\x1b[9B", (5, 4)), ("\x1b[2C", (7, 2)),
    ("\x1b[99C", (9, 2)), ("\x1b[3D", (2, 2)), ("\x1b[E", (0, 3)), ("\x1b[2F", (0, 0)),
    ("\x1b[4G", (3, 2)), ("\x1b[H", (0, 0)), ("\x1b[2;3H", (2, 1)), ("\x1b[2;3f", (2, 1)),
    ("\x1b[;4H", (3, 0)), ("\x1b[4d", (5, 3)), ("\x1b[3`", (2, 2)), ("\x1b[2a", (7, 2)),
    ("\x1b[e", (5, 3)), ("\x1b[99;99H", (9, 4)), ("\x1b[0A", (5, 1)),
])
def test_cursor_movement(seq: str, pos: tuple[int, int]) -> None:
    assert run("\x1b[3;6H" + seq).cursor == pos


def test_cursor_up_down_stop_at_margins_inside_region() -> None:
    assert run("\x1b[2;4r\x1b[3;1H\x1b[9A").cursor == (0, 1)
    assert run("\x1b[2;4r\x1b[3;1H\x1b[9B").cursor == (0, 3)
    # From below the region, up still stops at the top margin (xterm).
    assert run("\x1b[2;3r\x1b[5;1H\x1b[9A").cursor == (0, 1)


def test_origin_mode_positions_relative_to_region() -> None:
    term = run("\x1b[2;4r\x1b[?6h\x1b[1;1HA\x1b[9;1HB")
    assert term.screen_text()[1] == "A"
    assert term.screen_text()[3] == "B"
    term.feed(b"\x1b[6n")
    assert term.read_replies() == b"\x1b[3;2R"


def test_decstbm_homes_cursor_and_rejects_bad_regions() -> None:
    term = run("\x1b[3;3Hx\x1b[2;4r")
    assert term.cursor == (0, 0)
    assert (term.top, term.bottom) == (1, 3)
    term.feed(b"\x1b[4;2r")
    assert (term.top, term.bottom) == (1, 3)
    term.feed(b"\x1b[r")
    assert (term.top, term.bottom) == (0, 4)


def test_save_restore_cursor_with_attributes_and_charset() -> None:
    term = run("\x1b[2;3H\x1b[1m\x1b(0\x1b7\x1b[m\x1b(B\x1b[5;5H\x1b8q")
    assert term.screen_text()[1] == "  ─"
    assert term.lines[1].styles[2] != 0


def test_csi_s_u_save_restore() -> None:
    assert run("\x1b[2;3H\x1b[s\x1b[5;5H\x1b[uX").screen_text()[1] == "  X"


def test_tab_stops_set_and_clear() -> None:
    term = run("\x1b[3g\x1b[4G\x1bH\x1b[8G\x1bH\r\tA\tB\tC", cols=20)
    assert term.screen_text()[0] == "   A   B           C"
    term = run("\t\x1b[g\r\t\tX", cols=20)  # clear the stop at 8
    assert term.screen_text()[0] == "                   X"


def test_cht_and_cbt() -> None:
    term = run("\x1b[2IA\x1b[Z\x1b[ZB", cols=30)
    assert term.screen_text()[0] == "        B       A"


# -- erase and edit ---------------------------------------------------------------

FULL = "".join(f"\x1b[{y};1H{chr(96 + y) * 10}" for y in range(1, 6)) + "\x1b[3;5H"


@pytest.mark.parametrize(("seq", "rows"), [
    ("\x1b[K", ["bbbbbbbbbb", "cccc", "dddddddddd"]),
    ("\x1b[1K", ["bbbbbbbbbb", "     ccccc", "dddddddddd"]),
    ("\x1b[2K", ["bbbbbbbbbb", "", "dddddddddd"]),
    ("\x1b[J", ["bbbbbbbbbb", "cccc", ""]),
    ("\x1b[1J", ["", "     ccccc", "dddddddddd"]),
    ("\x1b[2J", ["", "", ""]),
    ("\x1b[3X", ["bbbbbbbbbb", "cccc   ccc", "dddddddddd"]),
    ("\x1b[2P", ["bbbbbbbbbb", "cccccccc", "dddddddddd"]),
    ("\x1b[2@", ["bbbbbbbbbb", "cccc  cccc", "dddddddddd"]),
    ("\x1b[L", ["bbbbbbbbbb", "", "cccccccccc"]),
    ("\x1b[M", ["bbbbbbbbbb", "dddddddddd", "eeeeeeeeee"]),
    ("\x1b[S", ["cccccccccc", "dddddddddd", "eeeeeeeeee"]),
    ("\x1b[T", ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"]),
])
def test_erase_and_edit(seq: str, rows: list[str]) -> None:
    assert run(FULL + seq).screen_text()[1:4] == rows


def test_erase_uses_background_colour_only() -> None:
    term = run("\x1b[1;4;41mab\x1b[K")
    style = term.lines[0].styles[5]
    from vconsole.term import sgr

    decoded = sgr.decode_style(style)
    assert decoded.bg.kind == "palette" and decoded.bg.value == 1
    assert not decoded.bold and not decoded.underline


def test_ed3_clears_scrollback_only() -> None:
    term = run("1\r\n2\r\n3\r\n4\r\n5\r\n6\r\n7", rows=3)
    assert len(term.scrollback) == 4
    term.feed(b"\x1b[3J")
    assert len(term.scrollback) == 0
    assert term.screen_text() == ["5", "6", "7"]


def test_delete_characters_through_a_wide_character() -> None:
    term = run("a中b\x1b[1;3H\x1b[P")
    assert term.lines[0].chars[:3] == ["a", " ", "b"]


def test_il_dl_respect_region_and_ignore_outside() -> None:
    term = run(FULL + "\x1b[2;4r\x1b[2;1H\x1b[L")
    assert term.screen_text() == ["aaaaaaaaaa", "", "bbbbbbbbbb", "cccccccccc", "eeeeeeeeee"]
    term = run(FULL + "\x1b[2;4r\x1b[5;1H\x1b[L")
    assert term.screen_text()[4] == "eeeeeeeeee"


# -- scrolling ---------------------------------------------------------------------

def test_index_and_reverse_index_in_region() -> None:
    term = run(FULL + "\x1b[2;4r\x1b[4;1H\x1bD")
    assert term.screen_text() == ["aaaaaaaaaa", "cccccccccc", "dddddddddd", "", "eeeeeeeeee"]
    assert len(term.scrollback) == 0
    term = run(FULL + "\x1b[2;4r\x1b[2;1H\x1bM")
    assert term.screen_text() == ["aaaaaaaaaa", "", "bbbbbbbbbb", "cccccccccc", "eeeeeeeeee"]


def test_nel_is_cr_lf() -> None:
    assert run("ab\x1bEc").screen_text()[:2] == ["ab", "c"]


def test_reverse_index_at_top_of_screen_scrolls_down() -> None:
    assert run("a\x1b[H\x1bMb").screen_text()[:2] == ["b", "a"]


def test_scrollback_limit() -> None:
    term = run("".join(f"{i}\r\n" for i in range(30)), rows=3, scrollback=5)
    assert [line.text() for line in term.scrollback] == ["23", "24", "25", "26", "27"]


# -- unknown, malformed and split sequences -----------------------------------------

@pytest.mark.parametrize("seq", [
    "\x1b[?999h", "\x1b[5;6;7y", "\x1b[>4;2m", "\x1b]52;c;aGVsbG8=\x07", "\x1bP+q544e\x1b\\",
    "\x1b_apc\x1b\\", "\x1b^pm\x1b\\", "\x1bXsos\x1b\\", "\x1b%G", "\x1b[1$p", "\x1b[=1c",
    "\x1b[2 q", "\x1b[8;30;100t", "\x1bZ", "\x1bN", "\x1b[?2026h", "\x1b]8;;http://x\x1b\\",
    "\x1b[1\x05m",
])
def test_unknown_sequences_print_nothing(seq: str) -> None:
    term = run("a" + seq + "b")
    assert term.screen_text()[0] == "ab"


def test_malformed_escape_is_dropped() -> None:
    assert run("a\x1b\x1b[1mb").screen_text()[0] == "ab"
    assert run("a\x1b]2;x\x1b[1mb").screen_text()[0] == "ab"


@pytest.mark.parametrize("seq", ["\x1b[38;2;10;20;30m", "\x1b]2;a title\x1b\\", "\x1b[?1049h",
                                 "\x1bP1$r\x1b\\", "\x1b(0"])
def test_sequence_split_at_every_byte(seq: str) -> None:
    data = ("x" + seq + "y").encode()
    whole = run(data)
    for cut in range(1, len(data)):
        term = run(data[:cut])
        term.feed(data[cut:])
        assert term.to_state() == whole.to_state(), cut


def test_unterminated_string_stays_bounded_and_is_swallowed() -> None:
    term = run("a\x1bP" + "q" * 200_000)
    term.feed(b"more\x1b\\b")
    assert term.screen_text()[0] == "ab"
    assert len(term._pending) == 0


# -- titles, replies, resets ----------------------------------------------------------

def test_osc_titles() -> None:
    term = run("\x1b]0;both\x07")
    assert (term.title, term.icon_title) == ("both", "both")
    term.feed(b"\x1b]2;window\x1b\\\x1b]1;icon\x07")
    assert (term.title, term.icon_title) == ("window", "icon")
    term.feed("\x1b]2;caf\u00e9 \u4e2d\x07".encode())
    assert term.title == "caf\u00e9 \u4e2d"


def test_device_status_and_attributes_replies() -> None:
    term = run("\x1b[2;3H\x1b[6n\x1b[5n\x1b[c")
    assert term.read_replies() == b"\x1b[2;3R\x1b[0n\x1b[?1;2c"
    assert term.read_replies() == b""


def test_ris_resets_screen_modes_and_title() -> None:
    term = run("\x1b]2;t\x07\x1b[?1h\x1b[31mabc\x1b[2;3r\x1bc")
    assert term.screen_text() == [""] * 5
    assert term.title == "" and not term.modes.app_cursor
    assert (term.top, term.bottom, term.style, term.cursor) == (0, 4, 0, (0, 0))


def test_decstr_soft_reset_keeps_screen() -> None:
    term = run("abc\x1b[?7l\x1b[4h\x1b[1m\x1b[2;3r\x1b[?6h\x1b[?25l\x1b[!p")
    assert term.screen_text()[0] == "abc"
    m = term.modes
    assert m.autowrap and not m.insert and not m.origin and m.cursor_visible
    assert (term.top, term.bottom, term.style) == (0, 4, 0)


def test_decaln_fills_with_e() -> None:
    assert run("\x1b#8").screen_text() == ["E" * 10] * 5
