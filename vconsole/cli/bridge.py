"""``vconsole bridge``: this host's broker on standard input and output, for a client over ssh.

A client elsewhere runs ``ssh HOST vconsole bridge``. The bridge reaches the
broker as any client does (the system broker if one runs, else the user's,
started in the background when none answers) and writes one greeting frame
(docs/protocol.md, "Bridges": versions, or why there is no broker). Then it
hands its standard input and output to the broker (``handoff``: the broker
serves ssh's pipes or socket itself, with this process's credentials) and
only waits, relaying nothing, until the broker says that connection ended.
A broker that cannot take them (an older one), or ``--relay``
(``VCONSOLE_BRIDGE_RELAY=1``), has the bridge copy bytes both ways
unchanged instead until either side ends. Its standard output carries the
protocol and nothing else; a failure is one line on standard error and an
exit code, never a traceback on the ssh user's terminal.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import os
import socket
import stat
import sys
from typing import Any

from vconsole.cli.exit_codes import (
    EXIT_ERROR,
    EXIT_NO_BROKER,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    reporting_errors,
)
from vconsole.client import BrokerUnreachable, check_runtime_dir, start_broker
from vconsole.config import ConfigError
from vconsole.detached import socket_answers
from vconsole.display_text import printable
from vconsole.protocol import Handoff, HandoffStage, Hello, StdioKind
from vconsole.runtime_paths import RuntimeDirError, RuntimePaths
from vconsole.ssh_transport import BridgeGreeting
from vconsole.wire import HEADER, MAX_FRAME, Message, Op, ProtocolError, decode_body, encode

COMMANDS = ("bridge",)
# Set to 1: relay bytes rather than hand standard input/output to the broker.
RELAY_ENV = "VCONSOLE_BRIDGE_RELAY"


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``vconsole bridge [--no-start] [--relay]``."""
    bridge = sub.add_parser(
        "bridge", parents=[common], help="connect standard input/output to this host's broker (run by ssh)"
    )
    _bridge_options(bridge)


def _bridge_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-start", action="store_true", help="start no broker when none answers")
    parser.add_argument(
        "--relay", action="store_true",
        help=f"copy bytes to the broker rather than hand it standard input/output (also {RELAY_ENV}=1)",
    )


def run_as_ssh_runs_it(words: list[str]) -> int | None:
    """``vconsole bridge`` with only its own options, as a client's ssh runs it, without the parser of
    every other command (each host a client reaches pays this start-up); None for anything else (a
    common option, --help, a mistake): the whole command line then parses it."""
    if not set(words) <= {"--no-start", "--relay"}:
        return None
    parser = argparse.ArgumentParser(prog="vconsole bridge", add_help=False)
    _bridge_options(parser)
    args = parser.parse_args(words)
    args.socket = None  # as the whole parser leaves it without --socket: $VCONSOLE_SOCKET or the runtime dir
    return reporting_errors(lambda: asyncio.run(cmd_bridge(args)))


