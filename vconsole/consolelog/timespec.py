"""Times on the command line (``--since``, ``--until``): a moment, or a duration ago.

Accepted forms, in local time unless ``utc`` (or the text names its own offset):

- a duration ago: ``30s``, ``10m``, ``2h``, ``1d``, ``1w``, combined as ``1h30m`` (a leading ``-`` is allowed);
- a date and time: ``2026-12-06T07:00``, ``2026-12-06 07:00:05``, ``2026-12-06T07:00:05.250+01:00``,
  ``2026-12-06`` (its midnight);
- a time today: ``07:00``, ``07:00:05``;
- ``@EPOCH`` (seconds, maybe with a fraction), ``now``, ``today``, ``yesterday``, ``tomorrow``.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta, tzinfo

FORMS = (
    "a duration ago (30s, 10m, 2h, 1d, 1h30m), a date/time (2026-12-06, 2026-12-06T07:00[:05]), "
    "a time today (07:00[:05]), @EPOCH, now, today or yesterday"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"-?((?:\d+(?:\.\d+)?[smhdw])+)")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?")
_EPOCH = re.compile(r"@(\d+(?:\.\d+)?)")
_DAYS = {"today": 0, "yesterday": -1, "tomorrow": 1}
_LONGEST = 3650 * 86400  # a duration or epoch beyond this is a mistake, not a time


class TimeSpecError(ValueError):
    """A time that is none of the accepted forms; the message is one line naming them."""


def parse_time(text: str, *, now: float | None = None, utc: bool = False) -> float:
    """``text`` as seconds since the epoch; ``now`` (default: the clock) anchors durations and days."""
    spec = text.strip().lower()
    current = time.time() if now is None else now
    zone: tzinfo | None = UTC if utc else None  # None: local time
    if spec == "now":
        return current
    if spec in _DAYS:
        midnight = _midnight(datetime.fromtimestamp(current, zone).date(), zone)
        return (midnight + timedelta(days=_DAYS[spec])).timestamp()
    if match := _EPOCH.fullmatch(spec):
        value = float(match[1])
        if value < 1e11:  # seconds, not milliseconds typed by mistake
            return value
    if _DURATION.fullmatch(spec):
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(spec))
        if seconds <= _LONGEST:
            return current - seconds
    if match := _CLOCK.fullmatch(spec):
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour < 24 and minute < 60 and second < 60:
            today = datetime.fromtimestamp(current, zone).date()
            moment = _midnight(today, zone).replace(hour=hour, minute=minute, second=second)
            return moment.timestamp() + float(match[4] or 0)
    stated = _iso(text.strip())
    if stated is not None:
        if stated.tzinfo is None and zone is not None:
            stated = stated.replace(tzinfo=zone)
        return stated.timestamp()  # a naive moment is local time
    raise TimeSpecError(f"bad time {text!r}: use {FORMS}")


def _midnight(day: date, zone: tzinfo | None) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _iso(text: str) -> datetime | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?", text, re.I):
        return None  # fromisoformat alone would take forms nobody types (week dates, 20261206)
    try:
        return datetime.fromisoformat(text.upper().replace(" ", "T"))
    except ValueError:
        return None
