"""Labs reached as "hosts" through a private sshd on 127.0.0.1, for the ssh benchmarks.

The sshd is the tests' (tests/ssh_server.py: generated host and client keys,
root login by key only). A "host" is a lab runtime directory; ssh runs
``env XDG_RUNTIME_DIR=... python -m vconsole bridge`` there
(tests/hosts/conftest.py's RemoteHost), as a machine of its own would.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hosts.conftest import RemoteHost
from tests.ssh_server import SSH, SSH_KEYGEN, SSHD, SshServer, running_sshd
from vconsole.config import HostSettings

DEST = "root@127.0.0.1"


@contextlib.contextmanager
def loopback_sshd(workdir: Path) -> Iterator[SshServer]:
    """A private sshd (keys and config under ``workdir``/ssh); RuntimeError when it cannot run."""
    if SSHD is None or SSH is None or SSH_KEYGEN is None:
        raise RuntimeError("OpenSSH is not installed (apt-get install openssh-server openssh-client)")
    if os.geteuid() != 0:
        raise RuntimeError("the benchmark sshd logs in as root: run the ssh benchmarks as root")
    try:
        with running_sshd(workdir / "ssh") as server:
            yield server
    except pytest.fail.Exception as exc:  # the tests' helper fails a test; here it is an ordinary error
        raise RuntimeError(str(exc)) from None


def host_settings(name: str, server: SshServer, base: Path) -> HostSettings:
    """The ``[[hosts]]`` entry of the lab in ``base`` (its run/, state/, config/) reached through ``server``."""
    return HostSettings(name, DEST, tuple(server.options()), RemoteHost(name, base).command)


def ssh_argv(server: SshServer, remote: str, *, tty: bool = False) -> list[str]:
    """A plain ``ssh [-tt] ... root@127.0.0.1 REMOTE`` through ``server`` (the reference paths)."""
    mode = ["-tt", "-e", "none"] if tty else ["-T"]
    return ["ssh", *mode, *server.options(), "-o", "BatchMode=yes", DEST, remote]
