"""A private OpenSSH server on 127.0.0.1 for tests: its own host key, client key and a free port.

It runs as a child of the test (``sshd -D -e``) and logs in as root with the
generated key only, so tests that use it skip when not root or when OpenSSH
is not installed (CI runs as root with openssh-server installed).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
SSHD = shutil.which("sshd", path=SBIN_PATH)
SSH = shutil.which("ssh")
SSH_KEYGEN = shutil.which("ssh-keygen")

needs_sshd = [
    pytest.mark.skipif(SSHD is None, reason="sshd is not installed (apt-get install openssh-server)"),
    pytest.mark.skipif(SSH is None or SSH_KEYGEN is None, reason="ssh is not installed (apt-get install openssh-client)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the test sshd runs as root and logs in as root"),
]


@dataclass
class SshServer:
    """A private sshd on 127.0.0.1 and the key that logs in to it."""

    port: int
    key: Path
    known_hosts: Path
    config: Path
    proc: subprocess.Popen[bytes] | None = None

    def options(self) -> list[str]:
        """ssh options that reach this server with its key, accepting its host key the first time."""
        return [
            "-p", str(self.port), "-i", str(self.key), "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=accept-new",
            "-o", "LogLevel=ERROR",
        ]

    def command(self, remote: str) -> str:
        """A local shell line running ``remote`` on this server through ``ssh -tt``."""
        argv = ["ssh", "-tt", "-e", "none", *self.options(), "-o", "BatchMode=yes", "root@127.0.0.1", remote]
        return shlex.join(argv)

    def start(self) -> None:
        """Start the server (again, on the same port) and wait until it listens."""
        assert SSHD is not None
        log = self.config.with_name("sshd.log")
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config)], stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        _wait_port(self.port, self.proc, log)

    def stop(self) -> None:
        """Stop the server and every connection it serves, as a host going down does."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        # Each connection's sshd is a child of the listener in a session of its own.
        for pid in [proc.pid, *_descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL if pid != proc.pid else signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), from /proc."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [p for child in children for p in (child, *_descendants(child))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        if proc.poll() is not None:
            pytest.fail(f"sshd exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"sshd did not listen on {port}: {log.read_text()[-2000:]}")
        time.sleep(0.05)


@contextlib.contextmanager
def running_sshd(base: Path) -> Iterator[SshServer]:
    """An sshd with keys and config in ``base`` (created), stopped on exit."""
    assert SSHD is not None and SSH_KEYGEN is not None
    base.mkdir()
    for name in ("host_key", "client_key"):
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)], check=True, timeout=30)
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    (base / "authorized_keys").chmod(0o600)
    port = _free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\nPidFile none\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nPrintMotd no\nPrintLastLog no\nX11Forwarding no\n"
        "MaxStartups 100\nMaxSessions 100\n"
    )
    # sshd's privilege separation needs this directory (normally made by its init script).
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    server = SshServer(port, base / "client_key", base / "known_hosts", config)
    try:
        server.start()
        yield server
    finally:
        server.stop()
