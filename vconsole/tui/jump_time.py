"""The time the log view's ``t`` jumps to: a time of day, or a duration ago.

``07:00`` or ``07:00:05`` is that time today (yesterday's, if today's has
not come yet); ``10m``, ``2h``, ``1h30m``, ``45s``, ``1d`` are that long ago.
A small reader of its own; ``vconsole log --since`` reads more forms
(vconsole/consolelog/timespec.py).
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

FORMS = "a time of day (07:00, 07:00:05) or a duration ago (10m, 2h, 1h30m, 45s, 1d)"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"-?(?:\d+[smhd])+")
_PART = re.compile(r"(\d+)([smhd])")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


class JumpTimeError(ValueError):
    """Not a time the view can jump to; the message names the forms, in one line."""


def jump_time(text: str, now: float | None = None) -> float:
    """``text`` as seconds since the epoch (local time for a time of day)."""
    spec = text.strip().lower()
    current = time.time() if now is None else now
    if _DURATION.fullmatch(spec):
        return current - sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(spec))
    if match := _CLOCK.fullmatch(spec):
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour < 24 and minute < 60 and second < 60:
            today = datetime.fromtimestamp(current).replace(hour=hour, minute=minute, second=second, microsecond=0)
            moment = today if today.timestamp() <= current else today - timedelta(days=1)
            return moment.timestamp()
    raise JumpTimeError(f"not a time: {text.strip()[:40]!r}; use {FORMS}")
