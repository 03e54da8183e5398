"""Why a connection over ssh ended: ssh's own last line, or that the broker there went away."""

from __future__ import annotations

import asyncio
import os
import signal

from tests.hosts.conftest import RemoteHost
from tests.ssh_server import SshServer, needs_sshd
from vconsole.config import HostSettings
from vconsole.reconnect import AttemptFailed, Disconnected, LinkEvent, ReconnectingClient
from vconsole.ssh_transport import BROKER_WENT_AWAY, SshBroker

pytestmark = needs_sshd


def _settings(host: RemoteHost, sshd: SshServer) -> HostSettings:
    return HostSettings(host.name, "root@127.0.0.1", tuple(sshd.options()), host.command)


def test_a_killed_remote_broker_is_the_broker_there_went_away(
    sshd: SshServer, three_hosts: dict[str, RemoteHost]
) -> None:
    async def run() -> str | None:
        broker = SshBroker(_settings(three_hosts["h2"], sshd))
        try:
            client = await broker.connect()
            await client.list_guests()
            pidfile = three_hosts["h2"].base / "run" / "vconsole" / "broker.sock.pid"
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
            await asyncio.wait_for(client.closed.wait(), 10)
            return await broker.why_lost(client)
        finally:
            await broker.close()

    assert asyncio.run(run()) == BROKER_WENT_AWAY


def test_a_lost_sshd_is_sshs_last_line_and_each_failed_attempt_says_why(
    sshd: SshServer, three_hosts: dict[str, RemoteHost]
) -> None:
    """The host's sshd goes down with its connections: the link's Disconnected and AttemptFailed say why."""
    events: list[LinkEvent] = []

    async def run() -> None:
        broker = SshBroker(_settings(three_hosts["h1"], sshd), timeout=10)
        link = ReconnectingClient(lambda: broker.connect(start=False), events.append, lambda _e: None,
                                  why_lost=broker.why_lost)
        try:
            await link.start(await broker.connect())
            sshd.stop()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while not any(isinstance(e, AttemptFailed) for e in events) and loop.time() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await link.close()
            await broker.close()

    asyncio.run(run())
    lost = [e for e in events if isinstance(e, Disconnected)]
    assert len(lost) == 1, events
    assert lost[0].reason not in ("", BROKER_WENT_AWAY) and "\n" not in lost[0].reason, lost[0]
    assert "closed" in lost[0].reason.lower() or "ssh ended" in lost[0].reason, lost[0]
    failed = next(e for e in events if isinstance(e, AttemptFailed))
    assert "Connection refused" in failed.reason, failed
