"""Snapshot tests of the main views, fed with recorded console bytes (tests/fixtures/)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_host import REPO
from vconsole.client import Client
from vconsole.runtime_paths import RuntimePaths
from vconsole.tui.app import VConsoleApp

SIZE = (100, 30)


@pytest.fixture
def replay_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[RuntimePaths]:
    base = Path(tempfile.mkdtemp(prefix="vcs", dir="/tmp"))
    # No user theme files and no user config may leak into the pictures.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    # The tab underline slides when a tab opens; a picture mid-slide differs run to run.
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    sock = base / "replay.sock"
    proc = subprocess.Popen([sys.executable, "-m", "tests.tui.replay_broker", str(sock)], cwd=REPO)
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "replay broker did not start"
        time.sleep(0.02)
    yield RuntimePaths(sock)
    proc.kill()
    proc.wait()


def make_app(paths: RuntimePaths, theme: str | None = None) -> VConsoleApp:
    return VConsoleApp(lambda: Client.connect(paths, autostart=False), theme=theme)


async def settle(pilot: Any) -> None:
    # Wait for the listing and a few frames; the replay is immediate.
    for _ in range(100):
        await pilot.pause(0.02)
        if pilot.app.main_screen.listing.get("guests"):
            break
    await pilot.pause(0.2)


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
        await open_nth(pilot, ["down"] * 7 + ["enter"])

    assert snap_compare(make_app(replay_paths), terminal_size=(80, 24), run_before=run_before)


