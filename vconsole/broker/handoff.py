"""``handoff``: a bridge gives the broker its standard input and output, and the broker serves them.

``vconsole bridge`` (run by sshd) would otherwise copy every byte between
ssh and the broker's socket: one more process and two more copies per
keystroke. Instead it asks ``handoff``; the broker stops reading the
bridge's connection and answers ``pending`` (stage ``send_fds``); the
bridge sends one frame ``{"nfds": N}`` carrying its fds (SCM_RIGHTS): one
socket, or a read pipe and a write pipe as sshd gives a command without a
terminal. The broker serves the protocol on them as one more client
connection with the bridge's credentials and access, says ``pending``
(stage ``serving``), and answers ``ok`` once that connection has ended.
The bridge then exits, so sshd ends the session. If the bridge's own
connection goes first, the handed-off one is closed too.

An asyncio socket transport drops ancillary data, so the fds frame is read
with recvmsg on a duplicate of the connection's fd while its transport is
paused (docs/protocol.md, "Bridges").
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import stat
from typing import TYPE_CHECKING

from vconsole.broker.pipe_pair import PipePair
from vconsole.protocol import Handoff, HandoffStage, StdioKind
from vconsole.wire import (
    HEADER,
    Message,
    ProtocolError,
    decode_body,
    error_reply,
    ok_reply,
    pending_reply,
)

if TYPE_CHECKING:
    from vconsole.broker.connection import ClientConnection

log = logging.getLogger("vconsole.broker")
# How long the broker waits for the fds frame once it asked for it.
FDS_WAIT = 10.0
# The fds frame is ``{"nfds": N}``: a few bytes; anything longer is not one.
MAX_FDS_FRAME = 64
MAX_FDS = 2


def handoff(conn: ClientConnection, rid: int | None, req: Handoff) -> Message:
    """Ask for the bridge's fds (``pending``, stage ``send_fds``); the rest happens as they arrive."""
    transport = conn.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if conn.handed_from is not None or sock is None or transport is None:
        raise ProtocolError("not_supported", "only a bridge on the broker's socket can hand over its fds")
    transport.pause_reading()  # the fds frame is read below, with its ancillary data
    _FdsReceiver(conn, rid, req.stdio, socket.socket(fileno=os.dup(sock.fileno())))
    return {**pending_reply(rid), "stage": HandoffStage.SEND_FDS.value}


