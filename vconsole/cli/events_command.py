"""``vconsole events``: the broker's event stream, printed or followed.

Events live in the broker's memory only (the newest few thousand), so
reading them needs a running broker: without one this says so and exits 3
rather than starting a broker that would hold none. ``--follow`` goes on
through the broker (started if needed, as ``log --follow`` does) and, when
the broker goes away, waits for it and asks again from the last event seen;
a restarted broker numbers its events from 1 again, which shows as a new
broker pid (or ``last`` going backwards), and then all of its events are read.

Text output is for people: one line per event, every string from guests and
tools spelt safe by ``printable``. ``--json`` writes one JSON object per event
(the ConsoleEvent wire fields) for scripts and log pipelines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vconsole.cli.exit_codes import EXIT_NO_BROKER, EXIT_OK, EXIT_USAGE, CliError
from vconsole.console_events import ConsoleEvent, EventKind
from vconsole.consolelog.timespec import TimeSpecError, parse_time
from vconsole.display_text import printable
from vconsole.domain import SEVERITY_ORDER, Severity, Target, TargetSyntaxError, parse_target
from vconsole.protocol import Events

if TYPE_CHECKING:
    from vconsole.client import Client

COMMANDS = ("events",)
# Shown text is cut here: a matched line is at most MAX_EVENT_TEXT, a command a little more once spelt out.
MAX_SHOWN_TEXT = 1024


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``events`` to the ``vconsole`` parser."""
    events = sub.add_parser(
        "events", parents=[common], help="print the broker's events (watch hits, states, attaches)",
        description="Print the events the running broker keeps; --follow goes on printing new ones.",
    )
    events.add_argument("target", metavar="TARGET", nargs="?", help="only this guest or console (NAME, NAME:N, provider:id[:N])")
    events.add_argument("console", metavar="N", nargs="?", help="console number or name")
    events.add_argument("-f", "--follow", action="store_true", help="keep printing new events (waits for a restarted broker)")
    events.add_argument("--json", action="store_true", help="JSON lines: one object per event, its wire fields")
    events.add_argument("--since", metavar="TIME", help="from TIME: 10m, 2h, 1d (ago), 2026-12-06T07:00, 07:00, @EPOCH, today")
    events.add_argument("--utc", action="store_true", help="times in UTC (printed and parsed), not local time")
    events.add_argument(
        "--severity", choices=SEVERITY_ORDER, default=Severity.INFO.value, metavar="S",
        help=f"only events at or above S: {', '.join(SEVERITY_ORDER)} (default info: all)",
    )


@dataclass(frozen=True)
class EventsRequest:
    """The command line, checked."""

    target: Target | None
    since_time: float | None
    severity: Severity
    follow: bool
    json: bool
    utc: bool

    def ask(self, since: int | None, *, follow: bool) -> Events:
        """The ``events`` request for the events after seq ``since``."""
        return Events(self.target, since, self.since_time, self.severity, follow)


def checked(args: argparse.Namespace) -> EventsRequest:
    """The options, or a one-line usage error (exit 2)."""
    if args.console is not None and args.target is None:
        raise CliError("give a TARGET before the console N", EXIT_USAGE)
    try:
        target = None if args.target is None else parse_target(args.target, args.console)
    except TargetSyntaxError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        since = None if args.since is None else parse_time(args.since, utc=args.utc)
    except TimeSpecError as exc:
        raise CliError(f"--since: {exc}", EXIT_USAGE) from None
    return EventsRequest(target, since, Severity(args.severity), args.follow, args.json, args.utc)


