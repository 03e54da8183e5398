"""LineMatcher: lines across reads, each hit once with its offset, bounded memory, any split alike."""

from __future__ import annotations

import itertools
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vconsole.consolelog.reading import reading_text
from vconsole.domain import Severity
from vconsole.watches.matcher import LineMatcher, WatchHit
from vconsole.watches.signatures import BUILTIN, Signature, derive_hints, parse_watches

PANIC = (
    b"[  112.334455] sysrq: Trigger a crash\r\n"
    b"[  112.334501] Kernel panic - not syncing: sysrq triggered crash\r\n"
    b"[  112.334620] CPU: 1 PID: 812 Comm: bash Not tainted 6.1.0-18-amd64 #1  Debian 6.1.76-1\r\n"
    b"[  112.334700] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)\r\n"
    b"[  112.334800] Call Trace:\r\n"
    b"[  112.334850]  <TASK>\r\n"
    b"[  112.334900]  dump_stack_lvl+0x44/0x5c\r\n"
    b"[  112.334950]  panic+0x118/0x2ed\r\n"
    b"[  112.335100] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\r\n"
)


def _naive(watches: tuple[Signature, ...], data: bytes, offset: int = 0) -> list[WatchHit]:
    """The reference: every line split out, made reading text, tried against every watch."""
    hits, pos = [], 0
    for raw in re.findall(rb"[^\n]*\n|[^\n]+$", data):
        text = reading_text(raw)
        hits += [WatchHit(w.name, w.severity, text, offset + pos) for w in watches if w.matches(text)]
        pos += len(raw)
    return hits


def _run(watches: tuple[Signature, ...], pieces: list[bytes], offset: int = 0) -> list[WatchHit]:
    matcher = LineMatcher(watches, offset)
    hits = [hit for piece in pieces for hit in matcher.feed(piece)]
    return hits + matcher.flush()


def test_a_panic_with_its_line_split_over_two_reads_is_one_hit_at_the_line_offset() -> None:
    line_at = PANIC.index(b"[  112.334501]")
    cut = PANIC.index(b"not syncing")
    hits = _run(BUILTIN, [PANIC[:cut], PANIC[cut:]], offset=5000)
    panics = [h for h in hits if h.name == "panic"]
    assert [(h.severity, h.offset, h.text) for h in panics] == [
        (Severity.CRITICAL, 5000 + line_at, "[  112.334501] Kernel panic - not syncing: sysrq triggered crash"),
    ]
    # The trailer "---[ end Kernel panic ..." repeats the panic: ignored, so one event.
    assert {h.name for h in hits} == {"panic"}


def test_a_line_is_matched_only_when_its_newline_comes() -> None:
    matcher = LineMatcher(BUILTIN)
    assert matcher.feed(b"[ 1.0] Oops: 0002 [#1] SMP") == []
    assert matcher.pending == len(b"[ 1.0] Oops: 0002 [#1] SMP")
    assert [h.name for h in matcher.feed(b" PTI\nnext")] == ["oops"]
    assert matcher.feed(b" line\n") == []
    assert matcher.offset == len(b"[ 1.0] Oops: 0002 [#1] SMP PTI\nnext line\n")


def test_a_long_line_is_cut_into_pieces_and_memory_stays_bounded() -> None:
    matcher = LineMatcher(BUILTIN, max_line=64)
    # 10 pieces' worth without a newline, fed a byte at a time: never more than a piece kept.
    blob = b"x" * 600 + b"Kernel panic - not syncing: one" + b"y" * 100 + b"\n"
    hits: list[WatchHit] = []
    for i in range(len(blob)):
        hits += matcher.feed(blob[i : i + 1])
        assert matcher.pending < 64
    # The panic text lies inside the piece 576..640 only when it does not span a cut: here
    # "Kernel panic - not syncing" starts at 600 and ends at 626, inside piece 576..640.
    assert [(h.name, h.offset) for h in hits] == [("panic", 576)]


