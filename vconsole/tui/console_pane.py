"""ConsolePane: one tab, a console's status line and its terminal, and its end of the broker link."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static, TabbedContent, TabPane

from vconsole.client import RequestFailed
from vconsole.display_text import printable
from vconsole.domain import ConsoleState
from vconsole.tui.log_scrollback import OlderOutput
from vconsole.tui.messages import (
    ConsoleDemoted,
    ConsoleLinkLost,
    ConsoleMissed,
    ConsoleResumed,
    ConsoleStateChanged,
    ConsoleUnread,
    OutputWaiting,
    TabUnread,
    TerminalResized,
)
from vconsole.tui.palette import TerminalPalette
from vconsole.tui.terminal_view import TerminalView
from vconsole.units import human

if TYPE_CHECKING:
    from vconsole.tui.broker_link import BrokerLink
    from vconsole.tui.guest_tree import ConsoleRef

ADVICE: dict[str, str] = {  # keyed by ConsoleState (a str)
    ConsoleState.STOPPED: "the guest is stopped: open the palette (prefix :) and choose Start guest",
    ConsoleState.BUSY: "another opener holds this console (vzctl/xl/lxc console); vconsole attaches when it is released",
    ConsoleState.DISCONNECTED: "the console is not connected; vconsole keeps retrying",
    ConsoleState.GONE: "guest removed (prefix w closes the tab)",
}
MISSED_NOTICE = 10.0  # seconds between "bytes were dropped" notices for one tab
REPLAY_LINES = 200  # lines of history a new tab shows


def pane_id(session: str) -> str:
    """A widget id for a session key (ids allow letters, digits, - and _)."""
    return "con-" + re.sub(r"[^A-Za-z0-9_-]", "-", session)


class ConsolePane(TabPane):
    """A tab holding one console: it feeds its terminal and sends what its terminal sends."""

    DEFAULT_CSS = """
    ConsolePane { padding: 0; }
    ConsolePane > .status { height: 1; background: $panel; color: $text-muted; }
    ConsolePane > .status.-problem { background: $warning 30%; color: $text; }
    """

    def __init__(self, ref: ConsoleRef, read_only: bool, palette: TerminalPalette, broker: BrokerLink) -> None:
        # Names come from providers: shown through printable, and never read as Textual markup.
        title = printable(ref.title)
        super().__init__(Content(title), id=pane_id(ref.key))
        self.title = title
        self.session = ref.session
        self.key = ref.key  # the session qualified by its vconsole host (sessions repeat across hosts)
        self.origin = ref.origin  # that host ("" with one)
        self.read_only = read_only
        self.state: str = ConsoleState.CONNECTED
        self.view = TerminalView(palette)
        # The pane's own session: from here on the console's events come to this pane.
        self.link = broker.open_session(ref, read_only, self, self.view.feed)
        self.view.sink = self.link.send_input  # keys, pastes and query answers
        self.older = OlderOutput(self.view, self.link, self)  # scrolling back past the top reads the log
        self.view.on_top = self.older.wanted
        self.status = Static("", classes="status")
        self._missed_total = 0
        self._missed_told = float("-inf")

    def compose(self) -> ComposeResult:
        yield self.status
        yield self.view

    def on_mount(self) -> None:
        """Show the initial status."""
        self.set_state(self.state, "")

    # --- the session --------------------------------------------------------

    async def attach(self, force: bool = False) -> None:
        """Attach to the console (``force``: ending a program that holds it), then show its state and tell it our size."""
        try:
            reply = await self.link.attach(tail_lines=REPLAY_LINES, force=force)
        except RequestFailed as exc:
            self.set_state(exc.code, exc.message)
            return
        except ConnectionError as exc:
            self.show_problem(f"not attached: {exc}")
            return
        self.older.fed_from(reply.offset)
        self.set_state(str(reply.state), "")
        self.link.resize(self.view.term.cols, self.view.term.rows)

    def detach(self) -> None:
        """Leave the console (the session stays in the broker); its events stop coming here."""
        self.link.detach()

    def on_terminal_resized(self, message: TerminalResized) -> None:
        """The terminal's new size goes to the guest."""
        message.stop()
        self.link.resize(message.cols, message.rows)

    def shown(self) -> None:
        """This tab became the visible one: its badge clears, and it parses what waits.

        A hidden tab parses nothing; shown, it parses the newest screenful of
        what came meanwhile (or all of it, when that is little).
        """
        self.link.shown(self.view.term.rows)
        self.relabel()
        self._feed_waiting()

    def hidden(self) -> None:
        """Another tab is the visible one: the broker stops sending this one output."""
        self.link.hide()

    @property
    def unread(self) -> int:
        """Bytes the guest wrote while this tab was hidden."""
        return self.link.unread

    def on_output_waiting(self, message: OutputWaiting) -> None:
        """Feed the output waiting in the link (just its newest screenful when far behind)."""
        self._feed_waiting()

    def _feed_waiting(self) -> None:
        data, _skipped = self.link.take(self.view.term.rows)
        if data:
            self.view.feed(data)

    def on_console_unread(self, message: ConsoleUnread) -> None:
        """The hidden tab's guest wrote more: its badge says how much."""
        self.relabel()

    def on_console_missed(self, message: ConsoleMissed) -> None:
        """Tell the user the broker could not send this tab everything, at most every MISSED_NOTICE seconds.

        Bytes the tab skips itself (hidden, or far behind a flood) are no loss:
        the broker keeps them. These are bytes the broker's history no longer
        held when it could send them; one notice with the running total says
        it without burying the screen.
        """
        self._missed_total += message.count
        now = time.monotonic()
        if now - self._missed_told >= MISSED_NOTICE:
            self._missed_told = now
            self.notify(f"{self.title}: {self._missed_total} bytes were dropped before this tab saw them",
                        severity="warning", markup=False)

    def on_console_state_changed(self, message: ConsoleStateChanged) -> None:
        """The console changed state."""
        self.set_state(message.state, message.reason)

    def on_console_demoted(self, message: ConsoleDemoted) -> None:
        """Taken over by another client: read-only from now on, and the person is told by whom."""
        self.read_only = True
        self.set_state(self.state, "")
        self.relabel()
        self.notify(f"{self.title}: another client took this console over ({printable(message.by, 80)}); "
                    "this tab is read-only now", title="taken over", severity="warning", timeout=15, markup=False)

    def on_console_link_lost(self, message: ConsoleLinkLost) -> None:
        """The broker is away: the status line says so (keys typed now are refused with a notice)."""
        self.show_problem(message.reason)

    def on_console_resumed(self, message: ConsoleResumed) -> None:
        """Attached again after a broker loss: the console's state, and a notice of what was missed."""
        self.set_state(message.state, "")
        self.notify(f"{self.title}: {message.notice}", title="reconnected", timeout=10, markup=False)

    # --- what it shows ------------------------------------------------------

    @property
    def tabs(self) -> TabbedContent:
        """The tab set holding this pane."""
        return self.query_ancestor(TabbedContent)

    def set_state(self, state: str, reason: str) -> None:
        """Update the status line for a state change."""
        self.state = state
        parts = [self.title, "READ-ONLY (spy)" if self.read_only else "read-write", state]
        if state != ConsoleState.CONNECTED:
            parts.append(ADVICE.get(state, reason))
            if reason:
                parts.append(printable(reason, 1024))  # a provider tool's words
        self.status.update(Content(" " + " · ".join(parts)))
        self.status.set_class(state != ConsoleState.CONNECTED, "-problem")

    def show_problem(self, text: str) -> None:
        """A status line about the link rather than the console (``text`` is ours, not a guest's)."""
        mode = "READ-ONLY (spy)" if self.read_only else "read-write"
        self.status.update(Content(f" {self.title} · {mode} · {text}"))
        self.status.set_class(True, "-problem")

    def tab_label(self) -> str:
        """The tab title, with unread bytes while the tab is not visible."""
        mark = " (ro)" if self.read_only else ""
        return f"{self.title}{mark} +{human(self.unread)}" if self.unread else f"{self.title}{mark}"

    def relabel(self) -> None:
        """Refresh the tab's label (its unread count)."""
        tab = self.tabs.get_tab(self)
        label = self.tab_label()
        # A relabel is a new layout; the label ("+7.1M") changes far less often than the count.
        if tab.label_text != label:
            tab.label = Content(label)
            self.post_message(TabUnread(self.key, self.unread))
