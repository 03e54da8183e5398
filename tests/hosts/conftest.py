"""Fixtures for many hosts: a real sshd on 127.0.0.1 and three "hosts" behind it.

Each host is its own runtime, state and config directory with its own lab
fleet (guest names overlap on purpose), reached by the remote command
``env XDG_RUNTIME_DIR=... python -m vconsole`` through the one sshd: three
independent installations, as three machines would be. Their brokers are
started by the bridge, as a person's first ``ssh HOST vconsole bridge`` does.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab_host import LabHost, _toml_value
from tests.ssh_server import SshServer, running_sshd
from vconsole.ssh_transport import BridgeGreeting

FLEETS: dict[str, list[dict[str, Any]]] = {
    "h1": [{"id": 101, "name": "web", "vttys": 2}, {"id": 102, "name": "db", "vttys": 1}],
    "h2": [{"id": 201, "name": "web", "vttys": 2}, {"id": 202, "name": "cache", "vttys": 1}],
    "h3": [{"id": 301, "name": "mail", "vttys": 1}],
}


@dataclass
class RemoteHost:
    """One "host": its directories, its lab fleet and the command ssh runs there."""

    name: str
    base: Path

    @property
    def command(self) -> str:
        """The remote vconsole: this checkout's interpreter with the host's own directories."""
        env = {
            "XDG_RUNTIME_DIR": self.base / "run", "XDG_STATE_HOME": self.base / "state",
            "XDG_CONFIG_HOME": self.base / "config", "VCONSOLE_PROVIDERS": "lab",
        }
        if "PYTHONPATH" in os.environ:  # a checkout run without installing it: the same one there
            env["PYTHONPATH"] = Path(os.environ["PYTHONPATH"])
        assignments = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in env.items())
        return f"env {assignments} {shlex.quote(sys.executable)} -m vconsole"

    def prepare(self) -> None:
        """Its fleet and the config naming it (the broker the bridge starts reads them)."""
        host = LabHost(self.base)
        (self.base / "run").mkdir(mode=0o700, exist_ok=True)
        fleet = host.write_fleet(FLEETS[self.name])
        host.write_config(f"[lab]\nfleet = {_toml_value(str(fleet))}\n")

    def kill_daemons(self) -> None:
        """Its broker and lab, started by a bridge: not our children, found by pid file."""
        for pidfile in (self.base / "run").rglob("*.pid"):
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)


def other_version_vconsole(runtime: Path) -> Path:
    """A remote "vconsole" whose bridge greets as release 9.9.9 speaking protocol 99, then waits."""
    fake = runtime / "old-vconsole"
    greeting = BridgeGreeting("9.9.9", 99).encode()
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.buffer.write({greeting!r})\nsys.stdout.flush()\nsys.stdin.read()\n")
    fake.chmod(0o755)
    return fake


@pytest.fixture
def sshd(runtime: Path) -> Iterator[SshServer]:
    """A private sshd on a free loopback port."""
    with running_sshd(runtime / "ssh") as server:
        yield server


@pytest.fixture
def three_hosts(runtime: Path) -> Iterator[dict[str, RemoteHost]]:
    """h1, h2, h3: three installations with overlapping guest names."""
    hosts = {name: RemoteHost(name, runtime / name) for name in FLEETS}
    for host in hosts.values():
        host.base.mkdir()
        host.prepare()
    yield hosts
    for host in hosts.values():
        host.kill_daemons()


def host_table(name: str, sshd: SshServer, command: str) -> str:
    """A ``[[hosts]]`` table reaching ``command`` through ``sshd``."""
    return (
        f"[[hosts]]\nname = {_toml_value(name)}\nssh = \"root@127.0.0.1\"\n"
        f"ssh_options = {_toml_value(sshd.options())}\ncommand = {_toml_value(command)}\n"
    )


def write_client_config(runtime: Path, tables: list[str], local: bool = False) -> None:
    """The client's config.toml (XDG_CONFIG_HOME of the runtime fixture): hosts, and whether local is shown."""
    cfg = runtime / "config" / "vconsole"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text(f"[client]\nlocal = {_toml_value(local)}\n\n" + "\n".join(tables))


@pytest.fixture
def configured(runtime: Path, sshd: SshServer, three_hosts: dict[str, RemoteHost]) -> dict[str, RemoteHost]:
    """The client's config names h1, h2, h3 (not the local broker)."""
    write_client_config(runtime, [host_table(h.name, sshd, h.command) for h in three_hosts.values()])
    return three_hosts