def test_a_hit_spanning_a_cut_is_not_seen() -> None:
    blob = b"x" * 50 + b"Kernel panic - not syncing\n"
    assert _run(BUILTIN, [blob]) != [] and LineMatcher(BUILTIN, max_line=64).feed(blob) == []


def test_an_anchored_user_watch_without_hint_checks_every_line() -> None:
    parsed = parse_watches([{"name": "ready", "regex": r"^READY\b", "severity": "info"}])
    (ready,) = parsed.watches
    assert ready.hints is None and derive_hints(re.compile("a b")) is not None
    hits = _run(parsed.watches, [b"not READY\nRE", b"ADY now\r\nREADY\n"])
    assert [(h.text, h.offset) for h in hits] == [("READY now", 10), ("READY", 21)]


@pytest.mark.parametrize("colour", [b"", b"\x1b[0m"])
def test_a_hint_over_several_lines_finds_the_line_of_the_real_hit(colour: bytes) -> None:
    # As a hint on the buffer, "x[\s\S]*y" matches from the first line's x over the next one.
    parsed = parse_watches([{"name": "xy", "regex": r"x[\s\S]*y"}])
    hits = _run(parsed.watches, [colour + b"x\nxy\n"])
    assert [(h.text, h.offset) for h in hits] == [("xy", len(colour) + 2)]


def test_a_hint_spanning_lines_still_finds_the_line_it_starts_in_later() -> None:
    # "a\s+b" as a hint runs over newlines; the line that really holds "a  b" is still found.
    parsed = parse_watches([{"name": "ab", "regex": r"a\s+b"}])
    hits = _run(parsed.watches, [b"xa\nzzz\nqa  b\n"])
    assert [(h.text, h.offset) for h in hits] == [("qa  b", 7)]


def _noise(rng: random.Random, size: int) -> bytes:
    words = [b"systemd[1]: Started", b"eth0: link up", b"\x1b[0;32m  OK  \x1b[0m", b"panic=10",
             b"kernel: audit", b"login", b"BUG", b"Oops", b"caf\xc3\xa9", b"\t", b"nothing"]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choices(words, k=rng.randint(1, 12))) + rng.choice([b"\n", b"\r\n"])
    return bytes(out[:size]).rsplit(b"\n", 1)[0] + b"\n"


def test_one_panic_in_a_megabyte_of_noise_is_exactly_one_hit() -> None:
    rng = random.Random(6)
    noise = _noise(rng, 1 << 20)
    at = noise.index(b"\n", rng.randrange(len(noise) - 100)) + 1
    line = b"[ 77.000001] Kernel panic - not syncing: Fatal exception in interrupt\r\n"
    data = noise[:at] + line + noise[at:]
    pieces, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 16384)
        pieces.append(data[pos : pos + step])
        pos += step
    hits = _run(BUILTIN, pieces)
    assert [(h.name, h.offset) for h in hits] == [("panic", at)]
    assert hits == _naive(BUILTIN, data)


_SPLIT_WATCHES = (*BUILTIN, *parse_watches([{"name": "anchored", "regex": r"^end$"}]).watches)


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(0, len(PANIC) + 40), max_size=12), max_line=st.sampled_from([16, 40, 4096]))
def test_any_split_of_the_same_bytes_gives_the_same_hits(cuts: list[int], max_line: int) -> None:
    data = b"web login: root\n\x1b[31mOops: 1\x1b[0m\nend\n" + PANIC + b"web login: "
    whole = LineMatcher(_SPLIT_WATCHES, 7, max_line)
    expected = whole.feed(data) + whole.flush()
    assert len(expected) >= 1
    if max_line > len(data):
        assert expected == _naive(_SPLIT_WATCHES, data, 7)
    bounds = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    matcher = LineMatcher(_SPLIT_WATCHES, 7, max_line)
    got = [h for a, b in itertools.pairwise(bounds) for h in matcher.feed(data[a:b])] + matcher.flush()
    assert got == expected


