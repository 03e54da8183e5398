"""``vconsole wait``: exit when a line of a console's output matches a pattern.

It follows the console through the broker (started if needed, as ``attach``
does) with a LOG attachment, as ``log --follow`` does: nothing is consumed
(the unread count stays what it was) and nothing is ever typed. Lines are
assembled across reads by the log's :class:`LineAssembler` and matched on
their reading text (escape sequences stripped, as ``vconsole log`` shows
them). A line still waiting for its newline after IDLE seconds (a
``login: `` prompt) is matched as it is; should it go on later, the whole
line is matched again. When the broker goes away, waiting goes on until it
is back (the timeout still counts).
"""

from __future__ import annotations

import argparse
import asyncio
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vconsole.cli.exit_codes import EXIT_ERROR, EXIT_USAGE, CliError
from vconsole.cli.hosts import run_there, this_host_only
from vconsole.domain import Target, TargetSyntaxError, parse_target

COMMANDS = ("wait",)


class WaitFrom(StrEnum):
    """Where in the console's output matching begins."""

    NOW = "now"  # the console's end when wait attaches
    START = "start"  # the oldest byte the broker holds (memory and log)


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``wait`` to the ``vconsole`` parser."""
    from vconsole.cli.command_line import seconds_arg  # loaded by the time parsers are built

    wait = sub.add_parser(
        "wait", parents=[common], help="wait until a console prints a line matching a pattern",
        description="Exit 0 printing the first line that matches; 1 if --timeout passes first.",
    )
    wait.add_argument("target", metavar="TARGET", help="NAME, NAME:N, provider:id or provider:id:N")
    wait.add_argument("console", metavar="N", nargs="?", help="console number or name (default 0)")
    wait.add_argument("--pattern", required=True, metavar="RE", help="Python regular expression, searched in each line")
    wait.add_argument("--timeout", type=seconds_arg, metavar="S", help="give up (exit 1) after S seconds (default: never)")
    wait.add_argument(
        "--from", dest="origin", choices=[w.value for w in WaitFrom], default=WaitFrom.NOW.value,
        help="now: only output after wait starts (default); start: all the broker holds, then new output",
    )


@dataclass(frozen=True)
class WaitRequest:
    """The command line, checked."""

    target: Target
    pattern: re.Pattern[str]
    timeout: float | None
    origin: WaitFrom


def checked(args: argparse.Namespace) -> WaitRequest:
    """The options, or a one-line usage error (exit 2)."""
    try:
        pattern = re.compile(args.pattern)
    except re.error as exc:
        raise CliError(f"--pattern {args.pattern!r}: not a valid regular expression: {exc}", EXIT_USAGE) from None
    try:
        target = this_host_only(parse_target(args.target, args.console), "wait")
    except TargetSyntaxError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    return WaitRequest(target, pattern, args.timeout, WaitFrom(args.origin))


async def cmd_wait(args: argparse.Namespace) -> int:
    """``vconsole wait TARGET [N] --pattern RE``: 0 and the line when it appears, 1 on timeout."""
    there = await run_there(args, "wait")  # another host's target: run there over ssh
    if there is not None:
        return there
    request = checked(args)
    from vconsole.cli.wait_follow import wait_for_line  # the broker client only when run

    try:
        return await asyncio.wait_for(wait_for_line(args, request), request.timeout)
    except TimeoutError:
        raise CliError(
            f"no line matching {request.pattern.pattern!r} on {request.target} within {request.timeout:g}s",
            EXIT_ERROR,
        ) from None
