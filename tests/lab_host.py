"""LabHost: a real lab and a real broker in a private runtime directory, for tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vconsole.client import Client
from vconsole.runtime_paths import RuntimePaths

REPO = Path(__file__).resolve().parent.parent
GUEST_PROGRAM = REPO / "tests" / "guest_program.py"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


class LabHost:
    """Starts, kills and restarts the lab and broker processes of one test."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.paths = RuntimePaths(base / "run" / "vconsole" / "broker.sock")
        self.lab: subprocess.Popen[bytes] | None = None
        self.broker: subprocess.Popen[bytes] | None = None
        self.broker_spawned = 0.0  # time.monotonic() when the broker process was started
        self.logs = base / "logs"
        self.logs.mkdir(exist_ok=True)

    # --- fleet and guests --------------------------------------------------

    def ctl_dir(self, name: str) -> Path:
        """The control directory of a scripted guest (see tests/guest_program.py)."""
        path = self.base / "ctl" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def scripted(self, name: str) -> list[str]:
        """argv of a scripted guest program."""
        return [sys.executable, "-u", str(GUEST_PROGRAM), str(self.ctl_dir(name))]

    def write_fleet(self, containers: list[dict[str, Any]], domus: list[dict[str, Any]] = ()) -> Path:  # type: ignore[assignment]
        """Write a fleet file for this test."""
        lines = ['host = "testlab"']
        for table, guests in (("container", containers), ("domu", domus)):
            for guest in guests:
                lines.append(f"\n[[{table}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in guest.items()]
        path = self.base / "fleet.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def write_config(self, text: str) -> None:
        """Write the user config file the broker reads."""
        cfg = self.base / "config" / "vconsole"
        cfg.mkdir(parents=True, exist_ok=True)
        (cfg / "config.toml").write_text(text)

    def command(self, guest: str, seq: int, text: str) -> None:
        """Give scripted guest ``guest`` its command number ``seq``."""
        ctl = self.ctl_dir(guest)
        (ctl / f"{seq}.tmp").write_text(text)
        os.rename(ctl / f"{seq}.tmp", ctl / f"{seq}.cmd")

    def wait_done(self, guest: str, seq: int, timeout: float = 20.0) -> float:
        """Wait until the guest finished command ``seq``; the seconds its write took."""
        done = self.ctl_dir(guest) / f"{seq}.done"
        deadline = time.monotonic() + timeout
        while not done.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{guest} did not finish command {seq}")
            time.sleep(0.02)
        return float(done.read_text())

    async def destroy(self, guest: str) -> None:
        """Remove ``guest`` from the running lab, as ``lxc-destroy -f`` removes a container."""
        from vconsole.framed_socket import FramedSocket

        conn = await FramedSocket.connect(self.paths.lab_socket)
        try:
            reply, _ = await conn.request({"op": "destroy", "id": 1, "guest": guest})
            assert reply["ok"], reply
        finally:
            conn.close()

    # --- processes ---------------------------------------------------------

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.logs / log, "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "vconsole", *args, "--socket", str(self.paths.socket)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    def start_lab(self, fleet: Path) -> None:
        """Start ``vconsole lab`` with ``fleet`` and wait for its socket."""
        self.lab = self._spawn(["lab", "--fleet", str(fleet)], "lab.log")
        self._wait_socket(self.paths.lab_socket, self.lab, "lab")

    def start_broker(self) -> None:
        """Start ``vconsole serve`` and wait until it answers."""
        self.broker_spawned = time.monotonic()
        self.broker = self._spawn(["serve"], "broker.log")
        self._wait_socket(self.paths.socket, self.broker, "broker")

    def kill_broker(self, sig: int = signal.SIGKILL) -> None:
        """Kill the broker with ``sig`` and reap it."""
        assert self.broker is not None
        self.broker.send_signal(sig)
        self.broker.wait(10)
        self.broker = None

    def _wait_socket(self, path: Path, proc: subprocess.Popen[bytes], what: str) -> None:
        from vconsole.detached import socket_answers

        deadline = time.monotonic() + 20
        while not (path.exists() and socket_answers(path)):
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}: {self.log(what)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not start: {self.log(what)}")
            time.sleep(0.05)

    def log(self, what: str) -> str:
        """The tail of a daemon's log, for failure messages."""
        path = self.logs / f"{what}.log"
        return path.read_text()[-3000:] if path.exists() else ""

    async def client(self) -> Client:
        """A connected client (never autostarts anything)."""
        return await Client.connect(self.paths, autostart=False)

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``vconsole ARGS --socket ...`` against this host."""
        return subprocess.run(
            [sys.executable, "-m", "vconsole", *args, "--socket", str(self.paths.socket)],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def cleanup(self) -> None:
        """Stop the broker, then the lab gracefully so it takes its guests down."""
        for proc, sig in ((self.broker, signal.SIGKILL), (self.lab, signal.SIGTERM)):
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(sig)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        with contextlib.suppress(OSError):
            for pidfile in self.paths.directory.glob("*.pid"):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