class _Side(asyncio.Protocol):
    """One end of the relay: what it reads goes to ``sink``; while its own writes back up, ``source`` pauses."""

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.transport: asyncio.BaseTransport | None = None
        self.sink: _Side | None = None
        self.source: _Side | None = None
        self.done = done
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        sink = self.sink.transport if self.sink is not None else None
        if isinstance(sink, asyncio.WriteTransport) and not sink.is_closing():
            sink.write(data)

    def eof_received(self) -> bool | None:
        self._end()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self._end()

    def pause_writing(self) -> None:
        source = self.source.transport if self.source is not None else None
        if isinstance(source, asyncio.ReadTransport) and source.is_reading():
            source.pause_reading()

    def resume_writing(self) -> None:
        source = self.source.transport if self.source is not None else None
        if isinstance(source, asyncio.ReadTransport) and not source.is_closing():
            source.resume_reading()

    def _end(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


# How long an ending bridge waits for what it still holds to be written out.
FLUSH_WAIT = 5.0


async def cmd_bridge(args: argparse.Namespace) -> int:
    """Greet, then relay stdin to the broker and the broker to stdout until either ends."""
    try:
        return await _bridge(args)
    except (CliError, KeyboardInterrupt, asyncio.CancelledError):
        raise
    except Exception as exc:  # whatever it is, one line on the ssh user's terminal, never a traceback
        raise CliError(f"bridge: {type(exc).__name__}: {exc}", EXIT_ERROR) from None


def _check_stdio() -> None:
    """Standard input and output must be what ssh gives a command: pipes or sockets."""
    for name, fd in (("input", sys.stdin.fileno()), ("output", sys.stdout.fileno())):
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            raise CliError(
                f"bridge: standard {name} must be a pipe or a socket (ssh HOST vconsole bridge), not a"
                f" {'terminal' if os.isatty(fd) else 'file or device'}", EXIT_USAGE,
            )


def _one_line(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An error inside the loop is one line on stderr (never a traceback on the ssh user's terminal)."""
    exc = context.get("exception")
    said = f"{type(exc).__name__}: {exc}" if exc is not None else context.get("message", "error")
    sys.stderr.write(f"vconsole bridge: {printable(str(said), 2048)}\n")


async def _bridge(args: argparse.Namespace) -> int:
    _check_stdio()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_one_line)
    error: str | None = None
    paths = RuntimePaths.resolve(args.socket)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        if not args.no_start and not paths.system and not socket_answers(paths.socket):
            from vconsole.cli.config_check import (
                check_before_starting,  # its providers load only here
            )

            check_before_starting(paths)
            await start_broker(paths)
        else:
            check_runtime_dir(paths)
        await loop.sock_connect(sock, str(paths.socket))
    except (BrokerUnreachable, RuntimeDirError, ConfigError, CliError) as exc:
        error = str(exc)
    except OSError as exc:
        error = f"no broker on {paths.socket}: {exc.strerror or exc}"
    # Written before the broker has the fd, so nothing of the broker's can come first.
    _write_all(sys.stdout.fileno(), BridgeGreeting.ours(error).encode())
    if error is not None:
        sock.close()
        sys.stderr.write(f"vconsole bridge: {printable(error, 2048)}\n")
        return EXIT_NO_BROKER
    relay = args.relay or os.environ.get(RELAY_ENV, "") not in ("", "0")
    if not relay:
        with sock:
            if await _hand_off(sock):
                return EXIT_OK
        # A new connection: what the broker said on this one (a refusal) is the client's to read.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        await loop.sock_connect(sock, str(paths.socket))
    return await _relay(sock)


def _stdio_kind() -> StdioKind:
    """One socket for both directions, or two fds (pipes, as sshd gives a command without a terminal)."""
    stdin, stdout = os.fstat(sys.stdin.fileno()), os.fstat(sys.stdout.fileno())
    same = (stdin.st_dev, stdin.st_ino) == (stdout.st_dev, stdout.st_ino)
    return StdioKind.SOCKET if same and stat.S_ISSOCK(stdin.st_mode) else StdioKind.PIPES


async def _hand_off(sock: socket.socket) -> bool:
    """Give the broker standard input and output and wait until it is done with them.

    False: the broker did not take them (it knows no ``handoff``, refused
    these fds, or refused this client) and they are still ours to relay;
    nothing was read from them.
    """
    stdio = _stdio_kind()
    await _send(sock, {"op": Op.HELLO.value, "id": 1, **Hello().fields()})
    if not (await _read_frame(sock)).get("ok"):
        return False
    await _send(sock, {"op": Op.HANDOFF.value, "id": 2, **Handoff(stdio).fields()})
    if (await _read_frame(sock)).get("stage") != HandoffStage.SEND_FDS:
        return False  # an older broker: unknown_op
    fds = [sys.stdin.fileno(), sys.stdout.fileno()][: stdio.nfds]
    await _send(sock, {"nfds": len(fds)}, fds)
    if (await _read_frame(sock)).get("stage") != HandoffStage.SERVING:
        return False
    # Only the broker holds them now: when it closes them, ssh sees the end.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, sys.stdin.fileno())
    os.dup2(null, sys.stdout.fileno())
    os.close(null)
    try:
        await _read_frame(sock)  # ok: the handed-off connection ended
    except (EOFError, ProtocolError):
        pass  # the broker is gone, and with it the connection it served
    return True


async def _send(sock: socket.socket, message: Message, fds: list[int] | None = None) -> None:
    frame = encode(message)
    if fds:  # a few bytes on an idle socket: sent at once, the fds on the first byte
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sent = sock.sendmsg([frame], anc)
        frame = frame[sent:]
    await asyncio.get_running_loop().sock_sendall(sock, frame)


async def _read_frame(sock: socket.socket) -> Message:
    """The next frame, read exactly (what follows stays in the socket for the relay)."""
    header = await _read_exactly(sock, HEADER.size)
    length: int = HEADER.unpack(header)[0]
    if length > MAX_FRAME:
        raise ProtocolError("too_large", f"a frame of {length} bytes from the broker")
    return decode_body(await _read_exactly(sock, length))


async def _read_exactly(sock: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            raise EOFError("the broker closed the connection")
        data += chunk
    return data


async def _relay(sock: socket.socket) -> int:
    """Copy standard input to the broker and the broker to standard output until either ends."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    broker, stdin, stdout = _Side(done), _Side(done), _Side(done)
    # Wired before the pipes are: their first reads may come before the awaits below return.
    stdin.sink, broker.source = broker, stdin  # requests and keys to the broker
    broker.sink, stdout.source = stdout, broker  # its frames back out
    await loop.create_unix_connection(lambda: broker, sock=sock)
    await loop.connect_read_pipe(lambda: stdin, os.fdopen(sys.stdin.fileno(), "rb", buffering=0, closefd=False))
    await loop.connect_write_pipe(lambda: stdout, os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False))
    await done
    for side in (broker, stdin, stdout):
        if side.transport is not None:
            side.transport.close()  # after what is buffered has been written
    await asyncio.wait([side.lost for side in (broker, stdin, stdout)], timeout=FLUSH_WAIT)
    return EXIT_OK


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
