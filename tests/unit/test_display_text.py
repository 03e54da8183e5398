"""display_text.printable: outside text made inert for a terminal, visibly, and bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vconsole.display_text import ELLIPSIS, MAX_SHOWN, printable


def test_controls_are_shown_in_caret_notation() -> None:
    assert printable("a\x1b]0;x\x07b") == "a^[]0;x^Gb"
    assert printable("\x1b[2J\r\n\t\x00\x7f") == "^[[2J^M^J^I^@^?"


def test_c1_bidi_and_invisible_characters_are_spelt_out() -> None:
    assert printable("x\x9b2Jy") == "x\\x9b2Jy"  # a CSI as one C1 character
    assert printable("bidi\u202etxt.exe") == "bidi\\u202etxt.exe"
    assert printable("a\u2066b\u2069c\u200bd") == "a\\u2066b\\u2069c\\u200bd"
    assert printable("nbsp\xa0") == "nbsp\\xa0"
    assert printable("bad\udcffbyte") == "bad\\udcffbyte"  # left by surrogateescape


def test_printable_text_is_unchanged() -> None:
    for text in ("web-01", "Ωμέγα", "中文名字", "a b", "naïve", "[/x]markup", ""):
        assert printable(text) == text


def test_length_is_bounded() -> None:
    assert printable("x" * 1000) == "x" * (MAX_SHOWN - 1) + ELLIPSIS
    assert len(printable("\x1b" * 1000, 40)) == 40


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_nothing_unprintable_comes_out(text: str, limit: int) -> None:
    shown = printable(text, limit)
    assert shown.isprintable()
    assert len(shown) <= limit
