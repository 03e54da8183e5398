"""The key encoder: Textual key names to the bytes xterm sends."""

from __future__ import annotations

import pytest

from vconsole.term import Modes
from vconsole.term.keys import KEYS, WHEEL_UP, Form, encode_key, encode_mouse, encode_paste


def modes(**kw: bool) -> Modes:
    m = Modes()
    for k, v in kw.items():
        setattr(m, k, v)
    return m


@pytest.mark.parametrize(("key", "normal", "app"), [
    ("up", b"\x1b[A", b"\x1bOA"), ("down", b"\x1b[B", b"\x1bOB"),
    ("right", b"\x1b[C", b"\x1bOC"), ("left", b"\x1b[D", b"\x1bOD"),
    ("home", b"\x1b[H", b"\x1bOH"), ("end", b"\x1b[F", b"\x1bOF"),
    ("ctrl+up", b"\x1b[1;5A", b"\x1b[1;5A"), ("shift+left", b"\x1b[1;2D", b"\x1b[1;2D"),
    ("alt+right", b"\x1b[1;3C", b"\x1b[1;3C"), ("ctrl+shift+down", b"\x1b[1;6B", b"\x1b[1;6B"),
    ("ctrl+alt+home", b"\x1b[1;7H", b"\x1b[1;7H"), ("shift+end", b"\x1b[1;2F", b"\x1b[1;2F"),
])
def test_cursor_keys_follow_decckm(key: str, normal: bytes, app: bytes) -> None:
    assert encode_key(key) == normal
    assert encode_key(key, modes()) == normal
    assert encode_key(key, modes(app_cursor=True)) == app


@pytest.mark.parametrize(("key", "data"), [
    ("insert", b"\x1b[2~"), ("delete", b"\x1b[3~"), ("pageup", b"\x1b[5~"),
    ("pagedown", b"\x1b[6~"), ("page_up", b"\x1b[5~"), ("shift+pageup", b"\x1b[5;2~"),
    ("ctrl+delete", b"\x1b[3;5~"), ("alt+insert", b"\x1b[2;3~"),
    ("f1", b"\x1bOP"), ("f2", b"\x1bOQ"), ("f3", b"\x1bOR"), ("f4", b"\x1bOS"),
    ("f5", b"\x1b[15~"), ("f6", b"\x1b[17~"), ("f7", b"\x1b[18~"), ("f8", b"\x1b[19~"),
    ("f9", b"\x1b[20~"), ("f10", b"\x1b[21~"), ("f11", b"\x1b[23~"), ("f12", b"\x1b[24~"),
    ("shift+f1", b"\x1b[1;2P"), ("ctrl+f4", b"\x1b[1;5S"), ("shift+f5", b"\x1b[15;2~"),
    ("ctrl+f12", b"\x1b[24;5~"),
])
def test_editing_and_function_keys(key: str, data: bytes) -> None:
    assert encode_key(key) == data
    assert encode_key(key, modes(app_cursor=True)) == data


@pytest.mark.parametrize(("key", "data"), [
    ("enter", b"\r"), ("tab", b"\t"), ("shift+tab", b"\x1b[Z"), ("backspace", b"\x7f"),
    ("ctrl+backspace", b"\x08"), ("escape", b"\x1b"), ("alt+enter", b"\x1b\r"),
    ("alt+backspace", b"\x1b\x7f"), ("alt+escape", b"\x1b\x1b"),
    ("ctrl+a", b"\x01"), ("ctrl+c", b"\x03"), ("ctrl+z", b"\x1a"), ("ctrl+space", b"\x00"),
    ("ctrl+@", b"\x00"), ("ctrl+left_square_bracket", b"\x1b"), ("ctrl+backslash", b"\x1c"),
    ("ctrl+right_square_bracket", b"\x1d"), ("ctrl+circumflex_accent", b"\x1e"),
    ("ctrl+underscore", b"\x1f"), ("alt+x", b"\x1bx"), ("meta+x", b"\x1bx"),
    ("alt+ctrl+a", b"\x1b\x01"), ("a", b"a"), ("A", b"A"), ("shift+a", b"A"), ("space", b" "),
    ("full_stop", b"."), ("exclamation_mark", b"!"), ("slash", b"/"), ("minus", b"-"),
    ("plus", b"+"), ("at", b"@"), ("left_parenthesis", b"("), ("alt+full_stop", b"\x1b."),
])
def test_simple_keys(key: str, data: bytes) -> None:
    assert encode_key(key) == data


def test_character_from_textual_event_wins_for_printables() -> None:
    assert encode_key("eacute", character="\u00e9") == "\u00e9".encode()
    assert encode_key("question_mark", character="?") == b"?"
    assert encode_key("ctrl+a", character="\x01") == b"\x01"


