"""Targets across hosts: ``h2/web 1`` attached through ssh in tmux like a person; bare names, ambiguity."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.hosts.conftest import RemoteHost
from tests.ssh_server import SshServer, needs_sshd
from tests.tmux_pane import TmuxPane, needs_tmux

pytestmark = needs_sshd


@pytest.fixture
def pane(runtime: Path) -> Iterator[TmuxPane]:
    p = TmuxPane.shell()
    yield p
    p.close()


@needs_tmux
def test_attach_host_guest_through_ssh_type_detach_reattach(configured: dict[str, RemoteHost], pane: TmuxPane) -> None:
    attach = f"{sys.executable} -m vconsole attach h2/web 1; echo EXIT=$?"
    pane.type(attach, "Enter")
    pane.wait_for("root@web:~#", timeout=60)
    pane.type("echo the answer is $((6*7))", "Enter")
    pane.wait_for("the answer is 42")
    pane.type("C-]", ".")
    screen = pane.wait_for("EXIT=0")
    assert "[vconsole: detached]" in screen

    pane.type("clear", "Enter")
    time.sleep(0.3)
    pane.type(attach, "Enter")
    screen = pane.wait_for("the answer is 42", timeout=60)  # replayed from h2's history
    assert "echo the answer is $((6*7))" in screen
    pane.type("echo again on h2", "Enter")
    pane.wait_for("again on h2")
    pane.type("C-]", ".")
    pane.wait_until(lambda s: s.count("EXIT=0") == 1 and "detached" in s, "the second detach")

    # It was h2's web, console 1: h1's web never saw it, and h2's web console 0 neither.
    listing = json.loads(run_cli("ls", "--json", timeout=120).stdout)
    unread = {(g["host"], g["name"], c["name"]): c["history"] for g in listing["guests"] for c in g["consoles"]}
    assert unread[("h2", "web", "vtty1")] > unread[("h1", "web", "vtty1")]


def test_a_bare_name_on_several_hosts_is_refused_with_the_candidates(configured: dict[str, RemoteHost]) -> None:
    result = run_cli("stop", "web", timeout=120)
    assert result.returncode == 4, result.stderr
    assert result.stderr == (
        "vconsole: 'web' is on several hosts: h1/web, h2/web (name one of them)\n"
    )
    listing = json.loads(run_cli("ls", "--json", timeout=120).stdout)
    assert {(g["host"], g["name"], g["state"]) for g in listing["guests"] if g["name"] == "web"} == {
        ("h1", "web", "running"), ("h2", "web", "running")
    }


def test_host_qualified_and_unique_bare_names_reach_their_host(configured: dict[str, RemoteHost]) -> None:
    assert run_cli("stop", "h2/web", timeout=120).returncode == 0
    assert run_cli("stop", "mail", timeout=120).returncode == 0  # only h3 has it
    listing = json.loads(run_cli("ls", "--json", timeout=120).stdout)
    states = {(g["host"], g["name"]): g["state"] for g in listing["guests"]}
    assert states == {
        ("h1", "web"): "running", ("h1", "db"): "running", ("h2", "web"): "stopped",
        ("h2", "cache"): "running", ("h3", "mail"): "stopped",
    }
    assert run_cli("start", "h2/web", timeout=120).returncode == 0


def test_unknown_host_and_guest_are_one_line(configured: dict[str, RemoteHost]) -> None:
    result = run_cli("stop", "h9/web", timeout=60)
    assert (result.returncode, result.stderr) == (
        4, "vconsole: no host 'h9' (hosts: h1, h2, h3; --host or [[hosts]] adds one)\n"
    )
    result = run_cli("stop", "nosuch", timeout=120)
    assert (result.returncode, result.stderr) == (4, "vconsole: no guest named 'nosuch' on any host\n")


@needs_tmux
def test_attach_through_ssh_resumes_when_the_remote_broker_comes_back(
    configured: dict[str, RemoteHost], pane: TmuxPane
) -> None:
    """h2's broker is killed while attached: attach says so, reconnects over ssh once a broker is back, and resumes."""
    pane.type(f"{sys.executable} -m vconsole attach h2/web 1; echo EXIT=$?", "Enter")
    pane.wait_for("root@web:~#", timeout=60)
    pane.type("echo before-$((1+1))", "Enter")
    pane.wait_for("before-2")
    pidfile = configured["h2"].base / "run" / "vconsole" / "broker.sock.pid"
    os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
    pane.wait_for("broker lost, reconnecting", timeout=20)
    pane.wait_for("reconnecting… (the broker there went away;")  # why: the bridge ended cleanly
    # The reconnect starts no broker (a shutdown stays one); any other command does, through the bridge.
    assert run_cli("ls", timeout=120).returncode == 0
    screen = pane.wait_for("reconnected", timeout=30)
    assert not re.search(r"EXIT=\d", screen), screen
    assert "reconnected; nothing was missed" in screen
    pane.type("echo after-$((2+2))", "Enter")
    pane.wait_for("after-4")
    pane.type("C-]", ".")
    pane.wait_for("EXIT=0")


@needs_tmux
def test_attach_through_ssh_waits_for_the_host_and_resumes(
    configured: dict[str, RemoteHost], sshd: SshServer, pane: TmuxPane
) -> None:
    """The host's sshd goes down with its connections: attach says so, retries, and resumes once it is back."""
    pane.type(f"{sys.executable} -m vconsole attach h1/web 1; echo EXIT=$?", "Enter")
    pane.wait_for("root@web:~#", timeout=60)
    pane.type("echo before-$((1+1))", "Enter")
    pane.wait_for("before-2")
    sshd.stop()
    pane.wait_for("broker lost, reconnecting", timeout=20)
    pane.wait_for("reconnecting… (Connection to 127.0.0.1 closed by remote host.;")  # ssh's own last line
    time.sleep(1.0)  # a few refused attempts
    sshd.start()
    screen = pane.wait_for("reconnected", timeout=30)
    assert not re.search(r"EXIT=\d", screen), screen
    pane.type("echo after-$((2+2))", "Enter")
    pane.wait_for("after-4")
    pane.type("C-]", ".")
    pane.wait_for("EXIT=0")
