"""``vconsole events``: the broker's event stream, printed or followed.

Events live in the broker's memory only (the newest 10,000), so
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vconsole.cli.exit_codes import EXIT_NO_BROKER, EXIT_OK, EXIT_USAGE, CliError
from vconsole.cli.hosts import run_there, this_host_only
from vconsole.consolelog.timespec import TimeSpecError, parse_time
from vconsole.domain import SEVERITY_ORDER, Severity, Target, TargetSyntaxError, parse_target

if TYPE_CHECKING:
    from vconsole.protocol import Events

COMMANDS = ("events",)


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
        "--ack", action="store_true",
        help="acknowledge the alerts of TARGET (default: every console) instead of printing: the badges go",
    )
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
        from vconsole.protocol import Events  # the wire only when run: `vconsole --help` stays fast

        return Events(self.target, since, self.since_time, self.severity, follow)


def checked(args: argparse.Namespace) -> EventsRequest:
    """The options, or a one-line usage error (exit 2)."""
    if args.console is not None and args.target is None:
        raise CliError("give a TARGET before the console N", EXIT_USAGE)
    try:
        target = None if args.target is None else this_host_only(parse_target(args.target, args.console), "events")
    except TargetSyntaxError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        since = None if args.since is None else parse_time(args.since, utc=args.utc)
    except TimeSpecError as exc:
        raise CliError(f"--since: {exc}", EXIT_USAGE) from None
    return EventsRequest(target, since, Severity(args.severity), args.follow, args.json, args.utc)


async def cmd_events(args: argparse.Namespace) -> int:
    """``vconsole events [-f] [--json] [--since T] [--severity S] [TARGET [N]]``."""
    there = await run_there(args, "events")  # another host's target: its events, over ssh
    if there is not None:
        return there
    request = checked(args)
    if args.ack:
        if request.follow:
            raise CliError("give --ack or --follow, not both", EXIT_USAGE)
        return await _acknowledge(args, request.target)
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


async def _acknowledge(args: argparse.Namespace, target: Target | None) -> int:
    """Acknowledge the alerts of ``target`` (every console when None) in the running broker."""
    import sys

    from vconsole.cli.commands import broker_errors, connected

    async with connected(args) as client:
        with broker_errors():
            count = await client.acknowledge(target)
    where = f" of {target}" if target is not None else ""
    sys.stdout.write(f"acknowledged {count} event{'s' if count != 1 else ''}{where}\n")
    return EXIT_OK


async def _print_kept(args: argparse.Namespace, request: EventsRequest) -> int:
    """Every kept event the request asks for, oldest first, from the running broker (never started)."""
    from vconsole.cli.commands import broker_errors
    from vconsole.cli.events_output import EventPrinter, read_pages
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
