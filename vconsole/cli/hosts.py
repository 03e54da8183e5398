"""Many hosts: which brokers a command talks to (``--host``, ``[[hosts]]``) and which one a target names.

With no ``--host`` and no ``[[hosts]]`` a command talks to this machine's
broker only, as it always did. Otherwise each host is a ``HostBroker``: this
machine's (named ``local``, shown unless ``[client] local = false``) or
another's over ssh (vconsole/ssh_transport.py). A target may name its host
(``h1/web:1``); a bare name is looked up on every host and must be on
exactly one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from vconsole import __version__
from vconsole.cli.config_check import check_before_starting
from vconsole.cli.exit_codes import (
    EXIT_NO_BROKER,
    EXIT_OK,
    EXIT_SOME_HOSTS,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    CliError,
)
from vconsole.cli.listing import render_hosts_table
from vconsole.client import BrokerUnreachable, Client
from vconsole.config import LOCAL_HOST, Config, ConfigError, HostSettings
from vconsole.display_text import printable
from vconsole.domain import Target, TargetSyntaxError, parse_target
from vconsole.local_broker import LocalBroker
from vconsole.runtime_paths import RuntimeDirError, RuntimePaths
from vconsole.ssh_transport import (
    EXIT_NOT_FOUND,
    HostState,
    HostUnreachable,
    SshBroker,
    VersionMismatch,
    remote_argv,
)

EXIT_SSH_FAILED = 255  # ssh's own exit status when it could not connect or run the command
# How long `ls` and a target's lookup wait for one host before calling it unreachable.
HOST_TIMEOUT = 20.0


@dataclass(frozen=True)
class HostChoice:
    """The hosts a command works on: others over ssh, and maybe this machine's broker."""

    hosts: tuple[HostSettings, ...]
    local: bool

    @property
    def names(self) -> list[str]:
        """Every host's name, this machine's first."""
        return ([LOCAL_HOST] if self.local else []) + [h.name for h in self.hosts]


def chosen_hosts(args: argparse.Namespace) -> HostChoice | None:
    """The hosts of ``--host`` (else of ``[[hosts]]``); None when there are none but this machine.

    A ``--host`` that is a ``[[hosts]]`` name means that table; ``local``
    means this machine's broker; anything else is an ssh destination.
    """
    given: list[str] = getattr(args, "host", None) or []
    try:
        config = Config.load()
    except ConfigError:
        if given:
            raise
        return None  # a command that only connects does not read the file (cli/config_check.py)
    if not given:
        return HostChoice(tuple(config.hosts), config.show_local) if config.hosts else None
    hosts: list[HostSettings] = []
    local = False
    for dest in given:
        if dest == LOCAL_HOST:
            local = True
            continue
        named = next((h for h in config.hosts if h.name == dest), None)
        try:
            host = named or HostSettings.from_destination(dest)
        except ConfigError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        if any(h.name == host.name for h in hosts):
            raise CliError(f"--host {dest}: a host named {host.name!r} is given already", EXIT_USAGE)
        hosts.append(host)
    return HostChoice(tuple(hosts), local) if hosts else None


class HostBroker:
    """One host's broker: this machine's (``settings`` None) or another's over ssh."""

    def __init__(self, args: argparse.Namespace, settings: HostSettings | None) -> None:
        self.settings = settings
        self.name = settings.name if settings is not None else LOCAL_HOST
        self._paths = RuntimePaths.resolve(args.socket)
        self._local = None if settings is not None else LocalBroker(self._paths, in_process=args.no_daemon)
        self._ssh = SshBroker(settings, timeout=HOST_TIMEOUT) if settings is not None else None

    @property
    def version(self) -> str | None:
        """The host's vconsole release, once it answered."""
        return __version__ if self._ssh is None else self._ssh.remote_version

    async def connect(self) -> Client:
        """A client of the host's broker, started there if none runs; BrokerUnreachable with the reason."""
        if self._ssh is not None:
            return await self._ssh.connect()
        assert self._local is not None
        try:
            check_before_starting(self._paths)
            return await self._local.connect()
        except (RuntimeDirError, ConfigError) as exc:
            raise BrokerUnreachable(str(exc)) from None

    async def reconnect(self) -> Client:
        """A client again after a loss, starting no broker (a shutdown stays one)."""
        if self._ssh is not None:
            return await self._ssh.connect(start=False)
        return await Client.connect(self._paths, autostart=False)

    async def why_lost(self, client: Client) -> str | None:
        """Why ``client``'s connection ended, when ssh can say (None for this machine's broker)."""
        return None if self._ssh is None else await self._ssh.why_lost(client)

    async def close(self) -> None:
        """Close its clients (and their ssh)."""
        if self._ssh is not None:
            await self._ssh.close()
        if self._local is not None:
            await self._local.close()


