"""``vconsole snapshot``, ``vconsole restore`` and ``vconsole show``.

Snapshots are written and read by the broker at a path this command names
when the broker runs as our uid; a broker of another uid (the system broker,
for its members) and another host's (cli/host_snapshots.py) send them through
the connection instead, and they are written and read here
(vconsole/snapshot_transfer.py); ``show`` needs no broker at all. Errors are one line
and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vconsole.config import LOCAL_HOST
from vconsole.display_text import printable
from vconsole.domain import TARGET_FORMS
from vconsole.runtime_paths import default_snapshot_path

if TYPE_CHECKING:
    from vconsole.snapshot.model import SnapshotFile

COMMANDS = ("snapshot", "restore", "show")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the three subcommands to the ``vconsole`` parser."""
    snap = sub.add_parser("snapshot", parents=[common], help="save consoles' buffered data to a .vcsnap file")
    snap.add_argument("target", metavar="TARGET[:N]", nargs="?", help=TARGET_FORMS)
    snap.add_argument("--all", action="store_true", help="every console of every guest (of every chosen host)")
    snap.add_argument("-o", "--output", metavar="FILE",
                      help="where to write (default: the state directory; with several hosts, a directory)")
    snap.add_argument("--json", action="store_true", help="machine-readable result, with what was not captured")
    restore = sub.add_parser("restore", parents=[common], help="restore a .vcsnap file into live consoles")
    restore.add_argument("file", metavar="FILE")
    restore.add_argument("--into", metavar="TARGET[:N]",
                         help="restore into another guest of the same kind (HOST/ names another host's)")
    restore.add_argument("--inject-input", action="store_true", help="re-type the input the guest had not read")
    show = sub.add_parser("show", help="view a .vcsnap file in the TUI (read-only, no broker needed)")
    show.add_argument("file", metavar="FILE")
    show.add_argument("--theme", default=argparse.SUPPRESS, help="TUI theme")


async def cmd_snapshot(args: argparse.Namespace) -> int:
    """``vconsole snapshot TARGET[:N] | --all [-o FILE]``; with hosts, cli/host_snapshots.py."""
    import sys

    from vconsole.cli.commands import connected, target_arg
    from vconsole.cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
    from vconsole.cli.host_snapshots import written_here
    from vconsole.cli.hosts import chosen_hosts, this_host_only

    if bool(args.target) == bool(args.all):
        raise CliError("give a TARGET[:N] or --all (not both)", EXIT_USAGE)
    target = None if args.all else target_arg(args.target)
    choice = chosen_hosts(args)
    if choice is not None or (target is not None and target.host not in (None, LOCAL_HOST)):
        from vconsole.cli.host_snapshots import snapshot_hosts

        return await snapshot_hosts(args, choice, target)
    targets = None if target is None else [this_host_only(target, "snapshot")]
    label = "all" if args.all else args.target
    out = Path(args.output) if args.output else default_snapshot_path(label)
    out = out.absolute()
    if not args.output:
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    async with connected(args) as client:
        if client.names_files:
            reply = await client.snapshot(targets, str(out))
        else:
            reply = await written_here(client, targets, out, None)
    for item in reply.not_captured:  # the reason may quote a provider's tool: no control characters reach the terminal
        sys.stderr.write(printable(item.message, 1024) + "\n")
    if args.json:
        sys.stdout.write(json.dumps(reply.summary(), indent=2) + "\n")
    else:
        sys.stdout.write(f"{printable(str(out), 4096)}: {reply.records} console(s), {reply.size} bytes\n")
    return EXIT_OK


def load_file(path: str) -> SnapshotFile:
    """Read and validate a snapshot file locally; CliError with the reason if refused.

    A file that cannot be read is a bad argument (EXIT_USAGE); one that is
    read and refused (corrupt, truncated, too large) is EXIT_BAD_SNAPSHOT.
    """
    from vconsole.cli.exit_codes import EXIT_BAD_SNAPSHOT, EXIT_USAGE, CliError
    from vconsole.snapshot.decode import decode
    from vconsole.snapshot.model import MAX_FILE, SnapshotError, SnapshotUnreadable
    from vconsole.snapshot.stream import read_snapshot_file

    try:
        data = read_snapshot_file(path, MAX_FILE)  # one buffer of the file's size
    except SnapshotUnreadable as exc:  # the message starts with the path
        raise CliError(str(exc), EXIT_USAGE) from None
    except SnapshotError as exc:  # too large
        raise CliError(str(exc), EXIT_BAD_SNAPSHOT) from None
    try:
        return decode(data)
    except SnapshotError as exc:
        raise CliError(f"{path}: refused: {exc}", EXIT_BAD_SNAPSHOT) from None


async def cmd_restore(args: argparse.Namespace) -> int:
    """``vconsole restore FILE [--into TARGET[:N]] [--inject-input]``; with hosts, cli/host_snapshots.py."""
    from vconsole.cli.commands import connected, target_arg
    from vconsole.cli.exit_codes import EXIT_OK
    from vconsole.cli.host_snapshots import restore_on_host, write_restored
    from vconsole.cli.hosts import chosen_hosts
    from vconsole.protocol_snapshots import RestoreRequest
    from vconsole.snapshot.encode import encode
    from vconsole.snapshot_transfer import send_restore

    snap = load_file(args.file)  # refuse a bad file before bothering the broker
    into = target_arg(args.into) if args.into else None
    choice = chosen_hosts(args)
    if choice is not None or snap.origin_host is not None or (into is not None and into.host is not None):
        return await restore_on_host(args, choice, snap, into)
    request = RestoreRequest(into=into, inject_input=args.inject_input)
    async with connected(args) as client:
        if client.names_files:
            reply = await client.restore(dataclasses.replace(request, path=os.path.abspath(args.file)))
        else:
            reply = await send_restore(client, encode(snap), request)
    write_restored(reply, None)
    return EXIT_OK


async def cmd_show(args: argparse.Namespace) -> int:
    """``vconsole show FILE``: the snapshot in a read-only TUI."""
    from vconsole.cli.exit_codes import EXIT_OK
    from vconsole.tui.snapshot_view import SnapshotViewerApp

    snap = load_file(args.file)
    host = "" if snap.origin_host is None else f" (from host {printable(snap.origin_host)})"
    title = os.path.basename(args.file) + host
    await SnapshotViewerApp(snap, title=title, theme=getattr(args, "theme", None)).run_async()
    return EXIT_OK
