"""The system broker (`vconsole serve --system`): its paths, group access, spies, and clients finding it.

Real users and groups (useradd/groupadd, as root; skipped otherwise), a real
broker and lab under a temporary system root ($VCONSOLE_SYSTEM_ROOT).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import vconsole_cmd, wait_for
from vconsole.cli.exit_codes import EXIT_OK, EXIT_REFUSED
from vconsole.runtime_paths import SYSTEM_ROOT_ENV, SystemLayout
from vconsole.snapshot.decode import decode

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None,
    reason="needs root and useradd/groupadd to make the users and groups of a host (CI has both)",
)
AS_USER = Path(__file__).with_name("as_user.py")
MEMBER, OUTSIDER, SPY = "vctest-member", "vctest-outsider", "vctest-spy"
SPY_GROUP = "vctest-spies"
WEB = '[[container]]\nid = 301\nname = "web"\nvttys = 1\ninit = "echo web is up; exec /bin/sh -i"\n'


@pytest.fixture(scope="module")
def accounts() -> Iterator[None]:
    """The `vconsole` group (made if missing), a spy group, and three users."""
    made_group = False
    try:
        grp.getgrnam("vconsole")
    except KeyError:
        subprocess.run(["groupadd", "--system", "vconsole"], check=True)
        made_group = True
    subprocess.run(["groupadd", SPY_GROUP], check=False)
    for user, extra in ((MEMBER, ["-G", "vconsole"]), (OUTSIDER, []), (SPY, ["-G", SPY_GROUP])):
        subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", *extra, user], check=True)
    try:
        yield
    finally:
        for user in (MEMBER, OUTSIDER, SPY):
            subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["groupdel", SPY_GROUP], capture_output=True, check=False)
        if made_group:
            subprocess.run(["groupdel", "vconsole"], capture_output=True, check=False)


class SystemHost:
    """A system root in /tmp (reachable by other users), its config, and the processes started on it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="vc-system-"))
        self.root.chmod(0o755)
        self.layout = SystemLayout(self.root)
        self.user_runtime = Path(tempfile.mkdtemp(prefix="vc-user-"))
        self.env = {**os.environ, SYSTEM_ROOT_ENV: str(self.root), "XDG_RUNTIME_DIR": str(self.user_runtime),
                    "XDG_STATE_HOME": str(self.user_runtime / "state"), "XDG_CONFIG_HOME": str(self.user_runtime / "cfg")}
        self.env.pop("VCONSOLE_SOCKET", None)
        self.env.pop("VCONSOLE_PROVIDERS", None)
        self.broker: subprocess.Popen[bytes] | None = None

    def configure(self, broker_table: str = "", containers: str = WEB) -> None:
        fleet = self.root / "fleet.toml"
        fleet.write_text(f'host = "syslab"\n\n{containers}')
        config = self.layout.config_file
        config.parent.mkdir(parents=True)
        config.write_text(f'[lab]\nenabled = true\nfleet = "{fleet}"\n\n[broker]\n{broker_table}\n')

    def serve(self) -> None:
        self.broker = subprocess.Popen(
            vconsole_cmd("serve", "--system"), env=self.env, stdout=subprocess.DEVNULL,
            stderr=open(self.root / "broker.err", "wb"),  # noqa: SIM115 - the process owns it
        )
        wait_for(lambda: self.layout.socket.exists() and self.vconsole("ls").returncode == 0, timeout=30,
                 what="the system broker")

    def vconsole(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(vconsole_cmd(*args), env=self.env, capture_output=True, text=True, timeout=30)

    def as_user(self, user: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(AS_USER), user, *args], env=self.env,
                              capture_output=True, text=True, timeout=30)

    def close(self) -> None:
        self.vconsole("--system", "shutdown", "--lab")
        self.vconsole("--user", "shutdown", "--lab")  # the user broker of the last test started a lab
        if self.broker is not None:
            try:
                self.broker.wait(10)
            except subprocess.TimeoutExpired:
                self.broker.kill()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.user_runtime, ignore_errors=True)


@pytest.fixture
def system_host(accounts: None) -> Iterator[SystemHost]:
    host = SystemHost()
    try:
        yield host
    finally:
        host.close()


def test_group_members_list_and_attach_outsiders_are_refused_spies_only_watch(system_host: SystemHost) -> None:
    system_host.configure(f'spy_groups = ["{SPY_GROUP}"]')
    system_host.serve()
    assert system_host.layout.socket.exists()

    listed = system_host.as_user(MEMBER, "ls", "--json")
    assert listed.returncode == EXIT_OK, listed.stderr
    listing = json.loads(listed.stdout)
    assert listing["broker"]["mode"] == "system"
    assert [g["name"] for g in listing["guests"]] == ["web"]
    attached = system_host.as_user(MEMBER, "attach-probe", "web", "rw")
    assert (attached.returncode, attached.stdout) == (0, "attached rw full\n"), attached.stderr

    refused = system_host.as_user(OUTSIDER, "ls")
    assert refused.returncode == EXIT_REFUSED and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "may not use this broker" in refused.stderr, refused.stderr

    assert system_host.as_user(SPY, "ls").returncode == EXIT_OK
    watched = system_host.as_user(SPY, "attach-probe", "web", "ro")
    # The broker's hello tells a spy so (`vconsole attach` and the TUI then attach read-only).
    assert (watched.returncode, watched.stdout) == (0, "attached ro spy\n"), watched.stderr
    typed = system_host.as_user(SPY, "attach-probe", "web", "rw")
    assert typed.returncode == 7 and typed.stdout.startswith("refused: forbidden: "), typed.stdout
    forced = system_host.as_user(SPY, "attach", "-r", "--force", "web")  # a spy takes nothing over
    assert forced.returncode == 7 and "cannot take a console" in forced.stderr, forced.stderr
    stopped = system_host.as_user(SPY, "stop", "web")
    assert stopped.returncode != EXIT_OK and "may only watch" in stopped.stderr, stopped.stderr
    assert json.loads(system_host.vconsole("ls", "--json").stdout)["guests"][0]["state"] == "running"


