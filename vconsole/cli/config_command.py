"""``vconsole config check [FILE]``: validate a configuration and print the one in effect.

FILE defaults to the file the broker this command would talk to reads
(/etc/vconsole/config.toml for the system broker, else the user's). Every
error is one line and exit 2, as a broker start or a reload would refuse it;
a bad ``[[watches]]`` entry, which a starting broker only skips, is an error
here too. On success the effective settings (defaults filled in) are
printed as TOML, so an admin sees what a reload would apply.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vconsole.cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from vconsole.config import Config, ConfigError, LogSettings
from vconsole.display_text import printable
from vconsole.runtime_paths import RuntimePaths, SystemLayout, config_dir

COMMANDS = ("config",)


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``config check`` to the ``vconsole`` parser."""
    config = sub.add_parser("config", parents=[common], help="check a configuration file")
    actions = config.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    check = actions.add_parser("check", parents=[common], help="validate a config.toml and print the settings in effect")
    check.add_argument("file", metavar="FILE", nargs="?", help="default: the file the broker reads")


def _default_file(args: argparse.Namespace) -> Path:
    if RuntimePaths.resolve(args.socket).system:
        return SystemLayout.current().config_file
    return config_dir() / "config.toml"


async def cmd_config(args: argparse.Namespace) -> int:
    """``vconsole config check [FILE]``."""
    # Loaded when this command runs, not for every `vconsole` (start-up time).
    from vconsole.cli.config_check import check_config
    from vconsole.watches.signatures import BUILTIN, parse_watches

    path = Path(args.file) if args.file else _default_file(args)
    if args.file and not path.is_file():
        raise CliError(f"{path}: no such file", EXIT_USAGE)
    try:
        config = Config.load(path)
        check_config(config)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    watches = parse_watches(config.watches, str(path))
    if watches.errors:
        for error in watches.errors[1:]:
            sys.stderr.write(f"vconsole: {printable(error, 2048)}\n")
        raise CliError(watches.errors[0], EXIT_USAGE)
    where = str(path) if path.is_file() else f"{path} (absent: the defaults)"
    sys.stdout.write(f"# {printable(where, 2048)}: valid\n{render_effective(config)}")
    names = ", ".join([w.name for w in (*BUILTIN, *watches.watches)] + [q.name for q in watches.quiet])
    sys.stdout.write(f"# watches in effect: {printable(names, 4096)}\n")
    return EXIT_OK


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def _table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"]
    for key, value in values.items():
        lines.append(f"# {key} = (not set: {value[1]})" if isinstance(value, tuple) else f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def render_effective(config: Config) -> str:
    """The settings in effect as TOML (unset optional keys as comments saying what happens)."""
    log: LogSettings = config.log
    out = [
        _table("broker", {"history": config.history_cap, "allow_uids": config.allow_uids,
                          "allow_groups": config.allow_groups, "spy_groups": config.spy_groups}),
        _table("lab", {
            "enabled": config.lab_enabled if config.lab_enabled is not None
            else (None, "the lab runs when no real provider is enabled or found"),
            "fleet": config.lab_fleet if config.lab_fleet is not None else (None, "the demo fleet"),
        }),
        _table("client", {"escape": config.escape}),
        _table("events", {"builtin_watches": config.builtin_watches}),
        _table("log", {
            "enabled": log.enabled,
            "dir": log.dir if log.dir is not None else (None, "beside the broker's state"),
            "limit": log.limit, "total_limit": log.total_limit, "segment_size": log.segment_size,
        }),
    ]
    for name, sizes in (("log.providers", log.providers), ("log.guests", log.guests)):
        if sizes:
            out.append(_table(name, dict(sizes)))
    for name, table in sorted(config.providers.items()):
        out.append(_table(f"providers.{name}", dict(table)))
    return "\n".join(out)
