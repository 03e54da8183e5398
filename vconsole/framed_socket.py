"""FramedSocket: wire frames over a non-blocking Unix socket, with fd passing.

asyncio's stream transports cannot carry SCM_RIGHTS, and the lab hands console
master fds and event channels to the broker exactly as a kernel ioctl would
return them, so this speaks frames on a raw socket. A message that carries fds
says how many in its ``nfds`` field; the fds travel as ancillary data of the
frame's first bytes and are matched to the message on receipt.
"""

from __future__ import annotations

import array
import asyncio
import os
import socket
from collections import deque
from typing import Any

from vconsole.wire import FrameDecoder, ProtocolError, encode

MAX_FDS = 16


class FramedSocket:
    """Request and event frames on one connected Unix stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._decoder = FrameDecoder()
        self._ready: deque[dict[str, Any] | ProtocolError] = deque()
        self._fds: deque[int] = deque()
        self._closed = False

    @classmethod
    async def connect(cls, path: str | os.PathLike[str]) -> FramedSocket:
        """Connect to a Unix socket at ``path``."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, os.fspath(path))
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def send(self, message: dict[str, Any], fds: list[int] | tuple[int, ...] = ()) -> None:
        """Send one message, with ``fds`` riding on its first byte."""
        if fds:
            message = {**message, "nfds": len(fds)}
        frame = encode(message)
        loop = asyncio.get_running_loop()
        if fds:
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
            while True:
                try:
                    sent = self.sock.sendmsg([frame], anc)
                    break
                except BlockingIOError:
                    await self._wait(writable=True)
            frame = frame[sent:]
        if frame:
            await loop.sock_sendall(self.sock, frame)

    async def recv(self) -> tuple[dict[str, Any], list[int]]:
        """The next message and the fds it carries; EOFError when the peer closed."""
        while not self._ready:
            if self._closed:
                raise EOFError("connection closed")
            await self._wait(writable=False)
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(
                    256 * 1024, socket.CMSG_SPACE(MAX_FDS * 4)
                )
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data, anc = b"", []
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                    self._fds.extend(fds)
            if not data:
                self._closed = True
                continue
            self._ready.extend(self._decoder.feed(data))
        item = self._ready.popleft()
        if isinstance(item, ProtocolError):
            raise item
        nfds = item.get("nfds", 0)
        if not isinstance(nfds, int) or not 0 <= nfds <= min(MAX_FDS, len(self._fds)):
            raise ProtocolError("bad_message", "message announces fds that did not arrive")
        return item, [self._fds.popleft() for _ in range(nfds)]

    async def request(self, message: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        """Send a request and wait for the next reply on this socket."""
        await self.send(message)
        return await self.recv()

    async def _wait(self, *, writable: bool) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        fd = self.sock.fileno()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        if writable:
            loop.add_writer(fd, ready)
        else:
            loop.add_reader(fd, ready)
        try:
            await fut
        finally:
            if writable:
                loop.remove_writer(fd)
            else:
                loop.remove_reader(fd)

    def close(self) -> None:
        """Close the socket and any fds received but not handed out."""
        while self._fds:
            os.close(self._fds.popleft())
        self.sock.close()
        self._closed = True
