"""The real ``vconsole`` TUI over a real SSH connection (``ssh -tt``) in an 80x24 tmux pane.

The test starts its own OpenSSH server on 127.0.0.1 (own host key, own
authorized_keys, a free port) as a child process, then drives the TUI like
a person at the far end of an SSH session: the same walkthrough and flood
check as in test_tui_tmux, through a pty the SSH server made.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_host import REPO, LabHost
from tests.ssh_server import SshServer, needs_sshd, running_sshd
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import flood_latency, start_fleet, tui_command, two_tabs_walkthrough

pytestmark = [needs_tmux, *needs_sshd]


@pytest.fixture
def sshd(runtime: Path) -> Iterator[SshServer]:
    with running_sshd(runtime / "ssh") as server:
        yield server


def remote_tui(lab_host: LabHost) -> str:
    """The remote command: this checkout, this test's private dirs, the TUI on the lab's broker."""
    env = {
        name: os.environ[name]
        for name in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "VCONSOLE_PROVIDERS", "PYTHONPATH")
        if name in os.environ
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
    env["TERM"] = "xterm-256color"  # what a person's terminal emulator says; sshd passes no TERM on its own
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"cd {shlex.quote(str(REPO))} && export {assignments} && {tui_command(lab_host)}"


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env, cols=80, rows=24)
    yield p
    p.close()


def test_two_tabs_over_ssh_in_80x24(lab_host: LabHost, sshd: SshServer, pane: TmuxPane) -> None:
    """The whole walkthrough through sshd's pty in a plain 80x24 window: keys, badges, close, quit."""
    start_fleet(lab_host)
    two_tabs_walkthrough(pane, lab_host, sshd.command(remote_tui(lab_host)))


def test_keys_answer_over_ssh_while_another_tab_floods(lab_host: LabHost, sshd: SshServer, pane: TmuxPane) -> None:
    """Over SSH too, a flooding hidden tab leaves the visible tab's keys answered (loose bound)."""
    start_fleet(lab_host)
    flood_latency(pane, lab_host, "ssh 80x24", sshd.command(remote_tui(lab_host)))
