"""The broker's operations: one table from op to handler (docs/protocol.md).

Every request goes through :data:`OPERATIONS`: its entry parses the request
into a typed value (vconsole.protocol checks every field) and runs the
handler, which answers with a reply, or None when the request asked for no
reply; slow work answers ``pending`` first and the result later with the
same id. Errors are raised (ProtocolError, TargetError) and become
structured replies in one place, the connection.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from vconsole.broker.client_access import Access
from vconsole.broker.config_reload import ReloadRefused
from vconsole.broker.guest_input import InputBacklogFull
from vconsole.broker.handoff import handoff
from vconsole.broker.registry import TargetError
from vconsole.broker.session import ConsoleSession
from vconsole.broker.snapshots.requests import (
    parse_restore,
    parse_snapshot,
    run_restore,
    run_snapshot,
)
from vconsole.broker.snapshots.saved_sessions import SaveFailed
from vconsole.broker.snapshots.transfers import transfer_open, transfer_read, transfer_write
from vconsole.broker.takeover import TakeoverRefused, demote_writers, take_over
from vconsole.console.endpoint import EndpointClosed
from vconsole.consolelog.reader import ConsoleLog, LogUnreadable
from vconsole.domain import AttachMode, ConsoleState
from vconsole.protocol import (
    Acknowledge,
    Attach,
    Detach,
    Events,
    GuestCommand,
    Handoff,
    Hello,
    Input,
    LogRead,
    NoFields,
    Pause,
    Resize,
    Resume,
)
from vconsole.protocol_replies import AttachReply, HelloReply, LogReadReply, ResumeReply
from vconsole.protocol_snapshots import TransferOpen, TransferRead, TransferWrite
from vconsole.providers.base import ProviderError
from vconsole.wire import (
    PROTOCOL_VERSION,
    Message,
    Op,
    ProtocolError,
    error_reply,
    ok_reply,
    pending_reply,
)

if TYPE_CHECKING:
    from vconsole.broker.connection import ClientConnection

RequestId = int | None
Reply = Message  # a reply to send
R = TypeVar("R")


@dataclass(frozen=True)
class Operation(Generic[R]):
    """One operation: how its request is parsed, and what answers it."""

    parse: Callable[[Message], R]
    run: Callable[[ClientConnection, RequestId, R], Reply | None]

    def __call__(self, conn: ClientConnection, rid: RequestId, msg: Message) -> Reply | None:
        return self.run(conn, rid, self.parse(msg))


def hello(conn: ClientConnection, rid: RequestId, req: Hello) -> Reply:
    """The greeting; every other operation waits for it."""
    conn.greeted = True
    providers = tuple(p.name for p in conn.broker.registry.providers)
    reply = HelloReply(PROTOCOL_VERSION, os.getpid(), providers=providers, access=conn.access.value, uid=os.getuid())
    return ok_reply(rid, **reply.fields())


def list_guests(conn: ClientConnection, rid: RequestId, req: NoFields) -> Reply:
    """Every guest and console, and how saving and restoring the sessions went."""
    broker = conn.broker
    return ok_reply(
        rid, **broker.registry.describe(), saved_sessions=broker.saved.status.to_wire(), log=broker.logs.describe(),
        watch_errors=broker.watch_errors,
        broker={"mode": "system" if broker.paths.system else "user", "socket": str(broker.paths.socket),
                "pid": os.getpid(), **({"unit": broker.unit} if broker.unit else {})},
    )


def watch(conn: ClientConnection, rid: RequestId, req: NoFields) -> Reply:
    """From now on, a state event for every console change."""
    conn.watching = True
    return ok_reply(rid)


def attach(conn: ClientConnection, rid: RequestId, req: Attach) -> Reply:
    """Attach the client to a console; its history replays after the reply.

    ``force`` takes the console (broker/takeover.py): a busy one's outside
    holder is ended first (answered once the console is open), other
    read-write clients are made read-only.
    """
    if conn.access == Access.SPY and req.mode == AttachMode.RW:
        raise ProtocolError("forbidden", f"uid {conn.peer_uid} may only watch (spy_groups): attach read-only (-r)")
    if conn.access == Access.SPY and req.force:
        raise ProtocolError("forbidden", f"uid {conn.peer_uid} may only watch (spy_groups): it cannot take a console")
    session = conn.broker.registry.resolve(req.target)
    if session.state == ConsoleState.STOPPED:
        return error_reply(rid, "stopped", session.reason or f"{session.guest.name} is stopped")
    if session.state == ConsoleState.BUSY:
        if req.force:
            return _take_over_then_attach(conn, rid, req, session)
        return error_reply(rid, "busy", f"{session.key} is busy: {session.reason}")
    if req.force and req.mode == AttachMode.RW:
        demote_writers(session, conn)
    start = req.start
    if start is not None and req.created is not None and req.created != session.created:
        # The offset counts in a history this broker does not hold (it restarted
        # without saving it): replay all it holds; the reply's ``created`` says so.
        start = session.history.start
    attachment = conn.attach(session, req.mode, start, req.tail_lines)
    attachment.held = req.paused
    if req.size is not None and not attachment.read_only:
        session.client_size(attachment, *req.size)
    history = session.history
    reply = AttachReply(
        session=session.key,
        guest=session.guest.name,
        console=session.spec.name,
        state=session.state,
        mode=req.mode,
        offset=attachment.cursor,
        start=history.start,
        end=history.end,
        missed=attachment.missed,
        lost=session.lost,
        # Where the history holds the hypervisor log or restored bytes, as in `list`.
        marks=list(session.marks),
        created=session.created,
    )
    # Replay after the reply so the client knows the session key first.
    asyncio.get_running_loop().call_soon(attachment.pump)
    return ok_reply(rid, **reply.fields())


def _take_over_then_attach(conn: ClientConnection, rid: RequestId, req: Attach, session: ConsoleSession) -> Reply:
    async def later() -> Reply:
        try:
            await take_over(conn.broker, session, conn)
            return attach(conn, rid, req)
        except TakeoverRefused as err:
            return error_reply(rid, err.code, str(err))
        except ProtocolError as err:
            return error_reply(rid, err.code, err.message)
        except TargetError as err:
            return error_reply(rid, err.code, str(err))

    return _reply_later(conn, rid, later())


def send_input(conn: ClientConnection, rid: RequestId, req: Input) -> Reply | None:
    """Keystrokes for the guest; no reply on success when the client asked for none."""
    attachment = conn.attachment(req.session)
    # A keystroke's reply is only news when it is an error; not encoding
    # and sending one per key saves the broker and the client real time.
    if attachment.read_only:
        raise ProtocolError("read_only", "this client is attached read-only")
    try:
        attachment.session.client_typed(attachment)
        attachment.session.send_input(req.data)
    except EndpointClosed as exc:
        raise ProtocolError("disconnected", str(exc)) from None
    except InputBacklogFull as exc:
        raise ProtocolError("input_full", str(exc)) from None
    return ok_reply(rid, accepted=len(req.data)) if req.ack else None


def resize(conn: ClientConnection, rid: RequestId, req: Resize) -> Reply:
    """The client's window size (the latest active read-write client's size is the console's)."""
    attachment = conn.attachment(req.session)
    if attachment.read_only:
        raise ProtocolError("read_only", "this client is attached read-only")
    attachment.session.client_size(attachment, req.cols, req.rows)
    return ok_reply(rid)


