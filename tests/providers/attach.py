"""Drive ``vconsole attach`` on a real pty, as a person at a terminal would."""

from __future__ import annotations

import os
import select
import sys
import time
from pathlib import Path

import pytest
from ptyprocess import PtyProcess

DETACH = b"\x1d."  # the default escape key, then "."


class Attached:
    """A running ``vconsole attach`` and everything it printed so far."""

    def __init__(self, socket: Path, *args: str, env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "vconsole", "attach", *args, "--socket", str(socket)]
        self.proc = PtyProcess.spawn(argv, env=env or dict(os.environ), dimensions=(30, 100))
        self.output = b""
        # Keys typed before the client makes its terminal raw would be flushed.
        self.start = self.expect(b"[vconsole: attached")

    def _pump(self, wait: float) -> None:
        ready, _, _ = select.select([self.proc.fd], [], [], wait)
        if ready:
            try:
                self.output += os.read(self.proc.fd, 65536)
            except OSError:
                time.sleep(wait)

    def expect(self, text: bytes, timeout: float = 15.0, since: int = 0) -> int:
        """Wait until ``text`` was printed after offset ``since``; its end offset."""
        deadline = time.monotonic() + timeout
        while True:
            at = self.output.find(text, since)
            if at >= 0:
                return at + len(text)
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} never appeared; output: {self.output[-1500:]!r}")
            self._pump(0.1)

    def poke_until(self, keys: bytes, text: bytes, timeout: float = 20.0) -> int:
        """Type ``keys`` every second until ``text`` appears (a getty respawning)."""
        deadline = time.monotonic() + timeout
        since = len(self.output)
        while True:
            self.send(keys)
            try:
                return self.expect(text, timeout=1.0, since=since)
            except pytest.fail.Exception:
                if time.monotonic() > deadline:
                    raise

    def send(self, data: bytes) -> None:
        """Type ``data``."""
        self.proc.write(data)

    def detach(self) -> int | None:
        """Detach with the escape key and return the exit status."""
        self.send(DETACH)
        deadline = time.monotonic() + 10
        while self.proc.isalive() and time.monotonic() < deadline:
            self._pump(0.1)
        status = None if self.proc.isalive() else self.proc.exitstatus
        self.close()
        return status

    def close(self) -> None:
        """Kill it if still running."""
        if not self.proc.closed:
            self.proc.close(force=True)