@dataclass
class HostListing:
    """One host's answer to ``list``, or why there is none."""

    name: str
    state: HostState
    reason: str | None = None
    latency_ms: float | None = None  # the `list` request's round trip
    version: str | None = None
    listing: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """The host's entry of ``ls --json`` ``hosts``."""
        latency = None if self.latency_ms is None else round(self.latency_ms, 1)
        return {"name": self.name, "state": self.state.value, "reason": self.reason,
                "latency_ms": latency, "version": self.version}

    def guests(self) -> list[dict[str, Any]]:
        """Its guests, each with ``host`` this host's name (the provider's own host name kept as ``provider_host``)."""
        if self.listing is None:
            return []
        return [{**g, "host": self.name, "provider_host": g.get("host")} for g in self.listing["guests"]]


def brokers(args: argparse.Namespace, choice: HostChoice) -> list[HostBroker]:
    """A HostBroker per chosen host, this machine's first."""
    out = [HostBroker(args, None)] if choice.local else []
    return out + [HostBroker(args, h) for h in choice.hosts]


async def list_host(broker: HostBroker) -> HostListing:
    """Connect to one host and list its guests; a failure is its state and one-line reason."""
    try:
        client = await broker.connect()
        try:
            started = time.monotonic()
            listing = await asyncio.wait_for(client.list_guests(), HOST_TIMEOUT)
            latency = (time.monotonic() - started) * 1000
        finally:
            await broker.close()
    except VersionMismatch as exc:
        return HostListing(broker.name, HostState.VERSION_MISMATCH, exc.reason, version=exc.version)
    except HostUnreachable as exc:
        return HostListing(broker.name, HostState.UNREACHABLE, exc.reason, version=broker.version)
    except (BrokerUnreachable, ConnectionError, TimeoutError) as exc:
        reason = str(exc) or f"no answer within {HOST_TIMEOUT:g} s"
        return HostListing(broker.name, HostState.UNREACHABLE, printable(reason, 300), version=broker.version)
    return HostListing(broker.name, HostState.CONNECTED, None, latency, broker.version, listing)


async def list_hosts(args: argparse.Namespace, choice: HostChoice) -> list[HostListing]:
    """Every chosen host's listing, asked at once (a slow host delays no other)."""
    return list(await asyncio.gather(*(list_host(b) for b in brokers(args, choice))))


def _matches(guest: dict[str, Any], target: Target) -> bool:
    # The broker's own rule (broker/registry.py find): name or id, and the provider if given.
    return target.guest in (guest.get("name"), guest.get("id")) and target.provider in (None, guest.get("provider"))


async def broker_for(args: argparse.Namespace, choice: HostChoice | None, target: Target) -> HostBroker:
    """The broker of the host ``target`` names, or of the one host that has its guest.

    CliError when the host is unknown, when no reachable host has the guest
    (naming the unreachable ones) or when several have it (naming them all).
    """
    if choice is None:
        choice = HostChoice((), True)
    if target.host is not None:
        if target.host == LOCAL_HOST:
            return HostBroker(args, None)
        host = next((h for h in choice.hosts if h.name == target.host), None)
        if host is None:
            known = ", ".join(choice.names) or "none"
            raise CliError(f"no host {target.host!r} (hosts: {known}; --host or [[hosts]] adds one)", EXIT_UNKNOWN)
        return HostBroker(args, host)
    if not choice.hosts:
        return HostBroker(args, None)
    listings = await list_hosts(args, choice)
    having = [h for h in listings if any(_matches(g, target) for g in h.guests())]
    if len(having) == 1:
        return next(b for b in brokers(args, choice) if b.name == having[0].name)
    if having:
        candidates = ", ".join(f"{h.name}/{target.guest_ref}" for h in having)
        raise CliError(f"{target.guest_ref!r} is on several hosts: {candidates} (name one of them)", EXIT_UNKNOWN)
    down = [f"{h.name}: {h.reason}" for h in listings if h.state is not HostState.CONNECTED]
    if down and len(down) == len(listings):
        raise CliError(f"no host answered ({'; '.join(down)})", EXIT_NO_BROKER)
    unreachable = f" (not asked: {'; '.join(down)})" if down else ""
    raise CliError(f"no guest named {target.guest_ref!r} on any host{unreachable}", EXIT_UNKNOWN)


