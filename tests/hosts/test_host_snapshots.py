"""Snapshot and restore through hosts: taken by another host's broker over ssh, written and read here.

Real sshd, real bridges and brokers (tests/hosts/conftest.py). Each host's
``web`` prints a known line once the test lets it (a gate file), so the
bytes a snapshot holds are known; h3's ``mail`` is a domU, a guest of
another kind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, wait_for
from tests.hosts.conftest import RemoteHost, host_table, write_client_config
from tests.lab_host import LabHost
from tests.ssh_server import SshServer, needs_sshd
from tests.tmux_pane import TmuxPane, needs_tmux
from vconsole.cli.exit_codes import EXIT_NO_BROKER, EXIT_SOME_HOSTS, EXIT_UNKNOWN
from vconsole.snapshot.decode import decode
from vconsole.snapshot.model import SnapshotFile

pytestmark = needs_sshd
SLOW = 120  # a command through ssh starts a bridge (and at first a broker and a lab) per host


def _gated(host: str, gate: Path) -> list[str]:
    """vtty 0's init: wait for the gate, print the host's known line once, then idle."""
    line = f"KNOWN-{host}-web"
    return ["/bin/sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.05; done; printf '{line}\\n'; exec sleep 100000"]


@pytest.fixture
def hosts(runtime: Path, configured: dict[str, RemoteHost]) -> dict[str, RemoteHost]:
    """h1 and h2 with a gated ``web`` container, h3 with a ``mail`` domU; no broker started yet."""
    idle = ["/bin/sh", "-c", "printf 'mail up\\r\\n'; exec sleep 100000"]
    fleets: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
        "h1": ([{"id": 101, "name": "web", "vttys": 2, "init": _gated("h1", runtime / "gate-h1")}], []),
        "h2": ([{"id": 201, "name": "web", "vttys": 2, "init": _gated("h2", runtime / "gate-h2")},
                {"id": 202, "name": "cache", "vttys": 1}], []),
        "h3": ([], [{"id": 301, "name": "mail", "program": idle}]),
    }
    for name, (containers, domus) in fleets.items():
        LabHost(configured[name].base).write_fleet(containers, domus)  # the fleet the host's config names
    return configured


def _history(host: str, guest: str, console: str) -> int:
    listing = json.loads(run_cli("ls", "--json", timeout=SLOW).stdout)
    return next(c["history"] for g in listing["guests"] if (g["host"], g["name"]) == (host, guest)
                for c in g["consoles"] if c["name"] == console)


def _open_gate(runtime: Path, host: str) -> None:
    """Let ``host``'s web print its line, and wait until its broker holds it."""
    (runtime / f"gate-{host}").touch()
    wait_for(lambda: _history(host, "web", "vtty0") >= len(f"KNOWN-{host}-web\r\n"), timeout=60,
             what=f"{host}/web's known line in its broker's history")


def _snapshot(target: str, out: Path) -> SnapshotFile:
    done = run_cli("snapshot", target, "-o", str(out), timeout=SLOW)
    assert done.returncode == 0, done.stderr
    snap = decode(out.read_bytes())
    assert done.stdout == f"{out}: {snap.origin_host}: 1 console(s), {out.stat().st_size} bytes\n"
    return snap


def _no_files_there(hosts: dict[str, RemoteHost]) -> None:
    """No host's broker wrote a snapshot on its own machine for us."""
    assert [p for h in hosts.values() for p in h.base.rglob("*.vcsnap")] == []