def test_the_socket_is_root_and_the_vconsole_group_only_and_files_go_to_system_paths(system_host: SystemHost) -> None:
    system_host.configure()
    system_host.serve()
    info = system_host.layout.socket.stat()
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert (pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name) == ("root", "vconsole")
    assert stat.S_IMODE(system_host.layout.run_dir.stat().st_mode) == 0o755
    denied = system_host.as_user(OUTSIDER, "ls")
    assert denied.returncode != EXIT_OK and denied.stderr.count("\n") == 1
    assert "permission denied" in denied.stderr and "--user" in denied.stderr, denied.stderr
    # Logs and saved sessions go under the system root, not to root's home.
    wait_for(lambda: any(system_host.layout.log_dir.rglob("*.seg")), what="a console log in /var/log/vconsole")
    assert system_host.vconsole("shutdown").returncode == EXIT_OK
    wait_for(lambda: (system_host.layout.state_dir / "sessions.vcsnap").exists(), what="saved sessions in /var/lib")


def test_a_client_finds_the_system_broker_first_and_its_own_otherwise(system_host: SystemHost) -> None:
    system_host.configure()
    system_host.serve()
    found = json.loads(system_host.vconsole("ls", "--json").stdout)["broker"]
    assert found == {"mode": "system", "socket": str(system_host.layout.socket), "pid": system_host.broker.pid}
    assert "(the system broker)" in system_host.vconsole("ls").stdout.splitlines()[0]
    own = system_host.vconsole("--user", "--providers", "lab", "ls", "--json")
    assert own.returncode == EXIT_OK, own.stderr
    assert json.loads(own.stdout)["broker"]["mode"] == "user"
    assert system_host.vconsole("--system", "shutdown").returncode == EXIT_OK
    wait_for(lambda: not system_host.layout.socket.exists(), what="the system broker to go")
    # No system broker: the user's own (running already) answers.
    after = json.loads(system_host.vconsole("ls", "--json").stdout)["broker"]
    assert after["mode"] == "user" and after["socket"].startswith(str(system_host.user_runtime))
    # And a client never starts the system broker.
    none = system_host.vconsole("--system", "ls")
    assert none.returncode == 3 and "systemctl start vconsole" in none.stderr, none.stderr


def test_members_snapshot_and_restore_consoles_larger_than_a_frame_and_spies_restore_nothing(
    system_host: SystemHost,
) -> None:
    """The system broker (root) names no file for a member: the snapshot comes through the connection, in parts."""
    lines = b"".join(b"line %07d of the system console's megabytes\n" % i for i in range(40000))  # ~1.8 MB
    shown = lines.replace(b"\n", b"\r\n")
    (system_host.root / "lines.txt").write_bytes(lines)
    gate = system_host.root / "gate"
    prints = f"while [ ! -e {gate} ]; do sleep 0.05; done; cat {system_host.root}/lines.txt; exec sleep 100000"
    system_host.configure(f'history = "8MiB"\nspy_groups = ["{SPY_GROUP}"]',
                          f'[[container]]\nid = 301\nname = "web"\nvttys = 1\ninit = ["/bin/sh", "-c", "{prints}"]\n\n'
                          '[[container]]\nid = 302\nname = "web2"\nvttys = 1\ninit = ["/bin/sleep", "100000"]\n')
    system_host.serve()
    gate.touch()

    def history(guest: str) -> int:
        listing = json.loads(system_host.vconsole("ls", "--json").stdout)
        return int(next(g for g in listing["guests"] if g["name"] == guest)["consoles"][0]["history"])

    wait_for(lambda: history("web") >= len(shown), timeout=30, what="web's megabytes in the system broker")
    folder = system_host.root / "member"
    folder.mkdir()
    shutil.chown(folder, MEMBER)
    out = folder / "web.vcsnap"
    taken = system_host.as_user(MEMBER, "snapshot", "web", "-o", str(out))
    assert taken.returncode == EXIT_OK, taken.stderr
    assert out.stat().st_uid == pwd.getpwnam(MEMBER).pw_uid and out.stat().st_size > 1 << 20
    assert decode(out.read_bytes()).records[0].history.data == shown

    restored = system_host.as_user(MEMBER, "restore", str(out), "--into", "web2")
    assert restored.returncode == EXIT_OK, restored.stderr
    assert restored.stdout.startswith(f"restored lab:302:vtty0: history {len(shown)} bytes"), restored.stdout
    check = system_host.root / "web2.vcsnap"  # root's client names a file, as before
    assert system_host.vconsole("snapshot", "web2", "-o", str(check)).returncode == EXIT_OK
    assert decode(check.read_bytes()).records[0].history.data == shown

    readable = system_host.root / "for-spy.vcsnap"
    shutil.copy(out, readable)
    readable.chmod(0o644)
    refused = system_host.as_user(SPY, "restore", str(readable), "--into", "web2")
    assert refused.returncode != EXIT_OK and refused.stderr.count("\n") == 1, refused.stderr
    assert "may only watch" in refused.stderr, refused.stderr
    assert history("web2") == len(shown)
