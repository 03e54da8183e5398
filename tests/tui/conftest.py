"""Fixtures of the TUI tests: a broker replaying recorded guests (the same screens every run)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_host import REPO
from vconsole.runtime_paths import RuntimePaths


@pytest.fixture
def replay_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[RuntimePaths]:
    """A replay broker on a private socket, for the app under test to connect to."""
    base = Path(tempfile.mkdtemp(prefix="vcs", dir="/tmp"))
    # No user theme files and no user config may leak into the pictures.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    # The tab underline slides when a tab opens; a picture mid-slide differs run to run.
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    sock = base / "replay.sock"
    proc = subprocess.Popen([sys.executable, "-m", "tests.tui.replay_broker", str(sock)], cwd=REPO)
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "replay broker did not start"
        time.sleep(0.02)
    yield RuntimePaths(sock)
    proc.kill()
    proc.wait()
