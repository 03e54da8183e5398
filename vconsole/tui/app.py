"""VConsoleApp: the keyboard-driven TUI over the broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static, TabbedContent

from vconsole.client import BrokerUnreachable, Client, RequestFailed
from vconsole.term.keys import encode_key
from vconsole.tui.broker_link import BrokerLink
from vconsole.tui.commands import VConsoleCommands
from vconsole.tui.console_pane import ConsolePane, pane_id
from vconsole.tui.guest_tree import ConsoleRef, GuestTree
from vconsole.tui.messages import (
    BrokerLost,
    ConsoleMissed,
    ConsoleOutput,
    ConsoleState,
    FleetListed,
)
from vconsole.tui.screens import PREFIX_KEYS, HelpScreen
from vconsole.tui.terminal_view import TerminalPalette
from vconsole.tui.themes import DEFAULT_THEME, ThemeFile, discover_themes

Connector = Callable[[], Awaitable[Client]]
MISSED_NOTICE = 10.0  # seconds between "bytes were dropped" notices for one tab
WELCOME = """No console open.

Pick one in the guest list and press Enter (type to filter the list).
Every key then goes to the guest, except the prefix {prefix}:
{prefix} n / p / 1-9 switch tabs, {prefix} u jumps to unread output,
{prefix} : opens the command palette, {prefix} ? lists every key."""


def key_label(key: str) -> str:
    """``ctrl+right_square_bracket`` as a person writes it: ``^]``."""
    names = {"right_square_bracket": "]", "left_square_bracket": "[", "backslash": "\\"}
    if key.startswith("ctrl+"):
        rest = key[5:]
        return "^" + names.get(rest, rest.upper() if len(rest) == 1 else rest)
    return key


class VConsoleApp(App[None]):
    """Guests on the left, consoles in tabs on the right, one prefix key for commands."""

    TITLE = "vconsole"
    CSS = """
    #main { height: 1fr; }
    GuestTree { width: 34; border-right: solid $panel; }
    TabbedContent { width: 1fr; }
    #statusbar { height: 1; background: $panel; color: $text-muted; }
    #right { width: 1fr; }
    #welcome { padding: 1 2; color: $text-muted; }
    #right.-empty TabbedContent { display: none; }
    #right.-tabs #welcome { display: none; }
    """
    # Keys a shell needs are never the app's: no Ctrl-Q quit, no Ctrl-P palette, no Ctrl-C copy.
    ENABLE_COMMAND_PALETTE = False
    COMMANDS: ClassVar = {VConsoleCommands}
    BINDINGS: ClassVar = [
        Binding("ctrl+q", "ignore", show=False, priority=False),
        Binding("ctrl+c", "ignore", show=False),
    ]

    def __init__(self, connect: Connector, *, theme: str | None = None, prefix: str = "ctrl+right_square_bracket") -> None:
        super().__init__()
        self.connect = connect
        self.prefix = prefix
        self.link: BrokerLink | None = None
        self.themes, self.theme_errors = discover_themes()
        self.requested_theme = theme
        self.palette_colors = self._palette(self.themes.get(theme or DEFAULT_THEME))
        self.listing: dict[str, Any] = {"guests": []}
        self.use_command_palette = True  # reachable by prefix + ':', never by a bare key
        self.prefix_pending = False
        self._idle_status = "starting"
        self._missed: dict[str, tuple[int, float]] = {}  # session: (bytes dropped, when last told)
        self._pane_of: dict[str, ConsolePane] = {}  # session: its tab, a cache for pane()

    @property
    def main(self) -> Screen[Any]:
        """The main screen, whatever modal (help, palette) is on top of it.

        Broker events keep arriving while a modal is open; ``self.query_one``
        would search the modal and miss the tree and tabs.
        """
        return self.screen_stack[0]

    @staticmethod
    def _palette(theme: ThemeFile | None) -> TerminalPalette:
        if theme is None:
            return TerminalPalette("#d0d0d0", "#101318", [
                "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
                "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
            ])
        return TerminalPalette(theme.terminal_foreground, theme.terminal_background, theme.ansi)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield GuestTree(id="guests")
            with Vertical(id="right"):
                yield Static(WELCOME.format(prefix=key_label(self.prefix)), id="welcome")
                with TabbedContent(id="tabs"):
                    pass
        yield Static(f" vconsole · prefix {key_label(self.prefix)} · {key_label(self.prefix)} ? for help", id="statusbar")

    async def on_mount(self) -> None:
        """Register themes, then connect in the background."""
        for found in self.themes.values():
            self.register_theme(found.theme)
        for error in self.theme_errors:
            self.notify(error, title="theme file skipped", severity="warning", timeout=10)
        name = self.requested_theme or DEFAULT_THEME
        if name in self.themes:
            self.theme = name
        else:
            self.notify(f"no theme named {name!r}; using {DEFAULT_THEME}", severity="warning")
            if DEFAULT_THEME in self.themes:
                self.theme = DEFAULT_THEME
        self.main.query_one(GuestTree).focus()
        self.show_welcome()
        self.start_link()

    def show_welcome(self) -> None:
        """The welcome text while no tab is open, the tabs otherwise."""
        has_tabs = bool(self.panes())
        right = self.main.query_one("#right")
        right.set_class(not has_tabs, "-empty")
        right.set_class(has_tabs, "-tabs")

    @work(exclusive=True, group="link")
    async def start_link(self) -> None:
        """Connect (starting the broker if needed) without blocking the UI."""
        self.set_status("connecting to the broker ...")
        try:
            client = await self.connect()
        except BrokerUnreachable as exc:
            self.set_status(f"broker unreachable: {exc}")
            self.notify(str(exc), title="broker unreachable", severity="error", timeout=30)
            return
        self.link = BrokerLink(client, self)
        await self.link.start()
        self._idle_status = f"connected · prefix {key_label(self.prefix)} · {key_label(self.prefix)} ? for help"
        self.set_status(self._idle_status)

    def set_status(self, text: str) -> None:
        """The bottom line."""
        self.main.query_one("#statusbar", Static).update(f" vconsole · {text}")

    # --- broker events ------------------------------------------------------

    def on_fleet_listed(self, message: FleetListed) -> None:
        """Sidebar badges and tab states from a fresh listing."""
        if not self.screen_stack:
            return  # the app is closing; late broker events have nowhere to go
        self.listing = message.listing
        tree = self.main.query_one(GuestTree)
        tree.local_unread = {p.session: p.unread for p in self.panes()}
        tree.update_listing(message.listing)

    def on_console_output(self, message: ConsoleOutput) -> None:
        """Output for an open tab; counts as unread while the tab is hidden.

        The link hands out a flood a step at a time; the rest waits for a
        message posted behind whatever keys arrived meanwhile.
        """
        if not self.screen_stack:
            return  # the app is closing; late broker events have nowhere to go
        data = message.data
        if self.link is not None:
            chunk, more = self.link.take_output(message.session)
            data += chunk
            if more:
                # Through the event loop, not straight onto our queue: while the queue is never
                # empty Textual never yields, and asyncio never reads the keys or the socket.
                asyncio.get_running_loop().call_soon(
                    self.post_message, ConsoleOutput(message.session, message.offset, b"")
                )
        pane = self.pane(message.session)
        if pane is None or not data:
            return
        pane.view.feed(data)
        if self.active_pane() is not pane:
            pane.unread += len(data)
            self.relabel(pane)

    def on_console_missed(self, message: ConsoleMissed) -> None:
        """Tell the user output was lost to them, at most every MISSED_NOTICE seconds per tab.

        A flood the tab cannot keep up with drops bytes many times a second; one
        notice with the running total says it without burying the screen.
        """
        if not self.screen_stack:
            return  # the app is closing; late broker events have nowhere to go
        pane = self.pane(message.session)
        if pane is None:
            return
        total, last = self._missed.get(pane.session, (0, float("-inf")))
        total += message.count
        now = time.monotonic()
        if now - last >= MISSED_NOTICE:
            last = now
            self.notify(f"{pane.title}: {total} bytes were dropped before this tab saw them", severity="warning")
        self._missed[pane.session] = (total, last)

    def on_console_state(self, message: ConsoleState) -> None:
        """A tab's console changed state."""
        if not self.screen_stack:
            return  # the app is closing; late broker events have nowhere to go
        pane = self.pane(message.session)
        if pane is not None:
            pane.set_state(message.state, message.reason)

    def on_broker_lost(self, message: BrokerLost) -> None:
        """Say so; the tabs keep what they showed."""
        if not self.screen_stack:
            return  # the app is closing; late broker events have nowhere to go
        self.set_status(f"disconnected: {message.reason}")
        self.notify(message.reason, title="broker lost", severity="error", timeout=30)

    # --- tabs ---------------------------------------------------------------

    def panes(self) -> list[ConsolePane]:
        """Open console tabs, in tab order."""
        return list(self.main.query(ConsolePane))

    def pane(self, session: str) -> ConsolePane | None:
        """The tab of a session, if open (remembered: output asks for it many times a second)."""
        known = self._pane_of.get(session)
        if known is not None and known.is_attached:
            return known
        for pane in self.main.query(ConsolePane):
            if pane.session == session:
                self._pane_of[session] = pane
                return pane
        self._pane_of.pop(session, None)
        return None

    def active_pane(self) -> ConsolePane | None:
        """The visible tab."""
        tabs = self.main.query_one(TabbedContent)
        active = tabs.active_pane
        return active if isinstance(active, ConsolePane) else None

    def relabel(self, pane: ConsolePane) -> None:
        """Refresh a tab's label (its unread count)."""
        tab = self.main.query_one(TabbedContent).get_tab(pane.id or "")
        label = pane.tab_label()
        # A flooding hidden tab would relabel dozens of times a second, each a new layout;
        # its label ("+7.1M") changes far less often.
        if tab.label_text != label:
            tab.label = label

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """A tab became visible: it has no unread output any more."""
        pane = event.pane
        if isinstance(pane, ConsolePane):
            pane.unread = 0
            self.relabel(pane)
            pane.view.focus()

    @on(GuestTree.OpenConsole)
    async def open_from_tree(self, event: GuestTree.OpenConsole) -> None:
        """Enter on a console in the sidebar."""
        await self.open_console(event.ref)

    async def open_console(self, ref: ConsoleRef, read_only: bool = False) -> None:
        """Focus the console's tab, or attach and open a new one."""
        existing = self.pane(ref.session)
        tabs = self.main.query_one(TabbedContent)
        if existing is not None and existing.read_only == read_only:
            tabs.active = existing.id or ""
            existing.view.focus()
            return
        if existing is not None:
            await self.close_pane(existing)
        if self.link is None:
            self.notify("not connected to the broker yet", severity="warning")
            return
        link = self.link
        title = f"{ref.guest}:{ref.console}"
        session = ref.session

        def send(data: bytes) -> None:
            if not read_only:
                link.send_input(session, data)

        def resize(cols: int, rows: int) -> None:
            if not read_only:
                link.resize(session, cols, rows)

        pane = ConsolePane(title, session, read_only, self.palette_colors, send, resize)
        await tabs.add_pane(pane)
        self.show_welcome()
        tabs.active = pane.id or ""
        pane.view.focus()
        try:
            reply = await link.attach(ref.guest_id, ref.console, read_only, tail_lines=200)
        except RequestFailed as exc:
            pane.set_state(exc.code, exc.message)
            return
        pane.set_state(str(reply["state"]), "")
        cols, rows = pane.view.term.cols, pane.view.term.rows
        resize(cols, rows)

    async def close_pane(self, pane: ConsolePane) -> None:
        """Close a tab; the session stays in the broker."""
        if self.link is not None:
            self.link.detach(pane.session)
        await self.main.query_one(TabbedContent).remove_pane(pane.id or "")
        self.show_welcome()
        nxt = self.active_pane()
        if nxt is not None:
            nxt.view.focus()
        else:
            self.main.query_one(GuestTree).focus()

    # --- the prefix key -----------------------------------------------------

    def action_ignore(self) -> None:
        """Keys the app deliberately leaves alone outside a terminal."""

    async def on_event(self, event: events.Event) -> None:
        """The prefix key and the key after it, whatever has focus.

        Intercepting here, where every key enters the app, keeps the order of
        keys that arrive in one read (over SSH a prefix and its command often
        do): the command can never slip through to the guest.
        """
        if isinstance(event, events.Key) and self.screen is self.screen_stack[0]:
            if self.prefix_pending:
                self.prefix_pending = False
                self.set_status(self._idle_status)
                await self._prefix_command(event.key)
                return
            if event.key == self.prefix:
                self.action_prefix()
                return
        await super().on_event(event)

    def action_prefix(self) -> None:
        """Wait for the command key after the prefix."""
        self.prefix_pending = True
        self.set_status(f"{key_label(self.prefix)} … " + "  ".join(k.split(" ")[0] for k, _ in PREFIX_KEYS[:-1]))

    async def _prefix_command(self, key: str | None) -> None:
        panes = self.panes()
        active = self.active_pane()
        index = panes.index(active) if active in panes else -1
        tabs = self.main.query_one(TabbedContent)
        if key == self.prefix:
            if active is not None:
                active.view.send(encode_key(self.prefix, active.view.term.modes, None))
        elif key in ("n", "p") and panes:
            step = 1 if key == "n" else -1
            tabs.active = panes[(index + step) % len(panes)].id or ""
        elif key is not None and key.isdigit() and key != "0":
            if int(key) <= len(panes):
                tabs.active = panes[int(key) - 1].id or ""
        elif key == "u":
            await self.next_unread(panes, index)
        elif key == "w" and active is not None:
            await self.close_pane(active)
        elif key == "l":
            self.main.query_one(GuestTree).focus()
        elif key in ("s", "r"):
            from vconsole.tui.snapshot_screens import restore_dialog, snapshot_active

            if key == "s":
                await snapshot_active(self)
            else:
                await restore_dialog(self)
        elif key in ("colon", ":"):
            self.action_command_palette()
        elif key in ("question_mark", "?"):
            self.action_prefix_help()
        elif key == "q":
            await self.action_quit()

    async def next_unread(self, panes: list[ConsolePane], index: int) -> None:
        """The next tab with unread output, else the first unread console in the list."""
        order = panes[index + 1 :] + panes[: index + 1]
        for pane in order:
            if pane.unread:
                self.main.query_one(TabbedContent).active = pane.id or ""
                return
        ref = self.main.query_one(GuestTree).first_unread({p.session for p in panes})
        if ref is None:
            self.notify("no console has unread output")
            return
        await self.open_console(ref)

    async def action_quit(self) -> None:
        """Detach everything and leave; the broker keeps the consoles."""
        if self.link is not None:
            await self.link.close()
        self.exit()

    def action_prefix_help(self) -> None:
        """Show every key."""
        self.push_screen(HelpScreen(key_label(self.prefix)))

    def switch_theme(self, name: str) -> None:
        """Apply a theme to the app and every terminal."""
        found = self.themes.get(name)
        if found is None:
            return
        self.theme = name
        self.palette_colors = self._palette(found)
        for pane in self.panes():
            pane.view.set_palette(self.palette_colors)


__all__ = ["VConsoleApp", "pane_id"]
