"""A fake OpenVZ + Xen host: tests/fakes tools on PATH, replaying tests/fixtures recordings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.lab_host import REPO

FIXTURES = REPO / "tests" / "fixtures"
FAKES = REPO / "tests" / "fakes"


class FakeHost:
    """State directory for the fake tools, plus the fake domU console processes."""

    def __init__(self, state: Path) -> None:
        self.state = state
        state.mkdir(parents=True, exist_ok=True)
        self.lock_dir = state / "lock"
        self.lock_dir.mkdir(exist_ok=True)
        shutil.copy(FIXTURES / "openvz" / "vzlist-legacy.json", state / "vzlist.json")
        shutil.copy(FIXTURES / "openvz" / "prlctl-list.json", state / "prlctl.json")
        shutil.copy(FIXTURES / "xen" / "xl-list-l.json", state / "xl-list-l.json")
        shutil.copy(FIXTURES / "xen" / "xl-list.txt", state / "xl-list.txt")
        store: dict[str, str] = {}
        for line in (FIXTURES / "xen" / "xenstore-ls-3.txt").read_text().splitlines():
            path, _, value = line.partition(" = ")
            store[path] = value[1:-1]
        (state / "store.json").write_text(json.dumps(store))
        self.guests: list[subprocess.Popen[bytes]] = []

    def env(self) -> dict[str, str]:
        """Environment with the fakes first on PATH."""
        return {**os.environ, "FAKE_HOST": str(self.state),
                "PATH": f"{FAKES / 'bin'}:{os.environ.get('PATH', '')}"}

    def apply_env(self) -> None:
        """Put the fakes on this process's PATH (for in-process providers)."""
        os.environ.update({k: v for k, v in self.env().items() if k in ("FAKE_HOST", "PATH")})

    def serve_domu_consoles(self) -> None:
        """Start a fake guest behind each console pty of domain 3 and wait for xenstore."""
        keys = ["/local/domain/3/console/tty", "/local/domain/3/serial/0/tty",
                "/local/domain/3/device/console/1/tty"]
        for key in keys:  # one guest (one pty) per console, as xenconsoled makes them
            # Blank the recorded path first: the new pty may get the very same
            # number, and then a change would never be seen.
            store = json.loads((self.state / "store.json").read_text())
            store[key] = ""
            (self.state / "store.json").write_text(json.dumps(store))
            before = ""
            self.guests.append(subprocess.Popen(
                [sys.executable, str(FAKES / "xen_guest.py"), str(self.state / "store.json"), key]
            ))
            deadline = time.monotonic() + 30
            while json.loads((self.state / "store.json").read_text())[key] == before:
                if time.monotonic() > deadline:
                    raise TimeoutError("fake domU did not publish its pty")
                time.sleep(0.05)

    def misbehave(self, tool: str, mode: str) -> None:
        """Make ``tool`` fail, hang or print garbage from now on."""
        (self.state / f"mode-{tool}").write_text(mode)

    def config(self, timeout: float = 2.0) -> str:
        """Config text enabling the fake OpenVZ and Xen providers."""
        return (
            f'[providers.openvz]\nenabled = true\ntimeout = {timeout}\n'
            f'vzctl_device = "{self.state / "no-vzctl-device"}"\n'
            f'[providers.xen]\nenabled = true\ntimeout = {timeout}\nlock_dir = "{self.lock_dir}"\n'
        )

    def close(self) -> None:
        """Stop the fake guests."""
        for proc in self.guests:
            proc.kill()
            proc.wait(5)
