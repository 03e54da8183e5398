"""A bare asyncio relay: the floor under the broker's keystroke latency.

``python -m benchmarks.bare_relay SOCKET ARGV...`` runs ARGV on a pty and
relays raw bytes between that pty and whoever connects to the Unix socket
SOCKET: no framing, no msgpack, no history, no sessions. It is what any relay
written on Python's asyncio costs per keystroke (an extra process, two event
loop wake-ups per direction, four syscalls), so the echo benchmark times it
beside the broker to tell the broker's own cost from the runtime's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from benchmarks.harness import PY, spawn_on_pty


class _Peer(asyncio.Protocol):
    """One connected client: its bytes go to the pty, the pty's output comes back."""

    def __init__(self, relay: _Relay) -> None:
        self.relay = relay

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.relay.peer = transport

    def data_received(self, data: bytes) -> None:
        os.write(self.relay.master, data)  # keys: a few bytes, the pty takes them

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.peer = None


class _Relay:
    def __init__(self, master: int) -> None:
        self.master = master
        self.peer: asyncio.Transport | None = None

    def readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().stop()
            return
        if self.peer is not None:
            self.peer.write(data)


def _serve(sock: str, argv: list[str]) -> None:
    proc, master = spawn_on_pty(argv)
    buf = b""
    while b"READY" not in buf:  # the guest's banner is no client's business
        buf += os.read(master, 1024)
    os.set_blocking(master, False)
    loop = asyncio.new_event_loop()
    relay = _Relay(master)
    loop.add_reader(master, relay.readable)
    loop.run_until_complete(loop.create_unix_server(lambda: _Peer(relay), sock))
    try:
        loop.run_forever()
    finally:
        proc.kill()


class _Sink(asyncio.Protocol):
    def __init__(self, on_data: Callable[[bytes], None]) -> None:
        self.on_data = on_data

    def data_received(self, data: bytes) -> None:
        self.on_data(data)


class BareRelay:
    """The relay process, as a context manager; ``connect`` attaches a callback to it."""

    def __init__(self, sock: Path, argv: list[str]) -> None:
        self.sock = sock
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BareRelay:
        self.proc = subprocess.Popen([PY, "-m", "benchmarks.bare_relay", str(self.sock), *self.argv],
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bare relay did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc is not None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)

    async def connect(self, on_data: Callable[[bytes], None]) -> asyncio.Transport:
        """A connection whose every read is handed to ``on_data`` in data_received."""
        transport, _ = await asyncio.get_running_loop().create_unix_connection(
            lambda: _Sink(on_data), str(self.sock))
        assert isinstance(transport, asyncio.Transport)
        return transport


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2:])
