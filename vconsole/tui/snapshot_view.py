"""SnapshotViewerApp: a ``.vcsnap`` file in a read-only TUI (``vconsole show FILE``).

One tab per console record. Each shows the record's history on the project's
terminal engine (with scrollback), or the saved screen when the history is
empty, and a line of facts: offsets, pending output and input, termios,
window size and ring indices. No broker is involved and nothing is sent
anywhere: keys only switch tabs and scroll.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from vconsole.display_text import printable
from vconsole.snapshot.model import ConsoleRecord, Pending, SnapshotFile
from vconsole.term.terminal import Terminal
from vconsole.tui.palette import TerminalPalette
from vconsole.tui.terminal_view import TerminalView
from vconsole.tui.themes import DEFAULT_THEME, discover_themes


def _pending(p: Pending) -> str:
    if p.how == "unavailable":
        return "not available"
    if p.how == "count-only":
        return f"{p.count} bytes (contents not available)"
    return f"{p.count} bytes ({p.how})"


def describe(rec: ConsoleRecord) -> str:
    """One line of facts about a record."""
    h = rec.history
    parts = [
        f"{rec.guest_kind} {rec.guest_name} {rec.console_name}",
        f"history {h.start}..{h.end} ({len(h.data)} bytes, {h.dropped} dropped, {h.lost} lost)",
        f"pending out: {_pending(rec.pending_output)}",
        f"pending in: {_pending(rec.pending_input)}",
    ]
    if rec.winsize:
        parts.append(f"size {rec.winsize[0]}x{rec.winsize[1]}")
    if rec.termios:
        parts.append(f"lflag {rec.termios.lflag:#o}")
    if rec.ring:
        r = rec.ring
        parts.append(f"ring in {r.in_cons}..{r.in_prod} out {r.out_cons}..{r.out_prod} conn {r.connection}")
    if rec.hypervisor_log:
        parts.append(f"hypervisor log {len(rec.hypervisor_log.data)} bytes")
    return "  |  ".join(parts)


class SnapshotViewerApp(App[None]):
    """Read-only tabs of a snapshot's consoles."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("n", "tab(1)", "Next"),
        Binding("p", "tab(-1)", "Previous"),
    ]
    DEFAULT_CSS = """
    .facts { height: auto; color: $text-muted; }
    """

    def __init__(self, snapshot: SnapshotFile, *, title: str = "snapshot", theme: str | None = None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.title = f"vconsole show {title}"
        self.sub_title = f"{printable(snapshot.host)}, {len(snapshot.records)} console(s)"
        self.themes, _errors = discover_themes()
        self.requested_theme = theme or DEFAULT_THEME
        self.terminal_palette = TerminalPalette.of_theme(self.themes.get(self.requested_theme))
        self.views: list[TerminalView] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent():
            for i, rec in enumerate(self.snapshot.records):
                # A snapshot file is untrusted: its names are shown through printable, never as markup.
                with TabPane(Content(printable(f"{rec.guest_name}:{rec.console_index}")), id=f"rec{i}"):
                    yield Static(Content(printable(describe(rec), 4096)), classes="facts")
                    view = TerminalView(self.terminal_palette)
                    if rec.history.data or rec.screen is None:
                        view.term.feed(rec.history.data)
                    else:
                        view.term = Terminal.from_state(rec.screen)
                    view.term.read_replies()  # a viewer answers nobody
                    view.can_focus = False  # keys are for tabs and quitting
                    self.views.append(view)
                    yield view
            if not self.snapshot.records:
                with TabPane("empty"):
                    yield Static("this snapshot holds no consoles")
        yield Footer()

    def on_mount(self) -> None:
        """Apply the theme."""
        for found in self.themes.values():
            self.register_theme(found.theme)
        if self.requested_theme in self.themes:
            self.theme = self.requested_theme

    def action_tab(self, step: int) -> None:
        """Next or previous record."""
        tabs = self.query_one(TabbedContent)
        ids = [f"rec{i}" for i in range(len(self.snapshot.records))]
        if ids:
            current = ids.index(tabs.active) if tabs.active in ids else 0
            tabs.active = ids[(current + step) % len(ids)]
