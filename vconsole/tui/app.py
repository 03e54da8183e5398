"""VConsoleApp: the keyboard-driven TUI over the broker.

The app holds what is app-wide: the link to the broker, the themes and
terminal palette, and the screen stack, whose bottom is the MainScreen
(guest tree and console tabs). Everything a console does happens in its
pane; everything the tree and tabs do happens in the main screen.
"""

from __future__ import annotations

import sys
from typing import ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType

from vconsole.client import BrokerUnreachable
from vconsole.tui.broker_link import BrokerLink, Connector
from vconsole.tui.host_links import HostEndpoint, HostLinks
from vconsole.tui.main_screen import MainScreen
from vconsole.tui.palette import TerminalPalette
from vconsole.tui.prefix_keys import DEFAULT_PREFIX
from vconsole.tui.terminal_view import TerminalView
from vconsole.tui.themes import DEFAULT_THEME, discover_themes

# Textual reads keys and writes the screen in threads of its own. While the event loop is busy
# (a flood being drawn) they wait for the GIL, up to the switch interval: 5 ms by default on
# each of a key's way in and its echo's way out. A shorter interval keeps them prompt.
GIL_SWITCH_INTERVAL = 0.0005


class VConsoleApp(App[None]):
    """Guests on the left, consoles in tabs on the right, one prefix key for commands."""

    TITLE = "vconsole"
    # Keys a shell needs are never the app's: no Ctrl-Q quit, no Ctrl-P palette, no Ctrl-C copy.
    ENABLE_COMMAND_PALETTE = False
    COMMANDS: ClassVar = set()  # the main screen brings its own; Textual's system commands stay out
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "ignore", show=False, priority=False),
        Binding("ctrl+c", "ignore", show=False),
    ]

    def __init__(
        self,
        connect: Connector,
        *,
        reconnect: Connector | None = None,
        theme: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        hosts: list[HostEndpoint] | None = None,
    ) -> None:
        """``connect`` makes the first connection (it may start a broker); ``reconnect`` the later
        ones after a loss, never starting one (None: a lost broker is not waited for).
        ``hosts``: many vconsole hosts, each reached on its own (``connect`` is then unused)."""
        super().__init__()
        self.endpoints = hosts
        self.hosts: HostLinks | None = None
        self.connect = connect
        self.reconnect = reconnect
        self.prefix = prefix
        self.link: BrokerLink | None = None
        self.themes, self.theme_errors = discover_themes()
        self.requested_theme = theme
        self.terminal_palette = TerminalPalette.of_theme(self.themes.get(theme or DEFAULT_THEME))
        self.use_command_palette = True  # reachable by prefix + ':', never by a bare key

    def get_default_screen(self) -> MainScreen:
        """The bottom of the screen stack: tree and tabs."""
        return MainScreen(self.prefix)

    @property
    def main_screen(self) -> MainScreen:
        """The main screen, whatever modal (help, palette, restore) is on top of it."""
        screen = self.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    async def on_mount(self) -> None:
        """Register themes, then connect in the background."""
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
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
        if self.endpoints:
            # Many hosts: each connects in a task of its own (host_links.py), none blocking the UI
            # or the others; the main screen hears of each one's state as messages.
            self.hosts = HostLinks(self.endpoints, self.main_screen)
            self.hosts.start()
        else:
            self.start_link()

    def link_of(self, host: str) -> BrokerLink | None:
        """The link of a vconsole host (``""``: the one broker of a single-host TUI)."""
        if not host:
            return self.link
        return self.hosts.link(host) if self.hosts is not None else None

    @work(exclusive=True, group="link")
    async def start_link(self) -> None:
        """Connect (starting the broker if needed) without blocking the UI."""
        main = self.main_screen
        main.set_status("connecting to the broker ...")
        try:
            client = await self.connect()
        except BrokerUnreachable as exc:
            main.set_status(f"broker unreachable: {exc}")
            self.notify(str(exc), title="broker unreachable", severity="error", timeout=30)
            return
        self.link = BrokerLink(self.reconnect, main)
        await self.link.start(client)
        main.link_up()

    async def on_event(self, event: events.Event) -> None:
        """Every key enters the app here: the main screen's prefix table sees it first.

        Intercepting where keys enter, before any widget, keeps the order of
        keys that arrive in one read (over SSH a prefix and its command often
        do): the command can never slip through to the guest.
        """
        if isinstance(event, events.Key) and isinstance(self.screen, MainScreen):
            if await self.screen.take_prefix_key(event.key):
                return
            if isinstance(self.focused, TerminalView) and not event.is_forwarded:
                # Every other key is the guest's: straight to the terminal, not through
                # Textual's bindings and a message queue (a hop on every keystroke).
                self.focused.press(event)
                return
        await super().on_event(event)

    def action_ignore(self) -> None:
        """Keys the app deliberately leaves alone outside a terminal."""

    async def action_quit(self) -> None:
        """Detach everything and leave; the broker keeps the consoles."""
        if self.link is not None:
            await self.link.close()
        if self.hosts is not None:
            await self.hosts.close()
        self.exit()

    def switch_theme(self, name: str) -> None:
        """Apply a theme to the app and every terminal."""
        found = self.themes.get(name)
        if found is None:
            return
        self.theme = name
        self.terminal_palette = TerminalPalette.of_theme(found)
        self.main_screen.set_palette(self.terminal_palette)


__all__ = ["VConsoleApp"]
