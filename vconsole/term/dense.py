"""Output dense in CSI sequences (full-screen redraws, colourful prompts) in bulk.

The tokenizer costs a regex match and a dispatch over seven groups per
token. Here the text is split on ``ESC [`` with ``str.split`` instead: each
piece is one CSI sequence followed by the text up to the next one. A piece
without text is looked up whole in the action cache; otherwise the sequence
is cut off after its parameter bytes (``str.lstrip``) and looked up. The
text after it, if printable ASCII that fits on the row, is spliced into the
row directly.

The SGR/CUP dispatch and the ASCII splice are the same as in
``Terminal.process_tokens``, written out again on purpose: a function call
per CSI would be about a third of this path's whole cost.

Only ``ESC [`` can start a token that spans another ``ESC`` (a malformed
CSI), so every other piece of text can go to the general path on its own
with the same result; a piece that does not start with a well-formed CSI
sends the rest of the text to the general path.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vconsole.term.actions import CSI_CACHE, lookup, op_cup, op_sgr
from vconsole.term.screen import WIDE_PAD

if TYPE_CHECKING:
    from vconsole.term.terminal import Terminal

# CSI parameter bytes (0x30-0x3F): what precedes the intermediates and final.
PARAM_BYTES = "0123456789:;<=>?"

# A whole CSI body, for the rare pieces with intermediate bytes.
_BODY = re.compile(r"[0-?]*[ -/]*[@-~]")


def is_dense(text: str) -> int:
    """How many ``ESC [`` are in ``text`` if it is worth the dense path, else 0."""
    n = text.count("\x1b[")
    return n if n >= 8 and n * 32 >= len(text) else 0


def process_dense(t: Terminal, text: str) -> None:
    """Process decoded output (no cut-off sequence at its end), CSI by CSI."""
    pieces = iter(text.split("\x1b["))
    head = next(pieces)
    general = t.process_tokens
    if head:
        general(head)
    get = CSI_CACHE.get
    cols = t.cols
    rows = t.rows
    modes = t.modes
    dirty_add = t._dirty.add
    for piece in pieces:
        action = get(piece)
        if action is None:
            # The sequence ends one past its parameter bytes, unless it has
            # intermediates or is malformed: only cached (valid) sequences
            # are taken on trust, others are checked with the regex.
            rest = piece.lstrip(PARAM_BYTES)
            n = len(piece) - len(rest) + 1
            action = get(piece[:n])
            if action is None:
                m = _BODY.match(piece)
                if m is None:
                    general("\x1b[" + "\x1b[".join([piece, *pieces]))
                    return
                n = m.end()
                action = lookup(piece[:n])
            run = piece[n:]
        else:
            run = ""
        op, a, b, params = action
        if op is op_sgr:
            t.style = (t.style & a) | b
        elif op is op_cup and not modes.origin:
            t.x = a if a < cols else cols - 1
            t.y = b if b < rows else rows - 1
            t.wrap = False
        else:
            op(t, params)
        if not run:
            t.last_char = ""  # REP repeats only a character printed right before it
            continue
        tail = ""
        if not (run.isascii() and run.isprintable()):
            # CR and LF before or after the text (a scroll region's LF, the
            # end of a line) are done here; anything else by the general path.
            text = run.lstrip("\r\n")
            if len(text) < len(run):
                _crlf(t, run[:len(run) - len(text)])
                run = text
                if not run:
                    continue
            text = run.rstrip("\r\n")
            if text and text.isascii() and text.isprintable():
                tail = run[len(text):]
                run = text
            else:
                general(run)  # other controls and escapes, non-ASCII
                modes = t.modes  # RIS (ESC c) replaces it
                continue
        x = t.x
        end = x + len(run)
        if end < cols and t.plain and not t.wrap:
            line = t.buf.lines[t.y]
            chars = line.chars
            if chars[x] == WIDE_PAD or chars[end] == WIDE_PAD:
                line.fix_wide(x, end)
            chars[x:end] = run
            line.styles[x:end] = [t.style] * len(run)
            t.x = end
            dirty_add(t.y)
            t.last_char = run[-1]
        else:
            t.print(run)
        if tail:
            _crlf(t, tail)


def _crlf(t: Terminal, controls: str) -> None:
    """Carry out a string of CRs and LFs (as the general path does)."""
    for c in controls:
        if c == "\r":
            t.x = 0
            t.wrap = False
        else:
            t.linefeed()
            if t.modes.newline:
                t.x = 0
    t.last_char = ""
