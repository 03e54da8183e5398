"""``vconsole attach``: this terminal, raw, connected to one console.

When the broker goes away (restarted, shut down, crashed), attach says
"broker lost, reconnecting…" and waits for a broker to answer again on the
same socket (it never starts one: run any vconsole command for that), then
re-attaches from the last byte it showed and says how many bytes it missed.
Keys typed meanwhile are refused with a notice, never queued: they would
reach a guest whose state the user has not seen. ``--no-reconnect`` exits
at once and ``--reconnect-timeout`` after a while, both with EXIT_NO_BROKER.

Input that is not a terminal (a pipe, a file, ``/dev/null``) is sent as it
comes, each chunk acknowledged (and held while the broker is away: it was
not typed blind, it is the script's input in order); at its end attach keeps
showing output, like ``ssh -n``, until the escape (which may be in the
input), the guest stopping, or SIGINT / SIGTERM / SIGHUP, which detach
cleanly and exit with 128 + the signal number.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sys
import termios
import time
import tty
from collections.abc import Awaitable, Callable
from typing import Any

from vconsole.cli.escape import EscapeFilter, describe_escape
from vconsole.cli.exit_codes import (
    BY_ERROR_CODE,
    EXIT_ERROR,
    EXIT_GONE,
    EXIT_NO_BROKER,
    EXIT_OK,
    EXIT_STOPPED,
)
from vconsole.client import Client, RequestFailed
from vconsole.display_text import printable
from vconsole.domain import AttachMode, ConsoleState, SessionKey, Target
from vconsole.reconnect import (
    LOST_REASON,
    Connected,
    Disconnected,
    GaveUp,
    LinkEvent,
    ReconnectingClient,
    Resumed,
    ResumeFailed,
)
from vconsole.term.queries import QueryFilter

REFUSED_NOTICE_EVERY = 1.0  # seconds between "keys not sent" notices while disconnected
# A console the broker no longer knows when we come back was removed meanwhile.
GONE_CODES = ("unknown_guest", "unknown_console")
INPUT_CHUNK = 4096
INPUT_RETRY = 0.05  # seconds between tries while the guest's input backlog is full or no broker answers
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


def _notice(text: str) -> None:
    # Notices go to stderr so a redirected stdout carries only console bytes. They quote
    # the broker's reasons (a provider tool's words): nothing in them may act on the terminal.
    sys.stderr.write(f"\r\n[vconsole: {printable(text, 1024)}]\r\n")
    sys.stderr.flush()


def _terminal_size() -> tuple[int, int] | None:
    """(cols, rows) of whichever standard stream is a terminal; None when none is."""
    for stream in (sys.stdout, sys.stdin, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            size = os.get_terminal_size(stream.fileno())
            if size.columns > 0 and size.lines > 0:
                return size.columns, size.lines
    return None


class AttachedTerminal:
    """Relays between the local terminal and one broker session, across broker restarts."""

    def __init__(self, read_only: bool, escape: int | None) -> None:
        self.link: ReconnectingClient | None = None
        self.session: SessionKey | None = None
        self.read_only = read_only
        self.filter = EscapeFilter(escape)
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # A closed stdin (``<&-``) reads as an empty one.
        self.stdin = sys.stdin.fileno() if sys.stdin is not None else os.open(os.devnull, os.O_RDONLY)
        self.stdout = sys.stdout.fileno()
        self.state = ConsoleState.CONNECTED
        self.refused = 0  # keys not sent since the last notice
        self._refused_notice = 0.0
        self.queries = QueryFilter()

    def finish(self, code: int) -> None:
        """End the attach with exit ``code``."""
        if not self.done.done():
            self.done.set_result(code)

    def on_event(self, event: dict[str, Any]) -> None:
        """Output, gaps and state changes from the broker."""
        kind = event.get("event")
        if self.session is not None and event.get("session") not in (None, self.session.text):
            return
        if kind == "output":
            # The terminal sees a query only where the broker says this client answers it
            # (live output, the active read-write client): its answer is typed into the guest.
            data = self.queries.feed(event["data"], answer=bool(event.get("answer")) and not self.read_only)
            try:
                if data:
                    _write_all(self.stdout, data)
            except OSError:
                # Whoever read our output has gone (``| head``): nothing left to show.
                self.finish(EXIT_OK)
        elif kind == "missed":
            _notice(f"{event['count']} bytes of history were dropped before you saw them")
        elif kind == "state":
            self.state_changed(ConsoleState(event["state"]), str(event.get("reason", "")))
        elif kind == "demoted":
            self.demoted(str(event.get("by", "another client")))
        elif kind == "error":
            _notice(f"{event.get('code')}: {event.get('message')}")

    def demoted(self, by: str) -> None:
        """Another client took the console with --force: from now on this one only watches."""
        self.read_only = True
        held = self.link.sessions.get(self.session.text) if self.link and self.session else None
        if held is not None:
            held.mode = AttachMode.RO  # a re-attach after a broker restart stays read-only too
        _notice(f"made read-only by {by}; reattach to type")

    def state_changed(self, state: ConsoleState, reason: str) -> None:
        """The console's state: stopped and gone end the attach, the rest is waited out."""
        if state == self.state:
            return  # a client count changed, nothing for this terminal
        self.state = state
        if state == ConsoleState.STOPPED:
            _notice(f"the guest stopped: {reason}")
            self.finish(EXIT_STOPPED)
        elif state == ConsoleState.GONE:
            _notice(f"guest removed: {reason}")
            self.finish(EXIT_GONE)
        elif state in (ConsoleState.DISCONNECTED, ConsoleState.BUSY):
            _notice(f"console {state}: {reason}; waiting")
        else:
            _notice("console connected")

    def on_link(self, event: LinkEvent) -> None:
        """The broker connection: lost, back, the console re-attached (or not)."""
        if isinstance(event, Disconnected):
            if self.link is None or not self.link.reconnect:
                return  # GaveUp follows at once
            how = describe_escape(self.filter.escape)
            why = "" if event.reason == LOST_REASON else f"{printable(event.reason, 300)}; "
            _notice(f"broker lost, reconnecting… ({why}keys typed now are not sent; detach with {how} then .)")
        elif isinstance(event, GaveUp):
            _notice(event.reason)
            self.finish(EXIT_NO_BROKER)
        elif isinstance(event, Resumed):
            self.resumed(event)
        elif isinstance(event, ResumeFailed):
            if event.code in GONE_CODES:
                _notice(f"guest removed while the broker was away: {event.message}")
                self.finish(EXIT_GONE)
            else:
                _notice(f"could not re-attach: {event.message}")
                self.finish(BY_ERROR_CODE.get(event.code, EXIT_ERROR))
        elif isinstance(event, Connected) and event.reconnected:
            self.refused_notice(force=True)

    def resumed(self, event: Resumed) -> None:
        """Say what the time without a broker cost, before the output that follows."""
        _notice(event.describe())
        self.state_changed(event.reply.state, "")

    def on_stdin(self) -> None:
        """Keys typed: through the escape filter to the guest, or refused while disconnected."""
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
        link, session = self.link, self.session
        if keys and not self.read_only and link and session and not link.input_nowait(session, keys):
            self.refused += len(keys)
            self.refused_notice()
        if detach:
            self.finish(EXIT_OK)

    def refused_notice(self, force: bool = False) -> None:
        """Tell the user keys were not sent (at most once a second while they keep typing)."""
        now = time.monotonic()
        if self.refused and (force or now - self._refused_notice >= REFUSED_NOTICE_EVERY):
            _notice(f"not connected to the broker: {self.refused} typed bytes were not sent")
            self.refused = 0
            self._refused_notice = now

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
            client = self.link.client if self.link is not None else None
            if client is not None and self.session is not None:
                try:
                    await client.input(self.session, chunk)
                    return
                except RequestFailed as exc:
                    if exc.code not in ("input_full", "not_attached"):
                        _notice(f"{exc.code}: {exc.message}")
                        return
                except ConnectionError:
                    pass  # the link reconnects (or gives up, which ends the attach)
            await asyncio.sleep(INPUT_RETRY)

    def send_size(self) -> None:
        """Tell the guest our window size (SIGWINCH follows it); without a terminal, none."""
        size = _terminal_size()
        if self.read_only or size is None or self.link is None or self.session is None:
            return
        self.link.resize_nowait(self.session, *size)


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
    reconnect: Callable[[], Awaitable[Client]] | None = None,
    reconnect_timeout: float | None = None,
    force: bool = False,
    why_lost: Callable[[Client], Awaitable[str | None]] | None = None,
) -> int:
    """Attach, relay until the escape, a signal, the guest stops or goes; return the exit code.

    ``reconnect`` connects again after the broker went away (None: exit then).
    ``force`` takes the console: a busy console's outside holder is ended,
    other read-write clients are made read-only (broker/takeover.py).
    ``why_lost``: why a lost connection ended (a host's ssh says), for the "broker lost" line.
    """
    size = _terminal_size()
    rows = (size or (80, 24))[1]
    term = AttachedTerminal(read_only, escape)
    link = ReconnectingClient(
        reconnect or _no_reconnect,
        term.on_link,
        term.on_event,
        reconnect=reconnect is not None,
        timeout=reconnect_timeout,
        why_lost=why_lost,
    )
    await link.start(client)
    term.link = link
    try:
        # Our output arrives once this returns and the code below has set up.
        reply = await link.attach(
            target,
            AttachMode.RO if read_only else AttachMode.RW,
            start=0 if from_start else None,
            tail_lines=None if from_start else rows,
            size=None if read_only else size,
            force=force,
        )
    except BaseException:
        await link.close()
        raise
    term.session = reply.session
    term.state = reply.state
    mode = "read-only" if read_only else "read-write"
    on_host = "" if target.host is None else f" on {printable(target.host)}"  # a host of --host/[[hosts]]
    sys.stderr.write(
        f"[vconsole: attached to {printable(reply.guest)} {printable(reply.console)}{on_host} ({mode}); "
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
        if interactive:
            loop.add_reader(term.stdin, term.on_stdin)
        else:
            pump = asyncio.create_task(term.pump_input())
        with contextlib.suppress(RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGWINCH, term.send_size)
        for sig in DETACH_SIGNALS:
            with contextlib.suppress(RuntimeError, ValueError):
                loop.add_signal_handler(sig, term.finish, 128 + sig)
        code = await term.done
        if code == EXIT_OK or code > 128:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(link.detach(reply.session), 2.0)
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
        await link.close()


async def _no_reconnect() -> Client:
    raise ConnectionError("attach was told not to reconnect")
