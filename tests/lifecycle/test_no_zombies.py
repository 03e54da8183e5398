"""A client that started a daemon never holds it as a zombie once the daemon exits.

The TUI starts the broker in the background (and a ``--no-daemon`` TUI's own
broker starts the lab); both outlive that moment, and a daemon that exits
after ``vconsole shutdown`` must leave no ``<defunct>`` entry behind while the
TUI still runs. Daemons fork away from the client that starts them, so their
parent is init, which reaps them.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator

import pytest

from tests.conftest import wait_for
from tests.lab_host import LabHost
from tests.lifecycle.processes import has_proc_entry, vconsole_processes, zombie_children
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import vconsole_argv
from vconsole.detached import process_running, read_pid_file

pytestmark = needs_tmux


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env, cols=100, rows=30)
    yield p
    p.close()


def _open_tui(pane: TmuxPane, lab_host: LabHost, *options: str) -> int:
    """Run the TUI in the pane until its guest list shows; its pid."""
    argv = [*vconsole_argv(), *options, "--socket", str(lab_host.paths.socket)]
    pane.type(shlex.join(argv), "Enter")
    pane.wait_until(lambda s: "solo 401" in s and "connected" in s, "the guest list", timeout=30)
    tuis = vconsole_processes(None, lab_host.paths.socket)
    assert len(tuis) == 1, tuis
    return tuis[0]


def _reaped_while_client_lives(daemon: int, client: int) -> None:
    wait_for(lambda: not process_running(daemon), 30.0, what=f"daemon {daemon} to exit")
    # Its parent reaps it: the entry goes. A child of the TUI would stay <defunct>.
    wait_for(lambda: not has_proc_entry(daemon), 5.0, what=f"exited daemon {daemon} to be reaped")
    assert process_running(client), "the TUI still runs"
    assert zombie_children(client) == []


def test_tui_that_started_the_broker_keeps_no_zombie(lab_host: LabHost, pane: TmuxPane) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 401, "name": "solo", "vttys": 1}]))
    tui = _open_tui(pane, lab_host)
    broker = read_pid_file(lab_host.paths.socket)
    assert broker is not None and process_running(broker)

    assert lab_host.cli("shutdown").returncode == 0
    _reaped_while_client_lives(broker, tui)


def test_no_daemon_tui_whose_broker_started_the_lab_keeps_no_zombie(lab_host: LabHost, pane: TmuxPane) -> None:
    fleet = lab_host.write_fleet([{"id": 401, "name": "solo", "vttys": 1}])
    lab_host.write_config(f'[lab]\nfleet = "{fleet}"\n')
    tui = _open_tui(pane, lab_host, "--no-daemon")  # its in-process broker starts the lab
    lab = read_pid_file(lab_host.paths.lab_socket)
    assert lab is not None and process_running(lab)

    result = lab_host.cli("shutdown", "--lab")
    assert result.returncode == 0, result.stderr
    _reaped_while_client_lives(lab, tui)
    # The in-process broker shut down too, and started no lab on its way out.
    assert not lab_host.paths.socket.exists()
    assert vconsole_processes("lab", lab_host.paths.directory) == []
