"""ProcessEndpoint: a console reached by running a host tool on a pty.

Some consoles are only reachable through a tool: ``lxc-console -n CT -t N``,
``vzctl console CTID N``. We run the tool under ptyprocess and the tool's pty
is the endpoint: its output is the guest's output, and what we write is what
the tool reads from its terminal and forwards to the guest.

Each such tool has its own escape sequence (LXC's Ctrl-a q, vzctl's ESC . after
Enter) that would end the attachment if a user typed it. An InputGuard
rewrites the user's bytes so the tool's escape can never be triggered; see
the guards below for exactly what reaches the guest.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import signal
import time
from collections.abc import Sequence
from typing import Protocol

from ptyprocess import PtyProcess

from vconsole.console.endpoint import EndpointClosed, SourceFacts
from vconsole.console.pty_endpoint import READ_CHUNK, PtyEndpoint
from vconsole.snapshot.model import NotCaptured, SourceFact

ESC = 0x1B
CR = 0x0D


class InputGuard(Protocol):
    """Turns the user's keystrokes into the bytes a console tool must read."""

    def encode(self, data: bytes) -> bytes:
        """The bytes to give the tool for ``data``; may keep state across calls."""
        ...


class Passthrough:
    """For tools without an escape sequence: bytes as typed."""

    def encode(self, data: bytes) -> bytes:
        return data


class LxcEscapeGuard:
    """Doubles lxc-console's escape byte, which it turns back into one.

    lxc-console reads its terminal a byte at a time: an escape byte (Ctrl-a
    by default) followed by ``q`` detaches, followed by another escape byte
    sends one escape byte to the guest, followed by anything else sends just
    that byte. Doubling every escape byte therefore delivers every byte as
    typed and never leaves an escape waiting for a ``q``. (``-e ^@`` would
    disable the escape, but then lxc-console prints no banner to wait for.)
    """

    def __init__(self, escape: int = 0x01) -> None:
        self._escape = bytes([escape])

    def encode(self, data: bytes) -> bytes:
        return data.replace(self._escape, self._escape * 2)


class VzctlEscapeGuard:
    """Keeps ``vzctl console``'s ``ESC .`` / ``ESC ,`` after Enter from detaching.

    vzctl reads its terminal a byte at a time; after a CR it treats ESC
    specially: the next byte ``.`` or ``,`` detaches, anything else is passed
    on as ESC plus that byte. There is no way to send ``ESC .`` after a CR
    through vzctl, so when the user types exactly that, the guard puts one
    extra ESC between them: the guest receives ``ESC ESC .`` and vzctl stays
    attached. Every other byte sequence reaches the guest unchanged.
    """

    def __init__(self) -> None:
        self._after_cr = True  # vzctl starts with its "after Enter" state clear; be safe
        self._esc_pending = False  # we sent an ESC that vzctl holds, waiting for the next byte

    def encode(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            if self._esc_pending:
                self._esc_pending = False
                if b in b".,":
                    out.append(ESC)  # vzctl writes ESC ESC, then this byte normally
                out.append(b)
                self._after_cr = b == CR
            elif b == ESC and self._after_cr:
                out.append(b)
                self._esc_pending = True
            else:
                out.append(b)
                self._after_cr = b == CR
        return bytes(out)


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
        guard: InputGuard | None = None,
        timeout: float = 5.0,
        env: dict[str, str] | None = None,
    ) -> ProcessEndpoint:
        """Run ``argv`` on a new pty and wait until its output matches ``ready``.

        Output before and including the banner is dropped; what follows it is
        the endpoint's ``initial``. If the tool exits or times out first, the
        first ``failures`` pattern its output matches picks the exception
        class (given the tool's last line as message), else ``error``.
        """
        from vconsole.providers.base import ProviderError
        from vconsole.providers.tools import one_line

        tool = os.path.basename(argv[0])
        try:
            proc = PtyProcess.spawn(list(argv), env=env, echo=False, dimensions=(24, 80))
        except (OSError, FileNotFoundError) as exc:
            raise ProviderError(f"{tool}: cannot run: {exc}") from None
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
        raise ProviderError(message)

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
