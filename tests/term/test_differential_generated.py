"""Generated streams of text and sequences, through tmux and the engine.

Cases where tmux is known to differ from xterm (which the engine follows)
are left out of the stream as it is built, by looking at the engine's state
before each token; see :func:`xterm_only`.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.term import streams
from tests.term.compare import differences, screen_dump
from tests.term.tmuxref import Tmux
from vconsole.term.terminal import Terminal


def xterm_only(term: Terminal, token: str) -> str | None:
    """Why ``token`` would show a known tmux/xterm difference now, or None.

    - BS or a cursor-left movement while a wrap is pending: xterm (and the
      engine) count from the last column; tmux's cursor is one past it, so it
      lands a column further right.
    - CHT (CSI I): tmux 3.3 does not implement it.
    """
    if term.wrap and (token == "\x08" or token.endswith(("D", "Z"))):
        return "left movement from a pending wrap"
    if token.startswith("\x1b[") and token.endswith("I"):
        return "CHT"
    return None


def build(tokens: list[str]) -> tuple[Terminal, bytes]:
    """Feed tokens to a fresh engine, skipping known tmux differences; return the bytes fed."""
    term = Terminal(80, 24)
    fed = bytearray()
    for token in tokens:
        if xterm_only(term, token):
            continue
        data = token.encode()
        term.feed(data)
        fed += data
    return term, bytes(fed)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams.tokens)
def test_generated_stream_matches_tmux(tmux_ref: Tmux, tokens: list[str]) -> None:
    term, data = build(tokens)
    ref = tmux_ref.show(data)
    diff = differences(term, ref)
    assert not diff, f"stream {data!r}\n" + "\n".join(diff) + "\n" + screen_dump(term)


@settings(max_examples=200, deadline=None)
@given(streams.tokens)
def test_generated_stream_state_round_trips(tokens: list[str]) -> None:
    term, data = build(tokens)
    again = Terminal.from_state(term.to_state())
    assert again.to_state() == term.to_state()
    assert again.screen_text() == term.screen_text()


@settings(max_examples=200, deadline=None)
@given(streams.tokens, streams.st.integers(1, 9))
def test_generated_stream_split_anywhere(tokens: list[str], step: int) -> None:
    term, data = build(tokens)
    pieces = Terminal(80, 24)
    for i in range(0, len(data), step):
        pieces.feed(data[i:i + step])
    assert pieces.to_state() == term.to_state()