def shown_time(when: float, utc: bool) -> str:
    """An event's time for people: local (or UTC) date and time to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when) if utc else time.localtime(when)) + ("Z" if utc else "")


def _who(event: ConsoleEvent) -> list[str]:
    """The client (attach, detach, demoted, the taker of a takeover) and the outside holder, in words."""
    parts: list[str] = []
    client = [f"{key} {value}" for key, value in (("uid", event.uid), ("pid", event.pid)) if value is not None]
    if event.mode is not None:
        client.append(event.mode.value)
    if client:
        parts.append(("by " if event.kind is EventKind.TAKEOVER else "") + " ".join(client))
    holder = [f"{key} {value}" for key, value in (("pid", event.holder_pid), ("uid", event.holder_uid)) if value is not None]
    if holder or event.command:
        command = f" ({printable(event.command, MAX_SHOWN_TEXT)})" if event.command else ""
        parts.append(("" if event.kind is EventKind.HOLDER else "holder ") + " ".join(holder) + command)
    return parts


def event_line(event: ConsoleEvent, utc: bool = False) -> str:
    """One event as a line for people: time, severity, guest:console, name, then its text and who."""
    place = printable(f"{event.guest}:{event.console}")
    text = event.text
    if event.kind is EventKind.STATE and text.startswith(event.name):  # "disconnected: reason" after its name
        text = text[len(event.name) :].removeprefix(":").strip()
    detail = [printable(text, MAX_SHOWN_TEXT)] if text else []
    detail += _who(event)
    head = f"{shown_time(event.time, utc)}  {event.severity.value.upper():<8}  {place}  {printable(event.name)}"
    return head + ("  " + "; ".join(detail) if detail else "")


def event_json(event: ConsoleEvent) -> str:
    """One event as a JSON line (its wire fields; text exactly as it came, JSON-escaped)."""
    return json.dumps(event.to_wire(), ensure_ascii=False)


def notice(text: str) -> None:
    """A line to stderr (lost broker, forgotten events)."""
    sys.stderr.write(f"vconsole: {printable(text, 1024)}\n")
    sys.stderr.flush()


class EventPrinter:
    """Writes events once each, in seq order, as the options ask; remembers the last seq written."""

    def __init__(self, request: EventsRequest) -> None:
        self.request = request
        self.last = 0  # the newest seq written (of the broker it came from)

    def write(self, events: list[ConsoleEvent]) -> None:
        """Those of ``events`` newer than the last written, oldest first; flushed."""
        fresh = sorted((e for e in events if e.seq > self.last), key=lambda e: e.seq)
        if not fresh:
            return
        self.last = fresh[-1].seq
        since = self.request.since_time
        if since is not None:  # pushes are not filtered by time: a --since in the future holds them back
            fresh = [e for e in fresh if e.time >= since]
        render = event_json if self.request.json else lambda e: event_line(e, self.request.utc)
        if fresh:
            sys.stdout.write("".join(render(e) + "\n" for e in fresh))
            sys.stdout.flush()


async def cmd_events(args: argparse.Namespace) -> int:
    """``vconsole events [-f] [--json] [--since T] [--severity S] [TARGET [N]]``."""
    request = checked(args)
    # Loaded when run: `vconsole --help` stays fast.
    from vconsole.cli.log_command import reader_gone

    try:
        if request.follow:
            from vconsole.cli.events_follow import follow_events

            return await follow_events(args, request)
        return await _print_kept(args, request)
    except BrokenPipeError:
        reader_gone()
        return EXIT_OK


async def _print_kept(args: argparse.Namespace, request: EventsRequest) -> int:
    """Every kept event the request asks for, oldest first, from the running broker (never started)."""
    from vconsole.cli.commands import broker_errors
    from vconsole.client import BrokerUnreachable, Client
    from vconsole.detached import socket_answers
    from vconsole.runtime_paths import RuntimePaths

    paths = RuntimePaths.resolve(args.socket)
    no_broker = CliError(
        f"no broker is running on {paths.socket}: events are kept in its memory only (none to show)",
        EXIT_NO_BROKER,
    )
    if not socket_answers(paths.socket):
        raise no_broker
    try:
        client = await Client.connect(paths, autostart=False)
    except (BrokerUnreachable, OSError):
        raise no_broker from None
    printer = EventPrinter(request)
    try:
        with broker_errors():
            await read_pages(client, request, printer, since=0, follow=False)
    finally:
        await client.close()
    return EXIT_OK


async def read_pages(client: Client, request: EventsRequest, printer: EventPrinter, *, since: int, follow: bool) -> int:
    """Ask for the events after ``since`` page by page and print them; the broker's ``last``.

    A ``last`` below ``since`` is a broker that numbers anew (restarted): returned at once.
    """
    while True:
        reply = await client.read_events(request.ask(since, follow=follow))
        if reply.last < since:
            return reply.last
        # Before a --since time, events the broker dropped are no loss worth a word.
        if reply.forgotten and (request.since_time is None or since > 0):
            notice(f"{reply.forgotten} earlier events are no longer kept by the broker")
        printer.write(reply.events)
        if not reply.more or not reply.events:
            return int(reply.last)
        since = reply.events[-1].seq
