"""MainScreen: the guest tree on the left, console tabs on the right, the prefix commands."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static, TabbedContent
from textual.widgets.tabbed_content import ContentTabs

from vconsole.domain import ConsoleState
from vconsole.tui.commands import VConsoleCommands
from vconsole.tui.console_pane import ConsolePane
from vconsole.tui.event_actions import EventActions
from vconsole.tui.guest_tree import ConsoleRef, GuestTree
from vconsole.tui.link_status import LinkStatus
from vconsole.tui.log_screen import LogScreen
from vconsole.tui.messages import (
    BrokerBack,
    BrokerLost,
    EventArrived,
    FleetListed,
    HostChanged,
    OpenConsole,
    TabUnread,
)
from vconsole.tui.palette import TerminalPalette
from vconsole.tui.prefix_keys import key_label, prefix_action, prefix_hint
from vconsole.tui.screens import HelpScreen, welcome_text
from vconsole.tui.snapshot_screens import RestoreScreen, restore_into, snapshot_pane
from vconsole.tui.tab_underline import place_underline
from vconsole.tui.takeover_screen import Takeover, TakeoverScreen

if TYPE_CHECKING:
    from vconsole.tui.app import VConsoleApp

NARROW_BELOW = 100  # terminal columns under which the guest list narrows (30 -> 24 columns)
READ_ONLY_NOTICE = 4.0  # seconds a "keys are not sent" notice shows; typing on shows no second one meanwhile
SCROLLBACK_KEYS = ("shift+pageup", "shift+pagedown")  # the terminal's own keys: never sent, so fine in a spy tab

class MainScreen(Screen[None]):
    """The screen under every modal: it owns the guest tree and the console tabs.

    Broker listings come here; each tab's own console events go to its pane.
    """

    DEFAULT_CSS = """
    #main { height: 1fr; }
    GuestTree { width: 30; border-right: solid $panel; scrollbar-size-vertical: 1; }
    MainScreen.-narrow GuestTree { width: 24; }
    MainScreen.-no-guests GuestTree { display: none; }
    TabbedContent { width: 1fr; }
    #statusbar { height: 1; background: $panel; color: $text-muted; }
    #right { width: 1fr; }
    #welcome { padding: 1 2; color: $text-muted; }
    #right.-empty TabbedContent { display: none; }
    #right.-tabs #welcome { display: none; }
    """
    COMMANDS: ClassVar = {VConsoleCommands}

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.listing: dict[str, Any] = {"guests": []}
        self.prefix_pending = False
        self.idle_status = "starting"
        self.providers: tuple[str, ...] = ()  # the broker's, from its listing
        self._pane_of: dict[str, ConsolePane] = {}  # session: its tab, a cache for pane()
        self._read_only_told = float("-inf")  # when a spy tab last said keys are not sent
        self.alerts = EventActions(self)  # notices, the next alert, the events panel
        self.link_status = LinkStatus(self)  # the status line and notices of the broker links

    @property
    def vconsole(self) -> VConsoleApp:
        """The app, with its broker link, palette and themes."""
        return cast("VConsoleApp", self.app)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield GuestTree(id="guests")
            with Vertical(id="right"):
                yield Static(welcome_text(self.prefix, ()), id="welcome")
                with TabbedContent(id="tabs"):
                    pass
        yield Static(f" vconsole · prefix {key_label(self.prefix)} · {key_label(self.prefix)} ? for help", id="statusbar")

    def on_mount(self) -> None:
        """Start in the guest list."""
        self.query_one(GuestTree).focus()
        self.show_welcome()
        self.screen_layout_refresh_signal.subscribe(self, self.place_tab_underline)

    def on_resize(self, event: events.Resize) -> None:
        """A small terminal (80x24 over SSH) gets the narrow guest list."""
        self.set_class(event.size.width < NARROW_BELOW, "-narrow")

    @property
    def guests_hidden(self) -> bool:
        """Whether the guest list is collapsed (prefix b)."""
        return self.has_class("-no-guests")

    def show_guests(self, shown: bool) -> None:
        """Show or collapse the guest list; collapsed, the tabs get its columns."""
        tree = self.query_one(GuestTree)
        self.set_class(not shown, "-no-guests")
        if not shown and tree.has_focus:
            active = self.active_pane()
            if active is not None:
                active.view.focus()

    def show_welcome(self) -> None:
        """The welcome text while no tab is open, the tabs otherwise."""
        has_tabs = bool(self.panes())
        right = self.query_one("#right")
        right.set_class(not has_tabs, "-empty")
        right.set_class(has_tabs, "-tabs")

    # --- the status line ----------------------------------------------------

    def set_status(self, text: str) -> None:
        """The bottom line."""
        self.query_one("#statusbar", Static).update(f" vconsole · {text}")

    def link_up(self) -> None:
        """Connected: the idle status line says so (link_status.py)."""
        self.link_status.link_up()

    def on_broker_lost(self, message: BrokerLost) -> None:
        """Say so until the broker is back; tabs keep what they showed."""
        self.link_status.lost(message.reason, message.reconnecting, message.host)

    def on_broker_back(self, message: BrokerBack) -> None:
        """Connected again: the status line says so; each tab says what it missed as it resumes."""
        self.link_status.back(message.host)

    def on_host_changed(self, message: HostChanged) -> None:
        """A host's state changed: its node and the status line."""
        self.link_status.host_changed(message.notice)

    def on_fleet_listed(self, message: FleetListed) -> None:
        """Sidebar badges from a fresh listing (plus what open tabs received unseen)."""
        if message.host:
            self.link_status.show_hosts()
            self.alerts.listed()
            return
        self.listing = message.listing
        providers = tuple(str(p.get("name", "?")) for p in message.listing.get("providers", []))
        if providers != self.providers:
            self.providers = providers
            self.query_one("#welcome", Static).update(welcome_text(self.prefix, providers))
            self.link_up()
        tree = self.query_one(GuestTree)
        tree.local_unread = {p.key: p.unread for p in self.panes()}
        tree.update_listing(message.listing)
        self.alerts.listed()

    def on_event_arrived(self, message: EventArrived) -> None:
        """A new event of the broker's stream: maybe a notification, and a row of the open events panel."""
        self.alerts.arrived(message.event, message.host)

    def on_tab_unread(self, message: TabUnread) -> None:
        """A hidden tab's unread bytes show on its console in the guest list too."""
        self.query_one(GuestTree).set_local_unread(message.session, message.count)

    # --- tabs ---------------------------------------------------------------

    def panes(self) -> list[ConsolePane]:
        """Open console tabs, in tab order."""
        return list(self.query(ConsolePane))

    def pane(self, key: str) -> ConsolePane | None:
        """The tab of a console (ConsoleRef.key), if open (remembered: it is asked for often)."""
        known = self._pane_of.get(key)
        if known is not None and known.is_attached:
            return known
        for pane in self.query(ConsolePane):
            if pane.key == key:
                self._pane_of[key] = pane
                return pane
        self._pane_of.pop(key, None)
        return None

    def active_pane(self) -> ConsolePane | None:
        """The visible tab."""
        active = self.query_one(TabbedContent).active_pane
        return active if isinstance(active, ConsolePane) else None

    def place_tab_underline(self, _screen: Screen[Any]) -> None:
        """After a layout, the tab bar's underline under the active tab (tab_underline.py says why)."""
        place_underline(self.query_one(ContentTabs))

    def show_pane(self, pane: ConsolePane) -> None:
        """Make a tab the visible one."""
        self.query_one(TabbedContent).active = pane.id or ""

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """A tab became visible: it has no unread output any more, and parses again; the others pause."""
        pane = event.pane
        for other in self.panes():
            if other is not pane:
                other.hidden()  # no output for a tab nobody sees
        if isinstance(pane, ConsolePane):
            pane.shown()
            pane.view.focus()

    async def on_open_console(self, message: OpenConsole) -> None:
        """Enter on a console in the sidebar."""
        await self.open_console(message.ref)

    async def open_console(self, ref: ConsoleRef, read_only: bool = False) -> None:
        """Focus the console's tab, or attach and open a new one.

        One client holds one attachment per console, so a console has one tab.
        Spying on a console open read-write here is refused (it would take the
        keyboard away from that tab); opening read-write a console open as a spy
        turns that tab read-write. Either way a notice says so.
        """
        link = self.vconsole.link_of(ref.origin)
        read_only = read_only or (link is not None and link.watch_only)
        existing = self.pane(ref.key)
        if existing is not None and existing.read_only == read_only:
            self.show_pane(existing)
            existing.view.focus()
            return
        if existing is not None and read_only:
            self.show_pane(existing)
            existing.view.focus()
            self.notify(f"{existing.title} is open read-write in this tab; close it "
                        f"({key_label(self.prefix)} w) to spy on it instead", severity="warning")
            return
        if existing is not None:
            await self.close_pane(existing)
            self.notify(f"{existing.title}: the spy tab is now read-write (keys are sent)")
        if ref.state == ConsoleState.BUSY and not read_only:
            # Another program holds it: take it over, or open the tab to wait for it.
            self.app.push_screen(TakeoverScreen(ref), partial(self.open_tab, ref, False))
            return
        await self.open_tab(ref, read_only)

    async def open_tab(self, ref: ConsoleRef, read_only: bool, answer: Takeover | None = Takeover.WAIT) -> None:
        """A new tab attached to ``ref``; ``answer``: the takeover question's (FORCE ends the console's holder)."""
        if answer in (None, Takeover.CANCEL):
            return
        link = self.vconsole.link_of(ref.origin)
        if link is None or not link.connected:
            self.notify(f"{ref.origin}: not connected" if ref.origin else "not connected to the broker",
                        severity="warning", markup=False)
            return
        pane = ConsolePane(ref, read_only, self.vconsole.terminal_palette, link)
        await self.query_one(TabbedContent).add_pane(pane)
        self.show_welcome()
        self.show_pane(pane)
        pane.view.focus()
        await pane.attach(force=answer == Takeover.FORCE)

    async def close_pane(self, pane: ConsolePane) -> None:
        """Close a tab; the session stays in the broker."""
        pane.detach()
        await self.query_one(TabbedContent).remove_pane(pane.id or "")
        self.show_welcome()
        nxt = self.active_pane()
        if nxt is not None:
            nxt.view.focus()
        else:
            self.show_guests(True)  # nothing else to show
            self.query_one(GuestTree).focus()

    def set_palette(self, palette: TerminalPalette) -> None:
        """New terminal colours for every tab."""
        for pane in self.panes():
            pane.view.set_palette(palette)

    # --- the prefix key -----------------------------------------------------

    async def take_prefix_key(self, key: str) -> bool:
        """Whether ``key`` was the prefix's: the prefix itself, or the command key after it.

        Every key passes here before any widget, so a key typed into a spy tab
        (which sends nothing) is answered here with a notice.
        """
        if self.prefix_pending:
            self.prefix_pending = False
            self.set_status(self.idle_status)
            action = prefix_action(key, self.prefix)
            if action is not None:
                await self.run_action(action)
            return True
        if key == self.prefix:
            self.prefix_pending = True
            self.set_status(f"{key_label(self.prefix)} … {prefix_hint()}")
            return True
        self.tell_if_read_only(key)
        return False

    def tell_if_read_only(self, key: str) -> None:
        """A key for a spy tab's guest is not sent: say so, at most once per READ_ONLY_NOTICE seconds."""
        active = self.active_pane()
        if active is None or not active.read_only or not active.view.has_focus or key in SCROLLBACK_KEYS:
            return
        now = time.monotonic()
        if now - self._read_only_told < READ_ONLY_NOTICE:
            return
        self._read_only_told = now
        palette = f"{key_label(self.prefix)} :"
        self.notify(f"keys are not sent: {active.title} is a spy tab. "
                    f"To type, open it read-write ({palette} Open {active.title}).",
                    title="read-only", severity="warning", timeout=READ_ONLY_NOTICE)

    def action_step_tab(self, step: int) -> None:
        """The next (1) or previous (-1) tab, round."""
        panes = self.panes()
        if panes:
            active = self.active_pane()
            index = panes.index(active) if active in panes else -1
            self.show_pane(panes[(index + step) % len(panes)])

    def action_tab_number(self, number: int) -> None:
        """Tab ``number``, counting from 1, if there is one."""
        panes = self.panes()
        if number <= len(panes):
            self.show_pane(panes[number - 1])

    async def action_next_unread(self) -> None:
        """The next tab with unread output, else the first unread console in the list."""
        panes = self.panes()
        active = self.active_pane()
        index = panes.index(active) if active in panes else -1
        for pane in panes[index + 1 :] + panes[: index + 1]:
            if pane.unread:
                self.show_pane(pane)
                return
        ref = self.query_one(GuestTree).first_unread({p.key for p in panes})
        if ref is None:
            self.notify("no console has unread output")
            return
        await self.open_console(ref)

    async def action_next_alert(self) -> None:
        """The next console with an unacknowledged alert."""
        await self.alerts.next_alert()

    def action_events(self) -> None:
        """The events panel."""
        self.alerts.open_panel()

    async def action_close_tab(self) -> None:
        """Close the visible tab."""
        active = self.active_pane()
        if active is not None:
            await self.close_pane(active)

    def action_focus_guests(self) -> None:
        """Into the guest list (shown again if it was collapsed)."""
        self.show_guests(True)
        self.query_one(GuestTree).focus()

    def action_toggle_guests(self) -> None:
        """Collapse the guest list, or show it again."""
        if not self.guests_hidden and not self.panes():
            self.notify("no console is open: the guest list stays", severity="warning")
            return
        self.show_guests(self.guests_hidden)

    def pane_or_tell(self) -> ConsolePane | None:
        """The visible tab, or None with a notice that a console must be open."""
        active = self.active_pane()
        if active is None:
            self.notify("open a console first", severity="warning")
        return active

    async def action_snapshot(self) -> None:
        """Snapshot the visible tab's console."""
        if active := self.pane_or_tell():
            await snapshot_pane(active)

    def action_restore(self) -> None:
        """Pick a snapshot file and restore it into the visible tab's console."""
        if active := self.pane_or_tell():
            self.app.push_screen(RestoreScreen(active.title), partial(restore_into, active))

    def action_log_view(self) -> None:
        """The visible tab's console log: a time per line, search, jumps to a time or a boot."""
        if active := self.pane_or_tell():
            self.app.push_screen(LogScreen(active.title, active.link.target, active.link.broker.live))

    def action_help(self) -> None:
        """Show every key."""
        self.app.push_screen(HelpScreen(key_label(self.prefix)))

    def action_send_prefix(self) -> None:
        """The prefix key itself, to the visible tab's guest."""
        active = self.active_pane()
        if active is not None:
            active.view.send_key(self.prefix)
