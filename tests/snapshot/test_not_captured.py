"""What a snapshot cannot capture is said per console: on stderr, in ``--json`` and in the reply.

Against real parts: the fake Xen and OpenVZ hosts of tests/fakes (a domU whose
console is xenconsoled's pty, a container reached through ``vzctl console``)
and the real lab, whose provider copies domU rings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_host import LabHost
from tests.providers.fakehost import FakeHost
from tests.xen.conftest import wait_console
from vconsole.providers.base import ConsoleSpec, GuestInfo, NotSupported, Provider
from vconsole.providers.lab import LabProvider
from vconsole.providers.xen import XenProvider
from vconsole.snapshot.decode import decode


async def test_ring_snapshots_are_declared_off_unless_a_provider_implements_them() -> None:
    assert Provider.supports_ring_snapshots is False
    assert LabProvider.supports_ring_snapshots is True
    xen = XenProvider()
    assert xen.supports_ring_snapshots is False
    guest = GuestInfo(provider="xen", host="h", kind="domu", id="3", name="web01", state="running")
    with pytest.raises(NotSupported, match=r"^not supported by this provider \(xen\)$"):
        await xen.capture_ring(guest, ConsoleSpec("pv", 0))
    with pytest.raises(NotSupported, match=r"^not supported by this provider \(xen\)$"):
        await xen.restore_ring(guest, ConsoleSpec("pv", 0), b"out")


@pytest.fixture
def fake_host(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeHost, LabHost]]:
    """A broker using only the fake OpenVZ and Xen providers."""
    host = FakeHost(runtime / "fakehost")
    host.serve_domu_consoles()
    for key, value in host.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VCONSOLE_PROVIDERS", "openvz,xen")
    broker = LabHost(runtime)
    broker.write_config(host.config())
    yield host, broker
    broker.cleanup()
    host.close()


def _wait_connected(broker: LabHost, wanted: set[tuple[str, str]], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        listing = json.loads(broker.cli("ls", "--json").stdout)
        connected = {(g["name"], c["name"]) for g in listing["guests"] for c in g["consoles"]
                     if c["state"] == "connected"}
        if wanted <= connected:
            return
        assert time.monotonic() < deadline, f"never connected: {wanted - connected}"
        time.sleep(0.2)


def test_snapshot_names_per_console_what_it_could_not_capture(fake_host: tuple[FakeHost, LabHost]) -> None:
    _host, broker = fake_host
    broker.start_broker()
    _wait_connected(broker, {("web01", "pv0"), ("web", "vtty1")})

    # xenconsoled owns a real domU's ring; vconsole reads its pty, which it
    # opens by path (the slave end), so the unread input is out of reach too.
    out = broker.base / "domu.vcsnap"
    done = broker.cli("snapshot", "web01:pv0", "-o", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "web01:pv0: ring contents not captured: not supported by this provider (xen)" in lines
    assert "web01:pv0: pending input not captured: the other end of the pty cannot be reached (Input/output error)" in lines
    assert len(lines) == 2, lines
    (rec,) = decode(out.read_bytes()).records
    assert rec.ring is None and rec.hypervisor_log is None
    assert rec.pending_input.how == "unavailable"
    assert rec.termios is not None  # what the pty itself holds was captured

    # vzctl's pty is the tool's terminal, not the guest's: its termios are not the console's.
    out = broker.base / "ct.vcsnap"
    done = broker.cli("snapshot", "web:1", "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["path"] == str(out) and report["records"] == 1
    (item,) = report["not_captured"]
    assert (item["console"], item["what"]) == ("web:vtty1", "termios")
    assert item["why"] == "the console is reached through vzctl, whose terminal is not the guest's"
    assert done.stderr.splitlines() == [item["message"]]
    assert item["message"] == "web:vtty1: termios not captured: " + item["why"]
    (rec,) = decode(out.read_bytes()).records
    assert rec.termios is None and rec.winsize is not None


async def test_a_lab_snapshot_captures_everything(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet(
        [{"id": 401, "name": "ct", "vttys": 2, "init": ["/bin/sh", "-c", "echo up; exec sleep 1000"]}],
        [{"id": 402, "name": "xd", "frontend": "legacy", "program": lab_host.scripted("xd")}],
    )
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        for guest, console in (("ct", "vtty0"), ("ct", "vtty1"), ("xd", "pv0")):
            await wait_console(client, guest, lambda c: c["state"] == "connected", console=console)
    finally:
        await client.close()
    out = lab_host.base / "lab.vcsnap"
    done = lab_host.cli("snapshot", "--all", "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["not_captured"] == [] and done.stderr == ""
    records = {r.console_name + "@" + r.guest_name: r for r in decode(out.read_bytes()).records}
    assert records["pv0@xd"].ring is not None and records["pv0@xd"].hypervisor_log is not None
    assert all(records[f"vtty{i}@ct"].termios is not None for i in (0, 1))
