"""ClientConnection: one client of the broker, speaking the wire protocol."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from vconsole.broker.attachment import Attachment
from vconsole.broker.client_access import SPY_OPS, Access
from vconsole.broker.operations import OPERATIONS
from vconsole.broker.registry import TargetError
from vconsole.broker.session import ConsoleSession
from vconsole.broker.snapshots.transfers import ConnectionTransfers
from vconsole.domain import AttachMode, SessionKey
from vconsole.wire import FrameDecoder, Message, Op, ProtocolError, encode, error_reply

if TYPE_CHECKING:
    from vconsole.broker.server import Broker

log = logging.getLogger("vconsole.broker")
_WHO_MAY = " (root, the broker's user, broker.allow_uids and the allowed groups may)"
_ids = itertools.count(1)
# A client more than this far behind stops being sent output until it drains.
HIGH_WATER = 1 << 20
LOW_WATER = 256 * 1024


class ClientConnection(asyncio.Protocol):
    """Requests in, replies and events out; never blocks on a slow client."""

    def __init__(self, broker: Broker, handed_from: ClientConnection | None = None) -> None:
        """``handed_from``: the bridge that handed over this connection's fds (it has its credentials)."""
        self.broker = broker
        self.handed_from = handed_from
        self.client_id = next(_ids)
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        # By the key's text: every keystroke looks its session up here.
        self.attachments: dict[str, Attachment] = {}
        self.greeted = False
        self.watching = False
        self.peer_uid: int | None = None
        self.peer_pid: int | None = None
        self.peer_gid: int | None = None
        self.access = Access.FULL  # a socket without credentials (a socketpair in tests) is the owner's
        self.refused = False
        self._paused = False
        self.transfers = ConnectionTransfers(broker.transfers)  # snapshots in parts
        # Called once the connection is gone (a bridge waits on its handed-off connection).
        self.when_lost: list[Callable[[], None]] = []
        if handed_from is not None:  # sshd's end is the peer, but the bridge is the client
            self.peer_uid, self.peer_pid, self.peer_gid = handed_from.peer_uid, handed_from.peer_pid, handed_from.peer_gid
            self.access = handed_from.access

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
        if sock is not None and self.handed_from is None:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, uid, gid = struct.unpack("3i", creds)
            self.peer_uid, self.peer_pid, self.peer_gid = uid, pid, gid
            self.access = self.broker.access.decide(uid, gid, pid)
            if self.access == Access.NONE:
                log.warning("refused a client of uid %d (pid %d)", uid, pid)
                self.refuse(error_reply(None, "forbidden", f"uid {uid} may not use this broker{_WHO_MAY}"))
                return
        self.broker.clients.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        for attachment in list(self.attachments.values()):
            self.detach(attachment)
        self.broker.events.unfollow(self)
        self.broker.clients.discard(self)
        self.transfers.close()
        callbacks, self.when_lost = self.when_lost, []
        for callback in callbacks:
            callback()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        # The least-behind console first: a flooding one would otherwise refill the
        # socket every time, and a quiet console on the same client would never get a turn.
        for attachment in sorted(self.attachments.values(), key=lambda a: a.session.history.end - a.cursor):
            attachment.pump()

    def refuse(self, error: Message) -> None:
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

    def send(self, message: Message) -> None:
        """Queue a message; the transport buffers and tells us when we are too far ahead."""
        if self.transport is not None and not self.transport.is_closing() and not self.refused:
            self.transport.write(encode(message))

    # --- requests --------------------------------------------------------

    def handle(self, msg: Message) -> Message | None:
        """Answer one request through the operations table.

        None: the request succeeded and asked for no reply (``input`` with
        ``ack: false``); errors are always answered.
        """
        rid = msg.get("id")
        if rid is not None and (not isinstance(rid, int) or isinstance(rid, bool)):
            raise ProtocolError("bad_request", "field 'id' must be an integer")
        op = msg.get("op")
        if op != Op.HELLO and not self.greeted:
            raise ProtocolError("hello_required", "send hello with the protocol version first")
        operation = OPERATIONS.get(op) if isinstance(op, str) else None
        if operation is None:
            raise ProtocolError("unknown_op", f"unknown operation {op!r}")
        if self.access == Access.SPY and op not in SPY_OPS:
            raise ProtocolError("forbidden", f"uid {self.peer_uid} may only watch (spy_groups): not {op}")
        reply: Message | None = operation(self, rid, msg)
        return reply

    # --- this client's attachments (the sessions own them) ----------------

    def attach(
        self, session: ConsoleSession, mode: AttachMode, start: int | None, tail_lines: int | None
    ) -> Attachment:
        """Attach this client to ``session`` (again: the new attachment replaces the old)."""
        attachment = session.attach(self, mode, start, tail_lines)
        self.attachments[session.key.text] = attachment
        return attachment

    def attachment(self, key: SessionKey) -> Attachment:
        """This client's attachment to session ``key``; ``not_attached`` if none."""
        attachment = self.attachments.get(key.text)
        if attachment is None:
            raise ProtocolError("not_attached", f"not attached to {key}")
        return attachment

    def detach(self, attachment: Attachment) -> None:
        """Leave a session."""
        del self.attachments[attachment.session.key.text]
        attachment.session.detach(attachment)
