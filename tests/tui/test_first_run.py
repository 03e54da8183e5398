"""The TUI's first screen says where the guests come from, and how to get the demo lab when it is off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.cli.test_first_run import LXC_HOST
from tests.tui.pilot_wait import until
from tests.tui.replay_app import make_app, settle
from tests.tui.screen_text import screen_lines
from vconsole.local_broker import LocalBroker
from vconsole.runtime_paths import RuntimePaths
from vconsole.tui.app import VConsoleApp


def welcome(app: VConsoleApp) -> str:
    return " ".join(str(app.query_one("#welcome", Static).render()).split())


async def test_on_an_lxc_host_the_first_screen_says_the_lab_is_off(
    runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VCONSOLE_PROVIDERS")  # a fresh install: nothing chooses
    monkeypatch.setenv("PATH", f"{LXC_HOST}:{os.environ['PATH']}")
    local = LocalBroker(RuntimePaths.resolve(None), in_process=True)
    app = VConsoleApp(local.connect)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "the demo lab is off" in "".join(screen_lines(app)), "the lab is off, on screen")
            text = welcome(app)
            assert "Guests from lxc; the demo lab is off. To see it: vconsole shutdown" in text
            assert "--providers lab" in text and "[lab] enabled = true" in text
            assert "connected · lxc ·" in screen_lines(app)[-1]
    finally:
        await local.close()


async def test_with_the_lab_the_first_screen_says_so(replay_paths: RuntimePaths) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Guests from the demo lab" in welcome(app) and "is off" not in welcome(app)
        assert "connected · lab ·" in screen_lines(app)[-1]