_TOKENS = [
    b"Kernel panic - not syncing: x", b"Kernel ", b"panic - not syncing", b"Oops:", b"Oo", b"ps:",
    b"web login: ", b"\x1b[1;31m", b"\x1b[0m", b"\x1b[2K", b"\x1b]0;title\x07", b"\t", b"\r", b"\r\n",
    b"\n", b"\n", b"caf\xc3\xa9", b"\xc2\x9b31m", b"\xff", b"\x08", b"init[1]: segfault", b"x" * 30,
    b"systemd-shutdown[1]: ", b"remounted read-only", b"READY", b"end",
]


# User regexes that are their own hints: not literals, maybe over UTF-8 or several lines.
_REGEX_WATCHES = (*BUILTIN, *parse_watches([
    {"name": "spaced", "regex": r"panic\s+-\s+not"}, {"name": "word", "regex": r"caf\w"},
    {"name": "tabbed", "regex": r"Oops:\s\s"}, {"name": "dots", "regex": r"x{20}.*end"},
]).watches)


@settings(max_examples=300, deadline=None)
@given(
    tokens=st.lists(st.sampled_from(_TOKENS), max_size=40),
    cuts=st.lists(st.integers(0, 2000), max_size=8),
)
def test_the_fast_path_finds_what_rendering_every_line_finds(tokens: list[bytes], cuts: list[int]) -> None:
    """Colours, UTF-8, C1 controls, tabs, bare CRs, backspaces: the same hits as the naive reference."""
    data = b"".join(tokens)
    bounds = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    for watches in (BUILTIN, _SPLIT_WATCHES, _REGEX_WATCHES):
        assert _run(watches, [data[a:b] for a, b in itertools.pairwise(bounds)], 3) == _naive(watches, data, 3)


@pytest.mark.parametrize(
    "line",
    [
        b"Kernel pX\x08anic - not syncing: typo fixed with a backspace\n",
        b"Kernel \x1b]0;title\x07panic - not syncing: an OSC in the middle\n",
        b"Kernel \x1b[Kpanic - not syncing: an erase to the end in the middle\n",
        b"junk junk junk junk junk junk junk junk\rKernel panic - not syncing: over a progress line\n",
        b"Kernel \xc2\x9b1mpanic - not syncing: a C1 CSI\n",
        b"\x1b[1;31mKernel \x1b[0mpanic - not syncing: caf\xc3\xa9\r\n",
    ],
)
def test_a_panic_hidden_in_the_bytes_by_controls_is_found_in_the_text(line: bytes) -> None:
    noise = b"\x1b[32m  OK  \x1b[0m Started caf\xc3\xa9.\r\n\ttabbed\n" * 50
    hits = _run(BUILTIN, [noise + line + noise])
    assert [(h.name, h.offset) for h in hits] == [("panic", len(noise))]
    assert hits == _naive(BUILTIN, noise + line + noise)
    # The same with a user regex as its own hint (no literal): the other way of looking.
    regex = parse_watches([{"name": "p", "regex": r"Kernel\s+panic"}]).watches
    assert [h.offset for h in _run(regex, [noise + line + noise])] == [len(noise)]


@pytest.mark.parametrize(
    ("line", "hit"),
    [
        (b"xKernel\tpanic - not syncing: the tab is one space (column 7 to 8)\n", True),
        (b"Kernel\tpanic - not syncing: the tab is two spaces\n", False),
        (b"INFO: task kworker:1 blocked for\tmore than 120 seconds: eight spaces\n", False),
        (b"INFO: task kw:1\t blocked for more than 120 seconds.\n", True),
    ],
)
def test_tabs_are_expanded_before_matching(line: bytes, hit: bool) -> None:
    data = b"\tnoise\n" + line
    hits = _run(BUILTIN, [data])
    assert hits == _naive(BUILTIN, data)
    assert bool(hits) is hit
