"""Issue 14 item 3: ``vconsole attach`` waits for a lost broker and resumes, driven through tmux."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Iterator

import pytest

from tests.lab_host import LabHost
from tests.providers.attach import Attached
from tests.tmux_pane import TmuxPane, needs_tmux


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env)
    yield p
    p.close()


@needs_tmux
def test_attach_waits_for_the_broker_refuses_blind_keys_and_resumes(lab_host: LabHost, pane: TmuxPane) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    pane.type(f"{sys.executable} -m vconsole attach web 1 --socket {lab_host.paths.socket}; echo EXIT=$?", "Enter")
    pane.wait_for("root@web:~#")
    pane.type("echo one-$((1+1))", "Enter")
    pane.wait_for("one-2")

    lab_host.kill_broker(signal.SIGTERM)
    pane.wait_for("broker lost, reconnecting")
    # Typed while no broker holds the console: refused out loud, never sent later.
    pane.type("echo typed-$((3+3))-blind", "Enter")
    pane.wait_for("typed bytes were not sent")
    time.sleep(0.5)  # a few backoff rounds with no broker
    assert not re.search(r"EXIT=\d", pane.screen()), "attach must still be waiting"

    lab_host.start_broker()
    pane.wait_for("reconnected; nothing was missed")
    pane.type("echo two-$((2+2))", "Enter")
    screen = pane.wait_for("two-4")
    # Nothing echoed the blind line (the terminal is raw) and the shell never ran it.
    assert "typed-" not in screen
    pane.type("C-]", ".")
    pane.wait_for("EXIT=0")


def test_no_reconnect_exits_3_when_the_broker_goes(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    att = Attached(lab_host.paths.socket, "web", "1", "--no-reconnect")
    try:
        lab_host.kill_broker(signal.SIGKILL)
        att.expect(b"the broker went away")
        deadline = time.monotonic() + 10
        while att.proc.isalive() and time.monotonic() < deadline:
            att._pump(0.1)
        assert not att.proc.isalive()
        assert att.proc.exitstatus == 3
        assert b"reconnecting" not in att.output
    finally:
        att.close()


def test_reconnect_timeout_exits_3_after_waiting(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    att = Attached(lab_host.paths.socket, "web", "1", "--reconnect-timeout", "1.5")
    try:
        lab_host.kill_broker(signal.SIGKILL)
        lost = time.monotonic()
        att.expect(b"broker lost, reconnecting")
        att.expect(b"no broker came back within 1.5 s")
        deadline = time.monotonic() + 10
        while att.proc.isalive() and time.monotonic() < deadline:
            att._pump(0.1)
        assert att.proc.exitstatus == 3
        assert 1.4 <= time.monotonic() - lost < 8
    finally:
        att.close()
