"""SshBroker: another host's broker reached through the user's own OpenSSH client.

The client runs ``ssh -T [options] DEST COMMAND bridge`` with one end of a
socketpair as ssh's standard input and output, reads the bridge's greeting
(docs/protocol.md, "Bridges") and hands the socket to a ``Client``, which
then speaks the broker protocol over it exactly as over the local socket.
Authentication, host keys, jump hosts and ~/.ssh/config are OpenSSH's:
vconsole opens no port and stores no secret.

Whatever goes wrong before the broker says hello is one line
(``HostUnreachable``): ssh's own last line on standard error (an unknown
host, a refused key), a remote command that is not there (ssh exits 127),
or a bridge of another version (``VersionMismatch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import socket
import struct
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vconsole import __version__
from vconsole.client import BrokerUnreachable, Client
from vconsole.config import HostSettings
from vconsole.display_text import printable
from vconsole.wire import PROTOCOL_VERSION, ProtocolError, decode_body, encode

# The greeting is a few dozen bytes; anything longer is not a bridge speaking.
MAX_GREETING = 4096
_HEADER = struct.Struct(">I")
# How long a reason may be (a remote shell's message quoted in it).
MAX_REASON = 300
# What ssh is always told, after the user's own options (ssh keeps the first value it is given).
SSH_DEFAULTS = ("-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3")
EXIT_NOT_FOUND = 127  # a POSIX shell's "command not found"
TAIL_LINES = 5  # lines of ssh's stderr kept for the reason of a failure
# How long the reason of a lost connection waits for ssh to exit and say its last words.
LOST_REASON_WAIT = 2.0
BROKER_WENT_AWAY = "the broker there went away"


class HostState(StrEnum):
    """How a host's broker answers (``ls --json`` ``hosts[].state``; the TUI's host nodes)."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"
    VERSION_MISMATCH = "version_mismatch"


class HostUnreachable(BrokerUnreachable):
    """The host's broker cannot be reached over ssh; ``reason`` is one line for the user."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


class VersionMismatch(HostUnreachable):
    """The remote vconsole speaks another protocol version."""

    def __init__(self, host: str, reason: str, version: str | None) -> None:
        super().__init__(host, reason)
        self.version = version


@dataclass(frozen=True)
class BridgeGreeting:
    """The one frame ``vconsole bridge`` writes before any broker byte.

    ``error``: the bridge could not reach its host's broker (one line), and
    exits after this frame.
    """

    version: str  # the remote vconsole's release
    protocol: int  # its wire protocol version (vconsole.wire.PROTOCOL_VERSION)
    error: str | None = None

    def encode(self) -> bytes:
        """The frame as written on the bridge's standard output."""
        fields: dict[str, Any] = {"bridge": "vconsole", "version": self.version, "protocol": self.protocol}
        if self.error is not None:
            fields["error"] = self.error
        return encode(fields)

    @classmethod
    def ours(cls, error: str | None = None) -> BridgeGreeting:
        """This vconsole's greeting."""
        return cls(__version__, PROTOCOL_VERSION, error)

    @classmethod
    def from_wire(cls, fields: dict[str, Any]) -> BridgeGreeting:
        """A greeting as read; ValueError if it is not one."""
        version, protocol, error = fields.get("version"), fields.get("protocol"), fields.get("error")
        if fields.get("bridge") != "vconsole" or not isinstance(version, str) or not isinstance(protocol, int):
            raise ValueError("not a vconsole bridge greeting")
        return cls(version, protocol, error if isinstance(error, str) else None)


def ssh_argv(host: HostSettings, *bridge_args: str, batch: bool = True) -> list[str]:
    """``ssh -T [options] DEST COMMAND bridge ARGS`` for ``host``.

    ``batch``: ssh may not ask for a password or passphrase (no terminal to ask on).
    """
    return remote_argv(host, ["bridge", *bridge_args], batch=batch)