@pytest.mark.parametrize(("key", "character", "data"), [
    # Textual names 0x08 and 0x7f both "backspace"; the character says which was typed.
    ("backspace", "\x08", b"\x08"), ("backspace", "\x7f", b"\x7f"), ("alt+backspace", "\x08", b"\x1b\x08"),
    ("alt+backspace", "\x7f", b"\x1b\x7f"), ("alt+shift+a", "A", b"\x1bA"), ("alt+shift+a", None, b"\x1bA"),
    ("alt+ctrl+a", "\x01", b"\x1b\x01"), ("alt+ctrl+right_square_bracket", "\x1d", b"\x1b\x1d"),
    ("alt+exclamation_mark", "!", b"\x1b!"), ("alt+0", "0", b"\x1b0"), ("alt+tab", "\t", b"\x1b\t"),
    ("alt+space", " ", b"\x1b "), ("alt+ctrl+@", "\x00", b"\x1b\x00"), ("alt+ctrl+j", "\n", b"\x1b\n"),
    # A printable character never stands for a Ctrl key, nor a control character for a plain one.
    ("ctrl+a", "a", b"\x01"), ("x", "\x01", b"x"),
])
def test_keys_as_textual_and_the_alt_parser_report_them(key: str, character: str | None, data: bytes) -> None:
    assert encode_key(key, character=character) == data


@pytest.mark.parametrize("name", sorted(KEYS))
def test_every_named_key_has_all_eight_modifier_combinations(name: str) -> None:
    combos = ["", "shift+", "alt+", "alt+shift+", "ctrl+", "ctrl+shift+", "alt+ctrl+", "alt+ctrl+shift+"]
    sent = [encode_key(mods + name) for mods in combos]
    assert all(sent)
    if KEYS[name].form is not Form.CHAR:  # xterm keeps Ctrl and Shift of Enter/Tab/Escape to itself
        assert len(set(sent)) == len(combos)


def test_unknown_keys_send_nothing() -> None:
    assert encode_key("f99") == b""
    assert encode_key("no_such_key_name") == b""
    assert encode_key("ctrl+eacute") == b""


def test_paste_plain_and_bracketed() -> None:
    assert encode_paste("a\nb\r\nc") == b"a\rb\rc"
    assert encode_paste("x\ny", modes(bracketed_paste=True)) == b"\x1b[200~x\ry\x1b[201~"


def test_bracketed_paste_cannot_be_ended_by_its_content() -> None:
    data = encode_paste("a\x1b[201~rm -rf /\n", modes(bracketed_paste=True))
    assert data.count(b"\x1b[201~") == 1
    assert data.endswith(b"\x1b[201~")


def test_terminal_modes_drive_encoder() -> None:
    from vconsole.term import Terminal

    term = Terminal(10, 3)
    term.feed(b"\x1b[?1h\x1b[?2004h")
    assert encode_key("up", term.modes) == b"\x1bOA"
    assert encode_paste("p", term.modes) == b"\x1b[200~p\x1b[201~"


def mouse(tracking: int, encoding: int = 0) -> Modes:
    m = Modes()
    m.mouse_tracking = tracking
    m.mouse_encoding = encoding
    return m


def test_mouse_off_sends_nothing() -> None:
    assert encode_mouse(0, 1, 1, mouse(0)) == b""


def test_mouse_x10_bytes() -> None:
    assert encode_mouse(0, 0, 0, mouse(1000)) == b"\x1b[M !!"
    assert encode_mouse(2, 9, 4, mouse(1000), ctrl=True) == b"\x1b[M" + bytes((32 + 2 + 16, 42, 37))
    assert encode_mouse(0, 0, 0, mouse(1000), release=True) == b"\x1b[M#!!"
    assert encode_mouse(0, 300, 0, mouse(1000)) == b""


def test_mouse_sgr_encoding() -> None:
    assert encode_mouse(0, 99, 49, mouse(1000, 1006)) == b"\x1b[<0;100;50M"
    assert encode_mouse(0, 99, 49, mouse(1000, 1006), release=True) == b"\x1b[<0;100;50m"
    assert encode_mouse(WHEEL_UP, 0, 0, mouse(1000, 1006)) == b"\x1b[<64;1;1M"


def test_mouse_urxvt_and_utf8_encodings() -> None:
    assert encode_mouse(1, 4, 5, mouse(1000, 1015)) == b"\x1b[33;5;6M"
    assert encode_mouse(0, 200, 0, mouse(1000, 1005)) == "\x1b[M \u00e9!".encode()


def test_mouse_motion_follows_tracking_mode() -> None:
    assert encode_mouse(0, 1, 1, mouse(1000), motion=True) == b""
    assert encode_mouse(0, 1, 1, mouse(1002, 1006), motion=True) == b"\x1b[<32;2;2M"
    assert encode_mouse(3, 1, 1, mouse(1002, 1006), motion=True) == b""
    assert encode_mouse(3, 1, 1, mouse(1003, 1006), motion=True) == b"\x1b[<35;2;2M"
    assert encode_mouse(0, 1, 1, mouse(9), release=True) == b""
    assert encode_mouse(0, 1, 1, mouse(9), shift=True) == b"\x1b[M !!".replace(b"!!", b"\"\"")
