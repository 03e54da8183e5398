"""Daemons (the broker and the lab): starting one, and the socket and pid file it holds.

The first client starts a daemon in the background, as tmux starts its server.

Both daemons live in one runtime directory (runtime_paths.py): each listens on
a private Unix socket there and writes ``SOCKET.pid`` beside it, so a client can
tell a live daemon from a stale socket and tests can find every daemon to kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from vconsole.runtime_paths import ensure_private_dir, state_dir


class DaemonAlreadyRunning(Exception):
    """Another daemon answers on the socket this one wants."""


class DaemonSocket:
    """A daemon's listening socket (mode 0600, in a 0700 directory) and its pid file.

    ``claim`` first (it refuses a live daemon and removes a dead one's socket),
    then ``listen`` once the daemon is ready to answer, and ``release`` on the
    way out.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what  # "broker", "lab": names the daemon in errors

    @property
    def pid_file(self) -> Path:
        """``SOCKET.pid``: the pid of the daemon serving the socket."""
        return self.path.with_name(self.path.name + ".pid")

    def claim(self) -> None:
        """Make the runtime directory; refuse a live daemon, remove a stale socket.

        RuntimeDirError for an unsafe directory, DaemonAlreadyRunning when
        something answers on the socket.
        """
        ensure_private_dir(self.path.parent)
        if self.path.exists() or self.path.is_symlink():
            if socket_answers(self.path):
                raise DaemonAlreadyRunning(f"a {self.what} is already running on {self.path}")
            # A daemon killed with SIGKILL leaves its socket behind; nobody listens on it.
            self.path.unlink()

    def listen(self, backlog: int = 128) -> socket.socket:
        """Bind and listen (non-blocking), then write the pid file."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is born 0600: no window where others may connect
        try:
            sock.bind(str(self.path))
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(backlog)
        sock.setblocking(False)
        self.pid_file.write_text(f"{os.getpid()}\n")
        return sock

    def release(self) -> None:
        """Remove the socket and the pid file (the listening socket is closed by its owner)."""
        for path in (self.path, self.pid_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


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
