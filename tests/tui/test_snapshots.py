"""Snapshot tests of the main views, fed with recorded console bytes (tests/fixtures/)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.tui.replay_app import make_app, settle
from tests.tui.test_alerts import inject
from vconsole.runtime_paths import RuntimePaths

SIZE = (100, 30)


async def open_nth(pilot: Any, presses: list[str]) -> None:
    await settle(pilot)
    await pilot.press(*presses)
    await pilot.pause(0.5)
    # Under load the replayed output can still be on its way after the pause:
    # wait until two screenshots in a row agree (at most 10 s).
    previous = pilot.app.export_screenshot()
    for _ in range(50):
        await pilot.pause(0.2)
        current = pilot.app.export_screenshot()
        if current == previous:
            break
        previous = current


def test_guest_list(snap_compare: Any, replay_paths: RuntimePaths) -> None:
    assert snap_compare(make_app(replay_paths), terminal_size=SIZE, run_before=settle)


def test_console_tab_with_boot_log(snap_compare: Any, replay_paths: RuntimePaths) -> None:
    async def run_before(pilot: Any) -> None:
        await open_nth(pilot, ["enter"])

    assert snap_compare(make_app(replay_paths), terminal_size=SIZE, run_before=run_before)


def test_two_tabs_with_unread_badge(snap_compare: Any, replay_paths: RuntimePaths) -> None:
    async def run_before(pilot: Any) -> None:
        await open_nth(pilot, ["enter", "ctrl+right_square_bracket", "l", "down", "enter"])

    assert snap_compare(make_app(replay_paths), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any, replay_paths: RuntimePaths) -> None:
    async def run_before(pilot: Any) -> None:
        await open_nth(pilot, ["ctrl+right_square_bracket", "question_mark"])

    assert snap_compare(make_app(replay_paths), terminal_size=SIZE, run_before=run_before)


def test_light_theme_with_top(snap_compare: Any, replay_paths: RuntimePaths) -> None:
    async def run_before(pilot: Any) -> None:
        await open_nth(pilot, ["down"] * 4 + ["enter"])

    assert snap_compare(make_app(replay_paths, "vconsole-light"), terminal_size=SIZE, run_before=run_before)


def test_busy_console_explains_itself(snap_compare: Any, replay_paths: RuntimePaths) -> None:
    async def run_before(pilot: Any) -> None:
        await open_nth(pilot, ["down"] * 7 + ["enter", "n"])  # n: open it without taking it over

    assert snap_compare(make_app(replay_paths), terminal_size=(80, 24), run_before=run_before)




def test_log_view_with_a_search_hit(snap_compare: Any, replay_paths: RuntimePaths,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")  # the time column is local time
    time.tzset()

    async def run_before(pilot: Any) -> None:
        await open_nth(pilot, ["enter", "ctrl+right_square_bracket", "v"])
        await pilot.press("slash", *"e820", "enter")
        await open_nth(pilot, [])

    try:
        assert snap_compare(make_app(replay_paths), terminal_size=SIZE, run_before=run_before)
    finally:
        monkeypatch.undo()
        time.tzset()


async def with_alerts(pilot: Any) -> None:
    """A panic on the domU, an Oops on db:vtty1, an OOM kill on db:vtty2 (tests/tui/replay_broker.py's events)."""
    await settle(pilot)
    paths = pilot.app.replay_paths
    for session, severity, name, text, offset in (
        ("lab:1:pv0", "critical", "panic", "Kernel panic - not syncing: Fatal exception", 512),
        ("lab:102:vtty1", "error", "oops", "Oops: 0002 [#1] PREEMPT SMP NOPTI", 77),
        ("lab:102:vtty2", "warning", "oom", "Out of memory: Killed process 4242 (postgres)", 90),
        ("lab:102:vtty2", "info", "login", "db login:", 120),
    ):
        await inject(paths, session, severity=severity, name=name, text=text, offset=offset)
    await open_nth(pilot, [])


def alerts_app(paths: RuntimePaths) -> Any:
    app = make_app(paths)
    app.replay_paths = paths  # type: ignore[attr-defined]
    return app


def test_guest_list_with_alert_badges(snap_compare: Any, replay_paths: RuntimePaths) -> None:
    assert snap_compare(alerts_app(replay_paths), terminal_size=SIZE, run_before=with_alerts)


def test_events_panel(snap_compare: Any, replay_paths: RuntimePaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")  # the time column is local time
    time.tzset()

    async def run_before(pilot: Any) -> None:
        await with_alerts(pilot)
        await open_nth(pilot, ["ctrl+right_square_bracket", "e"])

    try:
        assert snap_compare(alerts_app(replay_paths), terminal_size=SIZE, run_before=run_before)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_takeover_question(snap_compare: Any, replay_paths: RuntimePaths) -> None:
    async def run_before(pilot: Any) -> None:
        await open_nth(pilot, ["down"] * 7 + ["enter"])

    assert snap_compare(make_app(replay_paths), terminal_size=(80, 24), run_before=run_before)
