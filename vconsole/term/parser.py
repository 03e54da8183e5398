"""Tokenising decoded terminal output.

One regular expression splits the text into printable runs, control
characters and escape sequences, so a run of text costs one match however
long it is. Sequences cut off at the end of a feed are detected with
:data:`INCOMPLETE` and kept for the next feed.
"""

from __future__ import annotations

import re

# Group numbers, used as ``match.lastindex`` to dispatch without name lookups.
TEXT = 1  # printable run
CSI = 4  # (2) parameter bytes, (3) intermediates, (4) final byte
OSC = 5  # (5) OSC body, terminated by BEL or ST
ESC = 7  # (6) intermediates, (7) final byte
STRING = 8  # DCS / SOS / PM / APC: consumed and ignored
CONTROL = 9  # a single C0/C1 control (or an ESC that starts nothing valid)

TOKEN = re.compile(
    r"([^\x00-\x1f\x7f-\x9f]+)"
    r"|\x1b\[([0-?]*)([ -/]*)([@-~])"
    r"|\x1b\]([^\x07\x1b\x9c]*)(?:\x07|\x1b\\|\x9c)"
    r"|\x1b([ -/]*)([0-OQ-WYZ\\`a-~])"
    r"|(\x1b[P_^X][^\x1b\x9c]*(?:\x1b\\|\x9c))"
    r"|([\x00-\x1f\x7f-\x9f])"
)

# A prefix of a sequence that the end of the input cut short.
INCOMPLETE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b\x9c]*\x1b?|[P_^X][^\x1b\x9c]*\x1b?|[ -/]*)"
)

# What to skip when an ESC starts a malformed sequence: a CSI up to its final
# byte (control characters inside it included), or a string sequence up to
# the next ESC. Anything else: just the ESC.
MALFORMED = re.compile(r"\x1b\[[^@-~]*[@-~]?|\x1b[\]P_^X][^\x07\x1b\x9c]*\x07?|\x1b")

# Longest cut-off sequence kept between feeds; longer ones are dropped so a
# stray unterminated OSC cannot grow without bound.
MAX_PENDING = 65536

MAX_PARAM = 65535


def int_params(raw: str) -> list[int]:
    """CSI parameters as ints: empty ones are 0, sub-parameters (``:``) dropped."""
    if not raw:
        return []
    out: list[int] = []
    for part in raw.split(";"):
        if ":" in part:
            part = part.split(":", 1)[0]
        out.append(min(int(part), MAX_PARAM) if part.isdigit() else 0)
    return out


def sgr_params(raw: str) -> list[list[int]]:
    """SGR parameters: each ``;``-separated parameter as a list of its ``:`` parts."""
    if not raw:
        return []
    out: list[list[int]] = []
    for part in raw.split(";"):
        if ":" in part:
            out.append([min(int(s), 1 << 24) if s.isdigit() else 0 for s in part.split(":")])
        else:
            out.append([min(int(part), 1 << 24) if part.isdigit() else 0])
    return out
