"""The bridge on pipes or on a socket, as sshd could give it, without ssh: the handed-off connection's rules.

Driven through the bridge's standard input and output as ssh would; the
broker is the host's own (started by the bridge), or one without
``handoff`` to check the relay fallback.
"""

from __future__ import annotations

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
from tests.hosts.test_bridge_handoff import _alive, _stdio
from vconsole.wire import HEADER, MAX_FRAME, PROTOCOL_VERSION, FrameDecoder, Message, encode


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
