"""``vconsole reload`` and ``vconsole restart``: a running broker's configuration, and its upgrade.

``reload`` asks the broker to reread config.toml (as SIGHUP does) and prints
what changed; a broken file changes nothing and is the command's one-line
error (exit 2). ``restart`` saves every session (as ``shutdown`` does),
starts a new broker with the same providers and waits for it: clients
attached meanwhile reconnect by themselves and resume from their offsets.
A broker run by systemd is restarted by systemd (``systemctl restart``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from vconsole.cli.exit_codes import EXIT_ERROR, EXIT_NO_BROKER, EXIT_OK, CliError
from vconsole.client import BrokerUnreachable, Client
from vconsole.detached import socket_answers, start_detached, wait_for_socket
from vconsole.display_text import printable
from vconsole.runtime_paths import RuntimePaths

COMMANDS = ("reload", "restart")
START_WAIT = 30.0  # seconds for the new broker to answer


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``reload`` and ``restart`` to the ``vconsole`` parser."""
    sub.add_parser("reload", parents=[common], help="reread config.toml in the running broker (no console is dropped)")
    sub.add_parser(
        "restart", parents=[common],
        help="save every session, start a new broker, and let clients reconnect (an upgrade)",
    )


async def _running(paths: RuntimePaths) -> Client:
    """A client of the broker on ``paths``; never starts one."""
    if not socket_answers(paths.socket):
        raise CliError(f"no broker is running on {paths.socket}", EXIT_NO_BROKER)
    try:
        return await Client.connect(paths, autostart=False)
    except BrokerUnreachable as exc:
        raise CliError(str(exc), EXIT_NO_BROKER) from None


async def cmd_reload(args: argparse.Namespace) -> int:
    """``vconsole reload``."""
    from vconsole.cli.commands import broker_errors

    client = await _running(RuntimePaths.resolve(args.socket))
    try:
        with broker_errors():
            reply = await client.reload()
    finally:
        await client.close()
    changed = [printable(str(line), 2048) for line in reply.get("changed", [])]
    sys.stdout.write("reloaded: " + ("; ".join(changed) if changed else "nothing changed") + "\n")
    for line in reply.get("needs_restart", []):
        sys.stderr.write(f"vconsole: not applied until the broker restarts: {printable(str(line), 2048)}\n")
    return EXIT_OK


async def cmd_restart(args: argparse.Namespace) -> int:
    """``vconsole restart``."""
    from vconsole.cli.commands import cmd_shutdown

    paths = RuntimePaths.resolve(args.socket)
    client = await _running(paths)
    try:
        listing = await client.list_guests()
        old_pid = client.broker_info.pid if client.broker_info is not None else None
        providers = client.broker_info.providers if client.broker_info is not None else ()
    finally:
        await client.close()
    broker = listing.get("broker") if isinstance(listing.get("broker"), dict) else {}
    unit = broker.get("unit") if isinstance(broker, dict) else None
    if isinstance(unit, str) and unit:
        # systemd runs it: restarting behind its back would leave it thinking the service failed.
        proc = await asyncio.create_subprocess_exec("systemctl", "restart", unit)
        if await proc.wait() != 0:
            raise CliError(f"systemctl restart {unit} failed", EXIT_ERROR)
        sys.stdout.write(f"restarted {unit}\n")
        return EXIT_OK
    args.lab = False
    await cmd_shutdown(args)  # saves every session first; its error is this command's
    if providers:  # the new broker serves what the old one did, whatever this shell says
        os.environ["VCONSOLE_PROVIDERS"] = ",".join(providers)
    started = await start_detached(["serve", "--socket", str(paths.socket)], "broker.log")
    if not await wait_for_socket(paths.socket, START_WAIT, started):
        raise CliError(started.failure("the new broker"), EXIT_NO_BROKER)
    sys.stdout.write(f"restarted the broker on {paths.socket} (pid {old_pid} -> {started.pid})\n")
    return EXIT_OK
