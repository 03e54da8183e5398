"""Client: the async API every front end (CLI, TUI) uses to talk to the broker."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from vconsole.detached import socket_answers, start_detached, wait_for_socket
from vconsole.domain import AttachMode, SessionKey, Target
from vconsole.protocol import (
    Acknowledge,
    Attach,
    Detach,
    Events,
    GuestCommand,
    Hello,
    Input,
    LogRead,
    Pause,
    Resize,
    Resume,
)
from vconsole.protocol_replies import (
    AttachReply,
    EventsReply,
    HelloReply,
    LogReadReply,
    RestoreReply,
    ResumeReply,
    SnapshotReply,
    TransferPart,
    TransferState,
)
from vconsole.protocol_snapshots import (
    RestoreRequest,
    SnapshotRequest,
    TransferOpen,
    TransferRead,
    TransferWrite,
)
from vconsole.runtime_paths import (
    SYSTEM_GROUP,
    RuntimePaths,
    default_runtime_dir,
    ensure_private_dir,
)
from vconsole.wire import FrameDecoder, Message, Op, ProtocolError, encode


class BrokerUnreachable(Exception):
    """No broker answers and none could be started."""


class BrokerRefused(BrokerUnreachable):
    """A broker answers but refuses this client (its uid or groups)."""


class RequestFailed(Exception):
    """The broker answered a request with a structured error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


EventHandler = Callable[[Message], None]
T = TypeVar("T")


class _Link(asyncio.Protocol):
    """The socket side of a Client: frames are decoded and dispatched as they arrive.

    Dispatching in ``data_received`` (rather than a reader task fed by a
    StreamReader) saves a task wake-up and a buffer copy on every read, which
    is most of a keystroke echo's client-side cost.
    """

    def __init__(self) -> None:
        self.client: Client | None = None
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        self.lost = asyncio.get_running_loop().create_future()
        self.early: list[bytes] = []  # data before the Client exists (never, in practice)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is None:
            self.early.append(data)
            return
        for item in self.decoder.feed(data):
            if isinstance(item, ProtocolError):
                # We cannot tell which request it answered: give up loudly.
                client._fail(ConnectionError(f"the broker sent a bad frame: {item.message}"))
                if self.transport is not None:
                    self.transport.close()
                return
            client._dispatch(item)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client is not None:
            self.client._fail(ConnectionError("the broker closed the connection"))
        if not self.lost.done():
            self.lost.set_result(None)


