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
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.hosts.conftest import RemoteHost
from tests.ssh_server import SshServer, _descendants, needs_sshd
from vconsole.client import Client
from vconsole.config import HostSettings
from vconsole.domain import Target
from vconsole.ssh_transport import SshBroker
from vconsole.wire import HEADER, MAX_FRAME, PROTOCOL_VERSION, FrameDecoder, Message, encode

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


# --- without ssh: the bridge on pipes or on a socket, as sshd could give it ----------------------


@contextlib.contextmanager
def _bridge(command: str, stdio: str) -> Iterator[tuple[subprocess.Popen[bytes], socket.socket | None]]:
    """``COMMAND bridge`` on pipes, or on one end of a socketpair (the other end yielded)."""
    argv = ["sh", "-c", f"exec {command} bridge"]
    ours: socket.socket | None = None
    if stdio == "socket":
        ours, theirs = socket.socketpair()
        proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=subprocess.PIPE)
        theirs.close()
    else:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield proc, ours
    finally:
        if ours is not None:
            ours.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()


class _Ends:
    """Write to and read frames from a bridge's standard input and output."""

    def __init__(self, proc: subprocess.Popen[bytes], sock: socket.socket | None) -> None:
        self.proc, self.sock = proc, sock
        self.decoder = FrameDecoder()
        self.frames: list[Message] = []

    def write(self, data: bytes) -> None:
        if self.sock is not None:
            self.sock.sendall(data)
        else:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def close_input(self) -> None:
        if self.sock is not None:
            self.sock.shutdown(socket.SHUT_WR)
        else:
            assert self.proc.stdin is not None
            self.proc.stdin.close()

    def _read(self) -> bytes:
        if self.sock is not None:
            return self.sock.recv(65536)
        assert self.proc.stdout is not None
        return os.read(self.proc.stdout.fileno(), 65536)

    def next(self, timeout: float = 30) -> Message:
        deadline = time.monotonic() + timeout
        while not self.frames:
            assert time.monotonic() < deadline, "no frame from the bridge"
            chunk = self._read()
            assert chunk, "the bridge's output ended"
            for item in self.decoder.feed(chunk):
                assert isinstance(item, dict), item
                self.frames.append(item)
        return self.frames.pop(0)

    def at_end(self) -> bool:
        return not self.frames and self._read() == b""


@pytest.mark.parametrize("stdio", ["pipes", "socket"])
def test_a_handed_off_connection_keeps_the_frame_limit_and_ends_on_eof(
    three_hosts: dict[str, RemoteHost], stdio: str
) -> None:
    """hello and list work; the bridge lets go of its fds; an oversized frame is refused and ends it."""
    with _bridge(three_hosts["h1"].command, stdio) as (proc, sock):
        ends = _Ends(proc, sock)
        assert ends.next()["bridge"] == "vconsole"
        ends.write(encode({"op": "hello", "id": 1, "version": PROTOCOL_VERSION}))
        hello = ends.next()
        assert hello["ok"] and hello["id"] == 1
        wait_for(lambda: _stdio(proc.pid) == ("/dev/null", "/dev/null"), what="the bridge to let go of its fds")
        ends.write(encode({"op": "list", "id": 2}))
        assert sorted(g["name"] for g in ends.next()["guests"]) == ["db", "web"]
        ends.write(HEADER.pack(MAX_FRAME + 1) + b"\0" * 64)
        error = ends.next()
        assert error["error"]["code"] == "too_large", error
        assert ends.at_end()  # the broker ended the connection, as on its own socket
        assert proc.wait(20) == 0
        assert proc.stderr is not None and proc.stderr.read() == b""
        assert _alive(hello["pid"])


def test_eof_from_ssh_ends_the_bridge(three_hosts: dict[str, RemoteHost]) -> None:
    with _bridge(three_hosts["h3"].command, "pipes") as (proc, sock):
        ends = _Ends(proc, sock)
        ends.next()
        ends.write(encode({"op": "hello", "id": 1, "version": PROTOCOL_VERSION}))
        broker_pid = ends.next()["pid"]
        wait_for(lambda: _stdio(proc.pid)[0] == "/dev/null", what="the handoff")
        ends.close_input()
        assert ends.at_end()
        assert proc.wait(20) == 0
        assert _alive(broker_pid)


