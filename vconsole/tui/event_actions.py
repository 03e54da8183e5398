"""EventActions: what the main screen does with the broker's events.

A new event may become a notification (event_notices.py) and a row of the
events panel if it is open; prefix ``a`` opens the next console with an
unacknowledged alert; prefix ``e`` opens the events panel (events_screen.py),
and an event chosen there opens its console at the event's line: in the tab's
own history when the tab holds that line, else in the log view at the event's
offset. Opening an event acknowledges its console up to it, which clears the
badge once the broker's state push says so.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.css.query import NoMatches

from vconsole.console_events import ConsoleEvent
from vconsole.domain import Severity
from vconsole.tui.event_notices import NOTICE_SECONDS, EventNotices, acknowledge
from vconsole.tui.events_screen import EventsScreen, HostEvent
from vconsole.tui.guest_tree import GuestTree
from vconsole.tui.log_screen import LogScreen

JUMP_TEXT = 60  # characters of the event's line looked for in a tab's history
JUMP_RETRY = 0.3  # seconds: a new tab's replay is on screen by then

if TYPE_CHECKING:
    from vconsole.tui.console_pane import ConsolePane
    from vconsole.tui.guest_tree import ConsoleRef
    from vconsole.tui.main_screen import MainScreen


class EventActions:
    """The main screen's handling of events, alerts and the events panel."""

    def __init__(self, main: MainScreen) -> None:
        self.main = main
        self.notices = EventNotices()

    def on_screen(self) -> str | None:
        """The session the person sees now: the visible tab's, unless another screen covers it."""
        main = self.main
        if main.app.screen is not main:
            return None
        try:
            active = main.active_pane()
        except NoMatches:
            return None  # the visible tab is being closed
        return active.key if active is not None else None

    def arrived(self, event: ConsoleEvent, host: str = "") -> None:
        """A new event (of vconsole host ``host``): a notification if it matters and is not on screen;
        a row if the panel is open."""
        panel = self.main.app.screen
        if isinstance(panel, EventsScreen):
            panel.add(HostEvent(host, event))
        notice = self.notices.notice(event, self.on_screen, time.monotonic(), host)
        if notice is not None:
            self.main.notify(notice.text, title=notice.title, severity=notice.severity, timeout=NOTICE_SECONDS,
                             markup=False)

    def listed(self) -> None:
        """A new listing (alerts may have been acknowledged): the open panel's marks follow."""
        panel = self.main.app.screen
        if isinstance(panel, EventsScreen):
            panel.refresh_marks()

    def unacknowledged(self, row: HostEvent) -> bool:
        """Whether an event still counts in its console's alert, as the last listing says."""
        ref = self.main.query_one(GuestTree).ref(row.session)
        alert = ref.alert if ref is not None else None
        return alert is not None and row.event.severity >= Severity.WARNING and row.event.seq >= alert.seq

    async def acknowledge(self, row: HostEvent) -> str:
        """Acknowledge an event's console up to it (the panel's ``a``), on its host's broker."""
        link = self.main.vconsole.link_of(row.host)
        if link is None:
            return f"{row.host}: not connected"
        return await acknowledge(link.live, row.event)

    async def acknowledge_console(self, ref: ConsoleRef) -> None:
        """Acknowledge every event of a console (the palette's "Acknowledge NAME")."""
        link = self.main.vconsole.link_of(ref.origin)
        if link is None or ref.alert is None:
            return
        # Up to the newest event the TUI has seen of it: one that comes meanwhile raises the badge again.
        event = next((e for e in reversed(link.events.events) if e.session.text == ref.session), None)
        if event is None:
            self.main.notify("no event of this console is known here yet", severity="warning")
            return
        self.main.notify(await acknowledge(link.live, event), markup=False)

    async def next_alert(self) -> None:
        """Open (or show) the next console with an unacknowledged alert after the visible one."""
        main = self.main
        active = main.active_pane()
        ref = main.query_one(GuestTree).next_alert(active.key if active is not None else None)
        if ref is None:
            main.notify("no console has an unacknowledged alert")
            return
        await main.open_console(ref)

    def open_panel(self) -> None:
        """The events panel (prefix e): every host's events."""
        main = self.main
        hosts = main.vconsole.hosts
        links = hosts.links() if hosts is not None else [("", main.vconsole.link)] if main.vconsole.link else []
        if not links:
            main.notify("not connected to the broker", severity="warning")
            return
        silent = [name or "this broker" for name, link in links if not link.events.following]
        if silent:
            main.notify(f"{', '.join(silent)} keeps no events (an older vconsole?)", severity="warning", markup=False)
        panel = EventsScreen({name: link.events for name, link in links}, self.unacknowledged, self.acknowledge)
        main.app.push_screen(panel, self.open_event)

    async def open_event(self, row: HostEvent | None) -> None:
        """Open an event's console at its line, and acknowledge it (the panel's Enter)."""
        main = self.main
        link = main.vconsole.link_of(row.host) if row is not None else None
        if row is None or link is None:
            return
        event = row.event
        ref = main.query_one(GuestTree).ref(row.session)
        if ref is None:
            main.notify(f"{event.session.text} is not in the guest list any more", severity="warning", markup=False)
            return
        await main.open_console(ref)
        pane = main.pane(ref.key)
        if event.severity >= Severity.WARNING:
            main.notify(await acknowledge(link.live, event), markup=False)
        if pane is not None and event.offset is not None:
            self.jump(pane, event)

    def jump(self, pane: ConsolePane, event: ConsoleEvent, retry: bool = True) -> None:
        """Show the event's line: in the tab if its history holds it, else in the log view at its offset.

        A tab just opened is fed its replay a moment after it attached: if
        the line should be there but is not yet, it is looked for once more.
        """
        held_from = pane.older.before
        if held_from is not None and event.offset is not None and event.offset >= held_from:
            if pane.view.show_line_with(event.text.strip()[:JUMP_TEXT]):
                return
            if retry:
                pane.set_timer(JUMP_RETRY, lambda: self.jump(pane, event, retry=False))
                return
        pane.app.push_screen(LogScreen(pane.title, pane.link.target, pane.link.broker.live, at=event.offset))
