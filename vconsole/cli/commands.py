"""The subcommands of ``vconsole``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from vconsole.cli import hosts
from vconsole.cli.attach import run_attach
from vconsole.cli.config_check import check_before_starting, check_config
from vconsole.cli.daemon_logging import setup_logging as _setup_logging
from vconsole.cli.escape import EscapeError, parse_escape
from vconsole.cli.exit_codes import (
    BY_ERROR_CODE,
    EXIT_ERROR,
    EXIT_NO_BROKER,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliError,
)
from vconsole.cli.hosts import HostBroker, chosen_hosts
from vconsole.cli.listing import render_table
from vconsole.client import (
    BrokerRefused,
    BrokerUnreachable,
    Client,
    RequestFailed,
    check_runtime_dir,
)
from vconsole.config import Config
from vconsole.detached import DaemonAlreadyRunning, read_pid_file, socket_answers, wait_gone
from vconsole.display_text import printable
from vconsole.domain import Target, TargetSyntaxError, parse_target
from vconsole.local_broker import LocalBroker, build_broker, providers_notice
from vconsole.runtime_paths import RuntimeDirError, RuntimePaths


def _paths(args: argparse.Namespace) -> RuntimePaths:
    return RuntimePaths.resolve(args.socket)


def target_arg(text: str, console: str | None = None) -> Target:
    """A TARGET argument (and the N of ``TARGET N``); a bad one is a usage error."""
    try:
        return parse_target(text, console)
    except TargetSyntaxError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def guest_arg(text: str) -> Target:
    """A GUEST argument: a target without a console."""
    target = target_arg(text)
    if target.console is not None:
        raise CliError(f"{text!r} names a console; give the guest: {target.guest_ref}", EXIT_USAGE)
    return target


def _say(line: str) -> None:
    sys.stderr.write(f"vconsole: {line}\n")


@contextlib.asynccontextmanager
async def connected(
    args: argparse.Namespace, target: Target | None = None, host: HostBroker | None = None
) -> AsyncIterator[Client]:
    """A client connection, starting the broker (in the background or in-process) if needed.

    With hosts (``--host``, ``[[hosts]]``, or ``HOST/`` in ``target``), the
    broker of ``host`` or of ``target``'s host (cli/hosts.py).
    """
    if host is None and target is not None:
        host = await hosts.target_host(args, target)
    if host is not None:
        async with hosts.host_client(host) as client:
            with broker_errors():
                yield client
        return
    paths = _paths(args)
    check_before_starting(paths)
    local = LocalBroker(paths, in_process=args.no_daemon, announce=_say)
    try:
        client = await local.connect()
    except BrokerRefused as exc:
        raise CliError(str(exc), EXIT_REFUSED) from None
    except BrokerUnreachable as exc:
        raise CliError(str(exc), EXIT_NO_BROKER) from None
    except RuntimeDirError as exc:
        await local.close()
        raise CliError(str(exc), EXIT_NO_BROKER) from None
    notice = providers_notice(client)
    if notice is not None:
        sys.stderr.write(f"vconsole: warning: {notice}\n")
    try:
        with broker_errors():
            yield client
    finally:
        await local.close()


@contextlib.contextmanager
def broker_errors() -> Iterator[None]:
    """A broker's structured error, or a lost connection, as the command's one-line error."""
    try:
        yield
    except RequestFailed as exc:
        raise CliError(exc.message, BY_ERROR_CODE.get(exc.code, EXIT_ERROR)) from None
    except ConnectionError:
        raise CliError("lost the connection to the broker", EXIT_NO_BROKER) from None


async def cmd_default(args: argparse.Namespace) -> int:
    """No subcommand and no terminal (a script, a pipe): the fleet table."""
    choice = chosen_hosts(args)
    if choice is not None:
        args.json = False
        return await hosts.ls_hosts(args, choice)
    async with connected(args) as client:
        listing = await client.list_guests()
    sys.stdout.write(render_table(listing))
    sys.stdout.write("\nAttach with: vconsole attach GUEST [N]   (detach with ^] then .)\n")
    return EXIT_OK


async def cmd_ls(args: argparse.Namespace) -> int:
    """``vconsole ls [--json]``."""
    choice = chosen_hosts(args)
    if choice is not None:
        return await hosts.ls_hosts(args, choice)
    async with connected(args) as client:
        listing = await client.list_guests()
    saved = listing.get("saved_sessions")
    if args.json:
        out = {"guests": listing["guests"], "providers": listing["providers"], "saved_sessions": saved,
               "log": listing.get("log"), "broker": listing.get("broker"),
               "watch_errors": listing.get("watch_errors", [])}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(listing))
    for provider in listing["providers"]:
        if provider.get("error"):
            failed = printable(f"provider {provider['name']} failed: {provider['error']}", 2048)
            sys.stderr.write(f"vconsole: {failed}\n")
    if isinstance(saved, dict) and saved.get("save") == "failed":
        sys.stderr.write(f"vconsole: {printable(str(saved.get('error')), 2048)}\n")
    for error in listing.get("watch_errors") or []:  # bad [[watches]]: skipped by the broker, said here
        sys.stderr.write(f"vconsole: warning: {printable(str(error), 2048)}\n")
    for warning in log_warnings(listing):
        sys.stderr.write(f"vconsole: {printable(warning, 2048)}\n")
    return EXIT_OK


def log_warnings(listing: dict[str, Any]) -> list[str]:
    """What `ls` says about console logs that are not being written (one line each, at most 3 consoles)."""
    info = listing.get("log")
    if isinstance(info, dict) and info.get("state") != "ok" and info.get("reason"):
        return [f"console logs: {info['reason']}"]
    degraded = [
        f"{g['name']}:{c['name']}: {c.get('log_reason') or 'degraded'} ({c.get('not_logged', 0)} bytes not logged)"
        for g in listing["guests"] for c in g["consoles"] if c.get("log_state") == "degraded"
    ]
    more = f" and {len(degraded) - 3} more" if len(degraded) > 3 else ""
    return [f"console log not written: {line}" for line in degraded[:3]] + ([f"console logs:{more} degraded"] if more else [])


async def cmd_attach(args: argparse.Namespace) -> int:
    """``vconsole attach TARGET [N]``."""
    target = target_arg(args.target, args.console)
    if target.console is None:
        target = target.with_console(0)
    try:
        escape = parse_escape(args.escape if args.escape is not None else Config.load().escape)
    except EscapeError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    paths = _paths(args)
    host = await hosts.target_host(args, target)  # None: this machine's broker, as ever
    if host is not None:
        target = target.on_host(host.name)  # the banner names it (a bare name's too)

    async def reconnect() -> Client:
        if host is not None:
            return await host.reconnect()  # its bridge starts no broker either
        return await Client.connect(paths, autostart=False)  # never start a broker: see cli/attach.py

    async with connected(args, host=host) as client:
        read_only = args.read_only
        if not read_only and client.broker_info is not None and client.broker_info.watch_only:
            read_only = True  # a spy_groups member: typing would be refused, so watch, and say so
            sys.stderr.write("vconsole: this broker lets you only watch (spy_groups): attaching read-only\n")
        return await run_attach(
            client,
            target,
            read_only=read_only,
            from_start=args.from_start,
            escape=escape,
            reconnect=None if args.no_reconnect or args.no_daemon else reconnect,
            reconnect_timeout=args.reconnect_timeout,
            force=args.force,
            why_lost=None if host is None else host.why_lost,
        )


async def cmd_start(args: argparse.Namespace) -> int:
    """``vconsole start GUEST``."""
    guest = guest_arg(args.target)
    async with connected(args, guest) as client:
        await client.start(guest)
    return EXIT_OK


async def cmd_stop(args: argparse.Namespace) -> int:
    """``vconsole stop GUEST``."""
    guest = guest_arg(args.target)
    async with connected(args, guest) as client:
        await client.stop(guest)
    return EXIT_OK


async def cmd_serve(args: argparse.Namespace) -> int:
    """``vconsole serve``: the broker, in the foreground."""
    _setup_logging(args.verbose)
    paths = _paths(args)
    config = Config.for_broker(paths)
    check_config(config)
    try:
        broker = build_broker(paths, config)
        await broker.serve_forever()
    except (DaemonAlreadyRunning, RuntimeDirError) as exc:
        raise CliError(str(exc)) from None
    return EXIT_OK


async def cmd_lab(args: argparse.Namespace) -> int:
    """``vconsole lab``: the simulated host, in the foreground."""
    from vconsole.lab.fleet import Fleet, FleetError
    from vconsole.lab.server import LabServer

    _setup_logging(args.verbose)
    paths = _paths(args)
    if socket_answers(paths.lab_socket):
        raise CliError(f"a lab is already running on {paths.lab_socket}")
    try:
        fleet = Fleet.load(Path(args.fleet) if args.fleet else Config.load().lab_fleet)
    except FleetError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        await LabServer(fleet, paths.lab_socket, paths.lab_pages).run()
    except (DaemonAlreadyRunning, RuntimeDirError) as exc:
        raise CliError(str(exc)) from None
    return EXIT_OK


# How long `shutdown` waits for the broker to save its sessions and let go, and for the lab.
BROKER_EXIT_WAIT = 60.0
LAB_EXIT_WAIT = 20.0


async def cmd_shutdown(args: argparse.Namespace) -> int:
    """``vconsole shutdown [--lab]``: returns once the broker (and the lab) are gone.

    The broker goes first and the lab only once the broker has let go of its
    consoles, so the broker saves ring state and hands the rings back while
    the lab still answers. Nothing here starts a daemon.
    """
    paths = _paths(args)
    try:
        check_runtime_dir(paths)
    except BrokerUnreachable as exc:
        raise CliError(str(exc), EXIT_NO_BROKER) from None
    if socket_answers(paths.socket):
        try:
            client = await Client.connect(paths, autostart=False)
        except BrokerUnreachable as exc:
            raise CliError(str(exc), EXIT_NO_BROKER) from None
        try:
            pid = client.broker_info.pid if client.broker_info is not None else None
            with broker_errors():
                await client.shutdown()
        finally:
            await client.close()
        # The socket goes last on the broker's way out; an in-process (--no-daemon)
        # broker's pid is its client's, which lives on.
        if not await wait_gone(paths.socket, pid, BROKER_EXIT_WAIT):
            raise CliError(f"the broker (pid {pid}) did not exit within {BROKER_EXIT_WAIT:.0f} s")
    if args.lab and socket_answers(paths.lab_socket):
        from vconsole.framed_socket import FramedSocket

        lab_pid = read_pid_file(paths.lab_socket)
        lab = await FramedSocket.connect(paths.lab_socket)
        try:
            await lab.request({"op": "shutdown", "id": 1})
        finally:
            lab.close()
        if not await wait_gone(paths.lab_socket, lab_pid, LAB_EXIT_WAIT, process=True):
            raise CliError(f"the lab (pid {lab_pid}) did not exit within {LAB_EXIT_WAIT:.0f} s")
    return EXIT_OK


def run_tui(args: argparse.Namespace) -> int:
    """The TUI, on an event loop of our own so the in-process broker closes on it at exit."""
    paths = _paths(args)
    choice = chosen_hosts(args)
    if not args.no_daemon and (choice is None or choice.local):
        try:
            check_runtime_dir(paths)  # one line here, not an error inside the TUI
        except BrokerUnreachable as exc:
            raise CliError(str(exc), EXIT_NO_BROKER) from None
    check_before_starting(paths)  # a mistake is one line on this terminal, not an error in the app
    if choice is not None:
        return _run_tui_hosts(args, choice)
    from vconsole.tui import key_parser
    from vconsole.tui.app import VConsoleApp  # Textual loads only when a TUI runs (start-up time)

    key_parser.install()  # Alt+key as typed (Textual drops the Alt of most keys)
    local = LocalBroker(paths, in_process=args.no_daemon)
    warned = False

    async def connect() -> Client:
        nonlocal warned
        client = await local.connect()
        notice = providers_notice(client)
        if notice is not None and not warned:
            warned = True
            app.notify(notice, title="other providers", severity="warning", timeout=30, markup=False)
        return client

    async def reconnect() -> Client:
        return await Client.connect(paths, autostart=False)  # never start a broker: a shutdown stays one

    # --no-daemon: the broker lives in this process; once shut down, it is not served again.
    app = VConsoleApp(connect, reconnect=None if args.no_daemon else reconnect, theme=getattr(args, "theme", None))

    async def run() -> None:
        try:
            await app.run_async()
        finally:
            # --no-daemon: save the sessions and give the consoles back, as a daemon does.
            await local.close()

    asyncio.run(run())
    return EXIT_OK


def _run_tui_hosts(args: argparse.Namespace, choice: hosts.HostChoice) -> int:
    """The TUI over many hosts: one endpoint each (ssh in batch mode: no password can be asked)."""

    async def run() -> None:
        brokers = hosts.brokers(args, choice)
        # The logins start before Textual is loaded: ssh and the remote bridges take longest,
        # and they run in processes of their own meanwhile (16 hosts: ~0.5 s sooner).
        early = {b.name: _early_connect(b) for b in brokers}
        await asyncio.sleep(0)  # each task's first step runs: its ssh is spawned
        from vconsole.tui import key_parser
        from vconsole.tui.app import VConsoleApp
        from vconsole.tui.host_links import HostEndpoint

        key_parser.install()  # Alt+key as typed (Textual drops the Alt of most keys)

        endpoints = [
            HostEndpoint(b.name, _first_then(early[b.name], b.connect), b.reconnect, b.close, b.why_lost,
                         remote=b.settings is not None)
            for b in brokers
        ]

        async def no_connect() -> Client:
            raise BrokerUnreachable("every host connects on its own")

        app = VConsoleApp(no_connect, theme=getattr(args, "theme", None), hosts=endpoints)
        await app.run_async()  # quitting closes every host's link and ssh (VConsoleApp.action_quit)

    asyncio.run(run())
    return EXIT_OK


def _early_connect(broker: HostBroker) -> asyncio.Task[Client]:
    """A host's first connection, started now; its failure is read by whoever awaits it (never logged)."""
    task = asyncio.ensure_future(broker.connect())
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    return task


def _first_then(first: asyncio.Task[Client], connect: Callable[[], Awaitable[Client]]) -> Callable[[], Awaitable[Client]]:
    """A connector whose first call takes the connection ``first`` made (or its failure), later ones ``connect``."""
    pending: list[asyncio.Task[Client]] = [first]

    async def connector() -> Client:
        if pending:
            return await pending.pop()
        return await connect()

    return connector
