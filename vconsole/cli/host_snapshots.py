"""``vconsole snapshot`` and ``restore`` through hosts (``--host``, ``[[hosts]]``, ``h2/web`` targets).

Another host's broker never reads or writes a path for us: it sends the
snapshot through the connection (inline, or in parts when larger than a
frame: cli/snapshot_parts.py), and it is checked here and written on this
machine with the host it came from (``origin_host``, docs/snapshot-format.md);
a restore sends the file's bytes the same way. This machine's broker still
writes and reads the file itself, as without hosts, and its files name no host.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from vconsole.cli.commands import connected
from vconsole.cli.exit_codes import (
    EXIT_BAD_SNAPSHOT,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_SOME_HOSTS,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    CliError,
)
from vconsole.cli.hosts import HostBroker, HostChoice, broker_for, brokers, warn
from vconsole.client import Client, RequestFailed
from vconsole.config import LOCAL_HOST
from vconsole.display_text import printable
from vconsole.domain import Target
from vconsole.protocol_replies import RestoreReply, SnapshotReply
from vconsole.protocol_snapshots import RestoreRequest
from vconsole.runtime_paths import default_snapshot_path
from vconsole.snapshot.encode import encode
from vconsole.snapshot.model import SnapshotFile
from vconsole.snapshot_transfer import TransferFailed, send_restore, snapshot_here


def _on_host(host: str, message: str) -> str:
    """``message`` naming ``host`` first (once)."""
    return message if message.startswith(f"{host}: ") else f"{host}: {message}"


def _outputs(args: argparse.Namespace, hosts: list[str], label: str) -> dict[str, Path]:
    """Where each host's snapshot goes: ``-o`` is the file for one host, the directory for several."""
    if len(hosts) == 1:
        out = Path(args.output) if args.output else default_snapshot_path(label)
        if not args.output:
            out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return {hosts[0]: out.absolute()}
    if args.output is None:
        files = {h: default_snapshot_path(f"{label}-{h}") for h in hosts}
    else:
        folder = Path(args.output)
        if folder.exists() and not folder.is_dir():
            raise CliError(f"-o {args.output}: with several hosts -o names a directory (one file per host)", EXIT_USAGE)
        files = {h: folder / default_snapshot_path(f"{label}-{h}").name for h in hosts}
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {h: p.absolute() for h, p in files.items()}


async def _snapshot_one(args: argparse.Namespace, broker: HostBroker, targets: list[Target] | None,
                        out: Path) -> SnapshotReply:
    """One host's snapshot into ``out``: by this machine's broker itself, or sent here and written here."""
    async with connected(args, host=broker) as client:
        if broker.settings is None and client.names_files:
            return await client.snapshot(targets, str(out))
        return await written_here(client, targets, out, broker.name if broker.settings is not None else None)


async def written_here(client: Client, targets: list[Target] | None, out: Path, origin_host: str | None) -> SnapshotReply:
    """snapshot_transfer.snapshot_here, its failure one CliError line (EXIT_BAD_SNAPSHOT for refused bytes)."""
    try:
        return await snapshot_here(client, targets, out, origin_host)
    except TransferFailed as exc:
        raise CliError(str(exc), EXIT_BAD_SNAPSHOT if exc.bad_snapshot else EXIT_ERROR) from None


