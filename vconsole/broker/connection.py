"""ClientConnection: one client of the broker, speaking the wire protocol."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import struct
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from vconsole.broker.attachment import Attachment
from vconsole.broker.registry import TargetError
from vconsole.broker.session import BUSY, STOPPED, InputBacklogFull
from vconsole.broker.snapshots.requests import (
    parse_restore,
    parse_snapshot,
    run_restore,
    run_snapshot,
)
from vconsole.console.endpoint import EndpointClosed
from vconsole.providers.base import ProviderError
from vconsole.wire import (
    MAX_FRAME,
    PROTOCOL_VERSION,
    FrameDecoder,
    ProtocolError,
    encode,
    error_reply,
    field_bool,
    field_bytes,
    field_choice,
    field_int,
    field_opt_int,
    field_str,
    ok_reply,
)

if TYPE_CHECKING:
    from vconsole.broker.server import Broker

log = logging.getLogger("vconsole.broker")
_ids = itertools.count(1)
# A client more than this far behind stops being sent output until it drains.
HIGH_WATER = 1 << 20
LOW_WATER = 256 * 1024
MAX_OFFSET = (1 << 64) - 1


class ClientConnection(asyncio.Protocol):
    """Requests in, replies and events out; never blocks on a slow client."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.client_id = next(_ids)
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        self.attachments: dict[str, Attachment] = {}
        self.greeted = False
        self.watching = False
        self.peer_uid: int | None = None
        self.refused = False
        self._paused = False

    @property
    def paused(self) -> bool:
        """True while the client's socket buffer is over the high-water mark."""
        return self._paused

    # --- asyncio.Protocol ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", creds)
            self.peer_uid = uid
            if uid != os.getuid() and uid not in self.broker.config.allow_uids:
                log.warning("refused a client of uid %d", uid)
                self.refuse(error_reply(None, "forbidden", f"uid {uid} may not use this broker"))
                return
        self.broker.clients.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        for attachment in self.attachments.values():
            attachment.session.attachments.discard(attachment)
            self.broker.state_changed(attachment.session)
        self.attachments.clear()
        self.broker.clients.discard(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        # The least-behind console first: a flooding one would otherwise refill the
        # socket every time, and a quiet console on the same client would never get a turn.
        for attachment in sorted(self.attachments.values(), key=lambda a: a.session.history.end - a.cursor):
            attachment.pump()

    def refuse(self, error: dict[str, Any]) -> None:
        """Send a last error and end the connection without losing that error.

        Closing a Unix socket that still holds unread input resets it, and the
        reset can overtake the error; so stop reading, shut our side, and
        close when the peer does (or after a grace period).
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.send(error)
        self.refused = True  # from now on nothing more is written
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(5.0, transport.close)

    def eof_received(self) -> bool | None:
        """The peer is done sending: close (a refused peer's last chance to read is over)."""
        return None

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # input after a refusal is read and dropped, so the socket is not reset
        for item in self.decoder.feed(data):
            if isinstance(item, ProtocolError):
                if item.fatal:
                    self.refuse(error_reply(None, item.code, item.message))
                    return
                self.send(error_reply(None, item.code, item.message))
                continue
            rid = item.get("id")
            try:
                reply = self.handle(item)
                if reply is not None:
                    self.send(reply)
            except ProtocolError as err:
                self.send(error_reply(rid, err.code, err.message))
            except TargetError as err:
                self.send(error_reply(rid, err.code, str(err)))
            except Exception as exc:  # one bad request must not take the broker down
                log.exception("request %r failed", item.get("op"))
                self.send(error_reply(rid, "internal", f"{type(exc).__name__}: {exc}"))

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; the transport buffers and tells us when we are too far ahead."""
        if self.transport is not None and not self.transport.is_closing() and not self.refused:
            self.transport.write(encode(message))

    # --- requests --------------------------------------------------------

    def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Answer one request (async work answers later with the same id).

        None: the request succeeded and asked for no reply (``input`` with
        ``ack: false``); errors are always answered.
        """
        rid = msg.get("id")
        if rid is not None and (not isinstance(rid, int) or isinstance(rid, bool)):
            raise ProtocolError("bad_request", "field 'id' must be an integer")
        op = msg.get("op")
        if op == "hello":
            version = field_int(msg, "version", lo=0, hi=1 << 16)
            if version != PROTOCOL_VERSION:
                raise ProtocolError(
                    "version", f"protocol version {version} is not supported (want {PROTOCOL_VERSION})"
                )
            self.greeted = True
            return ok_reply(rid, version=PROTOCOL_VERSION, pid=os.getpid(), max_frame=MAX_FRAME)
        if not self.greeted:
            raise ProtocolError("hello_required", "send hello with the protocol version first")
        handler = _HANDLERS.get(op) if isinstance(op, str) else None
        if handler is None:
            raise ProtocolError("unknown_op", f"unknown operation {op!r}")
        return handler(self, rid, msg)

    def _list(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        return ok_reply(rid, **self.broker.registry.describe())

    def _watch(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        self.watching = True
        return ok_reply(rid)

    def _attach(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        target = field_str(msg, "target")
        console = msg.get("console")
        if console is not None and not isinstance(console, int | str):
            raise ProtocolError("bad_request", "field 'console' must be an index or a name")
        mode = field_choice(msg, "mode", ("rw", "ro"), "rw")
        start = field_opt_int(msg, "from", lo=0, hi=MAX_OFFSET)
        tail = field_opt_int(msg, "tail_lines", lo=0, hi=100_000)
        session = self.broker.registry.resolve(target, console)
        if session.state == STOPPED:
            return error_reply(rid, "stopped", session.reason or f"{session.guest.name} is stopped")
        if session.state == BUSY:
            return error_reply(rid, "busy", f"{session.key} is busy: {session.reason}")
        history = session.history
        if start is None:
            start = history.tail_offset(tail) if tail is not None else history.end
        missed = max(0, history.start - start)
        old = self.attachments.pop(session.key, None)
        if old is not None:
            session.attachments.discard(old)
        attachment = Attachment(session, self, mode, max(min(start, history.end), history.start))
        attachment.missed = missed
        self.attachments[session.key] = attachment
        session.attachments.add(attachment)
        reply = ok_reply(
            rid,
            session=session.key,
            guest=session.guest.name,
            console=session.spec.name,
            state=session.state,
            mode=mode,
            offset=attachment.cursor,
            start=history.start,
            end=history.end,
            missed=missed,
            lost=session.lost,
            # Where the history holds the hypervisor log or restored bytes, as in `list`.
            marks=list(session.marks),
        )
        # Replay after the reply so the client knows the session key first.
        asyncio.get_running_loop().call_soon(attachment.pump)
        self.broker.state_changed(session)
        return reply

    def _attachment(self, msg: dict[str, Any]) -> Attachment:
        key = field_str(msg, "session", max_len=1024)
        attachment = self.attachments.get(key)
        if attachment is None:
            raise ProtocolError("not_attached", f"not attached to {key}")
        return attachment

    def _input(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any] | None:
        attachment = self._attachment(msg)
        data = field_bytes(msg, "data", max_len=64 * 1024)
        # A keystroke's reply is only news when it is an error; not encoding
        # and sending one per key saves the broker and the client real time.
        ack = field_bool(msg, "ack", default=True)
        if attachment.read_only:
            raise ProtocolError("read_only", "this client is attached read-only")
        try:
            attachment.session.send_input(data)
        except EndpointClosed as exc:
            raise ProtocolError("disconnected", str(exc)) from None
        except InputBacklogFull as exc:
            raise ProtocolError("input_full", str(exc)) from None
        return ok_reply(rid, accepted=len(data)) if ack else None

    def _resize(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        attachment = self._attachment(msg)
        cols = field_int(msg, "cols", lo=1, hi=4096)
        rows = field_int(msg, "rows", lo=1, hi=4096)
        if attachment.read_only:
            raise ProtocolError("read_only", "this client is attached read-only")
        attachment.session.resize(cols, rows)
        return ok_reply(rid)

    def _detach(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        attachment = self._attachment(msg)
        del self.attachments[attachment.session.key]
        attachment.session.attachments.discard(attachment)
        self.broker.state_changed(attachment.session)
        return ok_reply(rid)

    def _guest_op(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        provider, guest = self.broker.registry.find_guest(field_str(msg, "target"))
        op = msg["op"]

        async def run() -> None:
            try:
                if op == "start":
                    await provider.start_guest(guest)
                else:
                    await provider.stop_guest(guest)
                await self.broker.registry.refresh()
                self.send(ok_reply(rid))
            except ProviderError as exc:
                self.send(error_reply(rid, "provider", str(exc)))

        self.broker.spawn(run())
        return {"id": rid, "pending": True}

    def _snapshot(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        request = parse_snapshot(self.broker.registry, msg, self.peer_uid)
        return self._reply_later(rid, run_snapshot(self.broker.registry, rid, request))

    def _restore(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        request = parse_restore(msg, self.peer_uid)
        return self._reply_later(rid, run_restore(self.broker.registry, rid, request))

    def _reply_later(self, rid: Any, reply: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
        """Answer ``pending`` now and send ``reply`` when it is ready."""

        async def run() -> None:
            self.send(await reply)

        self.broker.spawn(run())
        return {"id": rid, "pending": True}

    def _shutdown(self, rid: Any, msg: dict[str, Any]) -> dict[str, Any]:
        self.broker.stop()
        return ok_reply(rid)


_HANDLERS = {
    "list": ClientConnection._list,
    "watch": ClientConnection._watch,
    "attach": ClientConnection._attach,
    "input": ClientConnection._input,
    "resize": ClientConnection._resize,
    "detach": ClientConnection._detach,
    "start": ClientConnection._guest_op,
    "stop": ClientConnection._guest_op,
    "shutdown": ClientConnection._shutdown,
    "snapshot": ClientConnection._snapshot,
    "restore": ClientConnection._restore,
}
