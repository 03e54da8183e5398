"""``vconsole attach``: this terminal, raw, connected to one console."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import termios
import tty
from typing import Any

from vconsole.cli.escape import EscapeFilter, describe_escape
from vconsole.cli.exit_codes import EXIT_NO_BROKER, EXIT_OK, EXIT_STOPPED
from vconsole.client import Client
from vconsole.display_text import printable
from vconsole.domain import AttachMode, ConsoleState, SessionKey, Target
from vconsole.term.queries import QueryFilter


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[n:]


def _notice(text: str) -> None:
    # Notices go to stderr so a redirected stdout carries only console bytes. They quote
    # the broker's reasons (a provider tool's words): nothing in them may act on the terminal.
    sys.stderr.write(f"\r\n[vconsole: {printable(text, 1024)}]\r\n")
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
        self.stdin = sys.stdin.fileno()
        self.stdout = sys.stdout.fileno()
        self.state = state
        self.queries = QueryFilter()

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
            # The terminal sees a query only where the broker says this client answers it
            # (live output, the active read-write client): its answer is typed into the guest.
            data = self.queries.feed(event["data"], answer=bool(event.get("answer")) and not self.read_only)
            if data:
                _write_all(self.stdout, data)
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
        """Keys typed: through the escape filter to the guest."""
        try:
            data = os.read(self.stdin, 65536)
        except BlockingIOError:
            return
        if not data:
            self.finish(EXIT_OK)  # end of input (a script piping keys) detaches
            return
        keys, detach = self.filter.feed(data)
        if keys and not self.read_only:
            self.client.input_nowait(self.session, keys)
        if detach:
            self.finish(EXIT_OK)

    def send_size(self) -> None:
        """Tell the guest our window size (SIGWINCH follows it)."""
        if self.read_only:
            return
        size = shutil.get_terminal_size()
        self.client.resize_nowait(self.session, size.columns, size.lines)


async def run_attach(
    client: Client,
    target: Target,
    *,
    read_only: bool,
    from_start: bool,
    escape: int | None,
) -> int:
    """Attach, relay until the escape, EOF or the guest stops; return the exit code."""
    rows = shutil.get_terminal_size().lines
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
        f"[vconsole: attached to {printable(reply.guest)} {printable(reply.console)} ({mode}); "
        f"detach with {describe_escape(escape)} then .]\r\n"
    )
    if reply.missed:
        _notice(f"{reply.missed} bytes of history were dropped before you attached")
    loop = asyncio.get_running_loop()
    saved = None
    if os.isatty(term.stdin):
        saved = termios.tcgetattr(term.stdin)
        tty.setraw(term.stdin)
    try:
        term.send_size()
        client.on_event = term.on_event
        for event in events:
            term.on_event(event)
        try:
            loop.add_reader(term.stdin, term.on_stdin)
        except PermissionError:
            # A regular file or /dev/null: epoll cannot watch it, and reading it never blocks.
            while not term.done.done():
                term.on_stdin()
        with contextlib.suppress(RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGWINCH, term.send_size)
        closed = asyncio.ensure_future(client.closed.wait())
        closed.add_done_callback(lambda _: term.finish(EXIT_NO_BROKER))
        await asyncio.wait([term.done])
        closed.cancel()
        code = term.done.result()
        if code == EXIT_NO_BROKER:
            _notice("the broker went away")
        if code == EXIT_OK:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.detach(term.session), 2.0)
            _notice("detached")
        return code
    finally:
        loop.remove_reader(term.stdin)
        with contextlib.suppress(RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGWINCH)
        if saved is not None:
            termios.tcsetattr(term.stdin, termios.TCSADRAIN, saved)
