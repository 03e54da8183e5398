"""The user's configuration file, ``$XDG_CONFIG_HOME/vconsole/config.toml``.

Every key is optional; a bad file, an unknown key or a bad value is a
ConfigError with a one-line message naming the file and the key, never a
traceback. Clients check the file before they start a daemon that reads it.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vconsole.runtime_paths import RuntimePaths, SystemLayout, config_dir

DEFAULT_HISTORY = 1 << 20
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
TABLES = ("broker", "lab", "client", "providers", "log", "watches", "events", "hosts")
DEFAULT_LOG_LIMIT = 16 << 20
DEFAULT_LOG_TOTAL = 2 << 30
DEFAULT_LOG_SEGMENT = 1 << 20


class ConfigError(Exception):
    """The configuration file is unreadable, has an unknown key or a value out of range."""


def check_keys(
    table: dict[str, Any],
    known: Iterable[str],
    where: str,
    prefix: str = "",
    error: type[ConfigError] = ConfigError,
) -> None:
    """Refuse a key of ``table`` that is not in ``known``, suggesting the nearest one.

    ``prefix`` names the table in the message (``"broker."``); ``error`` is
    the ConfigError subclass to raise.
    """
    names = list(known)
    for key in table:
        if key in names:
            continue
        close = difflib.get_close_matches(key, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(names)})"
        raise error(f"{where}: {prefix}{key} is not a setting{hint}")


def parse_size(value: object, key: str, most: int = 1 << 32) -> int:
    """An int, or a string like ``"1MiB"`` / ``"64K"``, as a byte count (4 KiB .. ``most``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        size = int(m.group(1)) * _UNITS[(m.group(2) or "")[:1].upper()]
    else:
        raise ConfigError(f"{key}: expected a size like 1048576 or \"1MiB\", got {value!r}")
    if not 4096 <= size <= most:
        raise ConfigError(f"{key}: size {size} is outside 4 KiB..{most >> 30} GiB")
    return size


@dataclass
class LogSettings:
    """The ``[log]`` table: where console logs go and how much they may keep."""

    enabled: bool = True
    dir: Path | None = None  # None: vconsole.consolelog.layout.default_log_root(socket)
    limit: int = DEFAULT_LOG_LIMIT  # per console
    total_limit: int = DEFAULT_LOG_TOTAL  # the whole directory
    segment_size: int = DEFAULT_LOG_SEGMENT
    # Per-console limits by provider name, and by guest (name or provider:id).
    providers: dict[str, int] = field(default_factory=dict)
    guests: dict[str, int] = field(default_factory=dict)

    def limit_for(self, provider: str, guest_id: str, guest_name: str) -> int:
        """The per-console limit of one guest's consoles: guest, then provider, then default."""
        for name in (f"{provider}:{guest_id}", guest_name, guest_id):
            if name in self.guests:
                return self.guests[name]
        return self.providers.get(provider, self.limit)

    @classmethod
    def from_table(cls, table: dict[str, Any], where: str) -> LogSettings:
        """Validate a ``[log]`` table."""
        check_keys(
            table,
            ("enabled", "dir", "limit", "total_limit", "segment_size", "providers", "guests"),
            where,
            "log.",
        )
        out = cls()
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}: log.enabled must be true or false")
        out.enabled = enabled
        if "dir" in table:
            if not isinstance(table["dir"], str) or not table["dir"]:
                raise ConfigError(f"{where}: log.dir must be a path")
            out.dir = Path(table["dir"]).expanduser()
        if "limit" in table:
            out.limit = parse_size(table["limit"], f"{where}: log.limit")
        if "total_limit" in table:
            out.total_limit = parse_size(table["total_limit"], f"{where}: log.total_limit", 1 << 40)
        if "segment_size" in table:
            out.segment_size = parse_size(table["segment_size"], f"{where}: log.segment_size")
        for name in ("providers", "guests"):
            sub = table.get(name, {})
            if not isinstance(sub, dict):
                raise ConfigError(f"{where}: [log.{name}] must be a table")
            sizes = {k: parse_size(v, f"{where}: log.{name}.{k}") for k, v in sub.items()}
            setattr(out, name, sizes)
        return out


