"""`vconsole restart` (an upgrade) while a TUI and an attach are open: both come back by themselves.

The TUI and `vconsole attach` run in tmux as a person would have them; the
restart saves every session, starts a new broker with the same providers,
and the clients reconnect, resume from their offsets and say what they
missed. The history typed before the restart is still there.
"""

from __future__ import annotations

import sys
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
from tests.tui.test_tui_reconnect import flat

pytestmark = needs_tmux


def _pane() -> TmuxPane:
    return TmuxPane.shell(cols=160, rows=30)


@pytest.fixture
def panes(lab_host: LabHost) -> Iterator[tuple[TmuxPane, TmuxPane]]:
    tui, attach = _pane(), _pane()
    yield tui, attach
    tui.close()
    attach.close()


def test_restart_brings_back_the_tui_and_attach_with_their_history(
    lab_host: LabHost, panes: tuple[TmuxPane, TmuxPane]
) -> None:
    tui, attach = panes
    start_fleet(lab_host)
    old_pid = lab_host.broker.pid if lab_host.broker is not None else None
    tui.type(tui_command(lab_host), "Enter")
    wait_tui_ready(tui)
    open_console(tui, "web")
    tui.wait_for("root@web:~#")
    tui.type("echo before-$((1+1))", "Enter")
    tui.wait_for("before-2")
    attach.type(f"{sys.executable} -m vconsole attach talk --socket {lab_host.paths.socket}; echo EXIT=$?", "Enter")
    attach.wait_for("attached to talk vtty0")

    done = lab_host.cli("restart")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"restarted the broker on {lab_host.paths.socket} (pid {old_pid} -> ")
    lab_host.broker = None  # it exited by itself; the new one is a daemon (its pid file is cleaned up)

    attach.wait_for("reconnected; nothing was missed", timeout=30)
    tui.wait_until(lambda s: "reconnected; nothing was missed" in flat(s), "the TUI's resume notice", timeout=30)
    tui.wait_until(lambda s: "web:vtty0 · read-write · connected" in active_status(s), "the tab connected again")
    tui.type("echo after-$((2+2))", "Enter")
    screen = tui.wait_for("after-4")
    assert "before-2" in screen  # the history from before the restart is still in the tab
    # The new broker holds the old history: a fresh attach replays it.
    replay = lab_host.cli("log", "web")
    assert "before-2" in replay.stdout and "after-4" in replay.stdout
    attach.type("C-]", ".")
    attach.wait_for("EXIT=0")
    quit_tui(tui)
