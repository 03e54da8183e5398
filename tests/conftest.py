"""Shared fixtures: a private runtime directory with a real lab and a real broker."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_host import LabHost


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private directory used as XDG runtime, state and config home."""
    # Unix socket paths must stay under 108 bytes, so not pytest's tmp_path.
    base = Path(tempfile.mkdtemp(prefix="vc", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base / "run"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.delenv("VCONSOLE_SOCKET", raising=False)
    # Only the lab: a real host's containers (LXC in CI) stay out of lab tests.
    monkeypatch.setenv("VCONSOLE_PROVIDERS", "lab")
    (base / "run").mkdir(mode=0o700)
    yield base
    _kill_pidfiles(base / "run")
    shutil.rmtree(base, ignore_errors=True)


def _kill_pidfiles(run: Path) -> None:
    # Daemons a test's client autostarted are not our children: find them by pid file.
    for pidfile in run.rglob("*.pid"):
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)


@pytest.fixture
def lab_host(runtime: Path) -> Iterator[LabHost]:
    """A lab and broker as separate processes, driven through the real CLI."""
    host = LabHost(runtime)
    yield host
    host.cleanup()


def vconsole_cmd(*args: str) -> list[str]:
    """argv running the vconsole CLI of this checkout."""
    return [sys.executable, "-m", "vconsole", *args]


def run_cli(*args: str, timeout: float = 30, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``vconsole ARGS`` to completion, capturing text output."""
    return subprocess.run(
        vconsole_cmd(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=None if input is None else input.decode(),
    )


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