def detach(conn: ClientConnection, rid: RequestId, req: Detach) -> Reply:
    """The client leaves a session; the broker keeps it."""
    conn.detach(conn.attachment(req.session))
    return ok_reply(rid)


def pause(conn: ClientConnection, rid: RequestId, req: Pause) -> Reply:
    """Send the client none of a session's output until it resumes (its tab is hidden); the cursor stays."""
    conn.attachment(req.session).held = True
    return ok_reply(rid)


def resume(conn: ClientConnection, rid: RequestId, req: Resume) -> Reply:
    """Send a paused session's output again, from its cursor moved forward as asked."""
    attachment = conn.attachment(req.session)
    skipped, missed = attachment.resume(req.start, req.tail_lines)
    history = attachment.session.history
    reply = ResumeReply(attachment.cursor, history.start, history.end, skipped, missed)
    # Output after the reply, so the client knows where it starts first.
    asyncio.get_running_loop().call_soon(attachment.pump)
    return ok_reply(rid, **reply.fields())


def _guest_command(conn: ClientConnection, rid: RequestId, req: GuestCommand, start: bool) -> Reply:
    provider, guest = conn.broker.registry.find(req.target)

    async def run() -> None:
        try:
            if start:
                await provider.start_guest(guest)
            else:
                await provider.stop_guest(guest)
            await conn.broker.registry.refresh()
            conn.send(ok_reply(rid))
        except ProviderError as exc:
            conn.send(error_reply(rid, "provider", str(exc)))

    conn.broker.spawn(run())
    return pending_reply(rid)


