"""to_state / from_state: plain data, exact round trip, strict validation of untrusted input."""

from __future__ import annotations

import copy
from typing import Any

import msgpack
import pytest

from tests.term.helpers import run
from vconsole.term.terminal import Terminal

BUSY = ("\x1b]2;title\x07\x1b[?1049h\x1b[2;4r\x1b[?1h\x1b[?2004h\x1b(0lq\x1b(B"
        "\x1b[1;38;2;1;2;3m中e\u0301\x1b7\x1b[m\x1b[3;3Hx" + "\x1b[?1049l\x1b[r" + "a\r\n" * 8)


def busy() -> Terminal:
    term = run("y\r\n" * 3 + "\x1b[?1049h" + BUSY + "\x1b[?1049h\x1b[31malt\x1b[5;5H")
    return term


def test_state_is_plain_msgpack_data_and_round_trips() -> None:
    term = busy()
    state = term.to_state()
    packed = msgpack.packb(state)
    again = Terminal.from_state(msgpack.unpackb(packed))
    assert again.to_state() == state
    assert again.screen_text() == term.screen_text()
    assert again.cursor == term.cursor
    assert again.title == "title" and again.modes.alt_screen
    assert [line.text() for line in again.scrollback] == [line.text() for line in term.scrollback]


def test_restored_terminal_continues_identically() -> None:
    term = busy()
    again = Terminal.from_state(term.to_state())
    more = b"\x1b[?1049lmore\x1b8q\x1b[2Lz\x1b[b"
    term.feed(more)
    again.feed(more)
    assert again.to_state() == term.to_state()


def _mutations() -> list[tuple[str, Any]]:
    return [
        ("not a dict", lambda s: [1, 2]),
        ("missing key", lambda s: s.pop("cursor") and s),
        ("extra key", lambda s: s.update(evil=1) or s),
        ("version", lambda s: s.update(version=99) or s),
        ("cols type", lambda s: s.update(cols="80") or s),
        ("cols huge", lambda s: s.update(cols=10**9) or s),
        ("bool as int", lambda s: s.update(cols=True) or s),
        ("cursor off screen", lambda s: s.update(cursor=[10, 0]) or s),
        ("cursor negative", lambda s: s.update(cursor=[-1, 0]) or s),
        ("style too big", lambda s: s.update(style=1 << 70) or s),
        ("style bad colour", lambda s: s.update(style=300 << 9) or s),
        ("margins inverted", lambda s: s.update(margins=[3, 1]) or s),
        ("tab off screen", lambda s: s.update(tabs=[99]) or s),
        ("charset", lambda s: s.update(charsets=["Q", "B"]) or s),
        ("title control", lambda s: s.update(title="a\x1b[2Jb") or s),
        ("title type", lambda s: s.update(title=b"x") or s),
        ("modes key", lambda s: s["modes"].update(bogus=True) or s),
        ("modes type", lambda s: s["modes"].update(app_cursor=1) or s),
        ("mouse mode", lambda s: s["modes"].update(mouse_tracking=5) or s),
        ("rows count", lambda s: s["main"].pop() and s),
        ("row width", lambda s: s["main"][0][0].pop() and s),
        ("cell control", lambda s: s["main"][0][0].__setitem__(0, "\x1b") or s),
        ("cell two chars", lambda s: s["main"][0][0].__setitem__(0, "ab") or s),
        ("cell not str", lambda s: s["main"][0][0].__setitem__(0, 7) or s),
        ("lonely pad", lambda s: s["main"][1][0].__setitem__(0, "") or s),
        ("wide without pad", lambda s: s["main"][1][0].__setitem__(0, "中") or s),
        ("runs short", lambda s: s["main"][0].__setitem__(1, [0, 3]) or s),
        ("runs long", lambda s: s["main"][0].__setitem__(1, [0, 10, 0, 1]) or s),
        ("runs odd", lambda s: s["main"][0].__setitem__(1, [0]) or s),
        ("runs zero count", lambda s: s["main"][0].__setitem__(1, [0, 0, 0, 10]) or s),
        ("wrapped type", lambda s: s["main"][0].__setitem__(2, 0) or s),
        ("scrollback over limit", lambda s: s.update(scrollback_limit=0) or s),
        ("saved cursor", lambda s: s["saved"].update(x=50) or s),
        ("last_char", lambda s: s.update(last_char="ab") or s),
        ("gl", lambda s: s.update(gl=2) or s),
    ]


@pytest.mark.parametrize(("name", "mutate"), _mutations(), ids=[m[0] for m in _mutations()])
def test_from_state_rejects(name: str, mutate: Any) -> None:
    state = copy.deepcopy(busy().to_state())
    assert Terminal.from_state(copy.deepcopy(state)).to_state() == state  # baseline is valid
    with pytest.raises(ValueError):
        Terminal.from_state(mutate(state))


# -- fuzzing: untrusted state never raises anything but ValueError ---------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.text(max_size=5),
                  st.binary(max_size=3), st.floats(allow_nan=False))
_value = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:6]):
            out += _paths(v, (*prefix, i))
    return out


_BASE = busy().to_state()
_PATHS = _paths(_BASE)[1:]


def _load(state: object) -> None:
    try:
        Terminal.from_state(state)
    except ValueError:
        pass


@settings(max_examples=300, deadline=None)
@given(_value)
def test_from_state_random_data(value: Any) -> None:
    _load(value)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_PATHS), _value)
def test_from_state_one_field_replaced(path: tuple[Any, ...], value: Any) -> None:
    state = copy.deepcopy(_BASE)
    node = state
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _load(state)


def test_huge_claimed_size_is_rejected_before_allocating() -> None:
    state = copy.deepcopy(_BASE)
    state.update(cols=4096, rows=4096, main=[None] * 4096)
    with pytest.raises(ValueError, match=r"main\[0\]"):
        Terminal.from_state(state)
    state.update(cols=10**6)
    with pytest.raises(ValueError, match="cols"):
        Terminal.from_state(state)
