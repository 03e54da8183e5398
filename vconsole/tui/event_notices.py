"""What the TUI tells the person of a new event, and when, and how it acknowledges events.

A watch that fires (severity warning or above) on a console that is not on
screen becomes a notification; the console on screen needs none (the person
sees the line). One console says so at most once per NOTICE_EVERY seconds,
so a guest printing a panic a hundred times raises one notice, not a hundred.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from textual.notifications import SeverityLevel

from vconsole.client import Client, RequestFailed
from vconsole.console_events import ConsoleEvent, EventKind
from vconsole.display_text import printable
from vconsole.domain import Severity

NOTICE_EVERY = 5.0  # seconds between two notices of one console
NOTICE_SECONDS = 10.0  # how long a notice stays
MAX_NOTICE_LINE = 160  # characters of the guest's line in a notice
TOAST: dict[Severity, SeverityLevel] = {
    Severity.INFO: "information",
    Severity.WARNING: "warning",
    Severity.ERROR: "error",
    Severity.CRITICAL: "error",
}


@dataclass(frozen=True)
class Notice:
    """A notification to show: its title, text (printable) and Textual severity."""

    title: str
    text: str
    severity: SeverityLevel


def notice_text(event: ConsoleEvent, host: str = "") -> Notice:
    """``web:vtty0: Kernel panic - not syncing: …`` titled ``panic (critical)``; guest text made printable.

    With many vconsole hosts the console is ``host/web:vtty0``.
    """
    where = printable(f"{host}/" * bool(host) + f"{event.guest}:{event.console}", 80)
    line = printable(event.text.strip(), MAX_NOTICE_LINE) if event.text.strip() else printable(event.name, 60)
    title = printable(f"{event.name} ({event.severity.value})", 60)
    return Notice(title, f"{where}: {line}", TOAST[event.severity])


@dataclass
class EventNotices:
    """Which new events become notifications."""

    every: float = NOTICE_EVERY
    _told: dict[str, float] = field(default_factory=dict)  # session: when it was last told

    def notice(
        self, event: ConsoleEvent, on_screen: Callable[[], str | None], now: float, host: str = ""
    ) -> Notice | None:
        """The notice for ``event`` of vconsole host ``host`` (``on_screen``: the console the person sees,
        as a ConsoleRef key, if any), or None."""
        if event.kind != EventKind.WATCH or event.severity < Severity.WARNING:
            return None
        session = f"{host}/{event.session.text}" if host else event.session.text
        if session == on_screen():
            return None
        if now - self._told.get(session, float("-inf")) < self.every:
            return None
        self._told[session] = now
        return notice_text(event, host)


async def acknowledge(live: Callable[[], Client], event: ConsoleEvent) -> str:
    """Acknowledge ``event``'s console up to it (``live``: the connection now); what happened, in a line."""
    where = printable(f"{event.guest}:{event.console}", 60)
    try:
        count = await live().acknowledge(event.session.target, event.seq)
    except RequestFailed as exc:
        return f"{where}: not acknowledged: {printable(exc.message, 200)}"
    except ConnectionError as exc:
        return f"{where}: not acknowledged: {exc}"
    return f"{where}: {count} event{'' if count == 1 else 's'} acknowledged"
