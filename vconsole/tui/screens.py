"""The help: the welcome text while no tab is open, and the help screen listing every key."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from vconsole.providers.detect import describe_choice
from vconsole.tui.prefix_keys import PREFIX_KEYS, key_label

# Keys that scroll the help instead of closing it, and what each does to the scroll view.
SCROLL_KEYS: dict[str, Callable[[VerticalScroll], object]] = {
    "up": lambda box: box.scroll_up(animate=False),
    "down": lambda box: box.scroll_down(animate=False),
    "pageup": lambda box: box.scroll_page_up(animate=False),
    "pagedown": lambda box: box.scroll_page_down(animate=False),
    "home": lambda box: box.scroll_home(animate=False),
    "end": lambda box: box.scroll_end(animate=False),
}


WELCOME = """No console open.

Pick one in the guest list and press Enter (type to filter it). Every key then goes to the guest, except the prefix {prefix}:

  {prefix} n / p / 1-9  switch tabs
  {prefix} u            next unread output
  {prefix} b            hide / show the guest list
  {prefix} :            command palette
  {prefix} ?            every key"""


def welcome_text(prefix: str, providers: tuple[str, ...]) -> Text:
    """The right-hand side while no tab is open: how to start, and where the guests come from."""
    text = Text(WELCOME.format(prefix=key_label(prefix)))
    if providers:
        # On a host with LXC the demo lab is off; this line says so and how to choose.
        choice = describe_choice(providers)
        text.append(f"\n\n{choice[:1].upper()}{choice[1:]}.")
    return text


def help_text(prefix_label: str) -> Text:
    """Every key, as the help screen shows it (short lines: it must fit 80x24)."""
    text = Text()
    text.append(f"In a console every key goes to the guest but the prefix {prefix_label}.\n")
    text.append("Shift+PgUp / PgDn scroll back, into the log; keys go live.\n")
    text.append(f"{prefix_label} then:\n", style="bold")
    for row in PREFIX_KEYS:
        text.append(f"  {row.shown:<8}", style="bold")
        text.append(f"{row.help}\n")
    text.append("\nGuest list: type to filter, Esc clears, Enter opens.\n")
    text.append("● connected  ○ disconnected  ■ stopped  ✖ busy;\n")
    text.append("+N unread bytes, Nc clients attached. ")
    text.append(" PANIC ", style="bold white on red")
    text.append(" an alert.")
    return text


class HelpScreen(ModalScreen[None]):
    """Every key (the prefix table, written out); arrows and PgUp/PgDn scroll it, any other key closes it.

    It fits a plain 80x24 terminal; in a smaller one it scrolls.
    """

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 64; max-width: 100%; height: auto; max-height: 100%;
                                  border: round $primary; background: $surface; padding: 0 1;
                                  scrollbar-size-vertical: 1; }
    """

    def __init__(self, prefix_label: str) -> None:
        super().__init__()
        self.prefix_label = prefix_label

    def compose(self) -> ComposeResult:
        box = VerticalScroll(Static(help_text(self.prefix_label)))
        box.can_focus = False  # keys come to the screen: scroll keys scroll, the rest close
        box.border_title = "vconsole keys"
        box.border_subtitle = "any key closes"
        yield box

    def on_resize(self) -> None:
        """Say how to scroll when the help does not fit."""
        self.call_after_refresh(self._label_scrolling)

    def _label_scrolling(self) -> None:
        box = self.query_one(VerticalScroll)
        box.border_subtitle = "↑↓ PgUp PgDn scroll · other keys close" if box.max_scroll_y else "any key closes"

    async def on_key(self, event: events.Key) -> None:
        """Scroll keys scroll; any other key closes the help."""
        event.stop()
        scroll = SCROLL_KEYS.get(event.key)
        if scroll is None:
            self.dismiss(None)
            return
        scroll(self.query_one(VerticalScroll))
