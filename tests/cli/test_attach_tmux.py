"""Acceptance 4: ``vconsole attach`` driven through tmux like a person."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.lab_host import REPO, LabHost

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class TmuxPane:
    """One tmux server with one pane, a private socket, and a fixed size."""

    def __init__(self, env: dict[str, str], cols: int = 100, rows: int = 30) -> None:
        self.name = f"vct-{uuid.uuid4().hex[:8]}"
        self.env = env
        self._tmux("new-session", "-d", "-x", str(cols), "-y", str(rows), "-c", str(REPO), "sh")
        self._tmux("set-option", "-g", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.name, "-f", "/dev/null", *args],
            capture_output=True, text=True, check=True, env=self.env, timeout=10,
        ).stdout

    def type(self, *keys: str) -> None:
        """send-keys, as a person typing."""
        self._tmux("send-keys", "-t", "0", *keys)

    def screen(self) -> str:
        """The visible pane text."""
        return self._tmux("capture-pane", "-p", "-t", "0")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        """Wait until ``text`` is on screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} never appeared; screen:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        """Kill the tmux server."""
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True, env=self.env)


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env)
    yield p
    p.close()


def test_attach_type_detach_reattach(lab_host: LabHost, pane: TmuxPane) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    attach = f"{sys.executable} -m vconsole attach web --socket {lab_host.paths.socket}; echo EXIT=$?"
    pane.type(attach, "Enter")
    pane.wait_for("root@web:~#")
    pane.type("echo the answer is $((6*7))", "Enter")
    pane.wait_for("the answer is 42")
    # Keys a shell needs reach the guest: Ctrl-C interrupts a running command.
    pane.type("sleep 30", "Enter")
    time.sleep(0.5)
    pane.type("C-c")
    pane.type("echo after-interrupt", "Enter")
    # Typed-ahead text would be echoed once; the command's output makes it twice.
    deadline = time.monotonic() + 10
    while pane.screen().count("after-interrupt") < 2:
        assert time.monotonic() < deadline, pane.screen()
        time.sleep(0.1)
    pane.type("C-]", ".")
    screen = pane.wait_for("EXIT=0")
    assert "[vconsole: detached]" in screen

    pane.type("clear", "Enter")
    time.sleep(0.3)
    pane.type(attach, "Enter")
    screen = pane.wait_for("the answer is 42")
    assert "echo the answer is $((6*7))" in screen
    pane.type("C-]", ".")
    pane.wait_for("EXIT=0")


def test_window_size_follows_the_terminal_and_read_only_sends_nothing(lab_host: LabHost, pane: TmuxPane) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    base = f"{sys.executable} -m vconsole attach web 1 --socket {lab_host.paths.socket}"
    pane.type(base, "Enter")
    pane.wait_for("root@web:~#")
    pane.type("stty size", "Enter")
    pane.wait_for("30 100")
    pane._tmux("resize-window", "-t", "0", "-x", "90", "-y", "25")
    time.sleep(0.5)
    pane.type("stty size", "Enter")
    pane.wait_for("25 90")
    pane.type("C-]", ".")
    pane.type("clear", "Enter")
    time.sleep(0.3)
    pane.type(base + " -r", "Enter")
    pane.wait_for("read-only")
    pane.type("echo spy-typed", "Enter")
    time.sleep(1.0)
    assert "spy-typed" not in pane.screen()
    pane.type("C-]", ".")
    pane.wait_for("detached")
