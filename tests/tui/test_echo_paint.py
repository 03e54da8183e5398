"""Echoed rows are written straight to the terminal (paint_now), yet never over a toast on top of them."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import open_console, prefix, start_fleet, tui_command, wait_tui_ready

pytestmark = needs_tmux

TYPED = "z" * 85  # at 100 columns the line wraps and runs under the toast at the bottom right


@pytest.fixture
def pane(lab_host: LabHost, tmp_path: Path) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # where prefix s puts its snapshot
    p = TmuxPane(env, cols=100, rows=30)
    yield p
    p.close()


def test_typing_under_a_toast_leaves_the_toast_whole_then_shows_every_key(lab_host: LabHost, pane: TmuxPane) -> None:
    """Keys echoed on the bottom rows while a toast covers them: the toast stays intact, and when it goes the echo is all there."""
    start_fleet(lab_host)
    pane.type(tui_command(lab_host), "Enter")
    wait_tui_ready(pane)
    open_console(pane, "web")
    pane.wait_for("root@web:~#")
    pane.type("clear; printf '\\n%.0s' $(seq 60)", "Enter")  # the prompt to the bottom row
    pane.wait_until(lambda s: s.splitlines()[-2].rstrip().endswith("root@web:~#"), "the prompt on the bottom row")
    prefix(pane, "s")
    pane.wait_for("snapshot of web:vtty0")
    for key in TYPED:
        pane.type(key)
    time.sleep(1.0)  # the echoes are in
    screen = pane.screen()
    assert "snapshot of web:vtty0" in screen, f"an echo was drawn over the toast:\n{screen}"
    screen = pane.wait_until(lambda s: "snapshot of" not in s, "the toast gone", timeout=15)
    assert screen.count("z") == len(TYPED), f"the echo under the toast was lost:\n{screen}"
