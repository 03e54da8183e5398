"""``vconsole bridge`` and the ssh transport over a real sshd: greeting, relay, one-line failures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.hosts.conftest import RemoteHost, host_table, other_version_vconsole, write_client_config
from tests.ssh_server import SshServer, needs_sshd
from vconsole import __version__
from vconsole.cli.hosts import HOST_TIMEOUT
from vconsole.config import HostSettings
from vconsole.domain import Target
from vconsole.ssh_transport import BridgeGreeting, HostUnreachable, SshBroker, VersionMismatch
from vconsole.wire import PROTOCOL_VERSION, FrameDecoder, encode

pytestmark = needs_sshd


def _settings(host: RemoteHost, sshd: SshServer, command: str | None = None) -> HostSettings:
    return HostSettings(host.name, "root@127.0.0.1", tuple(sshd.options()), command or host.command)


def test_bridge_greets_then_relays_the_broker_protocol(three_hosts: dict[str, RemoteHost]) -> None:
    """Without ssh: the bridge's stdout is its greeting, then the broker's replies, unchanged; EOF ends it."""
    proc = subprocess.Popen(
        ["sh", "-c", f"{three_hosts['h1'].command} bridge"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(encode({"op": "hello", "id": 1, "version": PROTOCOL_VERSION}))
        proc.stdin.write(encode({"op": "list", "id": 2}))
        proc.stdin.flush()
        decoder = FrameDecoder()
        frames: list[object] = []
        deadline = time.monotonic() + 30
        while len(frames) < 3:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no reply from the bridge: {frames}"
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"the bridge ended early: {proc.stderr.read()!r}"
            frames += decoder.feed(chunk)
        greeting, hello, listing = frames
        assert isinstance(greeting, dict) and BridgeGreeting.from_wire(greeting) == BridgeGreeting.ours()
        assert isinstance(hello, dict) and hello["ok"] and hello["id"] == 1
        assert isinstance(listing, dict) and sorted(g["name"] for g in listing["guests"]) == ["db", "web"]
        proc.stdin.close()
        assert proc.wait(20) == 0
        assert proc.stdout.read() == b"" and proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bridge_without_broker_says_why_in_its_greeting_and_one_line(three_hosts: dict[str, RemoteHost]) -> None:
    host = three_hosts["h1"]
    proc = subprocess.run(
        ["sh", "-c", f"{host.command} bridge --no-start"], input=b"", capture_output=True, timeout=60,
    )
    assert proc.returncode == 3
    greeting = FrameDecoder().feed(proc.stdout)[0]
    assert isinstance(greeting, dict) and "no broker" in greeting["error"]
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vconsole bridge: no broker on "), lines


def test_client_over_ssh_lists_the_remote_fleet(sshd: SshServer, three_hosts: dict[str, RemoteHost]) -> None:
    async def run() -> list[str]:
        broker = SshBroker(_settings(three_hosts["h2"], sshd))
        try:
            client = await broker.connect()
            listing = await client.list_guests()
            assert broker.remote_version is not None
            # Its broker runs as our uid here, but its files are another machine's: no path is named to it.
            assert client.broker_info is not None and client.broker_info.uid == os.getuid()
            assert not client.names_files
            return sorted(g["name"] for g in listing["guests"])
        finally:
            await broker.close()

    assert asyncio.run(run()) == ["cache", "web"]


def test_missing_remote_vconsole_is_one_line(sshd: SshServer, three_hosts: dict[str, RemoteHost]) -> None:
    async def run() -> None:
        await SshBroker(_settings(three_hosts["h1"], sshd, "/nonexistent/vconsole")).connect()

    with pytest.raises(HostUnreachable) as err:
        asyncio.run(run())
    assert "no vconsole there: '/nonexistent/vconsole' was not found" in err.value.reason
    assert "\n" not in err.value.reason


def test_unreachable_host_is_sshs_own_line(three_hosts: dict[str, RemoteHost], sshd: SshServer) -> None:
    settings = HostSettings("gone", "root@127.0.0.1", ("-p", "1", "-o", "ConnectTimeout=5"), three_hosts["h1"].command)

    with pytest.raises(HostUnreachable) as err:
        asyncio.run(SshBroker(settings).connect())
    assert "Connection refused" in err.value.reason and "\n" not in err.value.reason


def test_another_protocol_version_names_both(sshd: SshServer, three_hosts: dict[str, RemoteHost], runtime: Path) -> None:
    with pytest.raises(VersionMismatch) as err:
        asyncio.run(SshBroker(_settings(three_hosts["h1"], sshd, str(other_version_vconsole(runtime)))).connect())
    assert err.value.reason == (
        f"version mismatch: vconsole 9.9.9 there speaks protocol 99, vconsole {__version__} here speaks {PROTOCOL_VERSION}"
    )


def test_ls_shows_a_host_of_another_version_and_lists_the_others(
    runtime: Path, sshd: SshServer, three_hosts: dict[str, RemoteHost]
) -> None:
    tables = [host_table("h1", sshd, three_hosts["h1"].command), host_table("old", sshd, str(other_version_vconsole(runtime)))]
    write_client_config(runtime, tables)
    result = run_cli("ls", "--json", timeout=120)
    assert result.returncode == 12, result.stderr
    out = json.loads(result.stdout)
    assert sorted(g["name"] for g in out["guests"]) == ["db", "web"]
    old = out["hosts"][1]
    assert (old["name"], old["state"], old["version"]) == ("old", "version_mismatch", "9.9.9")
    assert old["reason"].startswith("version mismatch: vconsole 9.9.9 there speaks protocol 99")
    assert result.stderr == f"vconsole: old: {old['reason']}\n"


def test_ls_json_lists_every_host_with_its_guests(configured: dict[str, RemoteHost]) -> None:
    result = run_cli("ls", "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    found = sorted((g["host"], g["name"]) for g in out["guests"])
    assert found == [("h1", "db"), ("h1", "web"), ("h2", "cache"), ("h2", "web"), ("h3", "mail")]
    assert [h["name"] for h in out["hosts"]] == ["h1", "h2", "h3"]
    assert all(h["state"] == "connected" and h["reason"] is None and h["latency_ms"] > 0 for h in out["hosts"])


def test_a_missing_remote_vconsole_leaves_the_others_listed(
    runtime: Path, sshd: SshServer, three_hosts: dict[str, RemoteHost]
) -> None:
    tables = [host_table(h.name, sshd, h.command) for h in three_hosts.values()]
    tables.append(host_table("h4", sshd, "/nonexistent/vconsole"))
    write_client_config(runtime, tables)
    result = run_cli("ls", timeout=120)
    assert result.returncode == 12, result.stderr
    lines = result.stderr.splitlines()
    assert lines == ["vconsole: h4: unreachable: no vconsole there: '/nonexistent/vconsole' was not found"
                     f" ({lines[0].rpartition('(')[2]}"], lines
    assert "mail" in result.stdout and "cache" in result.stdout and "h4 (unreachable: no vconsole there" in result.stdout
    header = result.stdout.splitlines()[1].split()
    assert header[:2] == ["HOST", "GUEST"]


def test_a_flood_crosses_ssh_whole_and_in_order(sshd: SshServer, three_hosts: dict[str, RemoteHost]) -> None:
    """A guest prints ~600 KB through the bridge and ssh: every byte arrives, offsets without a gap."""

    async def run() -> bytes:
        broker = SshBroker(_settings(three_hosts["h2"], sshd))
        try:
            client = await broker.connect()
            reply = await client.attach(Target("web", console=1))
            offset = reply.offset
            await client.input(reply.session, b"seq 1 100000; echo flood-$((40+2))\n")
            received = bytearray()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while b"flood-42" not in received:
                event = await asyncio.wait_for(client.events.get(), max(0.1, deadline - loop.time()))
                if event.get("event") != "output":
                    continue
                assert event["offset"] == offset, "a gap or an overlap in the relayed output"
                offset += len(event["data"])
                received += event["data"]
            return bytes(received)
        finally:
            await broker.close()

    out = asyncio.run(run())
    # Each line as a terminal shows it (bash's bracketed-paste reset ends in a carriage return).
    lines = (line.rpartition(b"\r")[2] for line in out.split(b"\r\n"))
    numbers = [line for line in lines if line.isdigit()]
    assert numbers == [str(n).encode() for n in range(1, 100001)]


@pytest.mark.parametrize("stdin", ["devnull", "file"])
def test_bridge_on_a_file_is_one_line_not_a_traceback(
    three_hosts: dict[str, RemoteHost], runtime: Path, stdin: str
) -> None:
    out = runtime / "bridge.out"
    with open(out, "wb") as stdout, open(os.devnull if stdin == "devnull" else out, "rb") as source:
        proc = subprocess.run(
            ["sh", "-c", f"{three_hosts['h1'].command} bridge"], stdin=source, stdout=stdout,
            stderr=subprocess.PIPE, timeout=60,
        )
    assert (proc.returncode, proc.stderr.decode()) == (
        2, "vconsole: bridge: standard input must be a pipe or a socket (ssh HOST vconsole bridge), not a file or device\n"
    )
    assert out.read_bytes() == b""  # nothing started, nothing written


def test_a_refused_key_is_sshs_one_line(sshd: SshServer, three_hosts: dict[str, RemoteHost]) -> None:
    options = [o if o != str(sshd.key) else str(sshd.key.with_name("host_key")) for o in sshd.options()]
    settings = HostSettings("h1", "root@127.0.0.1", tuple(options), three_hosts["h1"].command)

    with pytest.raises(HostUnreachable) as err:
        asyncio.run(SshBroker(settings).connect())
    assert err.value.reason == "root@127.0.0.1: Permission denied (publickey)."


def test_a_silent_host_is_unreachable_after_the_timeout_and_the_others_are_listed(
    runtime: Path, sshd: SshServer, three_hosts: dict[str, RemoteHost]
) -> None:
    """A remote command that never answers (a hung host) costs ls its timeout, not the other hosts."""
    # Named after this test's directory, so it can be found and ended: sshd leaves a command without a pty running.
    hung = f"exec {sys.executable} -c 'import time; time.sleep(600)' {runtime}/hung"
    tables = [host_table("h3", sshd, three_hosts["h3"].command), host_table("hung", sshd, hung)]
    write_client_config(runtime, tables)
    started = time.monotonic()
    try:
        result = run_cli("ls", "--json", timeout=120)
    finally:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):
                if f"{runtime}/hung".encode() in cmdline.read_bytes():
                    os.kill(int(cmdline.parent.name), signal.SIGKILL)
    took = time.monotonic() - started
    assert result.returncode == 12, result.stderr
    out = json.loads(result.stdout)
    assert [g["name"] for g in out["guests"]] == ["mail"]
    assert out["hosts"][1] == {
        "name": "hung", "state": "unreachable", "reason": f"no answer within {HOST_TIMEOUT:g} s",
        "latency_ms": None, "version": None,
    }
    assert took < HOST_TIMEOUT + 10, took  # the silent ssh is ended, not waited for
