"""CSI sequences compiled into cached actions for the feed loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vconsole.term import sgr
from vconsole.term.parser import sgr_params
from vconsole.term.sequences import CUP_HANDLER, resolve_csi

if TYPE_CHECKING:
    from vconsole.term.terminal import Terminal

# CSI body (after ESC [) -> action, cached: programs repeat the same few
# sequences. An action is (op, a, b, params): op op_sgr with a/b the keep
# mask and set bits (every SGR parameter clears and/or sets fixed bits of
# the packed style, so a whole sequence is one such pair, found by applying
# it to all-ones and all-zeros); op op_cup with a/b the 0-based column and
# row (params for origin mode); otherwise op is the handler, called with params.
Action = tuple[Any, int, int, list[int]]


def op_sgr(t: Terminal, p: list[int]) -> None:
    """Marks an SGR action (applied inline by the feed loop, never called)."""
    raise AssertionError("SGR actions are applied inline")


def op_cup(t: Terminal, p: list[int]) -> None:
    """A CUP action: applied inline unless origin mode is on, then called."""
    CUP_HANDLER(t, p)


CSI_CACHE: dict[str, Action] = {}


# Truecolour SGRs have a cache of their own: a stream of one-off colours
# (a gradient) would otherwise flush the common sequences out of CSI_CACHE.
TRUECOLOR_CACHE: dict[str, Action] = {}


def lookup(csi: str) -> Action:
    """The action for a CSI body, from the caches or compiled (and cached)."""
    action = CSI_CACHE.get(csi)
    if action is not None:
        return action
    cache = TRUECOLOR_CACHE if csi[1:5] == "8;2;" else CSI_CACHE
    action = cache.get(csi)
    if action is None:
        action = compile_csi(csi)
        if len(cache) > 8192:
            cache.clear()
        cache[csi] = action
    return action


def compile_csi(body: str) -> Action:
    """The cacheable action for a CSI body (the characters after ``ESC [``)."""
    if body[-1] == "m" and not (len(body) > 1 and " " <= body[-2] <= "/"):
        keep, bits = sgr_masks(body[:-1])  # SGR, checked first: truecolours are not cached
        return op_sgr, keep, bits, []
    handler, params = resolve_csi(body)
    if handler is CUP_HANDLER:
        y = params[0] if params and params[0] else 1
        x = params[1] if len(params) > 1 and params[1] else 1
        return op_cup, x - 1, y - 1, params
    return handler, 0, 0, params


def sgr_masks(raw: str) -> tuple[int, int]:
    """(keep mask, set bits) of the SGR parameters ``raw``."""
    if raw and raw[0] in "<=>?":  # private forms (e.g. xterm's CSI > m) are not SGR
        return sgr.MAX_STYLE, 0
    parts = raw.split(";")
    if len(parts) == 5 and parts[1] == "2" and parts[0] in ("38", "48"):
        try:  # the common truecolour form, without the general parser
            r, g, b = int(parts[2]), int(parts[3]), int(parts[4])
        except ValueError:
            r = 256
        if 0 <= min(r, g, b) and max(r, g, b) <= 255:
            color = sgr.TRUECOLOR | r << 16 | g << 8 | b
            field, shift = ((sgr.FG_FIELD, sgr.FG_SHIFT) if parts[0] == "38"
                            else (sgr.BG_FIELD, sgr.BG_SHIFT))
            return sgr.MAX_STYLE & ~field, color << shift
    params = sgr_params(raw)
    return sgr.apply_sgr(sgr.MAX_STYLE, params), sgr.apply_sgr(0, params)
