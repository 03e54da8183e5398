"""``vconsole wait``, once the options are checked: follow the console and match its lines.

The console is followed through the broker with a LOG attachment, as ``log
--follow`` follows it (see log_follow.py): nothing is consumed and nothing is
typed. Lines are assembled across reads by the log's :class:`LineAssembler`
and matched on their reading text. A line still unfinished after IDLE
seconds (a ``login: `` prompt) is matched as it is, and again whole should
it go on. A lost broker is waited for (never started); a stopped or removed
guest ends waiting as it ends ``attach``; signals end it with 128 + their number.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time

from vconsole.cli.attach import GONE_CODES
from vconsole.cli.broker_follow import follow_through_broker
from vconsole.cli.exit_codes import (
    BY_ERROR_CODE,
    EXIT_ERROR,
    EXIT_GONE,
    EXIT_NO_BROKER,
    EXIT_OK,
    EXIT_STOPPED,
)
from vconsole.cli.log_command import reader_gone
from vconsole.cli.wait_command import WaitFrom, WaitRequest
from vconsole.consolelog.lines import MAX_LINE, LineAssembler, LogLine, reading_text, shown_text
from vconsole.consolelog.reader import LogChunk
from vconsole.display_text import printable
from vconsole.domain import AttachMode, ConsoleState
from vconsole.reconnect import (
    Disconnected,
    GaveUp,
    LinkEvent,
    ReconnectingClient,
    Resumed,
    ResumeFailed,
)
from vconsole.wire import Message

IDLE = 0.3  # seconds an unfinished line (a prompt) waits for more before it is matched
IDLE_CHECK = 0.1


class LineMatcher:
    """Finds the first line of one console's output that ``pattern`` matches."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.assembler = LineAssembler()
        self.last_output = 0.0  # monotonic time of the last output
        # An unfinished line matched when idle, kept in case it goes on: (its bytes, its end offset).
        self._carry: tuple[bytes, int] | None = None
        self.found: str | None = None  # the matching line, shown safe

    def output(self, offset: int, data: bytes) -> None:
        """Bytes of the console from ``offset`` (what came before the assembler's place is skipped)."""
        expected = self.assembler.next
        already = 0 if expected is None else expected - offset
        if already > 0:  # sent again after a reconnect: seen already
            offset, data = offset + already, data[already:]
        if data:
            self.last_output = time.monotonic()
            self._check(self.assembler.feed(LogChunk(offset, data, time.time())))

    def idle(self, now: float) -> None:
        """Match the unfinished line once no bytes came for IDLE seconds."""
        if self.assembler.pending and now - self.last_output >= IDLE:
            self._check(self.assembler.flush())

    def _check(self, lines: list[LogLine]) -> None:
        for line in lines:
            if self.found is not None:
                return
            raw = line.raw
            carry, self._carry = self._carry, None
            if carry is not None and carry[1] == line.offset:
                raw = carry[0] + raw  # the rest of a line matched unfinished before
            text = reading_text(raw)
            if self.pattern.search(text):
                self.found = shown_text(text)
            elif not raw.endswith(b"\n"):
                self._carry = (raw[-MAX_LINE:], line.end)


def _notice(text: str) -> None:
    sys.stderr.write(f"vconsole: {printable(text, 1024)}\n")
    sys.stderr.flush()


class Waiter:
    """Handles the broker's events for one LOG attachment until the line is found or waiting ends."""

    def __init__(self, matcher: LineMatcher) -> None:
        self.matcher = matcher
        self.session: str | None = None
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finish(self, code: int) -> None:
        """End waiting with exit ``code``."""
        if not self.done.done():
            self.done.set_result(code)

    def check(self) -> None:
        """Once the matcher found its line: print it and end."""
        found = self.matcher.found
        if found is None or self.done.done():
            return
        try:
            sys.stdout.write(found + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            reader_gone()
        self.finish(EXIT_OK)

    def on_event(self, event: Message) -> None:
        """Output is matched; a stop or removal of the guest ends waiting, as it ends attach."""
        if self.session is None or event.get("session") != self.session:
            return
        kind = event.get("event")
        if kind == "output":
            self.matcher.output(int(event["offset"]), bytes(event["data"]))
            self.check()
        elif kind == "state":
            state = ConsoleState(event["state"])
            if state in (ConsoleState.STOPPED, ConsoleState.GONE):
                _notice(f"the guest {'stopped' if state == ConsoleState.STOPPED else 'was removed'}: {event.get('reason', '')}")
                self.finish(EXIT_STOPPED if state == ConsoleState.STOPPED else EXIT_GONE)

    def on_link(self, event: LinkEvent) -> None:
        """The broker connection: lost (we wait for it), back, or the console gone meanwhile."""
        if isinstance(event, Disconnected):
            _notice("broker lost, reconnecting…")
        elif isinstance(event, Resumed):
            _notice(event.describe())
        elif isinstance(event, ResumeFailed):
            _notice(f"could not wait on: {event.message}")
            self.finish(EXIT_GONE if event.code in GONE_CODES else BY_ERROR_CODE.get(event.code, EXIT_ERROR))
        elif isinstance(event, GaveUp):
            _notice(event.reason)
            self.finish(EXIT_NO_BROKER)

    def tick(self) -> None:
        """Match an unfinished line that has waited long enough."""
        self.matcher.idle(time.monotonic())
        self.check()


async def wait_for_line(args: argparse.Namespace, request: WaitRequest) -> int:
    """Attach in LOG mode and wait; the exit code (the matched line is in the matcher)."""
    waiter = Waiter(LineMatcher(request.pattern))

    async def attach(link: ReconnectingClient) -> None:
        start = 0 if request.origin is WaitFrom.START else None
        reply = await link.attach(request.target, AttachMode.LOG, start=start)
        waiter.session = reply.session.text

    return await follow_through_broker(args, waiter, attach, waiter.tick, IDLE_CHECK)
