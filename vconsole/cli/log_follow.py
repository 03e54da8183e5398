"""``vconsole log --follow``: new output after what the files held, through the broker.

Each console is attached in LOG mode from the offset its files ended at: the
broker sends what came after (nothing is printed twice, and a line the files
held unfinished is completed by what follows), and a LOG attachment never
counts as reading, so the console's unread count stays what it was. A line
still unfinished after FLUSH_IDLE seconds (a prompt) is printed as it is.
When the broker goes away, following waits for it to come back (it never
starts one) and resumes from the last byte printed, saying what was missed.
SIGINT, SIGTERM and SIGHUP end it with 128 + the signal, as attach does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vconsole.cli.attach import GONE_CODES
from vconsole.cli.broker_follow import follow_through_broker
from vconsole.cli.exit_codes import EXIT_NO_BROKER, EXIT_OK, EXIT_UNKNOWN, CliError
from vconsole.cli.log_command import LinePrinter, reader_gone
from vconsole.client import RequestFailed
from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.lines import LineAssembler, LogLine
from vconsole.consolelog.reader import ConsoleLog, LogChunk, LogUnreadable
from vconsole.display_text import printable
from vconsole.domain import AttachMode
from vconsole.reconnect import (
    Disconnected,
    GaveUp,
    LinkEvent,
    ReconnectingClient,
    Resumed,
    ResumeFailed,
)
from vconsole.wire import Message

FLUSH_IDLE = 0.5  # seconds an unfinished line waits for its end before it is printed
FLUSH_CHECK = 0.1


@dataclass
class FollowedLog:
    """A console to follow: its log's meta and directory, where its files ended, their unfinished line."""

    meta: LogMeta
    directory: Path
    start: int
    unfinished: LogLine | None = None
    assembler: LineAssembler = field(default_factory=LineAssembler)
    last_output: float = 0.0  # monotonic time of its last output event

    def prepare(self) -> None:
        """Number lines by the boots the log holds, and continue the files' unfinished line."""
        self.refresh_boots()
        self.assembler.next = self.start
        if self.unfinished is not None:
            line = self.unfinished
            self.assembler.next = line.offset
            self.assembler.feed(LogChunk(line.offset, line.raw, line.time))
            self.last_output = time.monotonic()

    def refresh_boots(self) -> None:
        """Read the log's boots again (the guest may have restarted)."""
        with contextlib.suppress(LogUnreadable, OSError):
            self.assembler.set_boots(ConsoleLog(self.directory).boots())


def _notice(text: str) -> None:
    sys.stderr.write(f"vconsole: {printable(text, 1024)}\n")
    sys.stderr.flush()


class Follower:
    """Prints the followed consoles' output as it arrives."""

    def __init__(self, logs: list[FollowedLog], printer: LinePrinter) -> None:
        self.logs = {f.meta.key.text: f for f in logs}
        self.printer = printer
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finish(self, code: int) -> None:
        """End following with exit ``code``."""
        if not self.done.done():
            self.done.set_result(code)

    def on_event(self, event: Message) -> None:
        """Output (printed as lines), what was missed, state changes (a new boot maybe)."""
        followed = self.logs.get(event.get("session"))  # type: ignore[arg-type]
        if followed is None:
            return
        kind = event.get("event")
        if kind == "output":
            offset, data = int(event["offset"]), bytes(event["data"])
            expected = followed.assembler.next
            already = 0 if expected is None else expected - offset
            if already > 0:  # held by the files and printed from them
                offset, data = offset + already, data[already:]
            if data:
                followed.last_output = time.monotonic()
                self._print(followed, followed.assembler.feed(LogChunk(offset, data, time.time())))
        elif kind == "missed":
            _notice(f"{self._name(followed)}: {event.get('count')} bytes were dropped before they were shown")
        elif kind == "state":
            followed.refresh_boots()

    def on_link(self, event: LinkEvent) -> None:
        """The broker connection: lost (we wait), back, a console gone meanwhile."""
        if isinstance(event, Disconnected):
            _notice("broker lost, reconnecting…")
        elif isinstance(event, Resumed):
            _notice(event.describe())
        elif isinstance(event, ResumeFailed):
            followed = self.logs.pop(event.session.text, None)
            if followed is not None:
                _notice(f"{self._name(followed)}: no longer followed: {event.message}")
            if not self.logs:
                self.finish(EXIT_UNKNOWN)
        elif isinstance(event, GaveUp):
            _notice(event.reason)
            self.finish(EXIT_NO_BROKER)

    def flush_idle(self) -> None:
        """Print lines that have waited FLUSH_IDLE for their end."""
        now = time.monotonic()
        for followed in self.logs.values():
            if followed.assembler.pending and now - followed.last_output >= FLUSH_IDLE:
                self._print(followed, followed.assembler.flush())

    def _print(self, followed: FollowedLog, lines: list[LogLine]) -> None:
        if not lines or self.done.done():
            return
        try:
            for line in lines:
                self.printer.write(line, followed.meta)
            self.printer.flush()
        except BrokenPipeError:
            reader_gone()
            self.finish(EXIT_OK)

    @staticmethod
    def _name(followed: FollowedLog) -> str:
        return f"{followed.meta.guest_name}:{followed.meta.console}"


async def follow(args: argparse.Namespace, logs: list[FollowedLog], printer: LinePrinter) -> int:
    """Follow ``logs`` until a signal (128 + its number) or the reader of our output goes."""
    follower = Follower(logs, printer)

    async def attach(link: ReconnectingClient) -> None:
        await _attach_all(link, follower, logs)

    return await follow_through_broker(args, follower, attach, follower.flush_idle, FLUSH_CHECK)


async def _attach_all(link: ReconnectingClient, follower: Follower, logs: list[FollowedLog]) -> None:
    """Attach each console in LOG mode from where its files ended; one alone must be known."""
    for followed in logs:
        followed.prepare()
        try:
            reply = await link.attach(followed.meta.key.target, AttachMode.LOG, start=followed.start, ready=True)
        except RequestFailed as exc:
            follower.logs.pop(followed.meta.key.text, None)
            if len(logs) == 1:
                raise CliError(f"cannot follow {Follower._name(followed)}: {exc.message}", EXIT_UNKNOWN) from None
            if exc.code not in GONE_CODES:  # --all: logs of guests the broker no longer has are quiet
                _notice(f"cannot follow {Follower._name(followed)}: {exc.message}")
            continue
        if reply.missed:
            _notice(f"{Follower._name(followed)}: {reply.missed} bytes were dropped before they were shown")
    if not follower.logs:
        raise CliError("none of these consoles is known to the broker: nothing to follow", EXIT_UNKNOWN)
