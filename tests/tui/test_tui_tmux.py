"""The real ``vconsole`` TUI in a tmux pane, driven like a person, against a real lab and broker."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import flood_latency, start_fleet, two_tabs_walkthrough

pytestmark = needs_tmux


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env, cols=100, rows=30)
    yield p
    p.close()


def test_two_tabs_switch_badges_close_quit(lab_host: LabHost, pane: TmuxPane) -> None:
    """Open two consoles, type, switch with prefix keys, see unread badges, close a tab, quit to the shell."""
    start_fleet(lab_host)
    two_tabs_walkthrough(pane, lab_host)


def test_keys_answer_while_another_tab_floods(lab_host: LabHost, pane: TmuxPane) -> None:
    """A hidden tab receiving ``yes`` at full speed does not starve the visible tab's keys (loose bound)."""
    start_fleet(lab_host)
    flood_latency(pane, lab_host, "tmux 100x30")
