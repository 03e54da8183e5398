"""Tokenising decoded terminal output.

One regular expression splits the text into printable runs, control
characters and escape sequences, so a run of text costs one match however
long it is. Sequences cut off at the end of a feed are detected with
:data:`INCOMPLETE` and kept for the next feed.
"""

from __future__ import annotations

import re

# One alternative per token kind; ``findall`` yields one tuple per token:
#   (lines, text, csi, csi_text, osc, esc, control)
# ``lines``: two or more complete lines of ASCII and SGRs ending in CRLF (the
# log fast path);
# ``csi``: a CSI without its ``ESC [`` (parameters, intermediates, final);
# ``csi_text``: printable text right after a CSI, so "position + text" and
# "colour + word" cost one token; ``esc``: an ESC sequence without the ESC.
# DCS/SOS/PM/APC strings and malformed escapes match too but leave every
# group empty, so they are ignored. Possessive quantifiers avoid backtracking.
TOKEN = re.compile(
    r"((?:(?:[ -~]++|\x1b\[[0-9;:]*+m)*+\r\n){2,})"
    r"|([^\x00-\x1f\x7f-\x9f]++)"
    r"|\x1b\[([0-?]*+[ -/]*+[@-~])([^\x00-\x1f\x7f-\x9f]*+)"
    r"|\x1b\]([^\x07\x1b\x9c]*+)(?:\x07|\x1b\\|\x9c)"
    r"|\x1b([ -/]*+[0-OQ-WYZ\\`a-~])"
    r"|\x1b[P_^X][^\x1b\x9c]*+(?:\x1b\\|\x9c)"
    r"|([\x00-\x1a\x1c-\x1f\x7f-\x9f])"
    r"|\x1b\[[^@-~]*+[@-~]?|\x1b[\]P_^X][^\x07\x1b\x9c]*+\x07?|\x1b"
)

# A prefix of a sequence that the end of the input cut short.
INCOMPLETE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b\x9c]*\x1b?|[P_^X][^\x1b\x9c]*\x1b?|[ -/]*)"
)



def split_incomplete(text: str) -> int:
    """Where a sequence cut off by the end of ``text`` starts (``len(text)`` if none)."""
    cut = len(text)
    esc = text.rfind("\x1b")
    # At most two ESCs can be in an unfinished sequence (an OSC and half an ST).
    for _ in range(2):
        if esc < 0:
            break
        if INCOMPLETE.fullmatch(text, esc):
            cut = esc
        esc = text.rfind("\x1b", 0, esc)
    return cut


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
