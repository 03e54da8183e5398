"""Issue 14 item 3, the TUI side: a lost broker is shown, keys are refused out loud, tabs resume.

The real TUI runs in tmux on a private lab. The broker is killed (-9, so its
history is gone) and later shut down cleanly (its history saved) and started
again by another command; the TUI must show the loss, refuse typed keys with
a notice (never sending them later), reconnect on its own, resume its tab from
its offset and say what the loss cost.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import time
from collections.abc import Iterator

import pytest

from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import (
    active_status,
    open_console,
    prefix,
    quit_tui,
    start_fleet,
    tui_command,
    vconsole_argv,
    wait_tui_ready,
)
from vconsole.detached import socket_answers

pytestmark = needs_tmux

LOST = "broker lost, reconnecting"


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env, cols=160, rows=30)  # room for the status lines and the notices beside the terminal
    yield p
    p.close()


def status_line(screen: str) -> str:
    """The app's bottom line."""
    lines = screen.splitlines()
    return lines[-1] if lines else ""


def flat(screen: str) -> str:
    """The screen as one line of words: a notice may wrap inside its box."""
    return " ".join(re.sub(r"[│▎▊▌▐┃]", " ", screen).split())


def refuse_typed_keys(pane: TmuxPane) -> None:
    """While disconnected: the status says so (even after a prefix key), typed keys get a notice."""
    pane.wait_until(lambda s: LOST in status_line(s) and LOST in active_status(s),
                    "the lost broker in the status line and the tab")
    prefix(pane, "z")  # a prefix key that means nothing used to bring "connected" back
    time.sleep(0.3)
    screen = pane.screen()
    assert LOST in status_line(screen) and "connected ·" not in status_line(screen), screen
    pane.type("echo typed-$((3+3))-blind", "Enter")
    pane.wait_until(lambda s: re.search(r"not connected: \d+ typed bytes were not sent", flat(s)),
                    "the notice that typed bytes were not sent")


def resumed(pane: TmuxPane, notice: str, marker: str) -> None:
    """The tab is attached again, said what was missed, and typing works; the blind line never ran."""
    pane.wait_until(lambda s: notice in flat(s), f"the notice {notice!r}", timeout=20)
    pane.wait_until(lambda s: "web:vtty0 · read-write · connected" in active_status(s) and LOST not in status_line(s),
                    "the tab and the status line connected again")
    pane.type(f"echo {marker}-$((2+2))", "Enter")
    screen = pane.wait_for(f"{marker}-4")
    assert "typed-6-blind" not in screen, "a key typed while disconnected reached the guest"


@pytest.mark.parametrize("logged", [True, False], ids=["log", "no-log"])
def test_tui_shows_a_lost_broker_refuses_keys_and_resumes(lab_host: LabHost, pane: TmuxPane, logged: bool) -> None:
    if not logged:
        lab_host.write_config("[log]\nenabled = false\n")
    start_fleet(lab_host)
    pane.type(tui_command(lab_host), "Enter")
    wait_tui_ready(pane)
    open_console(pane, "web")
    pane.wait_for("root@web:~#")
    pane.type("echo one-$((1+1))", "Enter")
    pane.wait_for("one-2")

    # A crash: without a console log the broker's history is gone and the new
    # broker's is a new one; with one, the tab resumes at its offset.
    lab_host.kill_broker(signal.SIGKILL)
    refuse_typed_keys(pane)
    asyncio.run(lab_host.destroy("talk"))  # while no broker looks: only a new listing can tell
    time.sleep(1.0)  # a few backoff rounds with no broker
    lab_host.start_broker()
    crashed = "reconnected; nothing was missed" if logged else "the broker restarted without this console's history"
    resumed(pane, crashed, "two")

    # A clean shutdown (its history saved), and another command starts the daemon again.
    done = lab_host.cli("shutdown")
    assert done.returncode == 0, done.stderr
    lab_host.broker = None  # exited by itself
    refuse_typed_keys(pane)
    assert lab_host.cli("ls").returncode == 0  # starts the daemon; the TUI never does
    resumed(pane, "reconnected; nothing was missed", "three")

    prefix(pane, "l")
    pane.type("Escape")  # clears the guest list's filter
    pane.wait_until(lambda s: "flood 103" in s and "talk 102" not in s, "the guest list listed again")
    quit_tui(pane)


def test_no_daemon_tui_says_its_broker_was_shut_down_and_does_not_restart_it(
    lab_host: LabHost, pane: TmuxPane
) -> None:
    start_fleet(lab_host)
    lab_host.kill_broker(signal.SIGKILL)  # the TUI serves its own
    argv = [*vconsole_argv(), "--no-daemon", "--socket", str(lab_host.paths.socket)]
    pane.type(shlex.join(argv) + "; echo TUI-EXIT=$?", "Enter")
    wait_tui_ready(pane)
    open_console(pane, "web")
    pane.wait_for("root@web:~#")

    assert lab_host.cli("shutdown").returncode == 0
    pane.wait_until(lambda s: "the broker was shut down" in status_line(s), "the shutdown in the status line")
    assert "broker gone" in active_status(pane.screen())
    time.sleep(2.0)
    assert not socket_answers(lab_host.paths.socket), "the TUI served its broker again after a shutdown"
    pane.type("echo blind", "Enter")
    pane.wait_until(lambda s: re.search(r"not connected: \d+ typed bytes were not sent", flat(s)),
                    "the notice that typed bytes were not sent")
    quit_tui(pane)
