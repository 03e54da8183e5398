"""Client: the async API every front end (CLI, TUI) uses to talk to the broker."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Callable
from typing import Any

from vconsole.detached import socket_answers, start_detached, wait_for_socket
from vconsole.runtime_paths import RuntimePaths, ensure_private_dir
from vconsole.wire import PROTOCOL_VERSION, FrameDecoder, ProtocolError, encode


class BrokerUnreachable(Exception):
    """No broker answers and none could be started."""


class RequestFailed(Exception):
    """The broker answered a request with a structured error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


EventHandler = Callable[[dict[str, Any]], None]


class Client:
    """A connection to the broker: requests with ids, and a stream of events."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.on_event: EventHandler | None = None
        self.closed = asyncio.Event()
        self._task = asyncio.create_task(self._read_loop())

    @classmethod
    async def connect(
        cls, paths: RuntimePaths, *, autostart: bool = True, timeout: float = 15.0
    ) -> Client:
        """Connect (starting the broker in the background first if needed) and say hello."""
        if autostart and not socket_answers(paths.socket):
            await start_broker(paths, timeout)
        try:
            reader, writer = await asyncio.open_unix_connection(str(paths.socket), limit=1 << 22)
        except OSError as exc:
            raise BrokerUnreachable(
                f"no broker on {paths.socket}: {exc.strerror or exc}"
            ) from None
        client = cls(reader, writer)
        try:
            await asyncio.wait_for(
                client.request("hello", version=PROTOCOL_VERSION, client="vconsole"), timeout
            )
        except (RequestFailed, ConnectionError, TimeoutError) as exc:
            await client.close()
            raise BrokerUnreachable(f"the broker refused us: {exc}") from None
        return client

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send a request and return its reply; RequestFailed on a structured error."""
        self._next_id += 1
        rid = self._next_id
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        self._writer.write(encode({"op": op, "id": rid, **fields}))
        try:
            reply = await fut
        finally:
            self._waiting.pop(rid, None)
        if not reply.get("ok"):
            err = reply.get("error") or {}
            raise RequestFailed(str(err.get("code", "error")), str(err.get("message", "failed")))
        return reply

    def send_nowait(self, op: str, **fields: Any) -> None:
        """Fire a request whose reply only matters if it is an error (keystrokes)."""
        self._next_id += 1
        self._writer.write(encode({"op": op, "id": self._next_id, **fields}))

    async def _read_loop(self) -> None:
        decoder = FrameDecoder()
        try:
            while True:
                data = await self._reader.read(1 << 20)
                if not data:
                    break
                for item in decoder.feed(data):
                    if isinstance(item, ProtocolError):
                        # We cannot tell which request it answered: give up loudly.
                        raise ConnectionError(f"the broker sent a bad frame: {item.message}")
                    self._dispatch(item)
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the broker closed the connection"))

    def _dispatch(self, item: dict[str, Any]) -> None:
        if "event" in item:
            if self.on_event is not None:
                self.on_event(item)
            else:
                self.events.put_nowait(item)
            return
        if item.get("pending"):
            return  # the real answer follows with the same id
        rid = item.get("id")
        fut = self._waiting.get(rid) if isinstance(rid, int) else None
        if fut is not None and not fut.done():
            fut.set_result(item)
        elif not item.get("ok", True):
            # An unsolicited error (a fire-and-forget request failed): surface it.
            event = {"event": "error", **(item.get("error") or {})}
            if self.on_event is not None:
                self.on_event(event)
            else:
                self.events.put_nowait(event)

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def start_broker(paths: RuntimePaths, timeout: float = 15.0) -> None:
    """Start ``vconsole serve`` in the background unless one answers; one starter at a time."""
    ensure_private_dir(paths.directory)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # The holder is another client doing this same step; poll rather than block the loop.
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.05)
        if socket_answers(paths.socket):
            return
        start_detached(["serve", "--socket", str(paths.socket)], "broker.log")
        if not await wait_for_socket(paths.socket, timeout):
            raise BrokerUnreachable(
                "the broker did not start; see broker.log in the state directory"
            )
    finally:
        os.close(fd)
