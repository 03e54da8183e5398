"""Literal hints: which user regexes get one, and that the literal way finds what rendering every line finds."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.watches.test_matcher import _naive, _run
from vconsole.watches.matcher import LineMatcher
from vconsole.watches.signatures import BUILTIN, derive_literal, parse_watches


@pytest.mark.parametrize(
    ("regex", "literal"),
    [
        ("segfault at", b"segfault at"),
        ("^ERROR: ", b"ERROR: "),
        (r"\bsegv\b", b"segv"),
        (r"\Apanic\s+-", b"panic"),
        (r"a\.b\[c", b"a.b[c"),
        ("abc?d", b"ab"),
        ("abc*", b"ab"),
        ("abc{2}", b"ab"),
        ("abc+", b"abc"),
        ("café", b"caf"),
        (r"caf\w", b"caf"),
    ],
)
def test_a_leading_literal_run_is_the_literal(regex: str, literal: bytes) -> None:
    assert derive_literal(re.compile(regex)) == literal


@pytest.mark.parametrize(
    "regex",
    ["a|bc", r"ab\\|c", "(?i)abc", "[K]ernel", "x{20}", "a  b", r"\d+ blocked", "ab?", ".abc", "(abc)", "\tab"],
)
def test_no_literal_where_a_match_may_lack_it(regex: str) -> None:
    assert derive_literal(re.compile(regex)) is None


def test_case_folded_regex_has_no_literal() -> None:
    assert derive_literal(re.compile("abc", re.IGNORECASE)) is None


def test_user_watches_with_a_literal_are_found_on_coloured_utf8_lines_like_the_builtins() -> None:
    (segv,) = parse_watches([{"name": "segv", "regex": "segfault at"}]).watches
    assert segv.literals == (b"segfault at",) and segv.hints is not None
    noise = b"\x1b[32m  OK  \x1b[0m Started caf\xc3\xa9.\r\n\ttabbed\n" * 50
    line = b"\x1b[1mapp[7]:\t\x1b[0msegfault at 0 ip 0 (caf\xc3\xa9)\r\n"
    hits = _run((*BUILTIN, segv), [noise + line + noise])
    assert [(h.name, h.offset) for h in hits] == [("segv", len(noise))]


@pytest.mark.parametrize(
    "line",
    [
        b"Kernel pX\x08anic - not syncing: typo fixed with a backspace\n",
        b"Kernel \x1b]0;title\x07panic - not syncing: an OSC in the middle\n",
        b"Kernel \x1b[Kpanic - not syncing: an erase to the end in the middle\n",
        b"junk junk junk junk junk junk junk junk\rKernel panic - not syncing: over a progress line\n",
        b"Kernel \xc2\x9b1mpanic - not syncing: a C1 CSI\n",
        b"\x1b[1;31mKernel \x1b[0mpanic - not syncing: caf\xc3\xa9\r\n",
        b"Kernel\x1b[1Cpanic - not syncing: a cursor move for the space\n",
    ],
)
def test_a_panic_hidden_by_controls_is_found_by_a_regex_without_literal_too(line: bytes) -> None:
    # "Kernel\s+panic" now has the literal "Kernel": a leading class keeps the regex its own hint.
    (regex,) = parse_watches([{"name": "p", "regex": r"[K]ernel\s+panic"}]).watches
    assert regex.literals == () and regex.hints is not None
    noise = b"\x1b[32m  OK  \x1b[0m Started caf\xc3\xa9.\r\n\ttabbed\n" * 50
    assert [h.offset for h in _run((regex,), [noise + line + noise])] == [len(noise)]
    assert [h.offset for h in _run(BUILTIN, [noise + line + noise]) if h.name == "panic"] == [len(noise)]


def test_a_read_without_a_byte_of_any_literal_is_skipped_and_the_next_still_matches() -> None:
    matcher = LineMatcher(BUILTIN)
    assert matcher.feed(b"0123456789:....\n" * 1000) == []
    assert [h.name for h in matcher.feed(b"x Kernel panic - not syncing: y\n")] == ["panic"]


_TOKENS = [
    b"Kernel panic - not syncing: x", b"Kernel ", b"panic - not syncing", b"segfault at", b"segf", b"ault at",
    b"ERROR: ", b"ERR", b"OR: ", b"segv", b"\x1b[1;31m", b"\x1b[0m", b"\x1b[1C", b"\x1b[2K", b"\x1b]0;t\x07", b"\t",
    b"\r", b"\r\n", b"\n", b"\n", b"caf\xc3\xa9", b"\xc2\x9b31m", b"\xff", b"\x08", b"x" * 30, b" ", b"0123:..",
]
_LITERAL_WATCHES = (*BUILTIN, *parse_watches([
    {"name": "segv", "regex": "segfault at"}, {"name": "err", "regex": "^ERROR: "},
    {"name": "word", "regex": r"\bsegv\b"}, {"name": "spaced", "regex": r"panic\s+-\s+not"},
]).watches)
_MIXED_WATCHES = (*_LITERAL_WATCHES, *parse_watches([{"name": "cls", "regex": r"[s]egfault\s+at"}]).watches)


@settings(max_examples=300, deadline=None)
@given(tokens=st.lists(st.sampled_from(_TOKENS), max_size=40), cuts=st.lists(st.integers(0, 1500), max_size=8))
def test_literal_user_watches_find_what_rendering_every_line_finds(tokens: list[bytes], cuts: list[int]) -> None:
    data = b"".join(tokens)
    bounds = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    for watches in (_LITERAL_WATCHES, _MIXED_WATCHES):
        assert _run(watches, [data[a:b] for a, b in itertools.pairwise(bounds)], 3) == _naive(watches, data, 3)