def remote_argv(host: HostSettings, words: list[str], *, batch: bool = True) -> list[str]:
    """``ssh -T [options] DEST COMMAND WORDS``: the host's vconsole run with ``words`` as its arguments.

    The remote command is a shell line (ssh joins its words with spaces):
    ``command`` is the user's, each word is quoted. The user's options come
    first, since ssh keeps the first value it is given for an option.
    """
    batch_opts = ("-o", "BatchMode=yes") if batch else ()
    remote = " ".join((host.command, *(shlex.quote(w) for w in words)))
    return ["ssh", "-T", *host.ssh_options, *batch_opts, *SSH_DEFAULTS, "--", host.ssh, remote]


class _StderrTail:
    """The last lines ssh (and the remote command) wrote on standard error, for the reason of a failure."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)
        self.done = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        # Read to the end whatever comes (a line of any length), or ssh would block writing it.
        partial = b""
        with contextlib.suppress(OSError):
            while chunk := await stream.read(65536):
                *complete, partial = (partial + chunk).split(b"\n")
                partial = partial[-MAX_REASON * 4:]
                for line in complete[-TAIL_LINES:]:
                    self._add(line)
        self._add(partial)

    def _add(self, line: bytes) -> None:
        text = line[-MAX_REASON * 4:].decode("utf-8", "replace").strip()
        if text:
            self.lines.append(text)

    def last(self) -> str | None:
        """The last non-empty line, safe to show."""
        return printable(self.lines[-1], MAX_REASON) if self.lines else None


class SshBroker:
    """Connects Clients to ``host``'s broker through ssh; one ssh process per Client.

    ``connect`` raises HostUnreachable (VersionMismatch) with a one-line
    reason; ``close`` closes every client and reaps its ssh.
    """

    def __init__(self, host: HostSettings, *, timeout: float = 20.0) -> None:
        self.host = host
        self.timeout = timeout
        self.remote_version: str | None = None  # the bridge's release, once one greeted us
        # Each client's ssh, and the task that reaps it once the client is closed.
        self._procs: dict[Client, tuple[asyncio.subprocess.Process, asyncio.Task[None]]] = {}
        # Why each client's connection ended (ssh's last words), once its ssh was reaped.
        self._ended: dict[Client, asyncio.Future[str | None]] = {}

    async def connect(self, *, start: bool = True) -> Client:
        """A Client on the host's broker; ``start`` False: the bridge starts no broker there."""
        ours, theirs = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                *ssh_argv(self.host, *(() if start else ("--no-start",))),
                stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # the terminal's ^C and ^Z are the client's, not ssh's
            )
        except OSError as exc:
            ours.close()
            raise HostUnreachable(self.host.name, f"cannot run ssh: {exc.strerror or exc}") from None
        finally:
            theirs.close()
        assert proc.stderr is not None
        tail = _StderrTail(proc.stderr)
        try:
            greeting = await asyncio.wait_for(self._greeting(ours, proc, tail), self.timeout)
            self._check(greeting)
            client = await Client.connect_socket(ours, self.timeout)
        except BaseException as exc:
            ours.close()
            await _reap(proc, first=0.2)  # a failed or silent ssh is of no use: end it soon
            if isinstance(exc, TimeoutError):
                raise HostUnreachable(self.host.name, f"no answer within {self.timeout:g} s") from None
            if isinstance(exc, HostUnreachable):
                raise
            if isinstance(exc, BrokerUnreachable):
                raise HostUnreachable(self.host.name, str(exc)) from None
            raise
        ended = self._ended[client] = asyncio.get_running_loop().create_future()
        self._procs[client] = (proc, asyncio.create_task(self._reap_when_closed(client, proc, tail, ended)))
        return client

    async def _greeting(
        self, sock: socket.socket, proc: asyncio.subprocess.Process, tail: _StderrTail
    ) -> BridgeGreeting:
        """The bridge's first frame, read exactly (nothing after it is consumed)."""
        sock.setblocking(False)
        header = await self._read_exactly(sock, _HEADER.size, proc, tail)
        (length,) = _HEADER.unpack(header)
        if length > MAX_GREETING:
            raise self._not_a_bridge(header)
        body = await self._read_exactly(sock, length, proc, tail)
        try:
            return BridgeGreeting.from_wire(decode_body(body))
        except (ProtocolError, ValueError):
            raise self._not_a_bridge(header + body) from None

    async def _read_exactly(
        self, sock: socket.socket, size: int, proc: asyncio.subprocess.Process, tail: _StderrTail
    ) -> bytes:
        loop = asyncio.get_running_loop()
        data = b""
        while len(data) < size:
            chunk = await loop.sock_recv(sock, size - len(data))
            if not chunk:
                raise await self._ssh_failed(proc, tail)
            data += chunk
        return data

    def _not_a_bridge(self, data: bytes) -> HostUnreachable:
        said = printable(data.decode("utf-8", "replace"), 80)
        return HostUnreachable(
            self.host.name, f"{self.host.command!r} did not answer as `vconsole bridge` (it wrote {said!r})"
        )

    async def _ssh_failed(self, proc: asyncio.subprocess.Process, tail: _StderrTail) -> HostUnreachable:
        """Why ssh ended before the greeting: its exit status and its last words."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tail.done, 1)
        said = tail.last()
        if proc.returncode == EXIT_NOT_FOUND:
            return HostUnreachable(
                self.host.name, f"no vconsole there: {self.host.command!r} was not found ({said or 'exit 127'})"
            )
        if said is None:
            return HostUnreachable(self.host.name, f"ssh ended (exit {proc.returncode}) before the bridge answered")
        return HostUnreachable(self.host.name, said)

    def _check(self, greeting: BridgeGreeting) -> None:
        self.remote_version = greeting.version
        if greeting.protocol != PROTOCOL_VERSION:
            raise VersionMismatch(
                self.host.name,
                f"version mismatch: vconsole {greeting.version} there speaks protocol {greeting.protocol},"
                f" vconsole {__version__} here speaks {PROTOCOL_VERSION}",
                greeting.version,
            )
        if greeting.error is not None:
            raise HostUnreachable(self.host.name, printable(greeting.error, MAX_REASON))

    async def _reap_when_closed(
        self, client: Client, proc: asyncio.subprocess.Process, tail: _StderrTail,
        ended: asyncio.Future[str | None],
    ) -> None:
        """ssh exits once the connection is closed (the bridge sees EOF); reap it then, and keep why it ended."""
        await client.closed.wait()
        reason: str | None = None
        try:
            # A lost host: ssh says why on standard error, then exits, which closed our socket.
            await asyncio.wait_for(proc.wait(), LOST_REASON_WAIT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(tail.done), LOST_REASON_WAIT)
            reason = _end_reason(proc.returncode, tail.last())
        except TimeoutError:
            pass  # ssh still runs: the connection ended on our side (closed, or a protocol error)
        if not ended.done():
            ended.set_result(reason)
        await _reap(proc)
        self._procs.pop(client, None)

    async def why_lost(self, client: Client) -> str | None:
        """Why ``client``'s connection ended, in one line: ssh's last words, or that the broker there
        went away (the bridge ended cleanly); None when not known (ssh outlived the connection)."""
        ended = self._ended.pop(client, None)
        if ended is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(ended), LOST_REASON_WAIT * 2)
        except TimeoutError:
            return None

    async def close(self) -> None:
        """Close every client made here and reap their ssh processes."""
        procs, self._procs = self._procs, {}
        self._ended.clear()
        for client, (proc, reaper) in procs.items():
            reaper.cancel()
            await client.close()
            await _reap(proc)


def _end_reason(code: int | None, said: str | None) -> str:
    """A lost connection's reason from its ssh's exit status and last line on standard error."""
    if code == 0 and said is None:
        return BROKER_WENT_AWAY  # the bridge ended cleanly: its broker closed the connection
    if said is not None:
        return said
    return f"ssh ended (exit {code})"


async def _reap(proc: asyncio.subprocess.Process, first: float = 5.0, grace: float = 5.0) -> None:
    """Wait ``first`` s for ssh to exit (its input is closed), then terminate it; never leave a zombie."""
    for step, wait in ((None, first), (proc.terminate, grace), (proc.kill, grace)):
        if step is not None:
            with contextlib.suppress(ProcessLookupError):
                step()
        try:
            await asyncio.wait_for(proc.wait(), wait)
            return
        except TimeoutError:
            continue
