"""TakeoverScreen: asked when the person opens a console another program holds (BUSY).

``y`` takes it over (the broker ends the holder, SIGTERM then SIGKILL, and
attaches: ``attach --force``), ``n`` opens the tab without that (it attaches
when the holder lets go), Escape opens nothing.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from vconsole.display_text import printable

if TYPE_CHECKING:
    from vconsole.tui.guest_tree import ConsoleRef


class Takeover(Enum):
    """The person's answer."""

    FORCE = "force"  # end the holder and attach
    WAIT = "wait"  # open the tab; it attaches when the console is released
    CANCEL = "cancel"  # open nothing


def takeover_question(title: str, holder: str) -> Text:
    """``take over web:vtty0? (ends 4242 vzctl console 101)``; ``holder`` is ``PID COMMAND`` or ""."""
    ends = f"ends {printable(holder, 80)}" if holder else "ends the program that holds it"
    text = Text(f"{title} is held by another program.\n\n")
    text.append(f"take over? ({ends})", style="bold")
    text.append("\n\n  y  take over   n  open and wait for it   Esc  cancel")
    return text


class TakeoverScreen(ModalScreen[Takeover]):
    """The question, in a box over the main screen."""

    DEFAULT_CSS = """
    TakeoverScreen { align: center middle; }
    TakeoverScreen > Vertical { width: 64; max-width: 100%; height: auto; border: round $warning;
                                background: $surface; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer('force')", show=False),
        Binding("n", "answer('wait')", show=False),
        Binding("escape", "answer('cancel')", show=False),
    ]

    def __init__(self, ref: ConsoleRef) -> None:
        """The question for a busy console as the guest list has it (its holder, when the broker named it)."""
        super().__init__()
        self.question = takeover_question(printable(f"{ref.guest}:{ref.console}"), ref.holder)

    def compose(self) -> ComposeResult:
        box = Vertical(Static(self.question, id="takeover-question"))
        box.border_title = "console busy"
        yield box

    def action_answer(self, answer: str) -> None:
        """Close with the answer."""
        self.dismiss(Takeover(answer))