async def snapshot_hosts(args: argparse.Namespace, choice: HostChoice | None, target: Target | None) -> int:
    """``vconsole snapshot HOST/TARGET | --all`` with hosts: one file per host, written on this machine.

    ``--all`` asks every chosen host at once; a host that fails is one line
    and the exit code is EXIT_SOME_HOSTS, the others' files are written.
    """
    if target is not None:
        chosen = [await broker_for(args, choice, target)]
        targets: list[Target] | None = [target.on_host(None)]
    else:
        assert choice is not None
        chosen, targets = brokers(args, choice), None
    outputs = _outputs(args, [b.name for b in chosen], args.target or "all")
    results = await asyncio.gather(
        *(_snapshot_one(args, b, targets, outputs[b.name]) for b in chosen), return_exceptions=True
    )
    done: list[tuple[str, SnapshotReply]] = []
    failed: list[tuple[str, CliError]] = []
    for broker, result in zip(chosen, results, strict=True):
        if isinstance(result, CliError):
            failed.append((broker.name, CliError(_on_host(broker.name, str(result)), result.code)))
        elif isinstance(result, BaseException):
            raise result
        else:
            done.append((broker.name, result))
    if len(chosen) == 1 and failed:
        raise failed[0][1]
    for host, reply in done:
        for item in reply.not_captured:  # the reason may quote a provider's tool: printable
            sys.stderr.write(printable(f"{host}/{item.message}", 1024) + "\n")
    summaries = [{**reply.summary(), "host": host} for host, reply in done]
    if args.json:
        out: Any = summaries[0] if target is not None else {
            "snapshots": summaries, "failed": [{"host": h, "reason": str(e)} for h, e in failed]
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        for host, reply in done:
            sys.stdout.write(printable(f"{reply.path}: {host}: {reply.records} console(s), {reply.size} bytes", 4096)
                             + "\n")
    for _host, error in failed:
        warn(str(error))
    return EXIT_SOME_HOSTS if failed else EXIT_OK


def origin_broker(args: argparse.Namespace, choice: HostChoice | None, snap: SnapshotFile, file: str) -> HostBroker:
    """The broker of the host ``snap`` was taken on; CliError when that host is not among the chosen ones."""
    origin = snap.origin_host or LOCAL_HOST
    if origin == LOCAL_HOST and (choice is None or choice.local):
        return HostBroker(args, None)
    host = next((h for h in (choice.hosts if choice else ()) if h.name == origin), None)
    if host is None:
        names = ", ".join(choice.names) if choice else LOCAL_HOST
        raise CliError(f"{file} was taken on {origin}, which is not among the hosts ({names}):"
                       f" add --host {origin}, or name a guest with --into", EXIT_UNKNOWN)
    return HostBroker(args, host)


async def restore_on_host(args: argparse.Namespace, choice: HostChoice | None, snap: SnapshotFile,
                          into: Target | None) -> int:
    """``vconsole restore FILE [--into HOST/TARGET]`` with hosts: the file's host, or ``--into``'s.

    Everything is checked before any broker is asked: the file, the host.
    The broker then checks the rest (kinds, the console) before it changes
    anything.
    """
    broker = await broker_for(args, choice, into) if into is not None else origin_broker(args, choice, snap, args.file)
    request = RestoreRequest(into=None if into is None else into.on_host(None), inject_input=args.inject_input)
    async with connected(args, host=broker) as client:
        try:
            if broker.settings is None and client.names_files:
                reply = await client.restore(dataclasses.replace(request, path=str(Path(args.file).absolute())))
            else:
                # Sent as its broker made it: an older vconsole there knows no origin_host.
                reply = await send_restore(client, encode(dataclasses.replace(snap, origin_host=None)), request)
        except RequestFailed as exc:
            raise RequestFailed(exc.code, _on_host(broker.name, exc.message)) from None
    write_restored(reply, broker.name)
    return EXIT_OK


def write_restored(reply: RestoreReply, host: str | None) -> None:
    """The line ``restore`` prints: which consoles (on which host), and what went back."""
    where = "" if host is None else f"{host}/"
    restored = printable(", ".join(f"{where}{key}" for key in reply.restored), 2048)  # keys hold provider ids
    held = f" ({reply.held_bytes} already there)" if reply.held_bytes else ""
    sys.stdout.write(f"restored {restored}: history {reply.history_bytes} bytes{held}, "
                     f"ring {reply.ring_bytes} bytes, input {reply.input_bytes} bytes\n")
