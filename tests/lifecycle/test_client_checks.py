"""What a client checks before it uses or starts a broker.

- A ``--socket`` (or ``VCONSOLE_SOCKET``) in a directory that does not exist
  is refused in one line with the "no broker" exit code, and nothing is
  started there; ``vconsole serve --socket`` serves there on purpose.
- A broker that runs other providers than this client's environment asks
  for (``VCONSOLE_PROVIDERS``, as ``make run`` sets it) is named, with what
  to do; ``vconsole ls`` names the broker's providers in its header.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli, vconsole_cmd, wait_for
from tests.lab_host import LabHost
from tests.lifecycle.processes import command_lines
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import vconsole_argv
from vconsole.cli.exit_codes import EXIT_NO_BROKER
from vconsole.detached import socket_answers


def _processes_mentioning(path: Path) -> list[list[str]]:
    return [argv for argv in command_lines().values() if any(str(path) in a for a in argv)]


def test_socket_in_a_missing_directory_is_refused(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = runtime / "run" / "typo" / "broker.sock"  # under run/: the fixture kills what a bug starts
    for argv in (["ls"], ["attach", "web"], ["start", "web"], ["shutdown", "--lab"], ["snapshot", "web"]):
        result = run_cli(*argv, "--socket", str(missing))
        assert result.returncode == EXIT_NO_BROKER, (argv, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"{missing.parent} does not exist" in result.stderr
        assert f"vconsole serve --socket {missing}" in result.stderr
    monkeypatch.setenv("VCONSOLE_SOCKET", str(missing))
    result = run_cli("ls")
    assert result.returncode == EXIT_NO_BROKER and "does not exist" in result.stderr
    # Nothing was started there, and the directory was not made.
    assert not missing.parent.exists()
    assert _processes_mentioning(missing.parent) == []


def test_serve_creates_the_directory_it_is_told_to_serve_in(runtime: Path) -> None:
    where = runtime / "run" / "elsewhere" / "broker.sock"  # under run/: the fixture kills leftovers
    log = (runtime / "serve.log").open("wb")
    serve = subprocess.Popen(vconsole_cmd("serve", "--socket", str(where)), stdout=log, stderr=log)
    try:
        wait_for(lambda: socket_answers(where), 20.0, what="the broker to serve in the new directory")
        result = run_cli("ls", "--json", "--socket", str(where))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["guests"]
    finally:
        run_cli("shutdown", "--lab", "--socket", str(where))
        serve.wait(30)
        log.close()


def _fleet(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 601, "name": "one", "vttys": 1}]))
    lab_host.start_broker()  # with VCONSOLE_PROVIDERS=lab, as the runtime fixture sets it


def test_ls_header_names_the_providers_and_a_mismatch_is_said(
    lab_host: LabHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fleet(lab_host)
    same = lab_host.cli("ls")
    assert same.returncode == 0, same.stderr
    assert same.stdout.splitlines()[0] == "providers: lab (testlab)"
    assert same.stderr == ""
    listing = json.loads(lab_host.cli("ls", "--json").stdout)
    assert [p["name"] for p in listing["providers"]] == ["lab"]

    monkeypatch.setenv("VCONSOLE_PROVIDERS", "lab,xen")
    other = lab_host.cli("ls")
    assert other.returncode == 0
    assert other.stdout.splitlines()[0] == "providers: lab (testlab)"
    warning = other.stderr.strip()
    assert "\n" not in warning, warning
    assert "uses providers lab" in warning and "VCONSOLE_PROVIDERS=lab,xen asks for xen, lab" in warning
    assert "vconsole shutdown" in warning

    # Doing what it says: the next broker runs what this environment asks for.
    assert lab_host.cli("shutdown").returncode == 0
    restarted = lab_host.cli("ls")
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.splitlines()[0].startswith("providers: xen (")  # xl is not here: failed
    assert "lab (testlab)" in restarted.stdout.splitlines()[0]
    assert "uses providers" not in restarted.stderr
    lab_host.cli("shutdown")



def test_a_guess_from_the_host_tools_never_warns_but_an_explicit_config_does(
    lab_host: LabHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker started with `--providers lab` on a host with LXC: plain commands do not nag."""
    _fleet(lab_host)
    monkeypatch.delenv("VCONSOLE_PROVIDERS")
    fakes = Path(__file__).resolve().parent.parent / "fakes" / "lxc-host"
    monkeypatch.setenv("PATH", f"{fakes}{os.pathsep}{os.environ['PATH']}")  # lxc-ls is found
    guessed = lab_host.cli("ls")
    assert guessed.returncode == 0, guessed.stderr
    assert "uses providers" not in guessed.stderr, guessed.stderr

    config = Path(os.environ["XDG_CONFIG_HOME"]) / "vconsole" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[lab]\nenabled = false\n")  # chosen in the file: lxc only
    chosen = lab_host.cli("ls")
    assert chosen.returncode == 0, chosen.stderr
    assert "uses providers lab" in chosen.stderr and "this host's configuration asks for lxc" in chosen.stderr

@needs_tmux
def test_tui_says_the_broker_runs_other_providers(lab_host: LabHost) -> None:
    _fleet(lab_host)
    env = {**os.environ, "TERM": "xterm-256color", "VCONSOLE_PROVIDERS": "lab,xen"}
    env.pop("TMUX", None)
    pane = TmuxPane(env, cols=120, rows=30)
    try:
        argv = [*vconsole_argv(), "--socket", str(lab_host.paths.socket)]
        pane.type(shlex.join(argv), "Enter")
        screen = pane.wait_until(lambda s: "vconsole shutdown" in s, "the providers notice", timeout=30)
        assert "other providers" in screen
    finally:
        pane.close()
