"""TerminalView: a widget that renders one console through the terminal engine."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from vconsole.term import Terminal
from vconsole.term.keys import encode_key, encode_paste
from vconsole.term.screen import Line
from vconsole.tui.messages import TerminalResized
from vconsole.tui.paint_now import paint_now
from vconsole.tui.palette import TerminalPalette

# A repaint of more than FEW_ROWS rows (a scroll, a redraw) waits until FRAME has passed since
# the last one, so a flood repaints 60 times a second; an echo or a quiet spell's first output,
# a few rows, is repainted at once.
FRAME = 1 / 60
FEW_ROWS = 4
STRIP_CACHE = 512  # drawn rows kept for reuse: a few screens


# At most this much output waits for the view's first layout (more is fed at 80 columns).
EARLY_OUTPUT = 4 << 20

class TerminalView(Widget, can_focus=True):
    """One console's screen; every key becomes bytes for ``sink``.

    The app hands keys to the main screen's prefix table before they reach
    any widget, then straight to the focused view (see VConsoleApp.on_event),
    so Ctrl-C, Ctrl-Q, Ctrl-P, Esc and function keys all reach the guest. The
    view decides nothing about where its bytes go: its pane's ``sink`` does (a
    read-only tab drops them); a view without one (``vconsole show``) sends nothing.
    """

    DEFAULT_CSS = """
    TerminalView { width: 1fr; height: 1fr; }
    """

    def __init__(
        self,
        palette: TerminalPalette,
        *,
        scrollback: int = 5000,
        id: str | None = None,
        sink: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__(id=id)
        self.sink = sink
        self.term = Terminal(80, 24, scrollback=scrollback)
        self.palette = palette
        self.scroll_back = 0  # lines scrolled up into the scrollback
        # Lines older than the terminal's scrollback, read from the console's log (oldest first),
        # and who is told when scrolling back reaches the top of what the view holds.
        self.older: list[Line] = []
        self.on_top: Callable[[], None] | None = None
        self._last_cursor = (0, 0)
        self._painted_at = float("-inf")  # when the last repaint was asked for
        self._repaint_timer: Timer | None = None
        self._changed: set[int] = set()  # rows changed since the last repaint
        self._strips: dict[tuple[object, ...], Strip] = {}  # rows drawn lately, by content
        # Output that came before the first layout: fed once the view knows its size, so a
        # replay is wrapped at the width it is shown at, not at the 80 columns it starts with.
        self._early: bytearray | None = bytearray()

    # --- output -------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the guest; the changed rows are repainted at once, or within a frame in a flood."""
        early = self._early
        if early is not None and len(early) + len(data) <= EARLY_OUTPUT:
            early += data
            return
        self.term.feed(data)
        replies = self.term.read_replies()
        if replies:
            self.send(replies)  # answers to DSR/DA, as a real terminal gives
        if self.scroll_back:
            # New output while scrolled back keeps the view where the user put it.
            self.scroll_back = min(self.scroll_back, self.history_lines)
        self._changed |= self.term.changed_rows()
        if self._repaint_timer is not None:
            return  # a repaint is on its way: it takes these rows too
        wait = self._painted_at + FRAME - time.monotonic()
        if wait > 0 and len(self._changed) > FEW_ROWS:
            self._repaint_timer = self.set_timer(wait, self._repaint)
        else:
            self._repaint()

    def set_palette(self, palette: TerminalPalette) -> None:
        """Switch theme colours."""
        self.palette = palette
        self._strips.clear()
        self.refresh()

    @property
    def history_lines(self) -> int:
        """Lines above the screen: the log's older lines, then the terminal's scrollback."""
        return len(self.older) + len(self.term.scrollback)

    def show_line_with(self, text: str) -> bool:
        """Scroll so the newest line holding ``text`` shows near the top; False if the view holds none."""
        term = self.term
        if not text:
            return False
        if any(text in row for row in term.screen_text()):
            self.scroll_back = 0
            self.refresh()
            return True
        history = term.scrollback
        for index in range(len(history) - 1, -1, -1):
            if text in history[index].text():
                # Row y shows history[len(history) - scroll_back + y]: put it on row 2, context above.
                self.scroll_back = min(len(history) - index + 2, self.history_lines)
                self.refresh()
                return True
        return False

    def add_older(self, lines: list[Line]) -> None:
        """Lines older than any the view holds (from the log); a view scrolled back keeps showing the same lines."""
        self.older[:0] = lines
        if self.scroll_back:
            self.refresh()

    def _repaint(self) -> None:
        self._repaint_timer = None
        rows, self._changed = self._changed | self.term.changed_rows(), set()
        if len(rows) > FEW_ROWS:
            self._painted_at = time.monotonic()
        width = self.size.width
        if self.scroll_back:
            self.refresh()
            return
        cursor = self.term.cursor
        rows.add(cursor[1])
        rows.add(self._last_cursor[1])
        self._last_cursor = cursor
        regions = [Region(0, y, width, 1) for y in sorted(rows) if y < self.size.height]
        if regions and not paint_now(self, regions):
            self.refresh(*regions)

    def render_line(self, y: int) -> Strip:
        """One row: scrollback lines above the screen when scrolled back."""
        term = self.term
        width = self.size.width
        if self.scroll_back and term.buf is term.main:
            history = term.scrollback
            index = len(history) - self.scroll_back + y
            if index < len(history):
                older = self.older
                line = history[index] if index >= 0 else older[index] if -index <= len(older) else None
                runs = line.runs() if line is not None else []
                return self._strip(runs, width, None)
            y = index - len(history)
        if y >= term.rows:
            return Strip.blank(width, self.palette.style(0))
        cursor_x = None
        if (
            self.has_focus
            and not self.scroll_back
            and term.modes.cursor_visible
            and term.cursor[1] == y
        ):
            cursor_x = term.cursor[0]
        return self._strip(term.row_runs(y), width, cursor_x)

    def _strip(self, runs: list[tuple[str, int]], width: int, cursor_x: int | None) -> Strip:
        # A row drawn before (scrolled up a line since, or the same as another) reuses its Strip,
        # and with it Textual's caches on that Strip: a scrolling screen redraws one new row.
        key = (tuple(runs), width, cursor_x)
        found = self._strips.get(key)
        if found is None:
            if len(self._strips) >= STRIP_CACHE:
                self._strips.clear()
            found = self._strips[key] = self._new_strip(runs, width, cursor_x)
        return found

    def _new_strip(self, runs: list[tuple[str, int]], width: int, cursor_x: int | None) -> Strip:
        style_of = self.palette.style
        segments: list[Segment] = []
        x = 0
        for text, packed in runs:
            style = style_of(packed)
            if cursor_x is not None and x <= cursor_x < x + len(text):
                i = cursor_x - x
                if i:
                    segments.append(Segment(text[:i], style))
                segments.append(Segment(text[i], style + Style(reverse=True)))
                if text[i + 1 :]:
                    segments.append(Segment(text[i + 1 :], style))
            else:
                segments.append(Segment(text, style))
            x += len(text)
        strip = Strip(segments)
        if cursor_x is not None and cursor_x >= x:
            strip = Strip([*segments, Segment(" ", style_of(0) + Style(reverse=True))])
        return strip.crop_extend(0, width, style_of(0))

    # --- input --------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Bytes for the guest, to whoever holds this view (a call, not a message: no queue to wait in)."""
        if self.sink is not None:
            self.sink(data)

    def send_key(self, key: str) -> None:
        """A key as this terminal encodes it in its current modes (cursor keys, keypad)."""
        data = encode_key(key, self.term.modes, None)
        if data:
            self.send(data)

    async def on_key(self, event: events.Key) -> None:
        """A key that reached the view through Textual's focus (the app hands most keys over directly)."""
        event.stop()
        event.prevent_default()
        self.press(event)

    def press(self, event: events.Key) -> None:
        """Every key to the guest, except the scrollback keys."""
        if event.key in ("shift+pageup", "shift+pagedown"):
            page = max(1, self.size.height - 1)
            delta = page if event.key == "shift+pageup" else -page
            top = self.history_lines
            self.scroll_back = max(0, min(top, self.scroll_back + delta))
            if self.scroll_back == top and delta > 0 and self.on_top is not None:
                self.on_top()  # more from the console's log, if it has more
            self.refresh()
            return
        data = encode_key(event.key, self.term.modes, event.character)
        if data:
            if self.scroll_back:
                self.scroll_back = 0  # typing returns to the live screen, like tmux copy mode
                self.refresh()
            self.send(data)

    async def on_paste(self, event: events.Paste) -> None:
        """Pasted text, bracketed when the program asked for it."""
        event.stop()
        self.send(encode_paste(event.text, self.term.modes))

    def on_resize(self, event: events.Resize) -> None:
        """Follow the widget's size and tell the guest."""
        cols, rows = max(2, event.size.width), max(2, event.size.height)
        if (cols, rows) != (self.term.cols, self.term.rows):
            self.term.resize(cols, rows)
            self.post_message(TerminalResized(cols, rows))
            self.refresh()
        early, self._early = self._early, None
        if early:
            self.feed(bytes(early))

    def on_focus(self) -> None:
        """Show the cursor."""
        self.refresh()

    def on_blur(self) -> None:
        """Hide the cursor."""
        self.refresh()