def start(conn: ClientConnection, rid: RequestId, req: GuestCommand) -> Reply:
    """Start a guest (answered once the provider has)."""
    return _guest_command(conn, rid, req, start=True)


def stop(conn: ClientConnection, rid: RequestId, req: GuestCommand) -> Reply:
    """Stop a guest (answered once the provider has)."""
    return _guest_command(conn, rid, req, start=False)


def shutdown(conn: ClientConnection, rid: RequestId, req: NoFields) -> Reply:
    """Save the sessions, then stop the broker (consoles go back to their guests).

    A failed save is the request's error, and the broker keeps running with
    every history rather than lose them.
    """
    broker = conn.broker

    async def save_then_stop() -> Reply:
        try:
            await broker.saved.save()
        except SaveFailed as exc:
            return error_reply(rid, "save_failed", f"{exc}; the broker keeps running with every history")
        broker.stop(saved=True)
        return ok_reply(rid)

    return _reply_later(conn, rid, save_then_stop())


def _unparsed(msg: Message) -> Message:
    """The snapshot requests check their own fields (they need the registry and the peer)."""
    return msg


def _reply_later(conn: ClientConnection, rid: RequestId, reply: Coroutine[Any, Any, Reply]) -> Reply:
    """Answer ``pending`` now and send ``reply`` when it is ready."""

    async def run() -> None:
        conn.send(await reply)

    conn.broker.spawn(run())
    return pending_reply(rid)


def attach_after_restore(conn: ClientConnection, rid: RequestId, req: Attach) -> Reply:
    """``attach``, once the saved sessions are back: a replay must start with the restored history."""
    saved = conn.broker.saved
    if not saved.restoring:
        return attach(conn, rid, req)

    async def later() -> Reply:
        await saved.restored()
        try:
            return attach(conn, rid, req)
        except ProtocolError as err:
            return error_reply(rid, err.code, err.message)
        except TargetError as err:
            return error_reply(rid, err.code, str(err))

    return _reply_later(conn, rid, later())


async def _once_restored(conn: ClientConnection, reply: Coroutine[Any, Any, Reply]) -> Reply:
    """``reply``, once the saved sessions are back: a snapshot or restore sees every history."""
    try:
        await conn.broker.saved.restored()
    except BaseException:
        reply.close()  # cancelled (the broker stops): never started
        raise
    return await reply


def snapshot(conn: ClientConnection, rid: RequestId, msg: Message) -> Reply:
    """Capture consoles into a file, inline or in parts (answered once written)."""
    request = parse_snapshot(conn.broker.registry, msg, conn.peer_uid)
    return _reply_later(conn, rid, _once_restored(conn, run_snapshot(conn.broker.registry, rid, request, conn.transfers)))


def restore(conn: ClientConnection, rid: RequestId, msg: Message) -> Reply:
    """Restore a snapshot into consoles (answered once applied)."""
    request = parse_restore(msg, conn.peer_uid, conn.transfers)
    return _reply_later(conn, rid, _once_restored(conn, run_restore(conn.broker.registry, rid, request)))


