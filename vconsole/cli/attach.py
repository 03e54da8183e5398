"""``vconsole attach``: this terminal, raw, connected to one console.

Input that is not a terminal (a pipe, a file, ``/dev/null``) is sent as it
comes; at its end attach keeps showing output, like ``ssh -n``, until the
escape (which may be in the input), the guest stopping, or SIGINT / SIGTERM /
SIGHUP, which detach cleanly and exit with 128 + the signal number.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sys
import termios
import tty
from typing import Any

from vconsole.cli.escape import EscapeFilter, describe_escape
from vconsole.cli.exit_codes import EXIT_NO_BROKER, EXIT_OK, EXIT_STOPPED
from vconsole.client import Client, RequestFailed
from vconsole.domain import AttachMode, ConsoleState, SessionKey, Target

INPUT_CHUNK = 4096
INPUT_RETRY = 0.05  # seconds between tries while the guest's input backlog is full
DETACH_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])  # a non-blocking stdout we inherited: wait, do not spin
            continue
        view = view[n:]


def _terminal_size() -> tuple[int, int] | None:
    """(cols, rows) of whichever standard stream is a terminal; None when none is."""
    for stream in (sys.stdout, sys.stdin, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            size = os.get_terminal_size(stream.fileno())
            if size.columns > 0 and size.lines > 0:
                return size.columns, size.lines
    return None


def _notice(text: str) -> None:
    # Notices go to stderr so a redirected stdout carries only console bytes.
    sys.stderr.write(f"\r\n[vconsole: {text}]\r\n")
    sys.stderr.flush()


class AttachedTerminal:
    """Relays between the local terminal and one broker session."""

    def __init__(
        self, client: Client, session: SessionKey, state: ConsoleState, read_only: bool, escape: int | None
    ) -> None:
        self.client = client
        self.session = session
        self.read_only = read_only
        self.filter = EscapeFilter(escape)
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # A closed stdin (``<&-``) reads as an empty one.
        self.stdin = sys.stdin.fileno() if sys.stdin is not None else os.open(os.devnull, os.O_RDONLY)
        self.stdout = sys.stdout.fileno()
        self.state = state

    def finish(self, code: int) -> None:
        """End the attach with exit ``code``."""
        if not self.done.done():
            self.done.set_result(code)

    def on_event(self, event: dict[str, Any]) -> None:
        """Output, gaps and state changes from the broker."""
        kind = event.get("event")
        if event.get("session") not in (None, self.session.text):
            return
        if kind == "output":
            try:
                _write_all(self.stdout, event["data"])
            except OSError:
                # Whoever read our output has gone (``| head``): nothing left to show.
                self.finish(EXIT_OK)
        elif kind == "missed":
            _notice(f"{event['count']} bytes of history were dropped before you saw them")
        elif kind == "state":
            state = ConsoleState(event["state"])
            if state == self.state:
                return  # a client count changed, nothing for this terminal
            self.state = state
            if state == ConsoleState.STOPPED:
                _notice(f"the guest stopped: {event.get('reason', '')}")
                self.finish(EXIT_STOPPED)
            elif state in (ConsoleState.DISCONNECTED, ConsoleState.BUSY):
                _notice(f"console {state}: {event.get('reason', '')}; waiting")
            else:
                _notice("console connected")
        elif kind == "error":
            _notice(f"{event.get('code')}: {event.get('message')}")

    def on_stdin(self) -> None:
        """Keys typed on the terminal: through the escape filter to the guest."""
        try:
            data = os.read(self.stdin, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.finish(EXIT_OK)  # the terminal hung up
            return
        keys, detach = self.filter.feed(data)
        if keys and not self.read_only:
            self.client.input_nowait(self.session, keys)
        if detach:
            self.finish(EXIT_OK)

    async def pump_input(self) -> None:
        """Input that is not a terminal: send it in order, then keep showing output.

        Each chunk waits for the broker's ack and is retried while the guest's
        input backlog is full, so a large file arrives whole; keystroke
        latency does not matter here.
        """
        while not self.done.done():
            data = await _read_input(self.stdin)
            if not data:
                _notice("end of input; still showing output (interrupt to detach)")
                return
            keys, detach = self.filter.feed(data)
            if not self.read_only:
                for at in range(0, len(keys), INPUT_CHUNK):
                    await self._send_acked(keys[at : at + INPUT_CHUNK])
            if detach:
                self.finish(EXIT_OK)

    async def _send_acked(self, chunk: bytes) -> None:
        while not self.done.done():
            try:
                await self.client.input(self.session, chunk)
                return
            except RequestFailed as exc:
                if exc.code != "input_full":
                    _notice(f"{exc.code}: {exc.message}")
                    return
            except ConnectionError:
                return  # the client's ``closed`` ends the attach
            await asyncio.sleep(INPUT_RETRY)

    def send_size(self) -> None:
        """Tell the guest our window size (SIGWINCH follows it); without a terminal, none."""
        size = _terminal_size()
        if self.read_only or size is None:
            return
        self.client.resize_nowait(self.session, size[0], size[1])


async def _read_input(fd: int) -> bytes:
    """The next chunk of a non-terminal stdin, b"" at its end.

    A pipe or socket is waited on with the event loop; a regular file or
    ``/dev/null`` cannot be polled (epoll refuses them) but never blocks.
    """
    loop = asyncio.get_running_loop()
    while True:
        ready: asyncio.Future[None] = loop.create_future()

        def readable(ready: asyncio.Future[None] = ready) -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(fd, readable)
        except PermissionError:
            pass
        else:
            try:
                await ready
            finally:
                loop.remove_reader(fd)
        try:
            return os.read(fd, 65536)
        except BlockingIOError:
            continue  # a non-blocking pipe that had nothing after all
        except OSError as exc:
            _notice(f"cannot read input: {exc.strerror or exc}")
            return b""


async def run_attach(
    client: Client,
    target: Target,
    *,
    read_only: bool,
    from_start: bool,
    escape: int | None,
) -> int:
    """Attach, relay until the escape, a signal or the guest stops; return the exit code."""
    rows = (_terminal_size() or (80, 24))[1]
    events: list[dict[str, Any]] = []
    client.on_event = events.append  # hold replayed output until we are set up
    reply = await client.attach(
        target,
        AttachMode.RO if read_only else AttachMode.RW,
        start=0 if from_start else None,
        tail_lines=None if from_start else rows,
    )
    term = AttachedTerminal(client, reply.session, reply.state, read_only, escape)
    mode = "read-only" if read_only else "read-write"
    sys.stderr.write(
        f"[vconsole: attached to {reply.guest} {reply.console} ({mode}); "
        f"detach with {describe_escape(escape)} then .]\r\n"
    )
    if reply.missed:
        _notice(f"{reply.missed} bytes of history were dropped before you attached")
    loop = asyncio.get_running_loop()
    saved = None
    interactive = os.isatty(term.stdin)
    if interactive:
        saved = termios.tcgetattr(term.stdin)
        tty.setraw(term.stdin)
    pump: asyncio.Task[None] | None = None
    try:
        term.send_size()
        client.on_event = term.on_event
        for event in events:
            term.on_event(event)
        if interactive:
            loop.add_reader(term.stdin, term.on_stdin)
        else:
            pump = asyncio.create_task(term.pump_input())
        with contextlib.suppress(RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGWINCH, term.send_size)
        for sig in DETACH_SIGNALS:
            with contextlib.suppress(RuntimeError, ValueError):
                loop.add_signal_handler(sig, term.finish, 128 + sig)
        closed = asyncio.ensure_future(client.closed.wait())
        closed.add_done_callback(lambda _: term.finish(EXIT_NO_BROKER))
        await asyncio.wait([term.done])
        closed.cancel()
        code = term.done.result()
        if code == EXIT_NO_BROKER:
            _notice("the broker went away")
        if code == EXIT_OK or code > 128:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.detach(term.session), 2.0)
            _notice("detached" if code == EXIT_OK else f"{signal.Signals(code - 128).name}: detached")
        return code
    finally:
        if pump is not None:
            pump.cancel()
        if interactive:
            loop.remove_reader(term.stdin)
        for sig in (signal.SIGWINCH, *DETACH_SIGNALS):
            with contextlib.suppress(RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        if saved is not None:
            with contextlib.suppress(termios.error):  # a terminal that hung up has no modes
                termios.tcsetattr(term.stdin, termios.TCSADRAIN, saved)
