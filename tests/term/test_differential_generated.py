"""Generated streams of text and sequences, through tmux and the engine.

Cases where tmux is known to differ from xterm (which the engine follows)
are left out of the stream as it is built, by looking at the engine's state
before each token; see :func:`xterm_only`.
"""

from __future__ import annotations

import os
import re

import msgpack
from hypothesis import HealthCheck, given, settings

from tests.term import streams
from tests.term.compare import differences, screen_dump
from tests.term.tmuxref import Tmux
from vconsole.term.screen import WIDE_PAD
from vconsole.term.terminal import Terminal

_LONG_CSI = re.compile(r"\x1b\[[0-?]{64}")


def xterm_only(term: Terminal, token: str, previous: str = "") -> str | None:
    """Why ``token`` would show a known tmux/xterm difference now, or None.

    - BS or a cursor-left movement while a wrap is pending: xterm (and the
      engine) count from the last column; tmux's cursor is one past it, so it
      lands a column further right.
    - ED, EL, ICH, DCH, ECH with a pending wrap: xterm acts on the last column
      and cancels the wrap; tmux acts one past it (nothing) and keeps it.
      DECAWM off with a pending wrap: tmux then drops the next character.
    - ICH of n cells where 2n exceeds the rest of the line: tmux 3.3 leaves
      stale cells between the moved text and the inserted blanks (a tmux bug).
    - DECSTR: xterm resets the graphic rendition and character sets, tmux
      keeps them.
    - CSI sequences with parameters longer than 63 bytes: tmux drops them.
    - DECRC: xterm restores a saved pending wrap; tmux does not.
    - DECSTBM in origin mode: xterm homes the cursor to the top margin, tmux
      to the top-left of the screen.
    - IL/DL with the cursor outside the scroll region: xterm does nothing,
      tmux inserts/deletes lines down to the bottom of the screen.
    - REP after a non-ASCII character: tmux repeats only ASCII; nor does it
      repeat at a pending wrap reached by text with non-ASCII in it.
    - CHT (CSI I), HPR (CSI a) and VPR (CSI e): tmux 3.3 does not implement them.
    - ED/EL/ECH whose edge cuts a wide character in two: xterm (and the engine)
      blank both halves; tmux blanks one and leaves an orphan padding cell,
      which `capture-pane` skips, so the rest of its row reads a column left.
    """
    if _LONG_CSI.search(token):
        return "CSI with over 63 parameter bytes"
    csi = token.startswith("\x1b[")
    if term.wrap and (token == "\x08" or (csi and token.endswith(("D", "Z")))):
        return "left movement from a pending wrap"
    if term.wrap and csi and token.endswith(("J", "K", "@", "P", "X", "?7l")):
        return "erase/edit or DECAWM off with a pending wrap"
    if csi and token.endswith("@"):
        n = int(token[2:-1] or 1) or 1
        if 2 * n > term.cols - term.x:
            return "ICH of more than half the rest of the line"
    if token == "\x1b[!p" and (term.style or term.gl or term.charsets != ["B", "B"]):
        return "DECSTR with attributes or character sets set"
    if token in ("\x1b8", "\x1b[u") and term.saved.wrap:
        return "DECRC of a pending wrap"
    if token.startswith("\x1b[") and token.endswith(("I", "a", "e")):
        return "CHT, HPR or VPR"
    if token.startswith("\x1b[") and token.endswith("b"):
        if not term.last_char.isascii():
            return "REP of a non-ASCII character"
        if term.wrap and not previous.isascii():
            return "REP at a pending wrap after non-ASCII text"
    if csi and token.endswith(("J", "K", "X")) and _cuts_wide(term, token):
        return "erase that cuts a wide character in two"
    outside = not term.top <= term.y <= term.bottom
    if outside and token.startswith("\x1b[") and token.endswith(("L", "M")):
        return "IL/DL outside the scroll region"
    if term.modes.origin and token.startswith("\x1b[") and token.endswith("r"):
        return "DECSTBM in origin mode"
    return None


def _cuts_wide(term: Terminal, token: str) -> bool:
    """Whether the erase ``token`` ends inside a wide character on the cursor's row."""
    chars = term.lines[term.y].chars
    x = min(term.x, term.cols - 1)
    params = token[2:-1]
    if token.endswith("X"):
        n = int(params) if params.isdigit() and int(params) else 1
        start, end = x, min(x + n, term.cols)
    elif params.lstrip("?") in ("", "0"):
        start, end = x, term.cols
    elif params.lstrip("?") == "1":
        start, end = 0, x + 1
    else:
        return False
    return chars[start] == WIDE_PAD or (end < term.cols and chars[end] == WIDE_PAD)


def build(tokens: list[str]) -> tuple[Terminal, bytes]:
    """Feed tokens to a fresh engine, skipping known tmux differences; return the bytes fed."""
    term = Terminal(80, 24)
    fed = bytearray()
    previous = ""
    for token in tokens:
        if xterm_only(term, token, previous):
            continue
        previous = token
        data = token.encode()
        term.feed(data)
        fed += data
    return term, bytes(fed)


# Each example costs a tmux round trip (~0.1 s); raise for a longer hunt.
TMUX_EXAMPLES = int(os.environ.get("VCONSOLE_TERM_EXAMPLES", "60"))


@settings(max_examples=TMUX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams.tokens)
def test_generated_stream_matches_tmux(tmux_ref: Tmux, tokens: list[str]) -> None:
    term, data = build(tokens)
    ref = tmux_ref.show(data)
    diff = differences(term, ref)
    assert not diff, f"stream {data!r}\n" + "\n".join(diff) + "\n" + screen_dump(term)


@settings(max_examples=200, deadline=None)
@given(streams.tokens)
def test_generated_stream_state_round_trips(tokens: list[str]) -> None:
    term, _ = build(tokens)
    state = msgpack.unpackb(msgpack.packb(term.to_state()))
    again = Terminal.from_state(state)
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
