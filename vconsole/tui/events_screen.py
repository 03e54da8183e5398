"""EventsScreen: the broker's event stream as a table, newest last (prefix e).

One row per event: a mark while it is unacknowledged, the time, guest,
console, severity, name and the line (a guest's text, made printable). New
events are added while it is open. With many vconsole hosts it lists every
host's events by time, each guest named ``host/guest``. Keys: Enter opens the event's console and
jumps to the line (and acknowledges it), ``a`` acknowledges the console's
events up to the chosen one, ``s`` / ``S`` raise / lower the least severity
shown, Escape closes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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



@dataclass(frozen=True)
class HostEvent:
    """An event of the broker of vconsole host ``host`` ("" with one host)."""

    host: str
    event: ConsoleEvent

    @property
    def key(self) -> str:
        """Its table row: the event's seq, which counts per broker, qualified by the host."""
        return f"{self.host}/{self.event.seq}" if self.host else str(self.event.seq)

    @property
    def session(self) -> str:
        """Its console's session, qualified by the host."""
        return f"{self.host}/{self.event.session.text}" if self.host else self.event.session.text


# Acknowledge a console's events up to one; returns a line for the status bar.
Acknowledger = Callable[[HostEvent], Awaitable[str]]


def event_time(when: float) -> str:
    """``12-06 14:02:07``, local time (the year is the status line's)."""
    return time.strftime("%m-%d %H:%M:%S", time.localtime(when))


class EventsScreen(Screen[HostEvent | None]):
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

    def __init__(self, feeds: dict[str, EventFeed], unacknowledged: Callable[[HostEvent], bool],
                 acknowledge: Acknowledger) -> None:
        """``feeds``: each vconsole host's events (one, keyed "", with one host);
        ``unacknowledged``: whether an event still counts in its console's alert (from the listing)."""
        super().__init__()
        self.feeds = feeds
        self.unacknowledged = unacknowledged
        self.acknowledge = acknowledge
        self.least = DEFAULT_LEAST
        self.acked: dict[str, int] = {}  # HostEvent.session: seq acknowledged here, before the broker's push says so
        self.table: DataTable[Text] = DataTable(id="events", cursor_type="row", zebra_stripes=True)
        self.shown: list[HostEvent] = []  # the table's rows, in order

    def compose(self) -> ComposeResult:
        yield Static(Content(f" events · {HINT}"), id="events-title", classes="bar")
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
        events = [HostEvent(host, e) for host, feed in self.feeds.items() for e in feed.matching(self.least)]
        if len(self.feeds) > 1:
            events.sort(key=lambda h: (h.event.time, h.host, h.event.seq))  # each host's in order already
        for event in events:
            self._add_row(event)
        if self.shown:
            self.table.move_cursor(row=len(self.shown) - 1)
        self.show_count()

    def show_count(self) -> None:
        """How many are listed, from which severity up, and the chosen one's date and place in the log."""
        count = len(self.shown)
        what = "event" if count == 1 else "events"
        line = f"{count} {what} at {self.least.value} or above"
        chosen = self.chosen()
        if chosen is None:
            self.say(line + " (s S change the severity)")
            return
        event = chosen.event
        line += f" · #{event.seq} {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(event.time))}"
        if event.offset is not None:
            line += f" · at byte {event.offset}"
        self.say(line)

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        """The status line follows the cursor."""
        self.show_count()

    def _mark(self, row: HostEvent) -> str:
        return "●" if self.unacknowledged(row) and row.event.seq > self.acked.get(row.session, 0) else ""

    def _add_row(self, row: HostEvent) -> None:
        event = row.event
        guest = f"{row.host}/" * bool(row.host) + event.guest
        # Every cell a Text: a str cell is read as markup, and a guest's line may hold "[#1]".
        self.table.add_row(
            Text(self._mark(row)), Text(event_time(event.time)), Text(printable(guest, 40)),
            Text(printable(event.console, 20)), Text(event.severity.value, style=BADGE_STYLES[event.severity]),
            Text(printable(event.name, 30)), Text(printable(event.text, MAX_LINE)), key=row.key,
        )
        self.shown.append(row)

    def add(self, row: HostEvent) -> None:
        """A new event while open: a row at the end (the cursor follows it if it was on the last row)."""
        if row.event.severity < self.least or row.host not in self.feeds:
            return
        last = self.shown[-1] if self.shown else None
        if last is not None and (last.event.seq > row.event.seq if last.host == row.host
                                 else last.event.time > row.event.time):
            self.fill()  # came out of order (read after a reconnect): the table is rebuilt in order
            return
        at_end = not self.shown or self.table.cursor_row >= len(self.shown) - 1
        self._add_row(row)
        if at_end:
            self.table.move_cursor(row=len(self.shown) - 1)
        self.show_count()

    def chosen(self) -> HostEvent | None:
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
        row = self.chosen()
        if row is None:
            self.say("no event to acknowledge")
            return
        self.say(await self.acknowledge(row))  # the status line says it until the cursor moves
        self.acked[row.session] = max(self.acked.get(row.session, 0), row.event.seq)
        self.refresh_marks()

    def refresh_marks(self) -> None:
        """The unacknowledged marks again (after an acknowledgement, or a new listing)."""
        if not self.table.ordered_columns:
            return  # not mounted yet: it fills itself then
        column = self.table.ordered_columns[0].key
        for row in self.shown:
            self.table.update_cell(row.key, column, Text(self._mark(row)))

    def action_least(self, step: int) -> None:
        """Show from the next severity up (``step`` 1) or down (-1)."""
        rank = min(max(self.least.rank + step, 0), len(SEVERITY_ORDER) - 1)
        if rank != self.least.rank:
            self.least = Severity(SEVERITY_ORDER[rank])
            self.fill()
