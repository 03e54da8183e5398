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
    assert len(history._buf) == 64 * 1024  # an idle console does not cost the cap
    history.append(b"x" * 100_000)
    assert len(history._buf) >= 100_000
    assert history.read(0) == b"x" * 100_000


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
