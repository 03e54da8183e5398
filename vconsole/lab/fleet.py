"""The lab's fleet file: which containers and domUs the simulated host runs."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_NR_VTTY_CONSOLES = 12  # as in the Virtuozzo kernel's drivers/tty/pty.c
DEMO_DIR = Path(__file__).with_name("demo")
DEFAULT_FLEET = DEMO_DIR / "fleet.toml"
FRONTENDS = ("flag-aware", "legacy")


class FleetError(Exception):
    """The fleet file is unreadable or describes an impossible guest."""


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


def _common(raw: dict[str, Any], where: str) -> tuple[str, str, bool, dict[str, str]]:
    gid, name = raw.get("id"), raw.get("name")
    if isinstance(gid, int) and not isinstance(gid, bool):
        gid = str(gid)
    if not isinstance(gid, str) or not gid or not isinstance(name, str) or not name:
        raise FleetError(f"{where}: every guest needs an id and a name")
    autostart = raw.get("autostart", True)
    env = raw.get("env", {})
    if not isinstance(autostart, bool):
        raise FleetError(f"{where}: {name}: autostart must be true or false")
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise FleetError(f"{where}: {name}: env must map names to strings")
    return gid, name, autostart, env


def _container(raw: dict[str, Any], where: str) -> ContainerSpec:
    gid, name, autostart, env = _common(raw, where)
    vttys = raw.get("vttys", 2)
    if not isinstance(vttys, int) or not 1 <= vttys <= MAX_NR_VTTY_CONSOLES:
        raise FleetError(f"{where}: {name}: vttys must be 1..{MAX_NR_VTTY_CONSOLES}")
    init = _argv(raw.get("init", ["/bin/sh", str(DEMO_DIR / "init.sh")]), f"{where}: {name}: init")
    login = _argv(
        raw.get("login", ["/bin/sh", str(DEMO_DIR / "login.sh")]), f"{where}: {name}: login"
    )
    return ContainerSpec(gid, name, vttys, init, login, autostart, env)


def _domu(raw: dict[str, Any], where: str) -> DomUSpec:
    gid, name, autostart, env = _common(raw, where)
    frontend = raw.get("frontend", "flag-aware")
    if frontend not in FRONTENDS:
        raise FleetError(f"{where}: {name}: frontend must be one of {', '.join(FRONTENDS)}")
    program = _argv(
        raw.get("program", ["/bin/sh", str(DEMO_DIR / "init.sh")]), f"{where}: {name}: program"
    )
    return DomUSpec(gid, name, program, frontend, autostart, env)