def log_read(conn: ClientConnection, rid: RequestId, req: LogRead) -> Reply:
    """Bytes of a console's log with their times, read from its files off the event loop."""
    session = conn.broker.registry.resolve(req.target)
    if session.log is None:
        raise ProtocolError("no_log", f"{session.key} is not logged: {conn.broker.logs.reason or 'logs are off'}")
    directory = session.log.writer.directory

    def read() -> Reply:
        try:
            log = ConsoleLog(directory)
        except LogUnreadable as exc:
            return error_reply(rid, "no_log", str(exc))
        if req.since is not None:
            start = log.offset_at(req.since)
        elif req.start is not None:
            start = req.start
        else:
            start = max(log.start, (log.end if req.end is None else req.end) - req.limit)
        stop = min(log.end if req.end is None else req.end, start + req.limit)
        chunks = [(c.offset, c.time, c.data) for c in log.chunks(start, stop)]
        boots = [(b.number, b.start, b.time) for b in log.boots()]
        return ok_reply(rid, **LogReadReply(chunks, log.start, log.end, boots).fields())

    async def later() -> Reply:
        return await asyncio.to_thread(read)

    return _reply_later(conn, rid, later())


def events(conn: ClientConnection, rid: RequestId, req: Events) -> Reply:
    """The kept events asked for; with ``follow``, later ones are pushed (asking again replaces it)."""
    stream = conn.broker.events
    sessions = conn.broker.registry.keys_of(req.target) if req.target is not None else None
    reply = stream.read(req, sessions)
    if req.follow:
        stream.follow(conn, req, sessions)
    else:
        stream.unfollow(conn)
    return ok_reply(rid, **reply.fields())


def acknowledge(conn: ClientConnection, rid: RequestId, req: Acknowledge) -> Reply:
    """Acknowledge consoles' alerting events (they stay in the stream; the alert goes)."""
    sessions = conn.broker.registry.keys_of(req.target) if req.target is not None else None
    return ok_reply(rid, acknowledged=conn.broker.events.acknowledge(sessions, req.upto))


def reload(conn: ClientConnection, rid: RequestId, req: NoFields) -> Reply:
    """Reread the configuration file and apply what changed (a config error changes nothing)."""

    async def run() -> Reply:
        try:
            report = await conn.broker.reload()
        except ReloadRefused as exc:
            return error_reply(rid, "bad_config", f"{exc}; the configuration stays as it was")
        return ok_reply(rid, changed=report.changed, needs_restart=report.needs_restart)

    return _reply_later(conn, rid, run())


# Keyed by Op, looked up with the request's string (an Op is that string).
OPERATIONS: dict[str, Operation[Any]] = {
    Op.HELLO: Operation(Hello.parse, hello),
    Op.LIST: Operation(NoFields.parse, list_guests),
    Op.WATCH: Operation(NoFields.parse, watch),
    Op.ATTACH: Operation(Attach.parse, attach_after_restore),
    Op.INPUT: Operation(Input.parse, send_input),
    Op.RESIZE: Operation(Resize.parse, resize),
    Op.DETACH: Operation(Detach.parse, detach),
    Op.PAUSE: Operation(Pause.parse, pause),
    Op.RESUME: Operation(Resume.parse, resume),
    Op.START: Operation(GuestCommand.parse, start),
    Op.STOP: Operation(GuestCommand.parse, stop),
    Op.SHUTDOWN: Operation(NoFields.parse, shutdown),
    # Capture, restore and transfers (snapshots in parts) live in broker/snapshots/.
    Op.LOG_READ: Operation(LogRead.parse, log_read),
    Op.EVENTS: Operation(Events.parse, events),
    Op.ACKNOWLEDGE: Operation(Acknowledge.parse, acknowledge),
    Op.RELOAD: Operation(NoFields.parse, reload),
    Op.SNAPSHOT: Operation(_unparsed, snapshot),
    Op.RESTORE: Operation(_unparsed, restore),
    Op.TRANSFER_OPEN: Operation(TransferOpen.parse, transfer_open),
    Op.TRANSFER_WRITE: Operation(TransferWrite.parse, transfer_write),
    Op.TRANSFER_READ: Operation(TransferRead.parse, transfer_read),
    # A bridge's stdin/stdout served by the broker itself (broker/handoff.py).
    Op.HANDOFF: Operation(Handoff.parse, handoff),
}
