"""Starting a vconsole daemon (broker or lab) in the background, as tmux starts its server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from vconsole.runtime_paths import state_dir


@dataclass(frozen=True)
class DetachedStart:
    """A daemon just started in the background: its pid and where this start's log begins."""

    pid: int
    log: Path
    log_offset: int

    def exited(self) -> bool:
        """Whether it has already exited (reaping it: it is our child)."""
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return True  # already reaped by subprocess's own clean-up
        return pid != 0

    def failure(self, what: str) -> str:
        """One line: ``what`` did not start, its last logged line, and the log's path."""
        try:
            with open(self.log, "rb") as log:
                log.seek(self.log_offset)
                lines = log.read().decode(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        reason = f": {lines[-1].strip()}" if lines else ""
        return f"{what} did not start{reason} (see {self.log})"


def start_detached(args: list[str], log_name: str) -> DetachedStart:
    """Run ``python -m vconsole ARGS`` in a new session, output to a log in the state directory."""
    logs = state_dir()
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / log_name, "ab") as log:
        offset = log.tell()
        proc = subprocess.Popen(
            [sys.executable, "-m", "vconsole", *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    return DetachedStart(proc.pid, logs / log_name, offset)


def socket_answers(path: Path) -> bool:
    """Whether something accepts connections on the Unix socket ``path``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(1.0)
        sock.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        sock.close()


async def wait_for_socket(path: Path, timeout: float, started: DetachedStart | None = None) -> bool:
    """Poll until ``path`` accepts connections, ``timeout`` seconds pass or ``started`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and socket_answers(path):
            return True
        if started is not None and started.exited():
            # A daemon that failed at start says why in its log: no point waiting.
            return os.path.exists(path) and socket_answers(path)
        await asyncio.sleep(0.05)
    return False
