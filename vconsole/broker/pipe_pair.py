"""PipePair: a read pipe and a write pipe as one asyncio transport, for a protocol written for a socket.

sshd gives a command without a terminal a pipe for standard input and one
for standard output; once a bridge hands them over, the broker serves a
client on them with the same ClientConnection as on its socket. The pair
behaves as a socket transport does for that protocol: reads pause and
resume, writes report back-pressure (``pause_writing``/``resume_writing``
at the limits set), end of input is ``eof_received`` and then a close
once what is queued is written, and ``connection_lost`` comes exactly
once, after both pipes are closed.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any


class _ReadSide(asyncio.Protocol):
    def __init__(self, pair: PipePair) -> None:
        self.pair = pair

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self.pair.read_side_made(transport)

    def data_received(self, data: bytes) -> None:
        self.pair.protocol.data_received(data)

    def eof_received(self) -> bool | None:
        self.pair.protocol.eof_received()
        self.pair.close()  # as a socket transport does when eof_received does not keep it open
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.pair.side_lost(exc)


class _WriteSide(asyncio.BaseProtocol):
    def __init__(self, pair: PipePair) -> None:
        self.pair = pair

    def pause_writing(self) -> None:
        self.pair.protocol.pause_writing()

    def resume_writing(self) -> None:
        self.pair.protocol.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        # The reader of our output is gone (or we closed): the client is gone too.
        self.pair.close()
        self.pair.side_lost(exc)


class PipePair(asyncio.Transport):
    """Reads from one pipe and writes to another on behalf of one protocol; made by :meth:`open`."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self._reader: asyncio.ReadTransport | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._open_sides = 2
        self._closing = False
        self._exc: Exception | None = None

    @classmethod
    async def open(cls, protocol: asyncio.Protocol, read_fd: int, write_fd: int) -> PipePair:
        """Serve ``protocol`` on the two pipes (their fds are the pair's from now on)."""
        loop = asyncio.get_running_loop()
        pair = cls(protocol)
        try:
            writer = os.fdopen(write_fd, "wb", buffering=0)
        except BaseException:
            os.close(write_fd)
            os.close(read_fd)
            raise
        try:
            reader = os.fdopen(read_fd, "rb", buffering=0)
        except BaseException:
            writer.close()
            os.close(read_fd)
            raise
        try:
            # The writer first: the protocol hears of the connection (and may write) once the reader is made.
            pair._writer, _ = await loop.connect_write_pipe(lambda: _WriteSide(pair), writer)
        except BaseException:
            writer.close()
            reader.close()
            raise
        try:
            await loop.connect_read_pipe(lambda: _ReadSide(pair), reader)
        except BaseException:
            reader.close()
            pair._writer.close()
            raise
        return pair

    def read_side_made(self, reader: asyncio.ReadTransport) -> None:
        """The reader is ready (before its first read): the protocol's connection begins."""
        self._reader = reader
        self.protocol.connection_made(self)

    def side_lost(self, exc: Exception | None) -> None:
        """One pipe is closed; once both are, the protocol's connection is lost."""
        self._exc = self._exc or exc
        self._open_sides -= 1
        if self._open_sides == 0:
            self.protocol.connection_lost(self._exc)

    # --- asyncio.Transport --------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default  # no socket: no peer credentials to read here

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop reading and close both pipes; what is queued for writing is written first."""
        if self._closing:
            return
        self._closing = True
        if self._reader is not None:
            self._reader.close()
        if self._writer is not None:
            self._writer.close()

    def abort(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.close()
        if self._writer is not None:
            self._writer.abort()

    def is_reading(self) -> bool:
        return self._reader is not None and self._reader.is_reading()

    def pause_reading(self) -> None:
        if self._reader is not None:
            self._reader.pause_reading()

    def resume_reading(self) -> None:
        if self._reader is not None and not self._closing:
            self._reader.resume_reading()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._writer is not None:
            self._writer.write(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """No more output: the write pipe closes once drained (input is still read)."""
        if self._writer is not None:
            self._writer.write_eof()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._writer is not None:
            self._writer.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._writer.get_write_buffer_size() if self._writer is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._writer.get_write_buffer_limits() if self._writer is not None else (0, 0)