# A host's name, as targets spell it (``h1/web``): no ``/``, ``:`` or spaces.
_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
LOCAL_HOST = "local"  # the name of this machine's own broker among hosts


@dataclass(frozen=True)
class HostSettings:
    """One ``[[hosts]]`` table (or ``--host DEST``): a host reached by ``ssh DEST COMMAND bridge``."""

    name: str  # how targets name it: NAME/guest
    ssh: str  # anything ssh accepts as a destination: admin@h1, an alias of ~/.ssh/config
    ssh_options: tuple[str, ...] = ()
    command: str = "vconsole"  # the remote vconsole, as a shell command line

    @classmethod
    def from_destination(cls, destination: str, where: str = "--host") -> HostSettings:
        """A host given only by its ssh destination: named after the part after ``user@``."""
        _check_destination(destination, where)
        return cls(_host_name(destination.rpartition("@")[2], f"{where} {destination!r}"), destination)

    @classmethod
    def from_table(cls, table: object, file: str, index: int) -> HostSettings:
        """Validate the ``index``-th ``[[hosts]]`` table of ``file``."""
        where = f"{file}: hosts[{index}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table ([[hosts]])")
        check_keys(table, ("name", "ssh", "ssh_options", "command"), file, f"hosts[{index}].")
        ssh = table.get("ssh")
        if not isinstance(ssh, str):
            raise ConfigError(f"{where}.ssh must be an ssh destination like \"admin@h1\"")
        _check_destination(ssh, f"{where}.ssh")
        name = table.get("name", ssh.rpartition("@")[2])
        if not isinstance(name, str):
            raise ConfigError(f"{where}.name must be a string")
        options = table.get("ssh_options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) and o for o in options):
            raise ConfigError(f"{where}.ssh_options must be a list of ssh arguments like [\"-p\", \"2222\"]")
        command = table.get("command", "vconsole")
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(f"{where}.command must be the remote vconsole's command line")
        return cls(_host_name(name, f"{where}.name"), ssh, tuple(options), command)


def _check_destination(destination: str, where: str) -> None:
    # A destination starting with "-" would be read by ssh as an option.
    if not destination or destination.startswith("-") or any(c.isspace() for c in destination):
        raise ConfigError(f"{where}: {destination!r} is not an ssh destination")


def _host_name(name: str, where: str) -> str:
    if not _HOST_NAME.match(name):
        raise ConfigError(f"{where}: {name!r} is not a host name (letters, digits, '.', '_', '-'; set name)")
    if name == LOCAL_HOST:
        raise ConfigError(f"{where}: {name!r} is this machine's own broker; name the host otherwise")
    return name


def parse_hosts(raw: object, where: str) -> list[HostSettings]:
    """The ``[[hosts]]`` array: each table checked, names unique."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: hosts must be [[hosts]] tables")
    hosts: list[HostSettings] = []
    for i, table in enumerate(raw):
        host = HostSettings.from_table(table, where, i)
        if any(h.name == host.name for h in hosts):
            raise ConfigError(f"{where}: hosts[{i}].name: {host.name!r} is the name of another host too")
        hosts.append(host)
    return hosts


@dataclass
class Config:
    """Settings for the broker, the lab and the clients."""

    history_cap: int = DEFAULT_HISTORY
    allow_uids: list[int] = field(default_factory=list)
    # Groups (names or gids) whose members may use this broker, and those who may only watch.
    allow_groups: list[str | int] = field(default_factory=list)
    spy_groups: list[str | int] = field(default_factory=list)
    # None: the lab runs only when no real provider is enabled or detected.
    lab_enabled: bool | None = None
    lab_fleet: Path | None = None
    escape: str = "^]"
    # [[hosts]]: other hosts' brokers over ssh; ``show_local``: this machine's broker is listed too.
    hosts: list[HostSettings] = field(default_factory=list)
    show_local: bool = True
    # [providers.NAME] tables (lxc, openvz, xen), kept as data: the providers know
    # their own settings, so vconsole.providers.detect checks them (config is a leaf).
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: LogSettings = field(default_factory=LogSettings)
    # The [[watches]] array as written: vconsole.watches parses it (a bad watch is
    # skipped with a one-line error, never the whole file refused).
    watches: Any = None
    # [events] builtin_watches: false turns the built-in signatures off (user watches stay).
    builtin_watches: bool = True
    # Where the settings came from, for error messages ("config" when built in code).
    source: str = "config"

    def chooses_providers(self) -> bool:
        """Whether the file says which providers to use (else they follow the host's tools)."""
        return self.lab_enabled is not None or any(
            table.get("enabled") is not None for table in self.providers.values()
        )

    @classmethod
    def load(cls, path: Path | None = None) -> Config:
        """Read ``path`` (default: the user's config.toml); a missing file means defaults."""
        path = path or config_dir() / "config.toml"
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        cfg = cls.from_dict(raw, str(path))
        if cfg.lab_fleet is not None:
            # Relative to the file that names it, not to whichever directory a daemon runs in.
            cfg.lab_fleet = path.parent / cfg.lab_fleet
            _check_file(cfg.lab_fleet, f"{path}: lab.fleet")
        if cfg.log.dir is not None:
            cfg.log.dir = path.parent / cfg.log.dir
        return cfg

    @classmethod
    def for_broker(cls, paths: RuntimePaths) -> Config:
        """The configuration the broker on ``paths`` reads: /etc/vconsole/config.toml for the system broker."""
        return cls.load(SystemLayout.current().config_file if paths.system else None)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "config") -> Config:
        """Validate a parsed TOML document."""
        cfg = cls(source=where)
        check_keys(raw, TABLES, where)
        broker = _table(raw, "broker", where)
        check_keys(broker, ("history", "allow_uids", "allow_groups", "spy_groups"), where, "broker.")
        if "history" in broker:
            cfg.history_cap = parse_size(broker["history"], f"{where}: broker.history")
        uids = broker.get("allow_uids", [])
        if not isinstance(uids, list) or not all(
            isinstance(u, int) and not isinstance(u, bool) and u >= 0 for u in uids
        ):
            raise ConfigError(f"{where}: broker.allow_uids must be a list of uids")
        cfg.allow_uids = list(uids)
        for key in ("allow_groups", "spy_groups"):
            groups = broker.get(key, [])
            if not isinstance(groups, list) or not all(
                (isinstance(g, str) and g) or (isinstance(g, int) and not isinstance(g, bool) and g >= 0)
                for g in groups
            ):
                raise ConfigError(f"{where}: broker.{key} must be a list of group names or gids")
            setattr(cfg, key, list(groups))
        lab = _table(raw, "lab", where)
        check_keys(lab, ("enabled", "fleet"), where, "lab.")
        enabled = lab.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise ConfigError(f"{where}: lab.enabled must be true or false")
        cfg.lab_enabled = enabled
        if "fleet" in lab:
            if not isinstance(lab["fleet"], str) or not lab["fleet"]:
                raise ConfigError(f"{where}: lab.fleet must be a path")
            cfg.lab_fleet = Path(lab["fleet"]).expanduser()
        client = _table(raw, "client", where)
        check_keys(client, ("escape", "local"), where, "client.")
        if "escape" in client:
            if not isinstance(client["escape"], str):
                raise ConfigError(f"{where}: client.escape must be a string like \"^]\"")
            cfg.escape = client["escape"]
        if not isinstance(client.get("local", True), bool):
            raise ConfigError(f"{where}: client.local must be true or false")
        cfg.show_local = client.get("local", True)
        cfg.hosts = parse_hosts(raw.get("hosts"), where)
        providers = _table(raw, "providers", where)
        for name, table in providers.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{where}: [providers.{name}] must be a table")
        cfg.providers = {name: dict(table) for name, table in providers.items()}
        cfg.log = LogSettings.from_table(_table(raw, "log", where), where)
        cfg.watches = raw.get("watches")
        events = _table(raw, "events", where)
        check_keys(events, ("builtin_watches",), where, "events.")
        builtin = events.get("builtin_watches", True)
        if not isinstance(builtin, bool):
            raise ConfigError(f"{where}: events.builtin_watches must be true or false")
        cfg.builtin_watches = builtin
        return cfg


def _check_file(path: Path, what: str) -> None:
    """A file a setting names must be a readable regular file."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"{what}: {path}: {exc.strerror}") from None


def _table(raw: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    return value
