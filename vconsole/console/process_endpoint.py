"""ProcessEndpoint: a console reached by running a host tool on a pty.

Some consoles are only reachable through a tool: ``lxc-console -n CT -t N``,
``vzctl console CTID N``. We run the tool under ptyprocess and the tool's pty
is the endpoint: its output is the guest's output, and what we write is what
the tool reads from its terminal and forwards to the guest.

The tool relays bytes the guest's own tty has already processed (its ONLCR
made each ``\n`` a ``\r\n``), so the tool's pty must pass them unchanged:
output processing is turned off there, and locked off where the broker may
lock termios (root), since a tool may turn it back on (lxc-console does, and
every line came out ``\r\r\n``).

Each such tool has its own escape sequence (LXC's Ctrl-a q, vzctl's ESC . after
Enter) that would end the attachment if a user typed it. An InputGuard
rewrites the user's bytes so the tool's escape can never be triggered; each
guard lives with the provider that knows its tool (providers/lxc.py,
providers/openvz.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import os
import re
import signal
import struct
import termios
import time
from collections.abc import Sequence
from typing import Protocol

from ptyprocess import PtyProcess

from vconsole.console.endpoint import EndpointClosed, SourceFacts
from vconsole.console.pty_endpoint import READ_CHUNK, PtyEndpoint
from vconsole.snapshot.model import NotCaptured, SourceFact

# The kernel's struct termios (iflag, oflag, cflag, lflag, line, cc[19]) as
# TIOCSLCKTRMIOS takes it: a set bit locks that bit of the tty's termios.
_KERNEL_TERMIOS = struct.Struct("=IIIIB19s")
_LOCK_OPOST = _KERNEL_TERMIOS.pack(0, termios.OPOST, 0, 0, 0, bytes(19))
SETUP_WAIT = 0.3  # how long a tool may take to set up its terminal after its banner


def _output_processing_off(fd: int) -> None:
    """Turn OPOST off on the tty ``fd`` (a pty master acts on its slave)."""
    attrs = termios.tcgetattr(fd)
    if attrs[1] & termios.OPOST:
        attrs[1] &= ~termios.OPOST
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _raw_output_in_child() -> None:
    """In the tool's process before exec: its terminal passes output unchanged, and stays so if it can be locked."""
    with contextlib.suppress(OSError, termios.error):
        _output_processing_off(0)
        fcntl.ioctl(0, termios.TIOCSLCKTRMIOS, _LOCK_OPOST)  # needs CAP_SYS_ADMIN


def _output_locked(fd: int) -> bool:
    """Whether OPOST of the pty ``fd`` is locked (off, by :func:`_raw_output_in_child`)."""
    try:
        locked = _KERNEL_TERMIOS.unpack(fcntl.ioctl(fd, termios.TIOCGLCKTRMIOS, bytes(_KERNEL_TERMIOS.size)))
    except OSError:
        return False
    return bool(locked[1] & termios.OPOST)


async def _raw_output_after_setup(fd: int) -> None:
    """Where termios cannot be locked: once the tool has set up its terminal (left canonical mode), OPOST off again."""
    deadline = time.monotonic() + SETUP_WAIT
    with contextlib.suppress(OSError, termios.error):
        while termios.tcgetattr(fd)[3] & termios.ICANON and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        _output_processing_off(fd)


class ConsoleToolFailed(Exception):
    """A console tool could not be run, or exited or hung before its banner."""


def one_line(text: str, limit: int = 200) -> str:
    """The last non-empty line of ``text`` (where tools put the reason), shortened."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


class InputGuard(Protocol):
    """Turns the user's keystrokes into the bytes a console tool must read."""

    def encode(self, data: bytes) -> bytes:
        """The bytes to give the tool for ``data``; may keep state across calls."""
        ...


class Passthrough:
    """For tools without an escape sequence: bytes as typed."""

    def encode(self, data: bytes) -> bytes:
        return data


