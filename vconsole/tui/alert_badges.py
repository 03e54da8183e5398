"""Alert badges: a console's worst unacknowledged event, as the guest tree shows it.

The broker reports each console's ``alert`` (vconsole.console_events.ConsoleAlert:
the highest unacknowledged severity at warning or above, its name, how many)
in ``list`` and in every state push. The tree shows it on the console, and
the worst of a guest's consoles on the guest, the worst of a host's guests on
the host, so a panic in a collapsed or scrolled-away domU is still seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text

from vconsole.console_events import ConsoleAlert
from vconsole.display_text import printable
from vconsole.domain import Severity

# How each severity looks: a critical badge shouts (white on red), an error is red, a warning yellow.
BADGE_STYLES: dict[Severity, str] = {
    Severity.CRITICAL: "bold white on red",
    Severity.ERROR: "bold red",
    Severity.WARNING: "bold yellow",
    Severity.INFO: "dim",
}
MAX_BADGE_NAME = 12  # the sidebar is 24-30 columns; a watch name longer than this is cut


def alert_of(console: dict[str, Any]) -> ConsoleAlert | None:
    """A listed console's alert, or None (none, or one this client cannot read)."""
    try:
        return ConsoleAlert.from_wire(console.get("alert"))
    except (KeyError, TypeError, ValueError):
        return None  # a malformed alert is no reason to lose the whole tree


def worst(alerts: Iterable[ConsoleAlert | None]) -> ConsoleAlert | None:
    """The alert that matters most: the highest severity, then the earliest (lowest ``seq``)."""
    best: ConsoleAlert | None = None
    for alert in alerts:
        if alert is None:
            continue
        if best is None or alert.severity > best.severity or (
            alert.severity == best.severity and alert.seq < best.seq
        ):
            best = alert
    return best


def badge_text(alert: ConsoleAlert) -> str:
    """``PANIC`` for a critical alert (its name upper-cased), the name itself otherwise; a count when several."""
    name = printable(alert.name, MAX_BADGE_NAME)  # watch names come from config: nothing in them may act
    name = name.upper() if alert.severity == Severity.CRITICAL else name
    return f"{name}×{alert.count}" if alert.count > 1 else name  # noqa: RUF001 (the multiplication sign is meant)


def append_badge(label: Text, alert: ConsoleAlert | None) -> Text:
    """``label`` with the alert's badge after it (unchanged without one)."""
    if alert is not None:
        label.append(" ")
        label.append(f" {badge_text(alert)} " if alert.severity == Severity.CRITICAL else badge_text(alert),
                     style=BADGE_STYLES[alert.severity])
    return label
