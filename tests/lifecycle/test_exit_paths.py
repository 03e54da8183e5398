"""Nothing on an exit path starts a daemon: a broker shutting down never brings up a lab.

Before, the broker's way out (saving every session asks the lab for each
domU's ring state) found the lab gone and started a fresh one, so
``vconsole shutdown --lab`` or SIGTERM to both daemons left a new lab
running. Checked as a person would: the lab's socket and pid file, and the
process list.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.conftest import run_cli, wait_for
from tests.lifecycle.processes import vconsole_processes
from vconsole.detached import process_running, read_pid_file, socket_answers


def _run_dir(runtime: Path) -> Path:
    return runtime / "run" / "vconsole"


def _no_lab_left(run_dir: Path) -> None:
    """No lab answers, none holds the socket or the pid file, none is in the process list."""
    lab_socket = run_dir / "lab.sock"
    assert not socket_answers(lab_socket)
    assert not lab_socket.exists(), "a lab holds the socket"
    assert not (run_dir / "lab.sock.pid").exists(), f"a lab runs: pid {read_pid_file(lab_socket)}"
    assert vconsole_processes("lab", run_dir) == []


def _daemons_up(run_dir: Path) -> tuple[int, int]:
    """Autostart both daemons as the first client does; their pids (broker, lab)."""
    result = run_cli("ls")
    assert result.returncode == 0, result.stderr
    broker, lab = read_pid_file(run_dir / "broker.sock"), read_pid_file(run_dir / "lab.sock")
    assert broker is not None and lab is not None
    return broker, lab


def _wait_exited(*pids: int) -> None:
    wait_for(lambda: not any(process_running(pid) for pid in pids), 30.0, what=f"{pids} to exit")


def test_shutdown_lab_leaves_no_lab_running(runtime: Path) -> None:
    run_dir = _run_dir(runtime)
    for _attempt in range(3):  # it failed 4 times in 5 before
        broker, lab = _daemons_up(run_dir)
        result = run_cli("shutdown", "--lab")
        assert result.returncode == 0, result.stderr
        returned_after_exit = not process_running(broker) and not process_running(lab)
        _wait_exited(broker, lab)
        time.sleep(1.0)  # a lab the broker started on its way out would be up by now
        _no_lab_left(run_dir)
        assert returned_after_exit, "shutdown returns once both daemons are gone"


def test_sigterm_to_broker_and_lab_together_starts_no_lab(runtime: Path) -> None:
    run_dir = _run_dir(runtime)
    for _attempt in range(2):
        broker, lab = _daemons_up(run_dir)
        os.kill(broker, signal.SIGTERM)
        os.kill(lab, signal.SIGTERM)
        _wait_exited(broker, lab)
        time.sleep(1.0)
        _no_lab_left(run_dir)
        assert not (run_dir / "broker.sock").exists()
