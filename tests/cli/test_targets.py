"""Targets through the real CLI: ``provider:id`` forms, and names two providers share.

The lab and the fake OpenVZ host (tests/providers/fakehost.py) both have a
container called ``web``: lab 201 and openvz 101. Every command that takes a
target must refuse the bare name, list both candidates and change nothing;
``provider:id`` picks one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.lab_host import LabHost
from tests.providers.fakehost import FakeHost

EXIT_UNKNOWN = 4


@pytest.fixture
def two_webs(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LabHost]:
    """A broker with the lab (web = 201) and the fake OpenVZ host (web = 101)."""
    fake = FakeHost(runtime / "fakehost")
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VCONSOLE_PROVIDERS", "openvz,lab")
    host = LabHost(runtime)
    host.write_config(fake.config())
    host.start_lab(host.write_fleet([{"id": 201, "name": "web", "vttys": 2}, {"id": 202, "name": "solo"}]))
    host.start_broker()
    yield host
    host.cleanup()
    fake.close()


def _webs(host: LabHost) -> dict[str, dict[str, Any]]:
    """The guests called web, by provider."""
    result = host.cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    return {g["provider"]: g for g in json.loads(result.stdout)["guests"] if g["name"] == "web"}


def _until(host: LabHost, check: Any, what: str, timeout: float = 20) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        webs = _webs(host)
        if check(webs):
            return webs
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: {webs}")
        time.sleep(0.2)


def _refused(host: LabHost, *args: str) -> str:
    result = host.cli(*args)
    assert result.returncode == EXIT_UNKNOWN, (args, result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_a_name_two_providers_share_is_refused_everywhere(two_webs: LabHost) -> None:
    host = two_webs
    before = _until(host, lambda w: set(w) == {"lab", "openvz"}
                    and all(g["state"] == "running" for g in w.values()), "both webs running")
    for args in (("start", "web"), ("stop", "web"), ("attach", "web"), ("attach", "web:1"),
                 ("snapshot", "web", "-o", str(host.base / "w.vcsnap"))):
        err = _refused(host, *args)
        assert "'web' matches several guests" in err, (args, err)
        assert "lab:201" in err and "openvz:101" in err, (args, err)
    time.sleep(1.0)  # a stop acted on would show by now
    assert {p: g["state"] for p, g in _webs(host).items()} == {p: g["state"] for p, g in before.items()}
    assert not (host.base / "w.vcsnap").exists()

    # provider:id names exactly one of them.
    stopped = host.cli("stop", "openvz:101")
    assert stopped.returncode == 0, stopped.stderr
    webs = _until(host, lambda w: w["openvz"]["state"] == "stopped", "openvz web to stop")
    assert webs["lab"]["state"] == "running"
    started = host.cli("start", "openvz:101")
    assert started.returncode == 0, started.stderr
    _until(host, lambda w: w["openvz"]["state"] == "running", "openvz web to start")

    # A guest name no other provider has stays a plain name.
    assert host.cli("stop", "solo").returncode == 0


def test_provider_id_targets_attach_and_snapshot(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    socket = str(lab_host.paths.socket)
    for target in (("lab:101:1",), ("lab:101", "1"), ("lab:web:vtty1",), ("web:1",), ("web", "1")):
        # stdin holds the escape: attach replays, then detaches at it (at EOF it would keep watching).
        shown = run_cli("attach", *target, "--read-only", "--from-start", "--socket", socket, input=b"\x1d.")
        assert shown.returncode == 0, (target, shown.stderr)
        assert "attached to web vtty1" in shown.stderr, (target, shown.stderr)
    snap = lab_host.base / "t.vcsnap"
    result = lab_host.cli("snapshot", "lab:101:1", "-o", str(snap))
    assert result.returncode == 0, result.stderr
    assert "1 console(s)" in result.stdout and snap.exists()

    cases = [
        (("attach", "lab:101:1", "2"), "names its console already"),
        (("attach", "a:b:c:d"), "bad target"),
        (("attach", "nope:1:2"), "'nope' is not a provider"),
        (("stop", "web:1"), "names a console"),
        (("attach", "lab:999"), "no guest named 'lab:999'"),
    ]
    for args, message in cases:
        result = lab_host.cli(*args)
        assert result.returncode in (2, EXIT_UNKNOWN), (args, result.returncode, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