class _FdsReceiver:
    """Reads the one fds frame off a paused bridge connection, then serves the fds."""

    def __init__(self, conn: ClientConnection, rid: int | None, stdio: StdioKind, sock: socket.socket) -> None:
        self.conn, self.rid, self.stdio, self.sock = conn, rid, stdio, sock
        self.data = bytearray()
        self.fds: list[int] = []
        self.done = False
        loop = asyncio.get_running_loop()
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._readable)
        self.timer = loop.call_later(FDS_WAIT, self._fail, f"no fds within {FDS_WAIT:g} s")
        conn.when_lost.append(self._stop)

    def _wanted(self) -> int:
        if len(self.data) < HEADER.size:
            return HEADER.size - len(self.data)
        length: int = HEADER.unpack_from(self.data)[0]
        return HEADER.size + length - len(self.data)

    def _readable(self) -> None:
        try:
            data, anc, flags, _ = self.sock.recvmsg(
                max(1, self._wanted()), socket.CMSG_SPACE(MAX_FDS * 4), socket.MSG_CMSG_CLOEXEC
            )
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(f"reading the fds: {exc.strerror or exc}")
            return
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                self.fds += fds
        if not data:  # the bridge went away; its transport sees the end once reading again
            self._fail("the bridge closed its connection")
            return
        if flags & socket.MSG_CTRUNC:
            self._fail(f"more than {MAX_FDS} fds")
            return
        self.data += data
        if len(self.data) >= HEADER.size and HEADER.unpack_from(self.data)[0] > MAX_FDS_FRAME:
            self._fail("that is not an fds frame")
        elif len(self.data) >= HEADER.size and self._wanted() == 0:
            self._frame_read()

    def _frame_read(self) -> None:
        try:
            msg = decode_body(bytes(self.data[HEADER.size:]))
        except ProtocolError as exc:
            self._fail(exc.message)
            return
        nfds = self.stdio.nfds
        if msg.get("nfds") != nfds or len(self.fds) != nfds:
            self._fail(f"stdio {self.stdio.value} takes {nfds} fd(s), not {len(self.fds)}")
            return
        problem = _unusable(self.stdio, self.fds)
        if problem is not None:
            self._fail(problem)
            return
        fds, self.fds = self.fds, []
        self._stop()
        self.conn.broker.spawn(self._serve(fds))

    async def _serve(self, fds: list[int]) -> None:
        conn = self.conn
        handed = type(conn)(conn.broker, handed_from=conn)
        try:  # the fds are the transport's from here on, closed by it on failure too
            if self.stdio is StdioKind.SOCKET:
                transport: asyncio.BaseTransport = await _serve_socket(handed, fds[0])
            else:
                transport = await PipePair.open(handed, fds[0], fds[1])
        except (OSError, ValueError) as exc:  # ValueError: asyncio's word for a socket it cannot serve
            said = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            conn.send(error_reply(self.rid, "not_supported", f"cannot serve the fds: {said}"))
            self._resume()
            return
        handed.when_lost.append(lambda: conn.send(ok_reply(self.rid)))
        if conn.transport is None or conn.transport.is_closing():
            transport.close()  # the bridge went while the fds were being set up
        conn.when_lost.append(transport.close)  # the bridge is gone: so is its session
        log.debug("client %d (pid %s) handed its %s to client %d", conn.client_id, conn.peer_pid,
                 self.stdio.value, handed.client_id)
        conn.send({**pending_reply(self.rid), "stage": HandoffStage.SERVING.value})
        self._resume()

    def _fail(self, reason: str) -> None:
        if self.done:
            return
        self._stop()
        self.conn.send(error_reply(self.rid, "bad_request", f"handoff: {reason}"))
        self._resume()

    def _resume(self) -> None:
        transport = self.conn.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def _stop(self) -> None:
        """No more reading here: the frame is in, it failed, or the connection is gone."""
        if self.done:
            return
        self.done = True
        self.timer.cancel()
        with contextlib.suppress(ValueError):
            self.conn.when_lost.remove(self._stop)
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.sock.fileno())
        self.sock.close()
        _close(self.fds)
        self.fds = []


async def _serve_socket(protocol: asyncio.Protocol, fd: int) -> asyncio.BaseTransport:
    """Serve ``protocol`` on the socket ``fd`` (closed if that fails)."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        os.close(fd)
        raise
    try:
        transport, _ = await asyncio.get_running_loop().connect_accepted_socket(lambda: protocol, sock)
    except BaseException:
        sock.close()
        raise
    return transport


def _unusable(stdio: StdioKind, fds: list[int]) -> str | None:
    """Why these fds cannot be served as ``stdio`` (None: they can)."""
    try:
        modes = [os.fstat(fd).st_mode for fd in fds]
        access = [fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE for fd in fds]
    except OSError as exc:
        return f"an fd cannot be examined: {exc.strerror or exc}"
    if stdio is StdioKind.SOCKET:
        return None if stat.S_ISSOCK(modes[0]) else "stdio socket: the fd is not a socket"
    if not all(stat.S_ISFIFO(m) or stat.S_ISSOCK(m) for m in modes):
        return "stdio pipes: the fds must be pipes (or sockets)"
    if access[0] not in (os.O_RDONLY, os.O_RDWR) or access[1] not in (os.O_WRONLY, os.O_RDWR):
        return "stdio pipes: the first fd must be readable, the second writable"
    return None


def _close(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