class ProcessEndpoint(PtyEndpoint):
    """The pty of a running console tool, with its escape guarded.

    Create it with :meth:`spawn`, which waits for the tool's banner so that
    a refusal (busy, guest stopped) is an exception rather than an endpoint
    that closes at once.
    """

    def __init__(
        self, proc: PtyProcess, guard: InputGuard, *, tool: str, initial: bytes = b"", lost: int = 0
    ) -> None:
        super().__init__(proc.fd, initial=initial, lost=lost)
        self.proc = proc
        self.tool = tool
        self._guard = guard
        self._out = b""  # guarded input the pty did not take yet

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        ready: re.Pattern[bytes],
        failures: Sequence[tuple[re.Pattern[bytes], type[Exception]]] = (),
        error: type[Exception] = ConsoleToolFailed,
        guard: InputGuard | None = None,
        timeout: float = 5.0,
        env: dict[str, str] | None = None,
    ) -> ProcessEndpoint:
        """Run ``argv`` on a new pty and wait until its output matches ``ready``.

        Output before and including the banner is dropped; what follows it is
        the endpoint's ``initial``. If the tool exits or times out first, the
        first ``failures`` pattern its output matches picks the exception
        class (given the tool's last line as message), else ``error``; a
        tool that cannot be run at all is ``error`` too.
        """
        tool = os.path.basename(argv[0])
        try:
            proc = PtyProcess.spawn(list(argv), env=env, echo=False, dimensions=(24, 80),
                                    preexec_fn=_raw_output_in_child)
        except (OSError, FileNotFoundError) as exc:
            raise error(f"{tool}: cannot run: {exc}") from None
        os.set_blocking(proc.fd, False)
        seen = bytearray()
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(proc.fd, readable.set)
        deadline = time.monotonic() + timeout
        ended = False
        try:
            while True:
                match = ready.search(seen)
                if match:
                    if not _output_locked(proc.fd):
                        await _raw_output_after_setup(proc.fd)
                    return cls(proc, guard or Passthrough(), tool=tool, initial=bytes(seen[match.end():]))
                remaining = deadline - time.monotonic()
                if ended or remaining <= 0:
                    break
                readable.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(readable.wait(), remaining)
                try:
                    chunk = os.read(proc.fd, READ_CHUNK)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    ended = True
                seen += chunk
        finally:
            loop.remove_reader(proc.fd)
        text = bytes(seen)
        _dispose(proc)
        message = one_line(text.decode("utf-8", "replace")) or (
            f"{tool} exited" if ended else f"{tool} printed no banner within {timeout:g}s"
        )
        for pattern, exc_class in failures:
            if pattern.search(text):
                raise exc_class(message)
        raise error(message)

    def read(self) -> bytes:
        try:
            return super().read()
        except EndpointClosed:
            raise EndpointClosed(f"{self.tool} exited") from None

    def write(self, data: bytes) -> int:
        if self._out and not self._flush():
            return 0
        self._out = self._guard.encode(data)
        self._flush()
        return len(data)

    def _flush(self) -> bool:
        """Write held guarded bytes; True when none are left."""
        while self._out:
            try:
                n = os.write(self.fd, self._out)
            except BlockingIOError:
                return False
            except OSError as exc:
                raise EndpointClosed(os.strerror(exc.errno or 0)) from None
            self._out = self._out[n:]
        return True

    def pending_input(self) -> int | None:
        return len(self._out) or None

    def source_facts(self) -> SourceFacts:
        """The tool's pty: what the tool has not read, and guarded bytes not yet written to it.

        The pty's termios are the tool's (usually raw), not the guest's: not reported.
        """
        facts = super().source_facts()
        pending = None if facts.pending_input is None else facts.pending_input + len(self._out)
        unknown = [n for n in facts.unknown if n.what is not SourceFact.TERMIOS]
        unknown.append(NotCaptured(SourceFact.TERMIOS, f"the console is reached through {self.tool}, "
                                                       "whose terminal is not the guest's"))
        return dataclasses.replace(facts, pending_input=pending, termios=None, unknown=tuple(unknown))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # The pty is the tool's: ptyprocess closes it and reaps the tool, which
        # may take a moment (SIGHUP, then SIGKILL), so off the event loop.
        _dispose(self.proc)


def _dispose(proc: PtyProcess) -> None:
    """Hang up and reap a console tool without blocking a running event loop."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGHUP)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _close_quietly(proc)
        return
    loop.run_in_executor(None, _close_quietly, proc)


def _close_quietly(proc: PtyProcess) -> None:
    with contextlib.suppress(Exception):
        proc.close(force=True)
