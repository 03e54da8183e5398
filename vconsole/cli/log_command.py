"""``vconsole log``: a console's log, read from its files with or without a broker.

Reading never starts a broker and never locks or writes anything: targets
are found from each console log's ``meta.json``. ``--follow`` then goes on
through the broker (started if needed, as ``attach`` does) with a LOG
attachment, which never counts as reading (see log_follow.py).

Text output is for people: escape sequences stripped, every string from a
guest spelt safe by ``printable``. ``--raw`` writes the bytes as the guest
wrote them; ``--json`` writes one JSON object per line for log pipelines.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from vconsole.cli.exit_codes import EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, CliError
from vconsole.cli.hosts import run_there, this_host_only
from vconsole.config import Config
from vconsole.consolelog.layout import LogMeta, console_dir, log_root
from vconsole.consolelog.lines import LineRun, LogLine, iso_time, json_line
from vconsole.consolelog.reader import ConsoleLog, console_logs
from vconsole.consolelog.reading import shown_lines
from vconsole.consolelog.selection import BootNotHeld, LineQuery, last_lines, merged, select_runs
from vconsole.consolelog.timespec import TimeSpecError, parse_time
from vconsole.display_text import printable
from vconsole.domain import Target, TargetSyntaxError, parse_target
from vconsole.runtime_paths import RuntimePaths

COMMANDS = ("log",)
MAX_LISTED = 12  # guests named in an "unknown guest" error


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``log`` to the ``vconsole`` parser."""
    log = sub.add_parser(
        "log", parents=[common], help="print a console's log (works with the broker stopped)",
        description="Print a console's log from its files; --follow goes on through the broker.",
    )
    log.add_argument("target", metavar="TARGET", nargs="?", help="NAME, NAME:N, provider:id or provider:id:N")
    log.add_argument("console", metavar="N", nargs="?", help="console number or name (default: the first)")
    log.add_argument("--since", metavar="TIME", help="from TIME: 10m, 2h, 1d (ago), 2026-12-06T07:00, 07:00, @EPOCH, today")
    log.add_argument("--until", metavar="TIME", help="up to (not including) TIME, same forms as --since")
    log.add_argument(
        "-b", "--boot", nargs="?", const="0", metavar="K",
        help="one boot: 0 or nothing the latest, -1 the one before, K>0 boot number K (1 the first)",
    )
    log.add_argument("-n", "--lines", type=_count, metavar="N", help="only the last N lines")
    log.add_argument("--from-start", action="store_true", help="the whole log (the default)")
    log.add_argument("-f", "--follow", action="store_true", help="keep printing new output (through the broker, read-only)")
    log.add_argument("-t", "--timestamps", action="store_true", help="prefix each line with its arrival time")
    log.add_argument("--utc", action="store_true", help="times in UTC (printed and parsed), not local time")
    out = log.add_mutually_exclusive_group()
    out.add_argument("--raw", action="store_true", help="the bytes as the guest wrote them, escape sequences included")
    out.add_argument("--json", action="store_true", help="JSON lines: time, ts, host, guest, console, boot, offset, text")
    log.add_argument("--all", action="store_true", help="every console, merged by time")


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of lines (0 or more)")
    return int(text)


class OutputMode(StrEnum):
    """How lines are written."""

    TEXT = "text"
    RAW = "raw"
    JSON = "json"


# Output is written in blocks of about this many bytes: a write(2) per line or per
# read would cost more than making the text.
OUT_BLOCK = 256 * 1024


@dataclass
class _Console:
    """What the printer keeps of a console it has printed lines of."""

    meta: LogMeta
    prefix: str  # its label and a space (--all), or nothing
    boot: int | None = None  # the boot of its last line


