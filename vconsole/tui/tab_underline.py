"""The tab bar's underline, put back under the active tab after a layout if it is elsewhere."""

from __future__ import annotations

from textual.widgets._tabs import Underline
from textual.widgets.tabbed_content import ContentTabs

UNDERLINE_SLIDE = 0.3  # seconds, as Textual slides the tab underline


def place_underline(tabs: ContentTabs) -> None:
    """Move the underline under the active tab if it is not there.

    Textual measures the active tab right after activating it. A tab opened
    from the command palette is activated while the palette holds screen
    updates back (App.delay_update), so it is measured before it is laid out
    (width 0) and the underline stayed at column 0.
    """
    tab = tabs.active_tab
    if tab is None or not tab.size.width:
        return
    underline = tabs.query_one(Underline)
    start, end = tab.virtual_region.shrink(tab.styles.gutter).column_span
    if (underline.highlight_start, underline.highlight_end) != (start, end):
        # As Textual moves it: an animation replaces one still sliding to the wrong place.
        underline.animate("highlight_start", start, duration=UNDERLINE_SLIDE, level="basic")
        underline.animate("highlight_end", end, duration=UNDERLINE_SLIDE, level="basic")