def test_another_hosts_console_is_snapshotted_here_and_restored_into_it(
    runtime: Path, hosts: dict[str, RemoteHost], sshd: SshServer
) -> None:
    _open_gate(runtime, "h2")
    out = runtime / "h2-web.vcsnap"
    snap = _snapshot("h2/web:0", out)
    assert snap.origin_host == "h2"
    [record] = snap.records
    assert (record.key.text, record.guest_name, record.guest_kind) == ("lab:201:vtty0", "web", "container")
    assert record.history.data == b"KNOWN-h2-web\r\n"
    _no_files_there(hosts)

    # h2 unreachable: one line, exit 3, nothing restored (the restore below is not "already restored").
    sshd.stop()
    done = run_cli("restore", str(out), timeout=SLOW)
    assert done.returncode == EXIT_NO_BROKER and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("vconsole: h2: ") and done.stdout == ""
    sshd.start()

    done = run_cli("restore", str(out), timeout=SLOW)  # the file names h2: it goes there
    assert done.returncode == 0, done.stderr
    held = len(record.history.data)
    assert done.stdout == (f"restored h2/lab:201:vtty0: history 0 bytes ({held} already there), "
                           "ring 0 bytes, input 0 bytes\n")
    again = run_cli("restore", str(out), timeout=SLOW)
    assert again.returncode == 1 and again.stderr.count("\n") == 1, again.stderr
    assert again.stderr.startswith("vconsole: h2: lab:201:vtty0 already holds this snapshot's history")
    _no_files_there(hosts)


def test_restore_into_another_hosts_guest_of_the_same_kind(runtime: Path, hosts: dict[str, RemoteHost]) -> None:
    _open_gate(runtime, "h2")
    _open_gate(runtime, "h1")
    from_h2 = _snapshot("h2/web:0", runtime / "h2.vcsnap")
    done = run_cli("restore", str(runtime / "h2.vcsnap"), "--into", "h1/web:0", timeout=SLOW)
    assert done.returncode == 0, done.stderr
    size = from_h2.records[0].history.size
    assert done.stdout == f"restored h1/lab:101:vtty0: history {size} bytes, ring 0 bytes, input 0 bytes\n"
    # h1's web now holds h2's line in front of its own; h2's web is as it was.
    h1 = _snapshot("h1/web:0", runtime / "h1.vcsnap")
    assert h1.origin_host == "h1"
    assert h1.records[0].history.data == b"KNOWN-h2-web\r\nKNOWN-h1-web\r\n"
    assert _snapshot("h2/web:0", runtime / "h2-after.vcsnap").records[0].history.data == b"KNOWN-h2-web\r\n"


def test_restore_into_a_guest_of_another_kind_is_refused_and_changes_nothing(
    runtime: Path, hosts: dict[str, RemoteHost]
) -> None:
    _open_gate(runtime, "h2")
    out = runtime / "h2.vcsnap"
    _snapshot("h2/web:0", out)
    before = _snapshot("h3/mail:0", runtime / "mail-before.vcsnap").records[0]
    assert before.guest_kind == "domu"
    done = run_cli("restore", str(out), "--into", "h3/mail:0", timeout=SLOW)
    assert done.returncode != 0 and done.stdout == "", done.stdout
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("vconsole: h3: "), done.stderr
    assert "container" in done.stderr and "domu" in done.stderr
    after = _snapshot("h3/mail:0", runtime / "mail-after.vcsnap").records[0]
    assert (after.history.data, after.marks) == (before.history.data, before.marks)


def test_a_file_from_a_host_not_chosen_is_refused_in_one_line(runtime: Path, hosts: dict[str, RemoteHost]) -> None:
    _open_gate(runtime, "h2")
    out = runtime / "h2.vcsnap"
    _snapshot("h2/web:0", out)
    before = _history("h1", "web", "vtty0")
    done = run_cli("--host", "h1", "restore", str(out), timeout=SLOW)
    assert (done.returncode, done.stdout) == (EXIT_UNKNOWN, "")
    assert done.stderr == (f"vconsole: {out} was taken on h2, which is not among the hosts (h1):"
                           " add --host h2, or name a guest with --into\n")
    assert _history("h1", "web", "vtty0") == before
    # Without any hosts at all, too: this machine's broker is not the one it came from.
    write_client_config(runtime, [])
    done = run_cli("restore", str(out), timeout=SLOW)
    assert (done.returncode, done.stderr) == (
        EXIT_UNKNOWN,
        f"vconsole: {out} was taken on h2, which is not among the hosts (local): add --host h2, or name a guest with --into\n",
    )