@dataclass
class LinePrinter:
    """Writes lines to ``out`` as the options ask; tells boots apart in text mode.

    Output is held in blocks of OUT_BLOCK bytes: :meth:`flush` when done.
    """

    out: BinaryIO
    mode: OutputMode
    timestamps: bool = False
    utc: bool = False
    labelled: bool = False  # --all: "guest:console " before each text line
    # By the id of a console's meta (its hash costs more than the rest of a run): the meta kept
    # with it, so the id stays its own.
    _consoles: dict[int, _Console] = field(default_factory=dict, repr=False)
    _held: list[bytes] = field(default_factory=list, repr=False)
    _held_size: int = 0

    def write(self, line: LogLine, meta: LogMeta) -> None:
        """One line (a missing newline added, except in --raw)."""
        self.write_run(LineRun(line.time, 0, line.offset, line.boot, line.raw), meta)

    def write_run(self, run: LineRun, meta: LogMeta) -> None:
        """A run of lines, each as :meth:`write` writes it."""
        if self.mode is OutputMode.TEXT:
            data = self._text(run, meta)
        elif self.mode is OutputMode.RAW:
            data = run.raw
        else:
            data = "".join([json_line(line, meta) + "\n" for line in run.lines()]).encode()
        self._held.append(data)
        self._held_size += len(data)
        if self._held_size >= OUT_BLOCK:
            self._write_held()

    def _text(self, run: LineRun, meta: LogMeta) -> bytes:
        console = self._consoles.get(id(meta))
        if console is None or console.meta is not meta:
            console = self._consoles[id(meta)] = _Console(meta, label(meta) + " " if self.labelled else "")
        header = b""
        if not self.labelled and console.boot != run.boot:
            if console.boot is not None:
                header = b"-- boot %d --\n" % run.boot
            console.boot = run.boot
        prefix = iso_time(run.time, self.utc) + " " + console.prefix if self.timestamps else console.prefix
        return header + shown_lines(run.raw, prefix)

    def _write_held(self) -> None:
        held = self._held
        self._held, self._held_size = [], 0
        self.out.write(b"".join(held))

    def flush(self) -> None:
        """Everything written so far, out."""
        self._write_held()
        self.out.flush()


def label(meta: LogMeta) -> str:
    """``guest:console`` as --all prefixes lines (a target ``vconsole log`` takes), safe to show."""
    return printable(f"{meta.guest_name}:{meta.console}")


@dataclass(frozen=True)
class Request:
    """The command line, checked."""

    target: Target | None
    query: LineQuery
    printer: LinePrinter


def _checked(args: argparse.Namespace) -> Request:
    """The options, or a one-line usage error (exit 2)."""
    target_text, console = args.target, args.console
    boot: int | None = None
    if args.boot is not None:
        try:
            boot = int(args.boot)
        except ValueError:
            # "--boot web": the optional K took the target (journalctl reads it alike).
            if console is not None:
                raise CliError(f"--boot {args.boot!r}: K must be a number like 0, -1 or 3", EXIT_USAGE) from None
            target_text, console, boot = args.boot, target_text, 0
    if args.all and target_text is not None:
        raise CliError("give a TARGET or --all, not both", EXIT_USAGE)
    if not args.all and target_text is None:
        raise CliError("give a TARGET (NAME, NAME:N, provider:id[:N]) or --all", EXIT_USAGE)
    if args.raw and (args.all or args.timestamps):
        raise CliError("--raw writes one console's bytes as they are: not with --all or --timestamps", EXIT_USAGE)
    if args.from_start and args.lines is not None:
        raise CliError("--from-start and --lines N ask for different ends: give one", EXIT_USAGE)
    if args.follow and (args.until is not None or (boot is not None and boot != 0)):
        raise CliError("--follow shows new output: not with --until or an older --boot", EXIT_USAGE)
    try:
        target = None if target_text is None else this_host_only(parse_target(target_text, console), "log")
    except TargetSyntaxError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    since, until = (_time_option(name, text, args.utc) for name, text in (("--since", args.since), ("--until", args.until)))
    mode = OutputMode.RAW if args.raw else OutputMode.JSON if args.json else OutputMode.TEXT
    printer = LinePrinter(sys.stdout.buffer, mode, args.timestamps, args.utc, labelled=args.all)
    return Request(target, LineQuery(since, until, boot, args.lines), printer)


def _time_option(name: str, text: str | None, utc: bool) -> float | None:
    try:
        return None if text is None else parse_time(text, utc=utc)
    except TimeSpecError as exc:
        raise CliError(f"{name}: {exc}", EXIT_USAGE) from None


def log_directory(args: argparse.Namespace) -> Path:
    """The log root of the broker on ``--socket`` (or VCONSOLE_SOCKET, or the default one)."""
    paths = RuntimePaths.resolve(args.socket)
    return log_root(paths.socket, Config.for_broker(paths).log.dir)