class Client:
    """A connection to the broker: one typed method per operation, and a stream of events.

    Events go to ``on_event`` when it is set, else into the ``events`` queue.
    ``request`` sends any operation with raw fields and returns the raw reply.
    """

    def __init__(self, transport: asyncio.Transport, link: _Link) -> None:
        self._transport = transport
        self._link = link
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self.events: asyncio.Queue[Message] = asyncio.Queue()
        self.on_event: EventHandler | None = None
        self.closed = asyncio.Event()
        self._failure: Exception | None = None  # why the connection ended, once it has
        self.broker_info: HelloReply | None = None  # the broker's hello: pid, providers
        # Reached through a socket handed to us (ssh's end of a socketpair): the broker may be
        # another machine's, whose files are not ours whatever its uid.
        self.through_socket = False
        link.client = self
        for data in link.early:
            link.data_received(data)
        link.early.clear()
        if link.lost.done():
            self._fail(ConnectionError("the broker closed the connection"))

    @classmethod
    async def connect(
        cls, paths: RuntimePaths, *, autostart: bool = True, timeout: float = 15.0
    ) -> Client:
        """Connect (starting the broker in the background first if needed) and say hello."""
        # The system broker is systemd's to start, never a client's.
        if autostart and not paths.system and not socket_answers(paths.socket):
            await start_broker(paths, timeout)
        try:
            transport, link = await asyncio.get_running_loop().create_unix_connection(
                _Link, str(paths.socket)
            )
        except PermissionError:
            raise BrokerUnreachable(
                f"{paths.socket}: permission denied: the system broker admits root, the {SYSTEM_GROUP} group"
                " and its allow_uids/allow_groups (--user: a broker of your own)"
            ) from None
        except OSError as exc:
            hint = " (the system broker: systemctl start vconsole; --user: a broker of your own)" if paths.system else ""
            raise BrokerUnreachable(
                f"no broker on {paths.socket}: {exc.strerror or exc}{hint}"
            ) from None
        return await cls._greet(transport, link, timeout)

    @classmethod
    async def connect_socket(cls, sock: socket.socket, timeout: float = 15.0) -> Client:
        """Say hello over a connected stream socket (``ssh_transport``: ssh's end of a socketpair)."""
        transport, link = await asyncio.get_running_loop().create_unix_connection(_Link, sock=sock)
        client = await cls._greet(transport, link, timeout)
        client.through_socket = True
        return client

    @classmethod
    async def _greet(cls, transport: asyncio.Transport, link: _Link, timeout: float) -> Client:
        client = cls(transport, link)
        try:
            await asyncio.wait_for(client.hello(), timeout)
        except RequestFailed as exc:
            await client.close()
            if exc.code == "forbidden":
                raise BrokerRefused(exc.message) from None  # this uid may not use the broker
            raise BrokerUnreachable(f"the broker refused us: {exc}") from None
        except (ConnectionError, TimeoutError) as exc:
            await client.close()
            raise BrokerUnreachable(f"the broker refused us: {exc}") from None
        return client

    def _write(self, message: Message) -> None:
        if isinstance(self._failure, RequestFailed):
            raise self._failure  # refused (forbidden): say why, not only that it is closed
        if self.closed.is_set() or self._transport.is_closing():
            raise ConnectionError("the connection to the broker is closed")
        self._transport.write(encode(message))

    async def request(self, op: Op | str, **fields: Any) -> Message:
        """Send a request and return its reply; RequestFailed on a structured error."""
        self._next_id += 1
        rid = self._next_id
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        try:
            self._write({"op": op, "id": rid, **fields})
            reply = await fut
        finally:
            self._waiting.pop(rid, None)
        if not reply.get("ok"):
            err = reply.get("error") or {}
            raise RequestFailed(str(err.get("code", "error")), str(err.get("message", "failed")))
        return reply

    def send_nowait(self, op: Op | str, **fields: Any) -> None:
        """Fire a request whose reply only matters if it is an error (keystrokes).

        ``input`` goes with ``ack: false`` (the broker then answers only
        errors), unless the caller gives ``ack`` itself. A closed connection
        drops the request: ``closed`` says so already.
        """
        if op == Op.INPUT:
            fields.setdefault("ack", False)
        self._next_id += 1
        with contextlib.suppress(ConnectionError):
            self._write({"op": op, "id": self._next_id, **fields})

    # --- one method per operation (docs/protocol.md) ----------------------

    async def hello(self) -> HelloReply:
        """Greet the broker with our protocol version (``connect`` does it); kept as ``broker_info``."""
        self.broker_info = _parsed(HelloReply.from_wire, await self.request(Op.HELLO, **Hello().fields()))
        return self.broker_info

    async def list_guests(self) -> Message:
        """Every guest and console, as ``list`` reports them (docs/protocol.md)."""
        return await self.request(Op.LIST)

    async def watch(self) -> None:
        """Ask for a state event on every console change from now on."""
        await self.request(Op.WATCH)

    async def attach(
        self,
        target: Target,
        mode: AttachMode = AttachMode.RW,
        *,
        start: int | None = None,
        tail_lines: int | None = None,
        created: float | None = None,
        size: tuple[int, int] | None = None,
        paused: bool = False,
        force: bool = False,
    ) -> AttachReply:
        """Attach to a console; output replays from ``start``, the last lines, or from now.

        ``created`` names the history ``start`` counts in (an earlier reply's
        ``created``); ``size`` is our window (cols, rows) for the size rule;
        ``paused``: no output until ``resume``. ``force`` takes the console:
        an outside holder of a busy console is ended (errors ``refused`` or
        ``busy`` when it cannot be), other read-write clients become read-only.
        """
        request = Attach(target, mode, start, tail_lines, created, size, paused, force)
        return _parsed(AttachReply.from_wire, await self.request(Op.ATTACH, **request.fields()))

    async def input(self, session: SessionKey, data: bytes) -> int:
        """Send keys and wait for the broker to take them; how many it accepted."""
        reply = await self.request(Op.INPUT, **Input(session, data).fields())
        return _parsed(lambda r: int(r["accepted"]), reply)

    def input_nowait(self, session: SessionKey, data: bytes) -> None:
        """Send keys without waiting (errors come back as ``error`` events)."""
        self.send_nowait(Op.INPUT, **Input(session, data, ack=False).fields())

    def resize_nowait(self, session: SessionKey, cols: int, rows: int) -> None:
        """Tell the guest the window size, without waiting."""
        self.send_nowait(Op.RESIZE, **Resize(session, cols, rows).fields())

    async def detach(self, session: SessionKey) -> None:
        """Stop receiving a session's output (the broker keeps the session)."""
        await self.request(Op.DETACH, **Detach(session).fields())

    def detach_nowait(self, session: SessionKey) -> None:
        """Detach without waiting."""
        self.send_nowait(Op.DETACH, **Detach(session).fields())

    def pause_nowait(self, session: SessionKey) -> None:
        """Stop the session's output coming to us (the attachment and its cursor stay), without waiting."""
        self.send_nowait(Op.PAUSE, **Pause(session).fields())

    async def resume(
        self, session: SessionKey, *, start: int | None = None, tail_lines: int | None = None
    ) -> ResumeReply:
        """Output of a paused session again, from the cursor moved forward to ``start`` or the last lines."""
        reply = await self.request(Op.RESUME, **Resume(session, start, tail_lines).fields())
        return _parsed(ResumeReply.from_wire, reply)

    async def log_read(self, request: LogRead) -> LogReadReply:
        """Bytes of a console's durable log with their arrival times (docs/protocol.md, ``log_read``)."""
        return _parsed(LogReadReply.from_wire, await self.request(Op.LOG_READ, **request.fields()))

    async def read_events(self, request: Events) -> EventsReply:
        """Events of the broker's stream; with ``request.follow``, later ones come as ``console_event`` pushes."""
        return _parsed(EventsReply.from_wire, await self.request(Op.EVENTS, **request.fields()))

    async def acknowledge(self, target: Target | None = None, upto: int | None = None) -> int:
        """Acknowledge events (of ``target``, up to seq ``upto``; default all): how many were acknowledged."""
        reply = await self.request(Op.ACKNOWLEDGE, **Acknowledge(target, upto).fields())
        return _parsed(lambda r: int(r["acknowledged"]), reply)

    async def reload(self) -> Message:
        """Ask the broker to reread its configuration: ``changed`` and ``needs_restart`` lines."""
        return await self.request(Op.RELOAD)

    async def start(self, guest: Target) -> None:
        """Start a guest; returns once the provider has."""
        await self.request(Op.START, **GuestCommand(guest).fields())

    async def stop(self, guest: Target) -> None:
        """Stop a guest; returns once the provider has."""
        await self.request(Op.STOP, **GuestCommand(guest).fields())

    async def snapshot(
        self, targets: list[Target] | None, path: str | None = None, *, parts: bool = False
    ) -> SnapshotReply:
        """Snapshot ``targets`` (None: every console) into ``path`` (None: inline, or with ``parts`` a transfer)."""
        request = SnapshotRequest(targets, path, parts)
        return _parsed(SnapshotReply.from_wire, await self.request(Op.SNAPSHOT, **request.fields()))

    @property
    def names_files(self) -> bool:
        """Whether the broker writes and reads files this client names: it is this machine's (not reached
        through a handed socket, as over ssh) and runs as our uid."""
        uid = self.broker_info.uid if self.broker_info is not None else None
        return not self.through_socket and (uid is None or uid == os.getuid())

    async def transfer_open(self, size: int) -> TransferState:
        """An upload buffer of ``size`` bytes on the broker, for a snapshot file ``restore`` then names."""
        return _parsed(TransferState.from_wire, await self.request(Op.TRANSFER_OPEN, **TransferOpen(size).fields()))

    async def transfer_write(self, transfer: str, offset: int, data: bytes) -> TransferState:
        """The next part of an upload (``offset``: the bytes written so far)."""
        reply = await self.request(Op.TRANSFER_WRITE, **TransferWrite(transfer, offset, data).fields())
        return _parsed(TransferState.from_wire, reply)

    async def transfer_read(self, transfer: str, offset: int) -> TransferPart:
        """A part of a snapshot kept for us (``snapshot`` with ``parts``); freed once read to its end."""
        return _parsed(TransferPart.from_wire, await self.request(Op.TRANSFER_READ, **TransferRead(transfer, offset).fields()))

    async def restore(self, request: RestoreRequest) -> RestoreReply:
        """Restore a snapshot into live consoles."""
        return _parsed(RestoreReply.from_wire, await self.request(Op.RESTORE, **request.fields()))

    async def shutdown(self) -> None:
        """Stop the broker (its consoles go back to their guests)."""
        await self.request(Op.SHUTDOWN)

    # --- the connection ----------------------------------------------------

    def _fail(self, exc: Exception) -> None:
        """The connection is over: wake every waiter."""
        self._failure = self._failure or exc
        self.closed.set()
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(exc)

    def _dispatch(self, item: Message) -> None:
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
            if rid is None and event.get("code") == "forbidden":
                # The broker refused this client as a whole (its uid): every request fails with why.
                self._fail(RequestFailed("forbidden", str(event.get("message", "refused"))))
            if self.on_event is not None:
                self.on_event(event)
            else:
                self.events.put_nowait(event)

    async def close(self) -> None:
        """Close the connection."""
        self._transport.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._link.lost), 5)
        self.closed.set()


