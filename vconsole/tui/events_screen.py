"""EventsScreen: the broker's event stream as a table, newest last (prefix e).

One row per event: a mark while it is unacknowledged, the time, guest,
console, severity, name and the line (a guest's text, made printable). New
events are added while it is open. Keys: Enter opens the event's console and
jumps to the line (and acknowledges it), ``a`` acknowledges the console's
events up to the chosen one, ``s`` / ``S`` raise / lower the least severity
shown, Escape closes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Static

from vconsole.console_events import ConsoleEvent
from vconsole.display_text import printable
from vconsole.domain import SEVERITY_ORDER, Severity
from vconsole.tui.alert_badges import BADGE_STYLES
from vconsole.tui.event_feed import EventFeed

HINT = "Enter open  a acknowledge  s S severity  Esc"
COLUMNS = ("", "time", "guest", "console", "severity", "name", "line")
MAX_LINE = 200  # characters of a matched line shown in the table
DEFAULT_LEAST = Severity.WARNING  # the TUI's own attaches and detaches are info: not shown unless asked

# Acknowledge a console's events up to a seq; returns a line for the status bar.
Acknowledger = Callable[[ConsoleEvent], Awaitable[str]]


def event_time(when: float) -> str:
    """``12-06 14:02:07``, local time (the year is the status line's)."""
    return time.strftime("%m-%d %H:%M:%S", time.localtime(when))


class EventsScreen(Screen[ConsoleEvent | None]):
    """Every event the TUI has seen at or above a severity; dismissed with the event to open, or None."""

    DEFAULT_CSS = """
    EventsScreen > .bar { height: 1; background: $panel; color: $text-muted; }
    EventsScreen > #events-title { color: $text; text-style: bold; }
    EventsScreen > DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close", show=False),
        Binding("q", "close", show=False),
        Binding("a", "acknowledge", show=False),
        Binding("s", "least(1)", show=False),
        Binding("S,shift+s", "least(-1)", show=False),
    ]

    def __init__(self, feed: EventFeed, unacknowledged: Callable[[ConsoleEvent], bool],
                 acknowledge: Acknowledger, host: str = "") -> None:
        """``unacknowledged``: whether an event still counts in its console's alert (from the listing);
        ``host``: the vconsole host whose events these are ("" with one host)."""
        super().__init__()
        self.feed = feed
        self.host = host
        self.unacknowledged = unacknowledged
        self.acknowledge = acknowledge
        self.least = DEFAULT_LEAST
        self.acked: dict[str, int] = {}  # session: seq acknowledged here, before the broker's push says so
        self.table: DataTable[Text] = DataTable(id="events", cursor_type="row", zebra_stripes=True)
        self.shown: list[ConsoleEvent] = []  # the table's rows, in order

    def compose(self) -> ComposeResult:
        whose = f" of {self.host}" if self.host else ""
        yield Static(Content(f" events{whose} · {HINT}"), id="events-title", classes="bar")
        yield self.table
        yield Static("", id="events-status", classes="bar")

    def on_mount(self) -> None:
        """Fill the table, the cursor on the newest event."""
        self.table.add_columns(*COLUMNS)
        self.fill()
        self.table.focus()

    def say(self, text: str) -> None:
        """The status line (``text`` is ours, or made printable)."""
        self.query_one("#events-status", Static).update(Content(f" {text}"))

    def fill(self) -> None:
        """All the events at or above the least severity, newest last."""
        self.table.clear()
        self.shown = []
        for event in self.feed.matching(self.least):
            self._add_row(event)
        if self.shown:
            self.table.move_cursor(row=len(self.shown) - 1)
        self.show_count()

    def show_count(self) -> None:
        """How many are listed, from which severity up, and the chosen one's date and place in the log."""
        count = len(self.shown)
        what = "event" if count == 1 else "events"
        line = f"{count} {what} at {self.least.value} or above"
        event = self.chosen()
        if event is None:
            self.say(line + " (s S change the severity)")
            return
        line += f" · #{event.seq} {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(event.time))}"
        if event.offset is not None:
            line += f" · at byte {event.offset}"
        self.say(line)

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        """The status line follows the cursor."""
        self.show_count()

    def _mark(self, event: ConsoleEvent) -> str:
        return "●" if self.unacknowledged(event) and event.seq > self.acked.get(event.session.text, 0) else ""

    def _add_row(self, event: ConsoleEvent) -> None:
        # Every cell a Text: a str cell is read as markup, and a guest's line may hold "[#1]".
        self.table.add_row(
            Text(self._mark(event)), Text(event_time(event.time)), Text(printable(event.guest, 40)),
            Text(printable(event.console, 20)), Text(event.severity.value, style=BADGE_STYLES[event.severity]),
            Text(printable(event.name, 30)), Text(printable(event.text, MAX_LINE)), key=str(event.seq),
        )
        self.shown.append(event)

    def add(self, event: ConsoleEvent) -> None:
        """A new event while open: a row at the end (the cursor follows it if it was on the last row)."""
        if event.severity < self.least:
            return
        if self.shown and self.shown[-1].seq > event.seq:
            self.fill()  # came out of order (read after a reconnect): the table is rebuilt in order
            return
        at_end = not self.shown or self.table.cursor_row >= len(self.shown) - 1
        self._add_row(event)
        if at_end:
            self.table.move_cursor(row=len(self.shown) - 1)
        self.show_count()

    def chosen(self) -> ConsoleEvent | None:
        """The event under the cursor."""
        row = self.table.cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    # --- keys ---------------------------------------------------------------

    def action_close(self) -> None:
        """Back to the consoles."""
        self.dismiss(None)

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        """Enter: open the event's console at its line."""
        message.stop()
        event = self.chosen()
        if event is not None:
            self.dismiss(event)

    async def action_acknowledge(self) -> None:
        """Acknowledge the chosen event's console up to it: its badge goes."""
        event = self.chosen()
        if event is None:
            self.say("no event to acknowledge")
            return
        self.say(await self.acknowledge(event))  # the status line says it until the cursor moves
        session = event.session.text
        self.acked[session] = max(self.acked.get(session, 0), event.seq)
        self.refresh_marks()

    def refresh_marks(self) -> None:
        """The unacknowledged marks again (after an acknowledgement, or a new listing)."""
        column = self.table.ordered_columns[0].key
        for event in self.shown:
            self.table.update_cell(str(event.seq), column, Text(self._mark(event)))

    def action_least(self, step: int) -> None:
        """Show from the next severity up (``step`` 1) or down (-1)."""
        rank = min(max(self.least.rank + step, 0), len(SEVERITY_ORDER) - 1)
        if rank != self.least.rank:
            self.least = Severity(SEVERITY_ORDER[rank])
            self.fill()
