"""Daemons (the broker and the lab): starting one, and the socket and pid file it holds.

The first client starts a daemon in the background, as tmux starts its server.
The daemon forks once more as its first step and the process the client
started exits at once (the classic double fork): the daemon's parent is then
init, never the client, so a client that outlives a daemon it started (a TUI,
a ``--no-daemon`` broker that started the lab) never holds a zombie.

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

from vconsole.daemon_fork import DAEMONIZE_ENV
from vconsole.runtime_paths import ensure_private_dir, ensure_shared_dir, state_dir


class DaemonAlreadyRunning(Exception):
    """Another daemon answers on the socket this one wants."""


@dataclass(frozen=True)
class SharedSocket:
    """A socket others may connect to: its group and mode (the broker still checks each client)."""

    group: int | None
    mode: int


class DaemonSocket:
    """A daemon's listening socket (mode 0600, in a 0700 directory) and its pid file.

    ``claim`` first (it refuses a live daemon and removes a dead one's socket),
    then ``listen`` once the daemon is ready to answer, and ``release`` on the
    way out.
    """

    def __init__(self, path: Path, what: str, shared: SharedSocket | None = None) -> None:
        self.path = path
        self.what = what  # "broker", "lab": names the daemon in errors
        # None: private (0600 in a 0700 directory); else others connect (the system broker).
        self.shared = shared

    @property
    def pid_file(self) -> Path:
        """``SOCKET.pid``: the pid of the daemon serving the socket."""
        return self.path.with_name(self.path.name + ".pid")

    def claim(self) -> None:
        """Make the runtime directory; refuse a live daemon, remove a stale socket.

        RuntimeDirError for an unsafe directory, DaemonAlreadyRunning when
        something answers on the socket.
        """
        if self.shared is None:
            ensure_private_dir(self.path.parent)
        else:
            ensure_shared_dir(self.path.parent)
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
        self.set_access()
        sock.listen(backlog)
        sock.setblocking(False)
        self.pid_file.write_text(f"{os.getpid()}\n")
        return sock

    def set_access(self) -> None:
        """Give the bound socket its group and mode (private: 0600)."""
        if self.shared is not None:
            if self.shared.group is not None:
                os.chown(self.path, -1, self.shared.group)
            os.chmod(self.path, self.shared.mode)
        else:
            os.chmod(self.path, 0o600)

    def release(self) -> None:
        """Remove the socket and the pid file (the listening socket is closed by its owner)."""
        for path in (self.path, self.pid_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


@dataclass(frozen=True)
class DetachedStart:
    """A daemon just started in the background: its pid and where this start's log begins."""

    pid: int | None  # the daemon's (init's child, not ours); None if its fork did not say
    log: Path
    log_offset: int

    def exited(self) -> bool:
        """Whether the daemon has already exited (it failed at start: its log says why)."""
        return self.pid is not None and not process_running(self.pid)

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


async def start_detached(args: list[str], log_name: str) -> DetachedStart:
    """Run ``python -m vconsole ARGS`` as a daemon in a new session, output to a log.

    Returns once the process started here has forked the daemon, told us its
    pid and exited (and been reaped): the daemon itself is init's child.
    """
    logs = state_dir()
    logs.mkdir(parents=True, exist_ok=True)
    report_r, report_w = os.pipe()  # the first process writes the daemon's pid here
    os.set_blocking(report_r, False)
    try:
        with open(logs / log_name, "ab") as log:
            offset = log.tell()
            proc = subprocess.Popen(
                [sys.executable, "-m", "vconsole", *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
                pass_fds=(report_w,),
                env={**os.environ, DAEMONIZE_ENV: str(report_w)},
            )
        os.close(report_w)
        report_w = -1
        # It forks before importing anything heavy: a Python start-up, a few tens of ms.
        while proc.poll() is None:
            await asyncio.sleep(0.01)
        try:
            said = os.read(report_r, 32)
        except BlockingIOError:
            said = b""
    finally:
        os.close(report_r)
        if report_w >= 0:
            os.close(report_w)
    return DetachedStart(int(said) if said.isdigit() else None, logs / log_name, offset)


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


def read_pid_file(path: Path) -> int | None:
    """The pid in ``SOCKET.pid`` beside the daemon socket ``path``, if there is one."""
    try:
        return int(DaemonSocket(path, "daemon").pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie has exited)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # The state follows the ")" closing the command name.
    return stat[stat.rfind(b")") + 2 :][:1] not in (b"Z", b"X")


async def wait_gone(path: Path, pid: int | None, timeout: float, *, process: bool = False) -> bool:
    """Wait until the daemon of socket ``path`` has let go of it, or ``pid`` has exited.

    A daemon removes its socket last on its way out. With ``process``, wait
    for ``pid`` itself to exit (the lab stops its guests after its socket).
    False after ``timeout`` seconds.
    """
    def gone() -> bool:
        exited = pid is not None and not process_running(pid)
        if process and pid is not None:
            return exited
        return exited or not (path.exists() or path.is_symlink())

    deadline = time.monotonic() + timeout
    while not gone():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
