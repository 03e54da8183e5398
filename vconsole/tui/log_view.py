"""LogView: a console log's lines with a time column, drawn from a LogWindow.

Each row is the local arrival time of the line's first byte, then the line's
text. The text was made safe when the line was made (log_lines.reading_text)
and is drawn as plain segments, never parsed as markup, so nothing a guest
printed can style the view or act on the terminal. One line can be marked
(a search hit, where a jump landed): it is highlighted, and so is the
searched text in it. Scrolling to the top or the bottom of the window asks
the screen for more (LogEdge).
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from vconsole.tui.log_lines import ViewLine
from vconsole.tui.log_window import LogWindow
from vconsole.tui.messages import LogEdge

TIME_FORMAT = "%H:%M:%S"
TIME_WIDTH = 9  # "HH:MM:SS" and a space


def clock(when: float) -> str:
    """A line's time as the time column shows it: local time of day."""
    return time.strftime(TIME_FORMAT, time.localtime(when))


class LogView(ScrollView, can_focus=True):
    """The lines of ``window``: arrows, PgUp/PgDn, Home/End scroll; the top and bottom read more."""

    DEFAULT_CSS = """
    LogView { width: 1fr; height: 1fr; scrollbar-size-vertical: 1; }
    LogView > .log-view--time { color: $text-muted; }
    LogView > .log-view--boot { color: $accent; text-style: bold underline; }
    LogView > .log-view--marked { background: $primary 40%; }
    LogView > .log-view--match { background: $warning; color: $text; text-style: bold; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"log-view--time", "log-view--boot", "log-view--marked",
                                             "log-view--match"}

    def __init__(self, window: LogWindow, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.window = window
        self.marked: int | None = None  # index of the highlighted line
        self.needle = ""  # the searched text, highlighted in the marked line
        self._boot_starts: set[int] = set()

    # --- what it holds ------------------------------------------------------

    def lines_changed(self) -> None:
        """The window's lines changed: new sizes, redraw."""
        lines = self.window.lines
        widest = max((len(line.text) for line in lines), default=0)
        self._boot_starts = {b.start for b in self.window.boots}
        self.virtual_size = Size(TIME_WIDTH + widest, len(lines))
        self.refresh()

    @property
    def top_index(self) -> int:
        """The index of the line at the top of the view."""
        return int(self.scroll_y)

    @property
    def current(self) -> int:
        """The line commands start from: the marked one while it is in view, else the top one."""
        height = max(self.size.height, 1)
        if self.marked is not None and self.top_index <= self.marked < self.top_index + height:
            return self.marked
        return min(self.top_index, max(len(self.window.lines) - 1, 0))

    def mark(self, index: int | None, *, center: bool = True) -> None:
        """Highlight line ``index`` and scroll it into view (centred, or at the top)."""
        self.marked = index
        if index is not None:
            height = max(self.size.height, 1)
            y = index - height // 2 if center else index - 1
            self.scroll_to(y=max(0, min(y, len(self.window.lines) - height)), animate=False, immediate=True)
        self.refresh()

    def shift(self, lines: int) -> None:
        """``lines`` were added above (negative: removed): the view keeps showing the same lines."""
        if self.marked is not None:
            self.marked = self.marked + lines if 0 <= self.marked + lines < len(self.window.lines) else None
        self.lines_changed()
        self.scroll_to(y=max(0, self.scroll_y + lines), animate=False, immediate=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolled to the top or bottom of the window: the screen is asked to read more of the log."""
        super().watch_scroll_y(old_value, new_value)
        if new_value != old_value:
            self._at_edge(older=new_value < old_value)

    def on_key(self, event: events.Key) -> None:
        """Up or PgUp at the top (Down or PgDn at the bottom) reads more, even when nothing scrolls."""
        if event.key in ("up", "pageup", "home"):
            self._at_edge(older=True)
        elif event.key in ("down", "pagedown", "end"):
            self._at_edge(older=False)

    def _at_edge(self, older: bool) -> None:
        if older and self.scroll_y <= 0 and not self.window.at_top:
            self.post_message(LogEdge(older=True))
        elif not older and self.scroll_y >= self.max_scroll_y and not self.window.at_bottom:
            self.post_message(LogEdge(older=False))

    # --- drawing ------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """One row: the time column and the text, cropped to the view (scrolled sideways if need be)."""
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self.window.lines):
            return Strip.blank(width, base)
        line = self.window.lines[index]
        strip = Strip(self._segments(line, index == self.marked, base))
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _segments(self, line: ViewLine, marked: bool, base: Style) -> list[Segment]:
        style = base + self.get_component_rich_style("log-view--marked") if marked else base
        time_class = "log-view--boot" if line.offset in self._boot_starts else "log-view--time"
        out = [Segment(clock(line.time), style + self.get_component_rich_style(time_class)), Segment(" ", style)]
        if not marked or not self.needle:
            out.append(Segment(line.text, style))
            return out
        match = style + self.get_component_rich_style("log-view--match")
        text, needle = line.text, self.needle
        hay = text.lower() if needle == needle.lower() else text
        pos = 0
        while (at := hay.find(needle, pos)) >= 0:
            out += [Segment(text[pos:at], style), Segment(text[at : at + len(needle)], match)]
            pos = at + len(needle)
        out.append(Segment(text[pos:], style))
        return out
