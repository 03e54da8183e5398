"""The TUI's messages, as dataclasses (Posting's style).

Textual's Message initialises itself in ``__post_init__``, which the
dataclass ``__init__`` calls, so these need nothing more.

Two directions: the broker link posts what the broker says to the screen
(a listing, a lost connection; with many hosts each names its ``host``, ""
with one) or to one console's pane (output waiting,
unread output, bytes missed, a state change); a terminal view posts a new size, which
bubbles up to its pane and from there goes to the broker (its keys go to its
pane's link by a plain call: a keystroke waits in no queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from vconsole.console_events import ConsoleEvent
    from vconsole.tui.guest_tree import ConsoleRef


@dataclass
class FleetListed(Message, bubble=False):
    """A fresh ``list`` from the broker, for the main screen."""

    listing: dict[str, Any]
    host: str = ""


@dataclass
class BrokerLost(Message, bubble=False):
    """The connection to the broker is gone; ``reconnecting``: the link is trying to get it back."""

    reason: str
    reconnecting: bool
    host: str = ""


@dataclass
class BrokerBack(Message, bubble=False):
    """The broker answers again after a loss; the tabs are being resumed."""

    host: str = ""


@dataclass
class HostChanged(Message, bubble=False):
    """A vconsole host's state changed (tui/host_links.py): its node and the status line follow.

    ``notice``: a line to tell the person (a host that did not answer at start; its node is narrow).
    """

    host: str
    notice: str = ""


@dataclass
class EventArrived(Message, bubble=False):
    """A new event of the broker's stream (not one read as history), for the main screen."""

    event: ConsoleEvent
    host: str = ""


@dataclass
class OutputWaiting(Message, bubble=False):
    """A visible pane's console has output waiting in its session link; the pane feeds it.

    At most one is in flight per pane, so a flood never fills a queue that keys wait in.
    """


@dataclass
class ConsoleUnread(Message, bubble=False):
    """A hidden pane's console wrote more; the pane relabels its tab (a few times a second at most)."""


@dataclass
class ConsoleMissed(Message, bubble=False):
    """A pane's console dropped bytes before the pane saw them (history wrapped, or too far behind)."""

    count: int


@dataclass
class ConsoleStateChanged(Message, bubble=False):
    """A pane's console changed state (connected, disconnected, stopped, busy)."""

    state: str
    reason: str


@dataclass
class ConsoleDemoted(Message, bubble=False):
    """Another client took a pane's console over: the pane is read-only from now on (``by``: who, as the broker says)."""

    by: str


@dataclass
class ConsoleLinkLost(Message, bubble=False):
    """A pane's console is not attached while the broker is away (``reason``: what its status line says)."""

    reason: str


@dataclass
class ConsoleResumed(Message, bubble=False):
    """A pane's console is attached again after a broker loss: its state, and what the loss cost."""

    state: str
    notice: str


@dataclass
class TabUnread(Message):
    """A tab's unread count changed (what its guest wrote while it was hidden), for the guest list."""

    session: str  # the tab's ConsoleRef.key
    count: int


@dataclass
class TerminalResized(Message):
    """A terminal view's new size, for the guest."""

    cols: int
    rows: int


@dataclass
class OpenConsole(Message):
    """The person chose a console in the guest list."""

    ref: ConsoleRef


@dataclass
class LogEdge(Message, bubble=True):
    """The log view was scrolled to the top (``older``) or bottom of what it holds: read more of the log."""

    older: bool