def _old_broker(host: RemoteHost) -> subprocess.Popen[bytes]:
    """The host's broker as a release without ``handoff`` would run it (the op taken out of the table)."""
    code = (
        "import sys; from vconsole.broker.operations import OPERATIONS; del OPERATIONS['handoff'];"
        " from vconsole.cli import main; sys.exit(main(['serve']))"
    )
    command = host.command.replace(" -m vconsole", f" -c {shlex.quote(code)}")
    return subprocess.Popen(
        ["sh", "-c", f"exec {command}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_a_broker_without_handoff_gets_a_relaying_bridge(three_hosts: dict[str, RemoteHost]) -> None:
    host = three_hosts["h2"]
    broker = _old_broker(host)
    try:
        wait_for(lambda: list((host.base / "run").rglob("broker.sock")), timeout=30, what="the old broker")
        with _bridge(host.command, "pipes") as (proc, sock):
            ends = _Ends(proc, sock)
            assert ends.next()["bridge"] == "vconsole"
            ends.write(encode({"op": "hello", "id": 1, "version": PROTOCOL_VERSION}))
            hello = ends.next()
            assert hello["ok"] and hello["pid"] == broker.pid
            ends.write(encode({"op": "list", "id": 2}))
            assert sorted(g["name"] for g in ends.next()["guests"]) == ["cache", "web"]
            assert all(fd.startswith("pipe:") for fd in _stdio(proc.pid))  # it relays
            ends.close_input()
            assert ends.at_end()
            assert proc.wait(20) == 0
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(20)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()



def _rss(pid: int) -> int:
    """Resident bytes of process ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _console_end(command: str, guest: str, console: str) -> int:
    """A console's history end, asked through a bridge of its own."""
    with _bridge(command, "pipes") as (proc, sock):
        ends = _Ends(proc, sock)
        ends.next()
        ends.write(encode({"op": "hello", "id": 1, "version": PROTOCOL_VERSION}))
        ends.next()
        ends.write(encode({"op": "list", "id": 2}))
        guests = ends.next()["guests"]
        ends.close_input()
    found = next(g for g in guests if g["name"] == guest)
    return int(next(c for c in found["consoles"] if c["name"] == console)["end"])


def test_a_stalled_reader_of_a_handed_off_connection_holds_the_broker_back_not_its_memory(
    three_hosts: dict[str, RemoteHost],
) -> None:
    """ssh not reading: the broker stops sending (back-pressure) but keeps the guest's output; then all of it comes."""
    command = three_hosts["h1"].command
    size = 40_000_000
    with _bridge(command, "pipes") as (proc, sock):
        ends = _Ends(proc, sock)
        ends.next()
        ends.write(encode({"op": "hello", "id": 1, "version": PROTOCOL_VERSION}))
        broker_pid = ends.next()["pid"]
        ends.write(encode({"op": "attach", "id": 2, "target": "web", "console": 1}))
        attached = ends.next()
        while attached.get("id") != 2:  # events may come first
            attached = ends.next()
        assert attached.get("ok"), attached
        offset = attached["offset"]
        wait_for(lambda: _stdio(proc.pid)[1] == "/dev/null", what="the handoff")
        before = _rss(broker_pid)
        typed = f"head -c {size} /dev/zero | tr '\\0' '\\121'; echo; echo flood-$((40+2))\n".encode()
        ends.write(encode({"op": "input", "id": 3, "session": attached["session"], "data": typed}))
        # Nobody reads the bridge's output now; the guest's 40 MB still reach the broker's history and log.
        wait_for(lambda: _console_end(command, "web", "vtty1") >= offset + size, timeout=180, what="the flood")
        grown = _rss(broker_pid) - before
        assert grown < 20_000_000, f"the broker grew by {grown} bytes for a client that does not read"
        received, missed, tail, deadline = 0, 0, b"", time.monotonic() + 180
        while b"flood-42" not in tail:
            assert time.monotonic() < deadline, "the output did not all come"
            event = ends.next()
            if event.get("event") == "missed":  # older than the console's log keeps: said, and counted
                assert event["offset"] == offset + event["count"]
                offset, missed = event["offset"], missed + event["count"]
            if event.get("event") != "output":
                continue
            assert event["offset"] == offset, "a gap or an overlap in the output"
            offset += len(event["data"])
            received += event["data"].count(b"Q")
            tail = (tail + event["data"])[-64:]
        # The rest from the log, where the memory history had moved on: every byte comes or is said missed.
        assert received > 0 and size <= received + missed <= size + 4096, (received, missed)
        ends.close_input()
        assert proc.wait(20) == 0
