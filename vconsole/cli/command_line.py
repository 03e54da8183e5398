"""The ``vconsole`` command line: argument parsing and dispatch to the subcommands (cli/__init__.py runs it)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from vconsole import __version__
from vconsole.cli import (
    bridge,
    broker_commands,
    config_command,
    events_command,
    log_command,
    snapshot_commands,
    wait_command,
)
from vconsole.cli.exit_codes import EXIT_USAGE, MAX_ERROR, reporting_errors
from vconsole.cli.service_commands import SERVICE_COMMANDS, add_service_parsers, service_handler
from vconsole.display_text import printable


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {printable(message, MAX_ERROR)} (see {self.prog} --help)\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(prog="vconsole", description="Console manager for containers and Xen domUs.")
    _common_options(parser, None)
    parser.add_argument("--version", action="version", version=f"vconsole {__version__}")
    parser.add_argument("--theme", help="TUI theme (shipped: vconsole/themes/; default vconsole-dark)")
    # The same options after the subcommand; SUPPRESS keeps them from resetting the above.
    common = _Parser(add_help=False)
    _common_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    ls = sub.add_parser("ls", parents=[common], help="list guests and their consoles")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    bridge.add_parser(sub, common)

    attach = sub.add_parser("attach", parents=[common], help="attach this terminal to a console")
    attach.add_argument("target", metavar="TARGET", help="NAME, NAME:N, provider:id or provider:id:N")
    attach.add_argument("console", metavar="N", nargs="?", help="console number or name (default 0)")
    attach.add_argument("-r", "--read-only", action="store_true", help="watch without typing")
    attach.add_argument(
        "--from-start", action="store_true", help="replay the whole history, not just one screen"
    )
    attach.add_argument("--escape", help="escape key, like ^] (the default) or ^A, or none")
    attach.add_argument(
        "--force", action="store_true",
        help="take the console: end the process outside vconsole that holds it (SIGTERM, then SIGKILL; "
        "never another user's, never a vconsole broker) and make other read-write clients read-only",
    )
    attach.add_argument(
        "--no-reconnect", action="store_true",
        help="exit (code 3) when the broker goes away instead of waiting for it to come back",
    )
    attach.add_argument(
        "--reconnect-timeout", type=seconds_arg, metavar="SECONDS",
        help="wait at most this long for the broker to come back, then exit (code 3)",
    )

    for name, what in (("start", "start a guest"), ("stop", "stop a guest")):
        cmd = sub.add_parser(name, parents=[common], help=what)
        cmd.add_argument("target", metavar="GUEST", help="NAME or provider:id")

    serve = sub.add_parser("serve", parents=[common], help="run the broker in the foreground")
    serve.add_argument("-v", "--verbose", action="store_true")

    lab = sub.add_parser("lab", parents=[common], help="run the embedded lab host in the foreground")
    lab.add_argument("--fleet", help="fleet file (default: the demo fleet)")
    lab.add_argument("-v", "--verbose", action="store_true")

    shutdown = sub.add_parser("shutdown", parents=[common], help="stop the broker (consoles go back to their guests)")
    shutdown.add_argument("--lab", action="store_true", help="stop the lab and its guests too")
    add_service_parsers(sub)
    snapshot_commands.add_parsers(sub, common)
    log_command.add_parser(sub, common)
    wait_command.add_parser(sub, common)
    broker_commands.add_parsers(sub, common)
    config_command.add_parser(sub, common)
    events_command.add_parser(sub, common)
    return parser


def seconds_arg(text: str) -> float:
    """A non-negative number of seconds, for argparse (``--reconnect-timeout``, ``wait --timeout``)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def _common_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--socket",
        default=default,
        help="broker socket (default: $VCONSOLE_SOCKET or the runtime dir)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--system", action="store_true", default=default if default is not None else False,
        help="the system broker (/run/vconsole; `vconsole serve --system` runs it)",
    )
    which.add_argument(
        "--user", action="store_true", default=default if default is not None else False,
        help="your own broker, even when a system broker runs",
    )
    parser.add_argument(
        "--providers",
        default=default,
        metavar="LIST",
        help="providers of a broker this starts: lab, lxc, openvz, xen, comma-separated (sets $VCONSOLE_PROVIDERS)",
    )
    parser.add_argument(
        # After the subcommand, into a dest of its own: the subcommand's namespace would
        # replace the hosts given before it, and both count (merged in main()).
        "--host", action="append", default=default, metavar="DEST", dest="host" if default is None else "host_after",
        help="a host's broker over ssh (an ssh destination or a [[hosts]] name; repeatable; 'local': this one)",
    )
    parser.add_argument(
        "--no-daemon",
        action="store_true",
        default=default if default is not None else False,
        help="run the broker inside this process instead of in the background",
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line parsed; ``--host`` given before and after the subcommand all count."""
    args = build_parser().parse_args(argv)
    after = vars(args).pop("host_after", None)
    if after:
        args.host = [*(args.host or []), *after]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the vconsole command line; returns the exit code."""
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as given: passed on to another host (cli/hosts.py)
    if args.system or args.user:
        if args.socket:
            sys.stderr.write("vconsole: give --socket or --system/--user, not both\n")
            return EXIT_USAGE
        from vconsole.runtime_paths import RuntimePaths

        args.socket = str((RuntimePaths.system_broker() if args.system else RuntimePaths.user()).socket)
    if args.providers:
        from vconsole.providers.detect import ENV, REAL, unknown_names

        unknown = unknown_names(args.providers)
        if unknown:
            sys.stderr.write(f"vconsole: unknown provider {unknown[0]!r} (known: {', '.join((*REAL, 'lab'))})\n")
            return EXIT_USAGE
        os.environ[ENV] = args.providers  # read by the broker this starts, in-process or in the background
    if args.command is None and sys.stdin.isatty() and sys.stdout.isatty():
        from vconsole.cli.commands import run_tui

        return reporting_errors(lambda: run_tui(args))
    return reporting_errors(lambda: asyncio.run(_dispatch(args)))


async def _dispatch(args: argparse.Namespace) -> int:
    # Imported here so `vconsole --help` stays fast and daemons load only what they use.
    from vconsole.cli import commands

    command = args.command or "default"
    if command in SERVICE_COMMANDS:
        return await service_handler(command)(args)
    # Each module names the subcommands it runs; the rest are commands.py's.
    owners = (snapshot_commands, log_command, bridge, wait_command, broker_commands, config_command, events_command)
    module = next((m for m in owners if command in m.COMMANDS), commands)
    handler = getattr(module, f"cmd_{command}")
    result: int = await handler(args)
    return result
