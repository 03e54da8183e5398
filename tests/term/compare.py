"""Cell-by-cell comparison of the engine's screen with tmux's."""

from __future__ import annotations

from tests.term.tmuxref import Cell, Screen
from vconsole.term import sgr
from vconsole.term.terminal import Terminal


def engine_cells(term: Terminal) -> list[list[Cell]]:
    """The engine's screen in the reference's cell format."""
    return [
        [(ch, sgr.fg_of(s), sgr.bg_of(s), s & sgr.ALL_FLAGS)
         for ch, s in zip(line.chars, line.styles, strict=True)]
        for line in term.lines
    ]


def differences(term: Terminal, ref: Screen, limit: int = 12) -> list[str]:
    """Human-readable differences between the engine and tmux (empty when equal).

    tmux's ``capture-pane`` does not report cells past the last one written
    on a row (erased cells with a background colour included), so past that
    point only the character (a blank) is compared, not the colour.
    """
    out: list[str] = []
    mine = engine_cells(term)
    for y, (row, theirs) in enumerate(zip(mine, ref.rows, strict=True)):
        for x, cell in enumerate(row):
            if x < len(theirs):
                if cell != theirs[x]:
                    out.append(f"row {y} col {x}: engine {cell!r} tmux {theirs[x]!r}")
            elif cell[0] != " ":
                out.append(f"row {y} col {x}: engine {cell[0]!r} tmux blank")
            if len(out) >= limit:
                return out
        if len(theirs) > len(row):
            out.append(f"row {y}: tmux has {len(theirs)} cells")
    x, y = term.cursor
    if term.wrap:
        x += 1  # tmux shows a pending wrap as the cursor one past the last column
    if (x, y) != ref.cursor:
        out.append(f"cursor: engine {(x, y)} (pending wrap {term.wrap}) tmux {ref.cursor}")
    if term.modes.alt_screen != ref.alternate:
        out.append(f"alternate screen: engine {term.modes.alt_screen} tmux {ref.alternate}")
    return out


def screen_dump(term: Terminal) -> str:
    """The engine's screen text, for assertion messages."""
    return "\n".join(f"{y:2}|{row}" for y, row in enumerate(term.screen_text()))