def warn(line: str) -> None:
    """One line on standard error."""
    sys.stderr.write(f"vconsole: {printable(line, 2048)}\n")


async def target_host(args: argparse.Namespace, target: Target) -> HostBroker | None:
    """The broker of ``target``'s host when hosts are in play (``broker_for``); None: this machine's, as ever."""
    choice = chosen_hosts(args)
    if choice is None and target.host is None:
        return None
    return await broker_for(args, choice, target)


@contextlib.asynccontextmanager
async def host_client(broker: HostBroker) -> AsyncIterator[Client]:
    """A client of ``broker`` (CliError, exit 3, with the reason when unreachable), closed on exit."""
    try:
        client = await broker.connect()
    except BrokerUnreachable as exc:
        await broker.close()
        raise CliError(str(exc), EXIT_NO_BROKER) from None
    try:
        yield client
    finally:
        await broker.close()


async def ls_hosts(args: argparse.Namespace, choice: HostChoice) -> int:
    """``vconsole ls [--json]`` over several hosts: one table, a HOST column; EXIT_SOME_HOSTS if one failed."""
    listings = await list_hosts(args, choice)
    hosts = [h.summary() for h in listings]
    guests = [g for h in listings for g in h.guests()]
    if args.json:
        sys.stdout.write(json.dumps({"guests": guests, "hosts": hosts}, indent=2) + "\n")
    else:
        sys.stdout.write(render_hosts_table(hosts, guests))
    failed = [h for h in listings if h.state is not HostState.CONNECTED]
    for host in failed:
        # A version mismatch's reason says so already (it names both versions).
        state = "unreachable: " if host.state is HostState.UNREACHABLE else ""
        warn(f"{host.name}: {state}{host.reason}")
    for host in listings:
        for provider in (host.listing or {}).get("providers", []):
            if provider.get("error"):
                warn(f"{host.name}: provider {provider['name']} failed: {provider['error']}")
    return EXIT_SOME_HOSTS if failed else EXIT_OK


def this_host_only(target: Target, command: str) -> Target:
    """``target`` for a command that reaches only this machine's broker and files; CliError if it names another host."""
    if target.host in (None, LOCAL_HOST):
        return target.on_host(None)
    raise CliError(
        f"{command} reaches only this machine's consoles, not those of {target.host!r}:"
        f" run it there (ssh {target.host} vconsole {command} ...)", EXIT_USAGE,
    )


# Options that choose this machine's broker or the hosts: not passed on to another host's vconsole.
_LOCAL_OPTIONS = {"--host": True, "--socket": True, "--system": False, "--user": False}


async def run_there(args: argparse.Namespace, command: str) -> int | None:
    """Run ``command`` (``log``, ``wait``: they read this machine's files) on the host of its target.

    The host is the one the target names, or the one host with a guest of a
    bare name (as ``broker_for`` finds it). None when that is this machine:
    the caller runs it here. Else
    ``ssh HOST COMMAND ARGS`` with the same arguments, the target without
    its ``HOST/``, this terminal's output and errors; its exit code (3 when
    ssh itself failed, which said why).
    """
    text = getattr(args, "target", None)
    if not isinstance(text, str):
        return None
    try:
        target = parse_target(text)
    except TargetSyntaxError:
        return None  # the command says what is wrong with it
    choice = chosen_hosts(args)
    if target.host == LOCAL_HOST or (target.host is None and choice is None):
        return None
    host = (await broker_for(args, choice, target)).settings  # a bare name: the one host that has it
    if host is None:
        return None
    words = arguments_for_host(list(getattr(args, "argv", [])), text, str(target.on_host(None)))
    proc = await asyncio.create_subprocess_exec(*remote_argv(host, words))
    code = await proc.wait()
    if code == EXIT_NOT_FOUND:
        raise CliError(f"{host.name}: no vconsole there: {host.command!r} was not found", EXIT_NO_BROKER)
    return EXIT_NO_BROKER if code == EXIT_SSH_FAILED else code


def arguments_for_host(argv: list[str], target: str, unqualified: str) -> list[str]:
    """``argv`` for the other host: its target without ``HOST/``, no option that chooses brokers or hosts."""
    out: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
            continue
        name = word.partition("=")[0]
        if name in _LOCAL_OPTIONS:
            skip = _LOCAL_OPTIONS[name] and "=" not in word
            continue
        out.append(unqualified if word == target else word)
    return out
