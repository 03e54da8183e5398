"""OutputHistory against a plain-bytes model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vconsole.broker.history import OutputHistory


@given(cap=st.integers(1, 300), chunks=st.lists(st.binary(max_size=500), max_size=30), probe=st.integers(0, 20000))
def test_history_matches_a_model(cap: int, chunks: list[bytes], probe: int) -> None:
    history = OutputHistory(cap)
    everything = b""
    for chunk in chunks:
        history.append(chunk)
        everything += chunk
        assert history.end == len(everything)
        assert len(history) == min(cap, len(everything))
        assert history.dropped == history.start == len(everything) - len(history)
        assert history.read(history.start) == everything[history.start :]
    offset = probe % (len(everything) + 2)
    assert history.read(offset) == everything[max(offset, history.start) :]
    assert history.read(offset, 7) == everything[max(offset, history.start) :][:7]


def test_history_grows_on_demand() -> None:
    history = OutputHistory(1 << 20)
    assert history.allocated == 0  # an idle console costs no buffer at all
    history.append(b"x")
    assert history.allocated == 4096  # the first output allocates 4 KiB
    history.append(b"x" * 5000)
    assert history.allocated == 8192  # then it doubles
    history.append(b"x" * 100_000)
    assert history.allocated == 128 * 1024
    assert history.read(0) == b"x" * 105_001


def test_growth_keeps_offsets_and_drops_only_at_the_cap() -> None:
    cap = 20_000  # not a power of two: the last doubling stops at the cap
    history = OutputHistory(cap, start=1000)
    model = b""
    sizes = []
    for i in range(60):
        chunk = bytes([i]) * (37 * i + 11)
        history.append(chunk)
        model += chunk
        sizes.append(history.allocated)
        held = model[-cap:]
        assert history.end == 1000 + len(model)
        assert history.start == history.dropped == 1000 + len(model) - len(held)
        assert history.read(0) == held
        assert history.read(history.end - 5) == model[-5:]
    assert sizes == sorted(sizes)
    assert set(sizes) == {4096, 8192, 16384, cap}
    assert history.dropped == 1000 + len(model) - cap


def test_append_larger_than_the_cap() -> None:
    history = OutputHistory(100)
    history.append(b"a" * 10)
    history.append(bytes(range(250)))
    assert (history.start, history.end, history.dropped) == (160, 260, 160)
    assert history.read(0) == bytes(range(150, 250))


@given(cap=st.integers(1, 9000), chunks=st.lists(st.integers(0, 5000), max_size=20))
def test_growth_against_a_model(cap: int, chunks: list[int]) -> None:
    history = OutputHistory(cap)
    model = b""
    for i, n in enumerate(chunks):
        chunk = bytes((i + j) & 0xFF for j in range(n))
        history.append(chunk)
        model += chunk
        assert history.allocated <= cap
        assert history.read(0) == model[len(model) - min(cap, len(model)) :]
        assert history.dropped == max(0, len(model) - cap)


def test_a_view_is_unchanged_by_later_output() -> None:
    history = OutputHistory(64)
    history.append(b"0123456789" * 6)  # allocated 64 at once: the cap
    history.append(b"abcdefghij")  # wraps
    view = history.view()
    assert len(view.parts) == 2 and (view.start, view.end) == (6, 70)
    before = b"".join(view.parts)
    assert before == history.read(0)
    history.append(b"XYZ" * 5)
    assert b"".join(view.parts) == before  # copy on write: the view's buffer kept its bytes
    assert history.read(0) == (before + b"XYZ" * 5)[-64:]
    history.release(view.parts)


def test_release_lets_changes_happen_in_place() -> None:
    history = OutputHistory(64)
    history.append(b"abc")
    view = history.view()
    history.release(view.parts)
    buf = history._buf
    history.append(b"def")
    assert history._buf is buf  # no copy once the view was released
    assert history.read(0) == b"abcdef"
    assert OutputHistory(10).view().parts == ()


def test_tail_offset_starts_at_the_last_lines() -> None:
    history = OutputHistory(1024)
    history.append(b"one\ntwo\nthree\nfour\n")
    assert history.read(history.tail_offset(2)) == b"three\nfour\n"
    assert history.read(history.tail_offset(10)) == b"one\ntwo\nthree\nfour\n"
    history.append(b"prompt$ ")
    assert history.read(history.tail_offset(1)) == b"prompt$ "


def test_bad_cap() -> None:
    with pytest.raises(ValueError):
        OutputHistory(0)
