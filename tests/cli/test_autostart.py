"""Clients start the broker and lab in the background like tmux does, and --no-daemon runs it in-process."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from tests.conftest import run_cli, wait_for
from vconsole.detached import socket_answers


def test_first_client_starts_broker_and_lab_and_shutdown_stops_them(runtime: Path) -> None:
    run_dir = runtime / "run" / "vconsole"
    result = run_cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    names = {g["name"] for g in json.loads(result.stdout)["guests"]}
    assert {"web", "db", "cache", "alpine-pv", "legacy-hvm"} <= names
    # Placed as design.md says, private.
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((run_dir / "broker.sock").stat().st_mode) == 0o600
    assert socket_answers(run_dir / "lab.sock")
    broker_pid = int((run_dir / "broker.sock.pid").read_text())
    lab_pid = int((run_dir / "lab.sock.pid").read_text())
    # A second client reuses the same broker.
    assert run_cli("ls").returncode == 0
    assert int((run_dir / "broker.sock.pid").read_text()) == broker_pid
    assert (runtime / "state" / "vconsole" / "broker.log").exists()

    assert run_cli("shutdown", "--lab").returncode == 0

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie is gone too (its parent, the test runner's init, may not reap at once).
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")

    wait_for(lambda: gone(broker_pid) and gone(lab_pid), what="broker and lab to exit")
    assert not (run_dir / "broker.sock").exists()


def test_no_daemon_runs_the_broker_in_process(runtime: Path) -> None:
    result = run_cli("--no-daemon", "ls", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["guests"]
    run_dir = runtime / "run" / "vconsole"
    time.sleep(0.2)
    # The in-process broker is gone with the command; the lab it started keeps running.
    assert not socket_answers(run_dir / "broker.sock")
    assert socket_answers(run_dir / "lab.sock")
    run_cli("shutdown", "--lab")
