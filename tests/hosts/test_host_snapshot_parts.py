"""Snapshots larger than a frame through hosts: taken by h2's broker, read here in parts, restored into h1 in parts.

Real sshd, real bridges and brokers (tests/hosts/conftest.py). h2's ``web``
prints megabytes once the test lets it (a gate file), more than one frame
(wire.MAX_FRAME) and more than the default history, so both hosts' brokers
keep 8 MiB per console.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, wait_for
from tests.hosts.conftest import RemoteHost
from tests.lab_host import LabHost, _toml_value
from tests.ssh_server import needs_sshd
from vconsole.snapshot.decode import decode
from vconsole.wire import MAX_FRAME

pytestmark = needs_sshd
SLOW = 120
# About 2.9 MiB of numbered lines: a byte out of place shows.
LINES = b"".join(b"line %07d of the console's megabytes, abcdefghijklmnopqrstuvwxyz\n" % i for i in range(40000))
SHOWN = LINES.replace(b"\n", b"\r\n")  # as the pty gives it to the broker


@pytest.fixture
def big_hosts(runtime: Path, configured: dict[str, RemoteHost]) -> dict[str, RemoteHost]:
    """h2's ``web`` prints LINES once the gate opens; h1's ``web`` prints nothing; histories of 8 MiB."""
    big = runtime / "lines.txt"
    big.write_bytes(LINES)
    gate = runtime / "gate-h2"
    prints = ["/bin/sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.05; done; cat {big}; exec sleep 100000"]
    quiet = ["/bin/sh", "-c", "exec sleep 100000"]
    for name, init in (("h1", quiet), ("h2", prints)):
        lab = LabHost(configured[name].base)
        fleet = lab.write_fleet([{"id": 101 if name == "h1" else 201, "name": "web", "vttys": 1, "init": init}])
        lab.write_config(f"[lab]\nfleet = {_toml_value(str(fleet))}\n\n[broker]\nhistory = \"8MiB\"\n")
    return configured


def _history(host: str) -> int:
    listing = json.loads(run_cli("ls", "--json", timeout=SLOW).stdout)
    return next(c["history"] for g in listing["guests"] if (g["host"], g["name"]) == (host, "web")
                for c in g["consoles"] if c["name"] == "vtty0")


def test_megabytes_of_history_travel_from_h2_and_into_h1_in_parts(runtime: Path, big_hosts: dict[str, RemoteHost]) -> None:
    # The brokers first (the first command starts them): the console must be read from its first byte.
    assert _history("h2") == 0
    (runtime / "gate-h2").touch()
    wait_for(lambda: _history("h2") >= len(SHOWN), timeout=60, what="h2/web's megabytes in its broker's history")

    out = runtime / "h2-web.vcsnap"
    began = time.monotonic()
    done = run_cli("snapshot", "h2/web:0", "-o", str(out), timeout=SLOW)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    size = out.stat().st_size
    assert size > MAX_FRAME and done.stdout == f"{out}: h2: 1 console(s), {size} bytes\n"
    snap = decode(out.read_bytes())
    assert snap.origin_host == "h2"
    assert snap.records[0].history.data == SHOWN
    print(f"snapshot of {size} bytes through ssh in {took:.2f} s")  # shown with -s

    # Back through ssh in parts, into another host's guest: the same bytes in front of its (empty) history.
    began = time.monotonic()
    done = run_cli("restore", str(out), "--into", "h1/web:0", timeout=SLOW)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"restored h1/lab:101:vtty0: history {len(SHOWN)} bytes, ring 0 bytes, input 0 bytes\n"
    print(f"restore of {size} bytes through ssh in {took:.2f} s")
    h1 = decode(run_snapshot(runtime / "h1-web.vcsnap", "h1/web:0"))
    assert h1.origin_host == "h1" and h1.records[0].history.data == SHOWN

    # --all: one file per host, h2's as large as its console.
    folder = runtime / "all"
    done = run_cli("snapshot", "--all", "-o", str(folder), timeout=SLOW)
    assert done.returncode == 0, done.stderr
    files = {decode(p.read_bytes()).origin_host: decode(p.read_bytes()) for p in folder.iterdir()}
    assert sorted(files) == ["h1", "h2", "h3"]
    assert [r.history.data for r in files["h2"].records if r.guest_name == "web"] == [SHOWN]
    assert not [p for h in big_hosts.values() for p in h.base.rglob("*.vcsnap")]  # nothing written over there


def run_snapshot(out: Path, target: str) -> bytes:
    done = run_cli("snapshot", target, "-o", str(out), timeout=SLOW)
    assert done.returncode == 0, done.stderr
    return out.read_bytes()
