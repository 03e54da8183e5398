"""The commands that make the installed package a host's service: install-service, completion, help."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from vconsole.cli.completion import SHELLS, completion_script
from vconsole.cli.exit_codes import EXIT_OK
from vconsole.cli.service_install import install_service

SERVICE_COMMANDS = ("install-service", "completion", "help")
HELP_TOPICS = ("config",)


def add_service_parsers(sub: Any) -> None:
    """Add this module's commands to the ``vconsole`` parser."""
    install = sub.add_parser(
        "install-service", help="install the systemd unit and the vconsole group (starts nothing)",
        description="Install the packaged systemd unit (ExecStart: this vconsole) and create the "
        "vconsole group. Nothing is started or enabled without --enable.",
    )
    install.add_argument("--dry-run", action="store_true", help="print each step, change nothing")
    install.add_argument("--prefix", metavar="DIR", help="install under DIR as a staging root (files only)")
    install.add_argument("--enable", action="store_true", help="then systemctl enable --now vconsole.service")

    completion = sub.add_parser("completion", help="print a shell completion script (bash or zsh)")
    completion.add_argument("shell", metavar="SHELL", choices=SHELLS, help="bash or zsh")

    topic = sub.add_parser("help", help="explain a topic: config (every config.toml key)")
    topic.add_argument("topic", metavar="TOPIC", choices=HELP_TOPICS, help=", ".join(HELP_TOPICS))
    topic.add_argument("--markdown", action="store_true", help="as docs/configuration.md holds it")


async def cmd_install_service(args: argparse.Namespace) -> int:
    """``vconsole install-service [--dry-run] [--prefix DIR] [--enable]``."""
    install_service(args.prefix, args.dry_run, args.enable)
    return EXIT_OK


async def cmd_completion(args: argparse.Namespace) -> int:
    """``vconsole completion bash|zsh``."""
    from vconsole.cli.command_line import build_parser  # the whole command line

    sys.stdout.write(completion_script(build_parser(), args.shell))
    return EXIT_OK


async def cmd_help(args: argparse.Namespace) -> int:
    """``vconsole help config [--markdown]``."""
    from vconsole.cli import config_keys  # reads the providers' tables: only when asked

    sys.stdout.write(config_keys.render_markdown() if args.markdown else config_keys.render_text())
    return EXIT_OK


def service_handler(command: str) -> Callable[[argparse.Namespace], Awaitable[int]]:
    """The handler of one of SERVICE_COMMANDS."""
    handlers = {"install-service": cmd_install_service, "completion": cmd_completion, "help": cmd_help}
    return handlers[command]
