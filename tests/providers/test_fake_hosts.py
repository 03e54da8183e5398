"""OpenVZ and Xen providers against the fake tools, through a real broker and ``vconsole attach``."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ptyprocess import PtyProcess

from tests.lab_host import LabHost
from tests.providers.attach import Attached
from tests.providers.fakehost import FakeHost


@pytest.fixture
def fake(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeHost, LabHost]]:
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


def _listing(broker: LabHost) -> dict:  # type: ignore[type-arg]
    result = broker.cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _wait(broker: LabHost, check, timeout: float = 15) -> dict:  # type: ignore[no-untyped-def,type-arg]
    deadline = time.monotonic() + timeout
    while True:
        listing = _listing(broker)
        if check(listing):
            return listing
        if time.monotonic() > deadline:
            pytest.fail(f"listing never matched: {json.dumps(listing)[:3000]}")
        time.sleep(0.2)


def _console(listing: dict, name: str, console: str) -> dict:  # type: ignore[type-arg]
    guest = next(g for g in listing["guests"] if g["name"] == name)
    return next(c for c in guest["consoles"] if c["name"] == console)  # type: ignore[no-any-return]


def test_openvz_and_xen_listed_and_attached(fake: tuple[FakeHost, LabHost]) -> None:
    host, broker = fake
    broker.start_broker()
    listing = _wait(broker, lambda ls: {g["name"] for g in ls["guests"]} >= {"web", "db.example.com", "web01"}
                    and _console(ls, "web", "vtty1")["state"] == "connected"
                    and _console(ls, "web01", "pv0")["state"] == "connected")
    by_name = {g["name"]: g for g in listing["guests"]}
    assert by_name["web"]["provider"] == "openvz" and by_name["web"]["id"] == "101"
    assert by_name["db.example.com"]["state"] == "stopped"
    assert by_name["web01"]["provider"] == "xen" and by_name["web01"]["kind"] == "domu"
    assert [c["name"] for c in by_name["web01"]["consoles"]] == ["pv0", "pv1", "serial0"]
    assert _console(listing, "web01", "pv0")["limit"] == 1048576
    assert by_name["win-hvm"]["state"] == "paused"
    assert "Domain-0" not in by_name
    assert all(p["error"] is None for p in listing["providers"])

    ct = Attached(broker.paths.socket, "web", "1")
    try:
        # ESC . after Enter would detach a plain vzctl console; the guard keeps us attached.
        # The guest gets ESC ESC . there (vzctl has no way to pass ESC . after
        # Enter), which the shell rejects as a command.
        # vzctl puts its terminal in raw mode with TCSAFLUSH once attached, which
        # drops keys typed before that: wait for a fresh prompt, as a person would.
        since = ct.poke_until(b"\r", b"ct101# ")
        ct.send(b"true\r\x1b.\r")
        ct.send(b"echo ct-$((40+2))\r")
        ct.expect(b"ct-42", since=since, timeout=40)
        assert ct.detach() == 0
    finally:
        ct.close()
    assert _console(_listing(broker), "web", "vtty1")["state"] == "connected"

    dom = Attached(broker.paths.socket, "web01", "pv0")
    try:
        # Input typed before the fake domU finished booting is flushed, as a real
        # getty would: wait for its prompt first.
        since = dom.poke_until(b"\r", b"domU# ")
        dom.send(b"echo hello-xen\r")
        dom.expect(b"\r\nhello-xen\r\n", since=since, timeout=40)
        assert dom.detach() == 0
    finally:
        dom.close()
    # vconsole holds xenconsole's lock for the domain, as xl console would.
    lock = host.lock_dir / "xenconsole.3"
    fd = os.open(lock, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_busy_consoles(fake: tuple[FakeHost, LabHost]) -> None:
    host, _broker = fake
    # An outside vzctl console holds vtty0 of CT 101; xl console holds domain 3's lock.
    vz_lock = os.open(host.state / "vtty-101-0.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(vz_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    xen_lock = os.open(host.lock_dir / "xenconsole.3", os.O_RDWR | os.O_CREAT)
    fcntl.flock(xen_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        _broker.start_broker()
        listing = _wait(_broker, lambda ls: any(g["name"] == "web01" for g in ls["guests"])
                        and _console(ls, "web", "vtty0")["state"] == "busy"
                        and _console(ls, "web01", "pv0")["state"] == "busy")
        assert "Device or resource busy" in _console(listing, "web", "vtty0")["reason"]
        assert "xenconsole.3" in _console(listing, "web01", "pv0")["reason"]
        assert _console(listing, "web", "vtty1")["state"] == "connected"
    finally:
        os.close(vz_lock)
        os.close(xen_lock)
    _wait(_broker, lambda ls: _console(ls, "web", "vtty0")["state"] == "connected"
          and _console(ls, "web01", "pv0")["state"] == "connected")


@pytest.mark.parametrize("mode", ["fail", "hang", "garbage"])
def test_broken_tool_leaves_other_providers_working(fake: tuple[FakeHost, LabHost], mode: str) -> None:
    host, broker = fake
    host.misbehave("vzlist", mode)
    broker.start_broker()
    listing = _wait(broker, lambda ls: any(p["error"] for p in ls["providers"])
                    and any(g["name"] == "web01" for g in ls["guests"]), timeout=20)
    errors = {p["name"]: p["error"] for p in listing["providers"]}
    assert errors["xen"] is None
    want = {"fail": "exit status 3: vzlist: Unable to open /dev/fake",
            "hang": "timed out after 2s", "garbage": "unparseable output"}[mode]
    assert errors["openvz"].startswith("vzlist: ") and want in errors["openvz"]
    table = broker.cli("ls")
    assert table.returncode == 0
    assert f"vconsole: provider openvz failed: {errors['openvz']}" in table.stderr
    assert "web01" in table.stdout


def test_busy_holders_named_and_taken_over(fake: tuple[FakeHost, LabHost]) -> None:
    """Issue 16 on OpenVZ and Xen: an outside ``vzctl console`` and a holder of xenconsole's flock.

    Each is named in ``ls --json`` (the vzctl from its command line, the lock's
    owner from /proc/locks) and ``attach --force`` ends it and attaches.
    """
    host, broker = fake
    vzctl = PtyProcess.spawn(["vzctl", "console", "101", "1"], env=host.env())
    lock = host.lock_dir / "xenconsole.3"
    xl_console = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert xl_console.stdout is not None and xl_console.stdout.readline().strip() == "locked"
        deadline = time.monotonic() + 10
        seen = b""
        while b"Attached to CT 101" not in seen and time.monotonic() < deadline:
            with contextlib.suppress(EOFError):
                seen += vzctl.read(4096)
        broker.start_broker()
        listing = _wait(broker, lambda ls: any(g["name"] == "web01" for g in ls["guests"])
                        and _console(ls, "web", "vtty0")["holder"] is not None
                        and _console(ls, "web01", "pv0")["holder"] is not None)
        vz_holder = _console(listing, "web", "vtty0")["holder"]
        assert vz_holder["pid"] == vzctl.pid and vz_holder["command"].endswith("/vzctl console 101 1")
        xen_holder = _console(listing, "web01", "pv0")["holder"]
        assert xen_holder["pid"] == xl_console.pid and xen_holder["uid"] == os.getuid()
        assert _console(listing, "web", "vtty1")["holder"] is None  # a free console has none

        for guest, console, proc_alive in (("web", "0", vzctl.isalive), ("web01", "pv0", lambda: xl_console.poll() is None)):
            att = Attached(broker.paths.socket, guest, console, "--force")
            try:
                since = att.poke_until(b"\r", b"# ")
                att.send(b"echo forced-" + guest.encode() + b"\r")
                att.expect(b"forced-" + guest.encode(), since=since, timeout=20)
                assert not proc_alive()
                assert att.detach() == 0
            finally:
                att.close()
    finally:
        vzctl.close(force=True)
        xl_console.kill()
        xl_console.wait(5)
