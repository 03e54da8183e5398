"""The bridge hands ssh's pipes (or socket) to the broker and relays nothing; the relay stays as the fallback.

Over the real test sshd and real brokers. That the handoff happened is seen
from outside: the bridge's standard input and output are /dev/null (the
broker holds ssh's pipes) and it uses no CPU while megabytes flow; a
relaying bridge keeps the pipes and pays for every byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from tests.conftest import wait_for
from tests.hosts.conftest import RemoteHost
from tests.ssh_server import SshServer, _descendants, needs_sshd
from vconsole.client import Client
from vconsole.config import HostSettings
from vconsole.domain import Target
from vconsole.ssh_transport import SshBroker

pytestmark = needs_sshd
FLOOD = 20_000_000
TICK = 1 / os.sysconf("SC_CLK_TCK")


def _relaying(command: str) -> str:
    """``command`` with the bridge told to relay (VCONSOLE_BRIDGE_RELAY=1)."""
    assert command.startswith("env ")
    return command.replace("env ", "env VCONSOLE_BRIDGE_RELAY=1 ", 1)


def _settings(host: RemoteHost, sshd: SshServer, relay: bool = False) -> HostSettings:
    command = _relaying(host.command) if relay else host.command
    return HostSettings(host.name, "root@127.0.0.1", tuple(sshd.options()), command)


def _bridges(host: RemoteHost) -> list[int]:
    """The pids of ``vconsole bridge`` processes running for ``host`` (by their runtime directory)."""
    mark = f"XDG_RUNTIME_DIR={host.base / 'run'}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"bridge" in argv and b"vconsole" in argv and mark in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
    return found


def _stdio(pid: int) -> tuple[str, str]:
    return os.readlink(f"/proc/{pid}/fd/0"), os.readlink(f"/proc/{pid}/fd/1")


def _cpu(pid: int) -> float:
    """Seconds of CPU (user + system) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * TICK


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _flood(client: Client, size: int) -> int:
    """Have h2's web:1 print ``size`` bytes; return how many arrived, in order, once all did."""
    reply = await client.attach(Target("web", console=1))
    offset, received, tail = reply.offset, 0, b""
    await client.input(reply.session, f"head -c {size} /dev/zero | tr '\\0' '\\121'; echo; echo flood-$((40+2))\n".encode())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 180
    while b"flood-42" not in tail:
        event = await asyncio.wait_for(client.events.get(), max(0.1, deadline - loop.time()))
        if event.get("event") != "output":
            continue
        assert event["offset"] == offset, "a gap or an overlap in the output"
        offset += len(event["data"])
        received += event["data"].count(b"Q")  # tr's \121: the typed line holds no Q
        tail = (tail + event["data"])[-64:]
    return received


def _measure(host: RemoteHost, sshd: SshServer, relay: bool, size: int) -> tuple[tuple[str, str], float, int]:
    """Over ssh: the bridge's stdio, the CPU it used while ``size`` bytes flowed, and the bytes that arrived."""

    async def run() -> tuple[tuple[str, str], float, int]:
        broker = SshBroker(_settings(host, sshd, relay))
        try:
            client = await broker.connect()
            [pid] = _bridges(host)
            # The broker serves the client before the bridge has let go of its copies: wait for that.
            handed = ("/dev/null", "/dev/null")
            with contextlib.suppress(BaseException):
                wait_for(lambda: relay or _stdio(pid) == handed, timeout=5, what="the handoff")
            stdio, before = _stdio(pid), _cpu(pid)
            received = await _flood(client, size)
            return stdio, _cpu(pid) - before, received
        finally:
            await broker.close()

    return asyncio.run(run())


def test_the_bridge_hands_ssh_pipes_to_the_broker_and_idles_while_20_mb_flow(
    sshd: SshServer, three_hosts: dict[str, RemoteHost]
) -> None:
    stdio, cpu, received = _measure(three_hosts["h2"], sshd, relay=False, size=FLOOD)
    assert received == FLOOD
    assert stdio == ("/dev/null", "/dev/null")  # the broker holds ssh's pipes, the bridge none
    assert cpu <= TICK, f"the bridge used {cpu:.3f} s of CPU: it relays"


def test_told_to_relay_the_bridge_keeps_the_pipes_and_carries_every_byte(
    sshd: SshServer, three_hosts: dict[str, RemoteHost]
) -> None:
    # 3x the bytes: relaying 20 MB costs about 0.03 s here, and the handoff test allows 0.01.
    stdio, cpu, received = _measure(three_hosts["h2"], sshd, relay=True, size=3 * FLOOD)
    assert received == 3 * FLOOD
    assert all(fd.startswith("pipe:") for fd in stdio), stdio
    assert cpu > 2 * TICK, f"a relaying bridge used only {cpu:.3f} s of CPU: the measure cannot tell"


def test_when_ssh_goes_away_the_session_ends_and_the_broker_keeps_running(
    sshd: SshServer, three_hosts: dict[str, RemoteHost]
) -> None:
    host = three_hosts["h1"]

    async def attached() -> tuple[int, int]:
        broker = SshBroker(_settings(host, sshd))
        client = await broker.connect()
        broker_pid = (await client.hello()).pid
        await client.attach(Target("web", console=1))
        [bridge] = _bridges(host)
        # The local ssh dies as with a lost network; nothing is closed politely.
        for pid in _descendants(os.getpid()):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ssh\0"):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await broker.close()
        return bridge, broker_pid

    bridge, broker_pid = asyncio.run(attached())
    wait_for(lambda: not _alive(bridge), timeout=20, what="the bridge to exit")
    assert _alive(broker_pid)

    async def attached_pids() -> list[int]:
        broker = SshBroker(_settings(host, sshd))
        try:
            client = await broker.connect()
            listing = await client.list_guests()
            web = next(g for g in listing["guests"] if g["name"] == "web")
            return [a["pid"] for c in web["consoles"] for a in c["attached"]]
        finally:
            await broker.close()

    assert bridge not in asyncio.run(attached_pids())  # the broker closed the handed-off connection
    assert _alive(broker_pid)
    wait_for(lambda: not _bridges(host), timeout=20, what="no bridge left")


def test_when_the_broker_dies_the_client_sees_the_end_and_the_bridge_exits(
    sshd: SshServer, three_hosts: dict[str, RemoteHost]
) -> None:
    """ssh's pipes die with the broker (its lab lives on): the client is told, the bridge is not left."""
    host = three_hosts["h3"]

    async def run() -> int:
        broker = SshBroker(_settings(host, sshd))
        try:
            client = await broker.connect()
            broker_pid = (await client.hello()).pid
            [bridge] = _bridges(host)
            wait_for(lambda: _stdio(bridge) == ("/dev/null", "/dev/null"), timeout=5, what="the handoff")
            os.kill(broker_pid, signal.SIGKILL)
            await asyncio.wait_for(client.closed.wait(), 20)
            return bridge
        finally:
            await broker.close()

    bridge = asyncio.run(run())
    wait_for(lambda: not _alive(bridge), timeout=20, what="the bridge to exit")
