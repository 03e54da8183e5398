"""--since/--until: durations ago, dates and times (local or UTC), @epoch, now/today/yesterday."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vconsole.consolelog.timespec import FORMS, TimeSpecError, parse_time


@pytest.fixture(autouse=True)
def paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local zone an hour ahead of UTC in December, so local and UTC differ."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).timestamp()  # 13:00 in Paris


def utc(*fields: int) -> float:
    return datetime(*fields, tzinfo=UTC).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", NOW - 30), ("10m", NOW - 600), ("2h", NOW - 7200), ("1d", NOW - 86400),
        ("1h30m", NOW - 5400), ("-10m", NOW - 600), ("1.5h", NOW - 5400), ("1w", NOW - 7 * 86400),
        ("now", NOW), ("@1700000000", 1_700_000_000.0), ("@1700000000.25", 1_700_000_000.25),
    ],
)
def test_durations_epoch_and_now(text: str, expected: float) -> None:
    assert parse_time(text, now=NOW) == expected
    assert parse_time(text, now=NOW, utc=True) == expected  # the zone changes nothing here


@pytest.mark.parametrize(
    ("text", "local", "in_utc"),
    [
        ("2026-12-06T07:00", utc(2026, 12, 6, 6, 0), utc(2026, 12, 6, 7, 0)),
        ("2026-12-06 07:00:05", utc(2026, 12, 6, 6, 0, 5), utc(2026, 12, 6, 7, 0, 5)),
        ("2026-12-06", utc(2026, 12, 5, 23, 0), utc(2026, 12, 6, 0, 0)),
        ("07:00", utc(2026, 12, 6, 6, 0), utc(2026, 12, 6, 7, 0)),
        ("7:00:30", utc(2026, 12, 6, 6, 0, 30), utc(2026, 12, 6, 7, 0, 30)),
        ("today", utc(2026, 12, 5, 23, 0), utc(2026, 12, 6, 0, 0)),
        ("yesterday", utc(2026, 12, 4, 23, 0), utc(2026, 12, 5, 0, 0)),
        ("Today", utc(2026, 12, 5, 23, 0), utc(2026, 12, 6, 0, 0)),
    ],
)
def test_dates_and_times_are_local_unless_utc(text: str, local: float, in_utc: float) -> None:
    assert parse_time(text, now=NOW) == local
    assert parse_time(text, now=NOW, utc=True) == in_utc


def test_a_time_with_its_own_offset_keeps_it() -> None:
    for flag in (False, True):
        assert parse_time("2026-12-06T07:00Z", now=NOW, utc=flag) == utc(2026, 12, 6, 7)
        assert parse_time("2026-12-06T07:00:05.250+01:00", now=NOW, utc=flag) == utc(2026, 12, 6, 6, 0, 5) + 0.25


def test_today_follows_the_clock_when_now_is_not_given() -> None:
    assert abs(parse_time("now") - time.time()) < 5
    assert parse_time("today") <= time.time() < parse_time("today") + 86400 + 3600


@pytest.mark.parametrize(
    "text",
    ["", "soon", "10", "10x", "1h30", "25:00", "12:60", "2026-13-01", "2026-12-06T07", "20261206",
     "2026-W49", "@", "@abc", "@1700000000000", "9999d", "07:00 tomorrow", "\x1b[2J"],
)
def test_bad_times_are_one_line_naming_the_forms(text: str) -> None:
    with pytest.raises(TimeSpecError) as err:
        parse_time(text, now=NOW)
    message = str(err.value)
    assert "\n" not in message and message.endswith(FORMS) and repr(text) in message


@given(st.integers(0, 80_000), st.integers(0, 59), st.integers(0, 59))
def test_any_hours_minutes_and_seconds_are_that_long_ago(hours: int, minutes: int, seconds: int) -> None:
    assert parse_time(f"{hours}h{minutes}m{seconds}s", now=NOW) == NOW - hours * 3600 - minutes * 60 - seconds
