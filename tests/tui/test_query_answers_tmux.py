"""The TUI's terminal answers a guest's queries only for live output of a visible read-write tab.

The TUI in a tmux pane, a real lab and broker; the guest (tests/query_guest.py)
writes DA and DSR queries and records every byte typed back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.cli.test_query_answers_tmux import _attach_line, ask, start_asker, wait_answers
from tests.lab_host import LabHost
from tests.query_guest import typed
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import open_console, quit_tui, tui_command

pytestmark = needs_tmux


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    return env


@pytest.fixture
def panes(lab_host: LabHost) -> Iterator[list[TmuxPane]]:
    made: list[TmuxPane] = []
    yield made
    for p in made:
        p.close()


def test_tui_answers_live_queries_of_its_visible_tab_only(lab_host: LabHost, panes: list[TmuxPane]) -> None:
    start_asker(lab_host, {"id": 372, "name": "web", "vttys": 1})
    time.sleep(0.5)
    ask(lab_host, 1)  # before any client: a replay for the tab that opens later
    tui = TmuxPane(_env(), cols=120, rows=30)
    panes.append(tui)
    tui.type(tui_command(lab_host), "Enter")
    tui.wait_until(lambda s: "asker 371" in s and "connected" in s, "the guest list", timeout=30)
    open_console(tui, "asker")
    tui.wait_for("asked 1")
    wait_answers(lab_host, (0, 0))

    ask(lab_host, 2)  # live, and the tab is the only client
    tui.wait_for("asked 2")
    wait_answers(lab_host, (1, 1))

    # An attach that comes later is the latest client: it answers, the tab does not.
    other = TmuxPane(_env())
    panes.append(other)
    other.type(_attach_line(lab_host), "Enter")
    other.wait_for("asked 2")
    ask(lab_host, 3)
    other.wait_for("asked 3")
    tui.wait_for("asked 3")
    wait_answers(lab_host, (2, 2))

    # Typing in the tab makes the TUI the active client again; hidden, its tab answers nothing.
    tui.type("y")
    deadline = time.monotonic() + 10
    while b"y" not in typed(lab_host.ctl_dir("asker")):
        assert time.monotonic() < deadline, "the key never reached the guest"
        time.sleep(0.05)
    open_console(tui, "web")
    ask(lab_host, 4)
    other.wait_for("asked 4")
    wait_answers(lab_host, (2, 2))
    quit_tui(tui)
