"""Modal screens: the help listing."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from vconsole.tui.prefix_keys import PREFIX_KEYS


class HelpScreen(ModalScreen[None]):
    """Every key (the prefix table, written out), dismissed by any key."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 64; height: auto; max-height: 90%; border: round $primary;
                            background: $surface; padding: 0 1; }
    """

    def __init__(self, prefix_label: str) -> None:
        super().__init__()
        self.prefix_label = prefix_label

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("vconsole keys\n\n", style="bold")
        text.append(f"In a console every key goes to the guest, except the prefix ({self.prefix_label}).\n")
        text.append("Shift+PgUp / Shift+PgDn scroll back; typing returns to the live screen.\n\n")
        text.append(f"{self.prefix_label} then:\n", style="bold")
        for row in PREFIX_KEYS:
            text.append(f"  {row.shown:<8}", style="bold")
            text.append(f"{row.help}\n")
        text.append("\nIn the guest list: type to filter, Backspace/Esc edit it, Enter opens.\n")
        text.append("Badges: ● connected  ○ disconnected  ■ stopped  ✖ busy;\n")
        text.append("+N unread bytes, Nc clients attached.\n\n")
        text.append("Press any key to close.", style="dim")
        with Vertical():
            yield Static(text)

    async def on_key(self, event: events.Key) -> None:
        """Any key closes the help."""
        event.stop()
        self.dismiss(None)
