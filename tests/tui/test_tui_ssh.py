"""The real ``vconsole`` TUI over a real SSH connection (``ssh -tt``) in an 80x24 tmux pane.

The test starts its own OpenSSH server on 127.0.0.1 (own host key, own
authorized_keys, a free port) as a child process, then drives the TUI like
a person at the far end of an SSH session: the same walkthrough and flood
check as in test_tui_tmux, through a pty the SSH server made.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab_host import REPO, LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import flood_latency, start_fleet, tui_command, two_tabs_walkthrough

SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
SSHD = shutil.which("sshd", path=SBIN_PATH)
SSH = shutil.which("ssh")
SSH_KEYGEN = shutil.which("ssh-keygen")

pytestmark = [
    needs_tmux,
    pytest.mark.skipif(SSHD is None, reason="sshd is not installed (apt-get install openssh-server)"),
    pytest.mark.skipif(SSH is None or SSH_KEYGEN is None, reason="ssh is not installed (apt-get install openssh-client)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the test sshd runs as root and logs in as root"),
]


@dataclass
class SshServer:
    """A private sshd on 127.0.0.1 and the key that logs in to it."""

    port: int
    key: Path

    def command(self, remote: str) -> str:
        """A local shell line running ``remote`` on this server through ``ssh -tt``."""
        argv = [
            "ssh", "-tt", "-e", "none", "-p", str(self.port), "-i", str(self.key),
            "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
            "root@127.0.0.1", remote,
        ]
        return shlex.join(argv)


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


@pytest.fixture
def sshd(runtime: Path) -> Iterator[SshServer]:
    assert SSHD is not None and SSH_KEYGEN is not None
    base = runtime / "ssh"
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
    )
    # sshd's privilege separation needs this directory (normally made by its init script).
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = base / "sshd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        _wait_port(port, proc, log)
        yield SshServer(port, base / "client_key")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def remote_tui(lab_host: LabHost) -> str:
    """The remote command: this checkout, this test's private dirs, the TUI on the lab's broker."""
    env = {
        name: os.environ[name]
        for name in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "VCONSOLE_PROVIDERS", "PYTHONPATH")
        if name in os.environ
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
    env["TERM"] = "xterm-256color"  # what a person's terminal emulator says; sshd passes no TERM on its own
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"cd {shlex.quote(str(REPO))} && export {assignments} && {tui_command(lab_host)}"


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env, cols=80, rows=24)
    yield p
    p.close()


def test_two_tabs_over_ssh_in_80x24(lab_host: LabHost, sshd: SshServer, pane: TmuxPane) -> None:
    """The whole walkthrough through sshd's pty in a plain 80x24 window: keys, badges, close, quit."""
    start_fleet(lab_host)
    two_tabs_walkthrough(pane, lab_host, sshd.command(remote_tui(lab_host)))


def test_keys_answer_over_ssh_while_another_tab_floods(lab_host: LabHost, sshd: SshServer, pane: TmuxPane) -> None:
    """Over SSH too, a flooding hidden tab leaves the visible tab's keys answered (loose bound)."""
    start_fleet(lab_host)
    flood_latency(pane, lab_host, "ssh 80x24", sshd.command(remote_tui(lab_host)))
