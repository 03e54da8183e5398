"""TmuxPane: a real tmux server with one pane, driven like a person types and reads."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable

import pytest

from tests.lab_host import REPO

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class TmuxPane:
    """One tmux server with one pane, a private socket (``-L``), and a fixed size."""

    def __init__(self, env: dict[str, str], cols: int = 100, rows: int = 30, command: str = "sh") -> None:
        self.name = f"vct-{uuid.uuid4().hex[:8]}"
        self.env = env
        self._tmux("new-session", "-d", "-x", str(cols), "-y", str(rows), "-c", str(REPO), command)
        self._tmux("set-option", "-g", "remain-on-exit", "on")

    @classmethod
    def shell(cls, cols: int = 100, rows: int = 30) -> TmuxPane:
        """A pane running sh with this process's environment, outside any tmux, on an xterm-256color."""
        env = dict(os.environ)
        env.pop("TMUX", None)
        env["TERM"] = "xterm-256color"
        return cls(env, cols=cols, rows=rows)

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
        return self.wait_until(lambda s: text in s, repr(text), timeout)

    def wait_until(self, check: Callable[[str], object], what: str, timeout: float = 15.0, interval: float = 0.1) -> str:
        """Wait until ``check(screen)`` holds; fail with the screen if it never does."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"{what} never appeared; screen:\n{screen}")
            time.sleep(interval)

    def close(self) -> None:
        """Kill the tmux server (and with it whatever runs in the pane)."""
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True, env=self.env, timeout=10)
