"""The lab's fleet file: which containers and domUs the simulated host runs.

Unknown keys are errors (with the nearest known key), as in config.toml, so a
typo never silently means a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vconsole.config import Config, ConfigError, check_keys

MAX_NR_VTTY_CONSOLES = 12  # as in the Virtuozzo kernel's drivers/tty/pty.c
DEMO_DIR = Path(__file__).with_name("demo")
DEFAULT_FLEET = DEMO_DIR / "fleet.toml"
FRONTENDS = ("flag-aware", "legacy")
TOP_KEYS = ("host", "container", "domu")
COMMON_KEYS = ("id", "name", "autostart", "env")
CONTAINER_KEYS = (*COMMON_KEYS, "vttys", "init", "login")
DOMU_KEYS = (*COMMON_KEYS, "program", "frontend")


class FleetError(ConfigError):
    """The fleet file is unreadable, has an unknown key or describes an impossible guest."""


def check_named_fleet(config: Config) -> None:
    """Load the fleet file ``config`` names, so its errors show before a daemon that needs it starts."""
    if config.lab_fleet is not None:
        Fleet.load(config.lab_fleet)


@dataclass
class ContainerSpec:
    """A lab container: vtty 0 runs ``init``, vtty 1..N a login shell on first open."""

    id: str
    name: str
    vttys: int
    init: list[str]
    login: list[str]
    autostart: bool = True
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class DomUSpec:
    """A lab Xen domU: its PV console 0 is a xencons ring served by a frontend."""

    id: str
    name: str
    program: list[str]
    frontend: str = "flag-aware"
    autostart: bool = True
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Fleet:
    """The whole simulated host."""

    host: str
    containers: list[ContainerSpec]
    domus: list[DomUSpec]

    @classmethod
    def load(cls, path: Path | None = None) -> Fleet:
        """Parse a fleet file (the shipped demo fleet by default)."""
        path = path or DEFAULT_FLEET
        try:
            raw = tomllib.loads(path.read_text())
        except OSError as exc:
            raise FleetError(f"{path}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise FleetError(f"{path}: {exc}") from None
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str) -> Fleet:
        """Validate a parsed fleet document."""
        check_keys(raw, TOP_KEYS, where, error=FleetError)
        host = raw.get("host", "lab")
        if not isinstance(host, str) or not host:
            raise FleetError(f"{where}: host must be a non-empty string")
        containers = [_container(c, where) for c in _list(raw, "container", where)]
        domus = [_domu(d, where) for d in _list(raw, "domu", where)]
        seen: set[str] = set()
        names = [(c.id, c.name) for c in containers] + [(d.id, d.name) for d in domus]
        for pair in names:
            for key in pair:
                if key in seen:
                    raise FleetError(f"{where}: guest id or name {key!r} is used twice")
                seen.add(key)
        return cls(host, containers, domus)


def _list(raw: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise FleetError(f"{where}: [[{key}]] must be an array of tables")
    return value


def _argv(value: Any, what: str) -> list[str]:
    # A string is a shell command; a list is an argv.
    if isinstance(value, str):
        return ["/bin/sh", "-c", value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise FleetError(f"{what} must be a command string or a non-empty list of strings")


def _common(raw: dict[str, Any], where: str, table: str) -> tuple[str, str, str, bool, dict[str, str]]:
    """(where-and-which for messages, id, name, autostart, env) of one guest table."""
    gid, name = raw.get("id"), raw.get("name")
    if not isinstance(name, str) or not name:
        raise FleetError(f"{where}: every [[{table}]] needs a name (a non-empty string)")
    what = f"{where}: {table} {name}"
    known = CONTAINER_KEYS if table == "container" else DOMU_KEYS
    check_keys(raw, known, what, error=FleetError)
    if isinstance(gid, int) and not isinstance(gid, bool):
        gid = str(gid)
    if not isinstance(gid, str) or not gid:
        raise FleetError(f"{what}: id must be a number like 101 or a string")
    if gid.startswith("-"):
        # CTIDs and domids are never negative, and a leading "-" would read as an option.
        raise FleetError(f"{what}: id {gid} is negative")
    autostart = raw.get("autostart", True)
    env = raw.get("env", {})
    if not isinstance(autostart, bool):
        raise FleetError(f"{what}: autostart must be true or false")
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise FleetError(f"{what}: env must map names to strings")
    return what, gid, name, autostart, env


def _container(raw: dict[str, Any], where: str) -> ContainerSpec:
    what, gid, name, autostart, env = _common(raw, where, "container")
    vttys = raw.get("vttys", 2)
    if not isinstance(vttys, int) or isinstance(vttys, bool) or not 1 <= vttys <= MAX_NR_VTTY_CONSOLES:
        raise FleetError(f"{what}: vttys must be 1..{MAX_NR_VTTY_CONSOLES}")
    init = _argv(raw.get("init", ["/bin/sh", str(DEMO_DIR / "init.sh")]), f"{what}: init")
    login = _argv(raw.get("login", ["/bin/sh", str(DEMO_DIR / "login.sh")]), f"{what}: login")
    return ContainerSpec(gid, name, vttys, init, login, autostart, env)


def _domu(raw: dict[str, Any], where: str) -> DomUSpec:
    what, gid, name, autostart, env = _common(raw, where, "domu")
    frontend = raw.get("frontend", "flag-aware")
    if frontend not in FRONTENDS:
        raise FleetError(f"{what}: frontend must be one of {', '.join(FRONTENDS)}")
    program = _argv(raw.get("program", ["/bin/sh", str(DEMO_DIR / "init.sh")]), f"{what}: program")
    return DomUSpec(gid, name, program, frontend, autostart, env)