def test_snapshot_all_over_hosts_writes_one_file_per_host_here(
    runtime: Path, hosts: dict[str, RemoteHost], sshd: SshServer
) -> None:
    _open_gate(runtime, "h1")
    _open_gate(runtime, "h2")
    folder = runtime / "all"
    done = run_cli("snapshot", "--all", "-o", str(folder), "--json", timeout=SLOW)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["failed"] == []
    files = {s["host"]: Path(s["path"]) for s in result["snapshots"]}
    assert set(files) == {"h1", "h2", "h3"} and all(p.parent == folder for p in files.values())
    snaps = {h: decode(p.read_bytes()) for h, p in files.items()}
    assert {h: s.origin_host for h, s in snaps.items()} == {"h1": "h1", "h2": "h2", "h3": "h3"}
    assert {h: sorted(r.key.text for r in s.records) for h, s in snaps.items()} == {
        "h1": ["lab:101:vtty0", "lab:101:vtty1"],
        "h2": ["lab:201:vtty0", "lab:201:vtty1", "lab:202:vtty0"],
        "h3": ["lab:301:pv0"],
    }
    assert next(r for r in snaps["h1"].records if r.console_name == "vtty0").history.data == b"KNOWN-h1-web\r\n"
    _no_files_there(hosts)

    # A host that cannot be reached is one line; the others' files are written; exit 12.
    dead = host_table("h4", sshd, hosts["h1"].command).replace(f'"{sshd.port}"', '"1"')
    write_client_config(runtime, [host_table(n, sshd, hosts[n].command) for n in ("h1", "h2")] + [dead])
    done = run_cli("snapshot", "--all", "-o", str(runtime / "some"), timeout=SLOW)
    assert done.returncode == EXIT_SOME_HOSTS, done.stderr
    assert [line.split(": ")[1] for line in done.stdout.splitlines()] == ["h1", "h2"]
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("vconsole: h4: "), done.stderr
    assert sorted(p.name.split("-")[1] for p in (runtime / "some").iterdir()) == ["h1", "h2"]


def test_an_unknown_host_is_one_line_and_writes_nothing(runtime: Path, hosts: dict[str, RemoteHost]) -> None:
    done = run_cli("snapshot", "h9/web", timeout=SLOW)
    assert (done.returncode, done.stderr) == (
        EXIT_UNKNOWN, "vconsole: no host 'h9' (hosts: h1, h2, h3; --host or [[hosts]] adds one)\n"
    )
    assert not (runtime / "state" / "vconsole" / "snapshots").exists()


def test_attach_names_the_host_in_its_banner(hosts: dict[str, RemoteHost]) -> None:
    for target, host in (("h2/web", "h2"), ("cache", "h2")):  # host-qualified, and a bare name only h2 has
        done = run_cli("attach", target, "1" if target == "h2/web" else "0", input=b"\x1d.", timeout=SLOW)
        assert done.returncode == 0, done.stderr
        console = "vtty1" if target == "h2/web" else "vtty0"
        assert done.stderr.startswith(f"[vconsole: attached to {target.split('/')[-1]} {console} on {host} (read-write);")


@needs_tmux
def test_show_names_the_host_a_file_came_from(runtime: Path, hosts: dict[str, RemoteHost]) -> None:
    _open_gate(runtime, "h2")
    out = runtime / "web.vcsnap"
    _snapshot("h2/web:0", out)
    pane = TmuxPane.shell()
    try:
        pane.type(f"{sys.executable} -m vconsole show {out}; echo EXIT=$?", "Enter")
        screen = pane.wait_for("web.vcsnap (from host h2)", timeout=30)
        assert "KNOWN-h2-web" in screen
        pane.type("q")
        pane.wait_for("EXIT=0")
    finally:
        pane.close()
