"""``vconsole bridge`` as ssh runs it starts light: each host a client reaches pays this start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vconsole.cli.exit_codes import EXIT_NO_BROKER
from vconsole.ssh_transport import BridgeGreeting
from vconsole.wire import HEADER, decode_body


def run_bridge(*words: str) -> tuple[subprocess.CompletedProcess[bytes], set[str]]:
    """The bridge on pipes with no broker to reach (``--no-start``), and the modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vconsole", "bridge", *words],
        input=b"", capture_output=True, timeout=30,
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.decode().splitlines()
               if line.startswith("import time:")}
    return proc, modules


def greeting(stdout: bytes) -> BridgeGreeting:
    (length,) = HEADER.unpack(stdout[: HEADER.size])
    return BridgeGreeting.from_wire(decode_body(stdout[HEADER.size : HEADER.size + length]))


def test_bridge_as_ssh_runs_it_loads_no_other_command(runtime: Path) -> None:
    proc, modules = run_bridge("--no-start")
    assert proc.returncode == EXIT_NO_BROKER, proc.stderr[-500:]
    said = greeting(proc.stdout)
    assert said.error is not None and "no broker" in said.error, said  # it greeted, saying why
    assert "vconsole.cli.bridge" in modules
    loaded = {m for m in modules if m.startswith("vconsole.")}
    for heavy in ("vconsole.cli.command_line", "vconsole.cli.log_command", "vconsole.cli.commands",
                  "vconsole.providers.detect", "vconsole.consolelog"):
        assert heavy not in loaded, f"{heavy} loaded by the bridge's start"


def test_a_bridge_given_other_options_goes_through_the_whole_command_line(runtime: Path) -> None:
    proc, modules = run_bridge("--no-start", "--socket", str(runtime / "run" / "nothing.sock"))
    assert proc.returncode == EXIT_NO_BROKER, proc.stderr[-500:]
    assert greeting(proc.stdout).error is not None
    assert "vconsole.cli.command_line" in modules  # the control: the measure sees the whole parser
