"""ConsolePane: one tab, a console's status line and its terminal."""

from __future__ import annotations

import re
from collections.abc import Callable

from textual.app import ComposeResult
from textual.widgets import Static, TabPane

from vconsole.domain import ConsoleState
from vconsole.tui.terminal_view import TerminalPalette, TerminalView

ADVICE = {
    ConsoleState.STOPPED: "the guest is stopped: open the palette (prefix :) and choose Start guest",
    ConsoleState.BUSY: "another opener holds this console (vzctl/xl/lxc console); vconsole attaches when it is released",
    ConsoleState.DISCONNECTED: "the console is not connected; vconsole keeps retrying",
}


def pane_id(session: str) -> str:
    """A widget id for a session key (ids allow letters, digits, - and _)."""
    return "con-" + re.sub(r"[^A-Za-z0-9_-]", "-", session)


class ConsolePane(TabPane):
    """A tab holding one console."""

    DEFAULT_CSS = """
    ConsolePane { padding: 0; }
    ConsolePane > .status { height: 1; background: $panel; color: $text-muted; }
    ConsolePane > .status.-problem { background: $warning 30%; color: $text; }
    """

    def __init__(
        self,
        title: str,
        session: str,
        read_only: bool,
        palette: TerminalPalette,
        send: Callable[[bytes], None],
        resize: Callable[[int, int], None],
    ) -> None:
        super().__init__(title, id=pane_id(session))
        self.title = title
        self.session = session
        self.read_only = read_only
        self.state: str = ConsoleState.CONNECTED
        self.unread = 0
        self.view = TerminalView(palette, send, resize)
        self.status = Static("", classes="status")

    def compose(self) -> ComposeResult:
        yield self.status
        yield self.view

    def on_mount(self) -> None:
        """Show the initial status."""
        self.set_state(self.state, "")

    def set_state(self, state: str, reason: str) -> None:
        """Update the status line for a state change."""
        self.state = state
        parts = [self.title, "READ-ONLY (spy)" if self.read_only else "read-write", state]
        if state != ConsoleState.CONNECTED:
            parts.append(ADVICE.get(state, reason))
            if reason:
                parts.append(reason)
        self.status.update(" " + " · ".join(parts))
        self.status.set_class(state != ConsoleState.CONNECTED, "-problem")

    def tab_label(self) -> str:
        """The tab title, with unread bytes while the tab is not visible."""
        from vconsole.cli.listing import human

        mark = " (ro)" if self.read_only else ""
        return f"{self.title}{mark} +{human(self.unread)}" if self.unread else f"{self.title}{mark}"
