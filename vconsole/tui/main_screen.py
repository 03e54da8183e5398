"""MainScreen: the guest tree on the left, console tabs on the right, the prefix commands."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static, TabbedContent

from vconsole.tui.commands import VConsoleCommands
from vconsole.tui.console_pane import ConsolePane
from vconsole.tui.guest_tree import ConsoleRef, GuestTree
from vconsole.tui.messages import BrokerLost, FleetListed, OpenConsole, TabUnread
from vconsole.tui.palette import TerminalPalette
from vconsole.tui.prefix_keys import key_label, prefix_action, prefix_hint
from vconsole.tui.screens import HelpScreen
from vconsole.tui.snapshot_screens import RestoreScreen, restore_into, snapshot_pane

if TYPE_CHECKING:
    from vconsole.tui.app import VConsoleApp

WELCOME = """No console open.

Pick one in the guest list and press Enter (type to filter the list).
Every key then goes to the guest, except the prefix {prefix}:
{prefix} n / p / 1-9 switch tabs, {prefix} u jumps to unread output,
{prefix} : opens the command palette, {prefix} ? lists every key."""


class MainScreen(Screen[None]):
    """The screen under every modal: it owns the guest tree and the console tabs.

    Broker listings come here; each tab's own console events go to its pane.
    """

    DEFAULT_CSS = """
    #main { height: 1fr; }
    GuestTree { width: 34; border-right: solid $panel; }
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
        self._pane_of: dict[str, ConsolePane] = {}  # session: its tab, a cache for pane()

    @property
    def vconsole(self) -> VConsoleApp:
        """The app, with its broker link, palette and themes."""
        return cast("VConsoleApp", self.app)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield GuestTree(id="guests")
            with Vertical(id="right"):
                yield Static(WELCOME.format(prefix=key_label(self.prefix)), id="welcome")
                with TabbedContent(id="tabs"):
                    pass
        yield Static(f" vconsole · prefix {key_label(self.prefix)} · {key_label(self.prefix)} ? for help", id="statusbar")

    def on_mount(self) -> None:
        """Start in the guest list."""
        self.query_one(GuestTree).focus()
        self.show_welcome()

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
        """Connected: the idle status line says so."""
        self.idle_status = f"connected · prefix {key_label(self.prefix)} · {key_label(self.prefix)} ? for help"
        self.set_status(self.idle_status)

    def on_broker_lost(self, message: BrokerLost) -> None:
        """Say so; the tabs keep what they showed."""
        self.set_status(f"disconnected: {message.reason}")
        self.notify(message.reason, title="broker lost", severity="error", timeout=30)

    def on_fleet_listed(self, message: FleetListed) -> None:
        """Sidebar badges from a fresh listing (plus what open tabs received unseen)."""
        self.listing = message.listing
        tree = self.query_one(GuestTree)
        tree.local_unread = {p.session: p.unread for p in self.panes()}
        tree.update_listing(message.listing)

    def on_tab_unread(self, message: TabUnread) -> None:
        """A hidden tab's unread bytes show on its console in the guest list too."""
        self.query_one(GuestTree).set_local_unread(message.session, message.count)

    # --- tabs ---------------------------------------------------------------

    def panes(self) -> list[ConsolePane]:
        """Open console tabs, in tab order."""
        return list(self.query(ConsolePane))

    def pane(self, session: str) -> ConsolePane | None:
        """The tab of a session, if open (remembered: it is asked for often)."""
        known = self._pane_of.get(session)
        if known is not None and known.is_attached:
            return known
        for pane in self.query(ConsolePane):
            if pane.session == session:
                self._pane_of[session] = pane
                return pane
        self._pane_of.pop(session, None)
        return None

    def active_pane(self) -> ConsolePane | None:
        """The visible tab."""
        active = self.query_one(TabbedContent).active_pane
        return active if isinstance(active, ConsolePane) else None

    def show_pane(self, pane: ConsolePane) -> None:
        """Make a tab the visible one."""
        self.query_one(TabbedContent).active = pane.id or ""

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """A tab became visible: it has no unread output any more, and parses again."""
        pane = event.pane
        if isinstance(pane, ConsolePane):
            pane.shown()
            pane.view.focus()

    async def on_open_console(self, message: OpenConsole) -> None:
        """Enter on a console in the sidebar."""
        await self.open_console(message.ref)

    async def open_console(self, ref: ConsoleRef, read_only: bool = False) -> None:
        """Focus the console's tab, or attach and open a new one."""
        existing = self.pane(ref.session)
        if existing is not None and existing.read_only == read_only:
            self.show_pane(existing)
            existing.view.focus()
            return
        if existing is not None:
            await self.close_pane(existing)
        link = self.vconsole.link
        if link is None:
            self.notify("not connected to the broker yet", severity="warning")
            return
        pane = ConsolePane(ref, read_only, self.vconsole.terminal_palette, link)
        await self.query_one(TabbedContent).add_pane(pane)
        self.show_welcome()
        self.show_pane(pane)
        pane.view.focus()
        await pane.attach()

    async def close_pane(self, pane: ConsolePane) -> None:
        """Close a tab; the session stays in the broker."""
        pane.detach()
        await self.query_one(TabbedContent).remove_pane(pane.id or "")
        self.show_welcome()
        nxt = self.active_pane()
        if nxt is not None:
            nxt.view.focus()
        else:
            self.query_one(GuestTree).focus()

    def set_palette(self, palette: TerminalPalette) -> None:
        """New terminal colours for every tab."""
        for pane in self.panes():
            pane.view.set_palette(palette)

    # --- the prefix key -----------------------------------------------------

    async def take_prefix_key(self, key: str) -> bool:
        """Whether ``key`` was the prefix's: the prefix itself, or the command key after it."""
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
        return False

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
        ref = self.query_one(GuestTree).first_unread({p.session for p in panes})
        if ref is None:
            self.notify("no console has unread output")
            return
        await self.open_console(ref)

    async def action_close_tab(self) -> None:
        """Close the visible tab."""
        active = self.active_pane()
        if active is not None:
            await self.close_pane(active)

    def action_focus_guests(self) -> None:
        """Into the guest list."""
        self.query_one(GuestTree).focus()

    async def action_snapshot(self) -> None:
        """Snapshot the visible tab's console."""
        active = self.active_pane()
        if active is None:
            self.notify("open a console first", severity="warning")
            return
        await snapshot_pane(active)

    def action_restore(self) -> None:
        """Pick a snapshot file and restore it into the visible tab's console."""
        active = self.active_pane()
        if active is None:
            self.notify("open a console first", severity="warning")
            return
        self.app.push_screen(RestoreScreen(active.title), partial(restore_into, active))

    def action_help(self) -> None:
        """Show every key."""
        self.app.push_screen(HelpScreen(key_label(self.prefix)))

    def action_send_prefix(self) -> None:
        """The prefix key itself, to the visible tab's guest."""
        active = self.active_pane()
        if active is not None:
            active.view.send_key(self.prefix)