def _parsed(parse: Callable[[Message], T], reply: Message) -> T:
    """A typed reply; a reply without the fields the protocol promises is RequestFailed."""
    try:
        return parse(reply)
    except (KeyError, TypeError, ValueError) as exc:
        raise RequestFailed("bad_reply", f"the broker's reply lacks or garbles {exc}") from None


def check_runtime_dir(paths: RuntimePaths) -> None:
    """BrokerUnreachable when ``paths`` is in a directory that does not exist, unless it is the default one.

    Autostart creates only the default runtime directory: a ``--socket`` or
    ``VCONSOLE_SOCKET`` into a directory that is not there is most likely a
    typo, and a broker started there would take every console of the host
    beside the broker the user meant. ``vconsole serve --socket`` (or
    ``--no-daemon``) serves there on purpose, and creates it.
    """
    directory = paths.directory
    if directory.is_dir() or directory == default_runtime_dir():
        return
    what = "is not a directory" if directory.exists() else "does not exist"
    raise BrokerUnreachable(
        f"no broker on {paths.socket}: {directory} {what}"
        f" (to serve one there: vconsole serve --socket {paths.socket})"
    )


async def start_broker(paths: RuntimePaths, timeout: float = 15.0) -> None:
    """Start ``vconsole serve`` in the background unless one answers; one starter at a time."""
    check_runtime_dir(paths)
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
        started = await start_detached(["serve", "--socket", str(paths.socket)], "broker.log")
        if not await wait_for_socket(paths.socket, timeout, started):
            raise BrokerUnreachable(started.failure("the broker"))
    finally:
        os.close(fd)
