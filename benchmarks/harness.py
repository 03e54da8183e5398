"""Shared parts: a private lab + broker, processes on PTYs, a tmux server with a client, /proc figures."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.lab_host import GUEST_PROGRAM, LabHost
from vconsole.detached import socket_answers

ECHO_GUEST = Path(__file__).with_name("echo_guest.py")
PY = sys.executable


def echo_argv() -> list[str]:
    """argv of the raw echo guest."""
    return [PY, "-u", str(ECHO_GUEST)]


@contextlib.contextmanager
def lab(containers: list[dict[str, Any]] | None = None, config: str = "", *,
        build: Any = None, start_timeout: float = 20) -> Iterator[LabHost]:
    """A real lab and broker in a private runtime directory (like the tests' ``lab_host``).

    ``build(host)`` may return the containers when they need the host (scripted guests).
    """
    base = Path(tempfile.mkdtemp(prefix="vcb", dir="/tmp"))
    (base / "run").mkdir(mode=0o700)
    host = LabHost(base)
    with lab_environment(host):
        try:
            if config:
                host.write_config(config)
            fleet = build(host) if build is not None else containers or []
            host.start_lab(host.write_fleet(fleet))
            host.broker_spawned = time.monotonic()
            host.broker = host._spawn(["serve"], "broker.log")
            deadline = time.monotonic() + start_timeout
            while not socket_answers(host.paths.socket):
                if host.broker.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the broker did not start: {host.log('broker')}")
                time.sleep(0.1)
            yield host
        finally:
            host.cleanup()
            shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def lab_environment(host: LabHost) -> Iterator[None]:
    """The environment of ``host``'s lab (runtime, state and config dirs) while inside; restored after.

    Processes inherit it when spawned, so with two labs at once, wrap what
    (re)starts one lab's broker in its own environment.
    """
    keys = ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "VCONSOLE_PROVIDERS", "VCONSOLE_SOCKET")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(XDG_RUNTIME_DIR=str(host.base / "run"), XDG_STATE_HOME=str(host.base / "state"),
                      XDG_CONFIG_HOME=str(host.base / "config"), VCONSOLE_PROVIDERS="lab")
    os.environ.pop("VCONSOLE_SOCKET", None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def set_winsize(fd: int, cols: int, rows: int) -> None:
    """TIOCSWINSZ."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def spawn_on_pty(argv: list[str], cols: int = 80, rows: int = 24,
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """Run ``argv`` on a fresh pty (its controlling terminal); returns the process and the master."""
    master, slave = os.openpty()
    set_winsize(slave, cols, rows)
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=_controlling_tty, env=env)
    os.close(slave)
    return proc, master


def read_until(fd: int, marker: bytes, timeout: float = 10.0) -> bytes:
    """Read ``fd`` until ``marker`` shows up."""
    buf = b""
    deadline = time.monotonic() + timeout
    while marker not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {marker!r} in {buf[-200:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            buf += os.read(fd, 65536)
    return buf


def stop(proc: subprocess.Popen[bytes], master: int | None = None) -> None:
    """Kill a process we started (its session) and close its pty master."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    if master is not None:
        with contextlib.suppress(OSError):
            os.close(master)


class Tmux:
    """A private tmux server (no config, no status line) with one client attached through a pty."""

    def __init__(self, workdir: Path, command: str, cols: int = 80, rows: int = 24) -> None:
        self.tmux = shutil.which("tmux") or "tmux"
        self.sock = str(workdir / "tmux.sock")
        self.env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        self.env["TERM"] = "xterm-256color"
        self.run("-f", "/dev/null", "new-session", "-d", "-x", str(cols), "-y", str(rows), command)
        self.run("set", "-g", "status", "off")
        self.client, self.master = spawn_on_pty([self.tmux, "-S", self.sock, "attach"], cols, rows, self.env)
        self.received = 0
        self._draining = False
        self._thread: threading.Thread | None = None

    def run(self, *args: str) -> str:
        """A tmux command against this server."""
        return subprocess.run([self.tmux, "-S", self.sock, *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=120).stdout

    def server_pid(self) -> int:
        """The server's pid."""
        return int(self.run("display", "-p", "#{pid}").strip())

    def drain(self) -> None:
        """Read the client's output in a thread, as a terminal would."""
        self._draining = True

        def loop() -> None:
            while self._draining:
                r, _, _ = select.select([self.master], [], [], 0.1)
                if r:
                    try:
                        self.received += len(os.read(self.master, 1 << 16))
                    except OSError:
                        return

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the client and the server."""
        self._draining = False
        if self._thread is not None:
            self._thread.join(2)
        subprocess.run([self.tmux, "-S", self.sock, "kill-server"], env=self.env,
                       capture_output=True, check=False)
        stop(self.client, self.master)


def rss_mb(pid: int) -> float:
    """Resident set size in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    return 0.0


def fd_count(pid: int) -> int:
    """Open file descriptors."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of a process so far, in ns (schedstat: finer than clock ticks)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(stat.read_text().split()[0])
    return total


def guest_program_argv(ctl: Path) -> list[str]:
    """argv of tests/guest_program.py outside the lab."""
    return [PY, "-u", str(GUEST_PROGRAM), str(ctl)]


class Gate:
    """A file the harness holds an exclusive flock on until it opens the gate.

    Guests run ``flock -s PATH true`` before they print, so nothing is written
    before the broker holds every console: a lab vtty with no master keeps
    only its newest 4 KiB, and output printed before the broker existed
    would be lost and the histories never fill.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / "gate"
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def guard(self, command: str) -> list[str]:
        """argv of ``sh -c command`` that waits for the gate first."""
        return ["sh", "-c", f"flock -s {self.path} true; {command}"]

    def open(self) -> None:
        """Let every waiting guest go at once."""
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the lock
            self._fd = None
