"""Every config.toml key, documented once: ``vconsole help config`` and docs/configuration.md.

vconsole/config.py validates the file; this table says what each key is for.
tests/service/test_config_help.py holds them together (every key config.py
accepts is here, every key here is accepted with its example). The
``[providers.NAME]`` keys come from the providers' own table
(vconsole.providers.detect), which also validates them.
"""

from __future__ import annotations

from dataclasses import dataclass

from vconsole.config import (
    DEFAULT_HISTORY,
    DEFAULT_LOG_LIMIT,
    DEFAULT_LOG_SEGMENT,
    DEFAULT_LOG_TOTAL,
)
from vconsole.providers.detect import COMMON_KEYS, KEYS, REAL
from vconsole.providers.tools import DEFAULT_TIMEOUT


@dataclass(frozen=True)
class ConfigKey:
    """One key: where it lives, what it takes, its default and what it does."""

    table: str  # "broker", "log.providers", "providers.lxc"
    name: str  # NAME: a key the user names (a provider, a guest)
    takes: str
    default: str
    does: str
    example: str  # a TOML value the key accepts (tests use it)


def _size(n: int) -> str:
    """A byte count as config.toml spells it: "1MiB", "2GiB"."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f'"{n >> shift}{unit}"'
    return str(n)


# What the common [providers.NAME] keys do (their types and ranges are the providers' table).
_PROVIDER_DOES = {
    "enabled": "true: use it even if its tools are missing; false: never; unset: when its tools are found",
    "path": "where its tools are (else $PATH)",
    "timeout": "how long one of its tools may take",
    "lxcpath": "where the containers are, if not LXC's default",
    "vzctl_device": "OpenVZ's console device",
    "vttys": "consoles opened per container",
    "lock_dir": "where xl keeps its console locks",
}
_PROVIDER_DEFAULTS = {"timeout": f"{DEFAULT_TIMEOUT:g} s", "vzctl_device": "/dev/vzctl", "vttys": "2"}


KEYS_DOCUMENTED: tuple[ConfigKey, ...] = (
    ConfigKey("broker", "history", "size, 4 KiB..4 GiB", _size(DEFAULT_HISTORY),
              "each console's history kept in memory (what attach replays)", '"2MiB"'),
    ConfigKey("broker", "allow_uids", "list of uids", "[]",
              "other users (by uid) whose clients may connect", "[1000]"),
    ConfigKey("broker", "allow_groups", "list of group names or gids", "[]",
              "groups whose members may connect (the system broker also admits the vconsole group)", '["wheel"]'),
    ConfigKey("broker", "spy_groups", "list of group names or gids", "[]",
              "groups whose members may only list, read and attach read-only", '["helpdesk"]'),
    ConfigKey("lab", "enabled", "true or false", "unset",
              "true: the lab beside real providers; false: never; unset: only when no real provider is used", "true"),
    ConfigKey("lab", "fleet", "path (relative to config.toml)", "the demo fleet",
              "the lab's fleet file", '"fleet.toml"'),
    ConfigKey("client", "escape", 'key like "^]" or "^A", or "none"', '"^]"',
              "attach's escape key", '"^A"'),
    ConfigKey("client", "local", "true or false", "true",
              "with [[hosts]]: whether this machine's own broker is listed too", "false"),
    ConfigKey("log", "enabled", "true or false", "true", "keep durable console logs on disk", "false"),
    ConfigKey("log", "dir", "path (relative to config.toml)", "$XDG_STATE_HOME/vconsole/log",
              "where console logs go", '"logs"'),
    ConfigKey("log", "limit", "size", _size(DEFAULT_LOG_LIMIT),
              "per console, segments and indexes together", '"32MiB"'),
    ConfigKey("log", "total_limit", "size, up to 1 TiB", _size(DEFAULT_LOG_TOTAL),
              "the whole log directory; the oldest segments of any console go first", '"4GiB"'),
    ConfigKey("log", "segment_size", "size", _size(DEFAULT_LOG_SEGMENT), "rotation unit of a console's log", '"2MiB"'),
    ConfigKey("log.providers", "NAME", "size", "[log] limit",
              "per-console limit for one provider's guests (NAME: lxc, openvz, xen, lab)", '"64MiB"'),
    ConfigKey("log.guests", "NAME", "size", "its provider's limit",
              "per-console limit for one guest (NAME: a guest name or provider:id)", '"64MiB"'),
    ConfigKey("events", "builtin_watches", "true or false", "true",
              "watch every console for the built-in kernel signatures (panic, Oops, OOM, ...)", "false"),
    *(
        ConfigKey(f"providers.{provider}", key, what, _PROVIDER_DEFAULTS.get(key, ""), _PROVIDER_DOES[key], "")
        for provider in REAL
        for key, (_kind, what) in {**COMMON_KEYS, **KEYS[provider]}.items()
    ),
)

WATCHES_NOTE = (
    "[[watches]]: your own watches (name, regex, severity, guests, consoles, ignore; or silence/activity"
    " in seconds) over every console's output (README, \"Events and watches\")."
    " [[hosts]]: other hosts reached over ssh (name, ssh, ssh_options, command; README, \"Many hosts over SSH\")."
)


def render_text() -> str:
    """The keys as ``vconsole help config`` prints them."""
    lines = ["config.toml ($XDG_CONFIG_HOME/vconsole/config.toml): every key is optional.", ""]
    table = None
    for key in KEYS_DOCUMENTED:
        if key.table != table:
            table = key.table
            lines += [f"[{table}]"] if table == KEYS_DOCUMENTED[0].table else ["", f"[{table}]"]
        default = f"; default {key.default}" if key.default else ""
        lines.append(f"  {key.name} = {key.takes}{default}")
        lines.append(f"      {key.does}")
    lines += ["", WATCHES_NOTE, ""]
    return "\n".join(lines)


def render_markdown() -> str:
    """The keys as docs/configuration.md holds them."""
    lines = [
        "# config.toml",
        "",
        "Generated by `vconsole help config --markdown` from vconsole/cli/config_keys.py;",
        "`$XDG_CONFIG_HOME/vconsole/config.toml`, every key optional.",
        "",
        "| key | takes | default | what it does |",
        "|---|---|---|---|",
    ]
    for key in KEYS_DOCUMENTED:
        cells = (f"`{key.table}.{key.name}`", key.takes, key.default or "-", key.does)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", WATCHES_NOTE, ""]
    return "\n".join(lines)