def readable_logs(root: Path) -> list[ConsoleLog]:
    """Every console log under ``root`` that says what it is of; none is an error (exit 4)."""
    logs = [log for log in console_logs(root) if log.meta is not None] if root.is_dir() else []
    if not logs:
        raise CliError(f"no console logs in {root}", EXIT_UNKNOWN)
    return logs


def resolve(logs: list[ConsoleLog], target: Target, root: Path) -> ConsoleLog:
    """The log of the console ``target`` names, found as the broker would find the console."""
    guests: dict[tuple[str, str], list[ConsoleLog]] = {}
    for log in logs:
        assert log.meta is not None
        guests.setdefault((log.meta.provider, log.meta.guest_id), []).append(log)
    matches = [
        key for key, group in guests.items()
        if target.provider in (None, key[0]) and any(target.guest in (g.guest_id, g.guest_name) for g in _metas(group))
    ]
    if not matches:
        names = sorted({m.guest_name for m in _metas(logs)})
        more = ", …" if len(names) > MAX_LISTED else ""
        raise CliError(
            f"no log of a guest {target.guest_ref!r} in {root} (logs of: {', '.join(names[:MAX_LISTED])}{more})",
            EXIT_UNKNOWN,
        )
    if len(matches) > 1:
        where = ", ".join(f"{provider}:{guest_id}" for provider, guest_id in matches)
        raise CliError(f"{target.guest_ref!r} matches several guests: {where} (name one of them)", EXIT_UNKNOWN)
    consoles = sorted(guests[matches[0]], key=lambda log: log.meta.index if log.meta else 0)
    if target.console is None:
        return consoles[0]
    for log in consoles:
        assert log.meta is not None
        if target.console in (log.meta.index, log.meta.console, str(log.meta.index)):
            return log
    held = ", ".join(f"{m.index} {m.console}" for m in _metas(consoles))
    raise CliError(f"no log of {target} (consoles with a log: {held})", EXIT_UNKNOWN)


def _metas(logs: list[ConsoleLog]) -> Iterator[LogMeta]:
    return (log.meta for log in logs if log.meta is not None)


async def cmd_log(args: argparse.Namespace) -> int:
    """``vconsole log TARGET [N] | --all``: print the log, then maybe follow it."""
    there = await run_there(args, "log")  # another host's target: run there over ssh
    if there is not None:
        return there
    request = _checked(args)
    root = log_directory(args)
    logs = readable_logs(root)
    chosen = logs if request.target is None else [resolve(logs, request.target, root)]
    printer = request.printer
    try:
        pending = _print_files(chosen, request, follow=args.follow)
        if args.follow:
            from vconsole.cli.log_follow import FollowedLog, follow

            printer.flush()
            followed = [
                FollowedLog(log.meta, console_dir(root, log.meta.key), log.end, pending.get(log.meta))
                for log in chosen if log.meta is not None
            ]
            return await follow(args, followed, printer)
        printer.flush()
    except BrokenPipeError:
        reader_gone()
    return EXIT_OK


def reader_gone() -> None:
    """Whoever read our output has gone (``| head``): nothing more to write, nor to flush at exit."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_files(logs: list[ConsoleLog], request: Request, *, follow: bool) -> dict[LogMeta, LogLine]:
    """Print what the files hold; returns the unfinished last line of each log when following.

    That line goes on with the followed output and is printed once complete.
    """
    query = request.query
    streams: list[Iterator[LineRun]] = []
    metas: list[LogMeta] = []
    for log in logs:
        try:
            streams.append(select_runs(log, query, source=len(streams)))
        except BootNotHeld as exc:
            if len(logs) == 1:
                raise CliError(f"{_name(log)}: {exc}", EXIT_UNKNOWN) from None
            continue  # --all: consoles without that boot show nothing
        assert log.meta is not None
        metas.append(log.meta)
    ends = {log.meta: log.end for log in logs if log.meta is not None}
    runs = merged(streams)
    if query.last is not None and len(streams) > 1:
        runs = iter(last_lines(runs, query.last)[0])
    pending: dict[LogMeta, LogLine] = {}
    printer = request.printer
    for run in runs:
        meta = metas[run.source]
        if follow and not run.complete and run.end == ends[meta]:
            head, pending[meta] = run.split_last()  # printed when the followed output completes it
            if head is None:
                continue
            run = head
        printer.write_run(run, meta)
    return pending


def _name(log: ConsoleLog) -> str:
    return label(log.meta) if log.meta is not None else "?"
