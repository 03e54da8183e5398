"""Issue 14 item 4, the TUI side: a tab whose guest was removed says so."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import (
    active_status,
    open_console,
    quit_tui,
    start_fleet,
    tui_command,
    wait_tui_ready,
)

pytestmark = needs_tmux


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env, cols=160, rows=30)  # the status line holds the advice and the reason
    yield p
    p.close()


def test_a_removed_guest_tab_says_guest_removed(lab_host: LabHost, pane: TmuxPane) -> None:
    start_fleet(lab_host)
    pane.type(tui_command(lab_host), "Enter")
    wait_tui_ready(pane)
    open_console(pane, "web")
    pane.wait_for("root@web:~#")
    asyncio.run(lab_host.destroy("web"))
    pane.wait_until(
        lambda s: "guest removed" in active_status(s) and "container web was removed" in active_status(s),
        "'guest removed' and the reason in the tab's status",
    )
    quit_tui(pane)
