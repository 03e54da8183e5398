"""VttyPort: one virtual terminal of a lab container, as the Virtuozzo kernel has it.

The guest side is the slave of a real pty; the host side opens the master,
one opener at a time (a second open is EBUSY). While no master is open the
guest's writes never block: the first 4 KiB fill the port buffer, and once it
is full further writes are zapped (discarded, yet reported to the guest as
written) and counted, as the Virtuozzo driver does. The next opener receives
the buffer first, so its first read gets the oldest bytes.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

from ptyprocess import PtyProcess, PtyProcessError

PORT_BUFFER_SIZE = 4096


class VttyBusy(Exception):
    """The master is already open (EBUSY)."""


class ProgramFailed(RuntimeError):
    """The vtty's program could not be run (not found, not executable, a bad binary)."""


def kill_session(sid: int, sig: int = signal.SIGKILL) -> None:
    """Signal every process of session ``sid``: the guest's whole process tree.

    Job-control shells put background jobs in their own process groups, so a
    process-group kill would miss them; the session is what a tty owns.
    """
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the ")" of the command name: state ppid pgrp session ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == sid:
            try:
                os.kill(int(entry), sig)
            except OSError:
                pass


class VttyPort:
    """A vtty: a pty pair whose master the host may open, with a port buffer."""

    def __init__(
        self,
        index: int,
        argv: list[str],
        env: dict[str, str],
        on_exit: Callable[[VttyPort], None],
    ) -> None:
        self.index = index
        self.argv = argv
        self.env = env
        self._on_exit = on_exit
        self.process: PtyProcess | None = None
        self.lessee: object | None = None
        self.port_buffer = bytearray()
        self.zapped = 0  # bytes written to a full port buffer since the last open
        self.exit_status: int | None = None  # how the last program ended (-N: signal N)
        self._reading = False

    @property
    def master_open(self) -> bool:
        """Whether a host-side opener holds the master."""
        return self.lessee is not None

    @property
    def running(self) -> bool:
        """Whether a guest process is attached to this vtty."""
        return self.process is not None

    def spawn(self) -> None:
        """Start the vtty's program on a fresh pty (init, or a login shell)."""
        if self.process is not None:
            return
        try:
            self.process = PtyProcess.spawn(self.argv, env=self.env, dimensions=(24, 80))
        except FileNotFoundError:
            # ptyprocess looks the command up on PATH before it forks.
            raise ProgramFailed(f"{self.argv[0]}: not found or not executable") from None
        except (OSError, PtyProcessError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ProgramFailed(f"{self.argv[0]}: {reason}") from None
        self.exit_status = None
        os.set_blocking(self.process.fd, False)
        # The port outlives a login shell that exited (the kernel keeps a vtty
        # until the container is destroyed): what it buffered stays for the opener.
        if self.lessee is None:
            self._start_reading()

    def open_master(self, lessee: object) -> tuple[int, bytes, int]:
        """Open the master for ``lessee``: (a dup of the master fd, port buffer, zapped).

        The first open of vtty 1..N starts its login shell, as a getty would.
        """
        if self.lessee is not None:
            raise VttyBusy(f"vtty{self.index} master is already open")
        self.spawn()
        assert self.process is not None
        self._drain()
        self._stop_reading()
        self.lessee = lessee
        buffered, zapped = bytes(self.port_buffer), self.zapped
        self.port_buffer.clear()
        self.zapped = 0
        return os.dup(self.process.fd), buffered, zapped

    def release(self, lessee: object) -> bool:
        """Close the master opened by ``lessee``; the port buffer takes over."""
        if self.lessee is not lessee:
            return False
        self.lessee = None
        if self.process is not None:
            self._start_reading()
        return True

    def check_exit(self) -> bool:
        """Reap the guest process if it exited; True if it did."""
        proc = self.process
        if proc is None:
            return False
        try:
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = proc.pid, 0
        if pid == 0:
            return False
        self.exit_status = os.waitstatus_to_exitcode(status)
        if self.lessee is None:
            self._drain()  # its last words, still in the pty, belong in the port buffer
        self._teardown()
        self._on_exit(self)
        return True

    def stop(self) -> None:
        """Kill the guest processes of this vtty and destroy its pty."""
        proc = self.process
        if proc is None:
            return
        kill_session(proc.pid, signal.SIGHUP)
        kill_session(proc.pid, signal.SIGKILL)
        try:
            os.waitpid(proc.pid, 0)
        except ChildProcessError:
            pass
        self._teardown()

    def _teardown(self) -> None:
        proc = self.process
        if proc is None:
            return
        self._stop_reading()
        self.process = None
        # Tell ptyprocess the child is gone so its finaliser leaves it alone.
        proc.terminated = True
        try:
            os.close(proc.fd)
        except OSError:
            pass
        proc.closed = True

    def _start_reading(self) -> None:
        if not self._reading and self.process is not None:
            asyncio.get_running_loop().add_reader(self.process.fd, self._drain)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._reading and self.process is not None:
            asyncio.get_running_loop().remove_reader(self.process.fd)
        self._reading = False

    def _drain(self) -> None:
        """Read everything the guest wrote: keep it while the port buffer has room, zap the rest."""
        proc = self.process
        if proc is None:
            return
        while True:
            try:
                data = os.read(proc.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                # The guest closed its side; stop watching until it is reaped.
                self._stop_reading()
                return
            # The kernel keeps what the buffer already holds and drops the new
            # writes, so the oldest bytes (a boot log's start) survive.
            room = PORT_BUFFER_SIZE - len(self.port_buffer)
            self.port_buffer += data[:room]
            self.zapped += max(0, len(data) - room)
