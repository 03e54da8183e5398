"""paint_now: a few changed rows of a widget written to the terminal at once, past Textual's compositor.

An echo changes one row of the visible terminal. Through ``refresh`` that row
takes three message hops (widget, screen, update timer) and a compositor pass
that renders every widget whose parent overlaps the row (tree, tab bar, status
lines, containers: about a dozen, ~1.5 ms on a slow core) to find that only the
terminal's cells changed. When nothing else waits to be drawn and nothing is
drawn over the widget, its rows are rendered through its own styles (so theme
filters apply) and written as Textual writes a partial update.
"""

from __future__ import annotations

from textual._compositor import ChopsUpdate
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


def paint_now(widget: Widget, rows: list[Region]) -> bool:
    """Write ``rows`` (one-line regions in the widget's coordinates) now; False when it must wait for Textual."""
    app = widget.app
    screen = widget.screen
    if (
        app.screen is not screen
        or app._batch_count
        or app._driver is None
        or app.is_headless
        or app.is_inline
        or not app._running
        or screen._layout_required
        or screen._repaint_required
        or screen._scroll_required
        or screen._recompose_required
        or screen._dirty_widgets
        or screen._compositor._dirty_regions
        or widget._repaint_regions
    ):
        return False  # an update is due anyway: the rows go with it
    visible = screen._compositor.visible_widgets
    placed = visible.get(widget)
    if placed is None:
        return False
    region, clip = placed
    if not clip.contains_region(region):
        return False  # partly scrolled or clipped: the compositor crops it
    beneath = set(widget.ancestors_with_self)
    for other, (other_region, _clip) in visible.items():
        if other not in beneath and other_region.overlaps(region):
            return False  # a toast, tooltip or overlay on top: the compositor layers it
    x, y = region.offset
    width = region.width
    cache = widget._styles_cache
    chops: dict[int, dict[int, Strip | None]] = {}
    spans: list[tuple[int, int, int]] = []
    ends: dict[int, list[int]] = {}
    for row in rows:
        cache.set_dirty(row)
        strips = widget.render_lines(row)
        if not strips:
            continue
        line = y + row.y
        chops[line] = {x: strips[0]}
        spans.append((line, x, x + width))
        ends[line] = [x + width]
    if spans:
        app._display(screen, ChopsUpdate(chops, spans, ends))  # type: ignore[arg-type]
    return True


__all__ = ["paint_now"]
