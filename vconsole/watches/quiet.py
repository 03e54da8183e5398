"""Silence and activity watches: a console that stops talking, or starts again.

Opt-in (``[[watches]]`` with ``silence = SECONDS`` or ``activity = SECONDS``):
a console that printed and then printed nothing for ``silence`` seconds is
an event once (until it prints again); a console silent for at least
``activity`` seconds that prints is an event (tmux's monitor-silence and
monitor-activity, for every console at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vconsole.domain import Severity


class QuietKind(StrEnum):
    """Which way a quiet watch looks."""

    SILENCE = "silence"
    ACTIVITY = "activity"


@dataclass(frozen=True)
class QuietWatch:
    """A silence or activity watch over the consoles it covers (as Signature.applies_to)."""

    name: str
    kind: QuietKind
    seconds: float
    severity: Severity
    guests: frozenset[str] | None = None
    consoles: frozenset[str] | None = None

    def applies_to(self, provider: str, guest_id: str, guest_name: str, console: str, index: int) -> bool:
        """Whether this watch covers the console ``index`` (named ``console``) of that guest."""
        if self.guests is not None and not (
            guest_name in self.guests or f"{provider}:{guest_id}" in self.guests
        ):
            return False
        return self.consoles is None or console in self.consoles or str(index) in self.consoles
