"""Issue 18 acceptance 3: the broker speaks the service manager's notify protocol.

A test plays systemd: it binds the datagram socket named by NOTIFY_SOCKET,
starts a real broker on a real lab, and reads what the broker says.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_host import LabHost
from vconsole.broker.service_notify import NotifyTarget, watchdog_interval
from vconsole.detached import socket_answers

FLEET = [{"id": 101, "name": "web", "vttys": 2}, {"id": 102, "name": "db", "vttys": 1}]


class Manager:
    """The service manager's end of NOTIFY_SOCKET: every datagram the broker sends, in order."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.messages: list[tuple[float, dict[str, str]]] = []

    def receive(self, timeout: float) -> dict[str, str] | None:
        """The next datagram's KEY=VALUE lines, or None after ``timeout`` seconds."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines())
        self.messages.append((time.monotonic(), fields))
        return fields

    def wait_for(self, key: str, timeout: float = 20.0) -> dict[str, str]:
        """The first datagram from now on that carries ``key``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            fields = self.receive(left)
            if fields is not None and key in fields:
                return fields
        pytest.fail(f"no {key}= within {timeout} s; got {[m for _, m in self.messages]}")


@pytest.fixture
def manager(lab_host: LabHost) -> Iterator[Manager]:
    """A notify socket (a path in the test's directory) and a lab with two guests, broker not started."""
    lab_host.start_lab(lab_host.write_fleet(FLEET))
    path = lab_host.base / "notify.sock"
    mgr = Manager(str(path))
    yield mgr
    mgr.sock.close()


def _listing(lab_host: LabHost) -> tuple[int, int]:
    listing = json.loads(lab_host.cli("ls", "--json").stdout)
    return len(listing["guests"]), sum(len(g["consoles"]) for g in listing["guests"])


async def test_ready_after_discovery_then_status(
    lab_host: LabHost, manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", manager.sock.getsockname())
    lab_host.start_broker()
    ready = manager.wait_for("READY")
    assert ready["READY"] == "1"
    # READY's own status line already counts every guest and console of the fleet:
    # it was composed after discovery, not before.
    guests, consoles = _listing(lab_host)
    assert (guests, consoles) == (2, 3)  # one console per vtty
    assert ready["STATUS"].startswith(f"{guests} guests, {consoles} consoles")
    assert socket_answers(lab_host.paths.socket)
    # Nothing came before READY: it is the first word of this broker.
    assert manager.messages[0][1] is ready

    await lab_host.destroy("web")
    # The guest stops, then goes: the status follows (through "0 connected" or not, by timing).
    deadline = time.monotonic() + 20
    while not manager.wait_for("STATUS")["STATUS"].startswith("1 guest, 1 console (1 connected)"):
        assert time.monotonic() < deadline, manager.messages
    # No watchdog asked for, none sent.
    assert not any("WATCHDOG" in m for _, m in manager.messages)

    assert lab_host.broker is not None
    lab_host.broker.send_signal(signal.SIGTERM)
    stopping = manager.wait_for("STOPPING")
    assert stopping["STOPPING"] == "1"
    assert lab_host.broker.wait(20) == 0


async def test_watchdog_pings_at_half_the_interval(
    lab_host: LabHost, manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", manager.sock.getsockname())
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    lab_host.start_broker()
    manager.wait_for("READY")
    start = time.monotonic()
    pings = [manager.wait_for("WATCHDOG") for _ in range(8)]
    elapsed = time.monotonic() - start
    assert all(p["WATCHDOG"] == "1" for p in pings)
    # Every 0.1 s (half the 0.2 s timeout): eight pings take about 0.8 s
    # (the upper bound leaves room for a loaded machine).
    assert 0.6 < elapsed < 3.0, elapsed


async def test_abstract_socket_and_children_do_not_inherit(
    lab_host: LabHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"vconsole-test-{os.getpid()}-{time.monotonic_ns()}"
    mgr = Manager("\0" + name)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        # The broker starts the lab itself here: the lab must not get NOTIFY_SOCKET.
        lab_host.write_config(f'[lab]\nfleet = "{lab_host.write_fleet(FLEET)}"\n')
        lab_host.start_broker()
        assert mgr.wait_for("READY")["READY"] == "1"
        pid = int(lab_host.paths.lab_socket.with_name(lab_host.paths.lab_socket.name + ".pid").read_text().split()[0])
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not any(v.startswith(b"NOTIFY_SOCKET=") for v in environ)
    finally:
        mgr.sock.close()


def test_watchdog_meant_for_another_process_is_not_ours() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "3000000"}, 42) == 1.5
    assert watchdog_interval({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "42"}, 42) == 1.5
    assert watchdog_interval({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "41"}, 42) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}, 42) is None
    assert NotifyTarget.from_environment({}, 42) is None
    assert NotifyTarget.from_environment({"NOTIFY_SOCKET": "relative"}, 42) is None
    target = NotifyTarget.from_environment({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1"}, 42)
    assert target == NotifyTarget("\0x", 5e-7)
