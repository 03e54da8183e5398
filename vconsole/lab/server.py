"""LabServer: the lab's control socket, playing the kernel's console interfaces.

Each connection is a FramedSocket. ``open_tty`` answers with the vtty master
fd over SCM_RIGHTS, as VE_CONFIGURE_OPEN_TTY returns one; the master stays
open for that connection until it sends ``close_tty`` or disconnects, so a
broker killed with SIGKILL releases its masters the way a dying process closes
its fds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from vconsole.console.xenring import OUT_SIZE
from vconsole.detached import DaemonSocket
from vconsole.framed_socket import FramedSocket
from vconsole.lab.container import GuestStartFailed, GuestStopped, LabContainer
from vconsole.lab.domu import LabDomU, RingCorruptError
from vconsole.lab.fleet import Fleet
from vconsole.lab.vtty import VttyBusy
from vconsole.wire import (
    PROTOCOL_VERSION,
    Message,
    ProtocolError,
    error_reply,
    field_bytes,
    field_int,
    field_str,
    ok_reply,
)

log = logging.getLogger("vconsole.lab")
Guest = LabContainer | LabDomU
Answer = tuple[Message, list[int]]  # the reply's fields, and fds to hand over
# What the guests raise, as the error codes the kernel interfaces would answer.
_ERROR_CODES: tuple[tuple[type[Exception], str], ...] = (
    (VttyBusy, "EBUSY"),
    (RingCorruptError, "corrupt"),
    (GuestStopped, "stopped"),
    (LookupError, "no_console"),
    (RuntimeError, "unavailable"),
    # Answer, never drop the connection: it may hold other masters' leases.
    (OSError, "unavailable"),
)


class LabOp(StrEnum):
    """The operations of the lab's control socket."""

    HELLO = "hello"
    LIST = "list"
    SHUTDOWN = "shutdown"
    WATCH = "watch"
    START = "start"
    STOP = "stop"
    DESTROY = "destroy"
    OPEN_TTY = "open_tty"
    OPEN_RING = "open_ring"
    CLOSE_TTY = "close_tty"
    RING_STATE = "ring_state"
    RING_CONNECTED = "ring_connected"
    RING_RESTORE = "ring_restore"
    HOLDER = "holder"


class Refused(Exception):
    """A request the lab answers with error ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class LabCall:
    """One request as a handler sees it: the message, its connection and that connection's leases."""

    msg: Message
    conn: FramedSocket
    leases: list[tuple[Guest, int]]


@dataclass(frozen=True)
class Lessee:
    """Who opened a console: the lease connection and its peer's pid and uid (SO_PEERCRED), and when.

    The kernel knows the process that holds a vtty master; the lab knows the
    connection that holds the lease, and its peer is that process.
    """

    conn: FramedSocket
    pid: int
    uid: int
    since: float


def _peer(conn: FramedSocket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end of ``conn``."""
    creds = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    return pid, uid


class LabServer:
    """The simulated host: its guests and the socket the broker talks to."""

    def __init__(self, fleet: Fleet, socket_path: Path, pages: Path) -> None:
        self.fleet = fleet
        self.socket_path = socket_path
        self.pages = pages
        self.guests: list[Guest] = [LabContainer(c, self._changed) for c in fleet.containers]
        self.guests += [LabDomU(d, pages, self._changed) for d in fleet.domus]
        # New at every start: a broker that reaches another instance knows every guest rebooted.
        self.instance = secrets.token_hex(8)
        self._watchers: set[FramedSocket] = set()
        self._stopping = asyncio.Event()
        self._server: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Per (guest id, console index), who opened it last; valid while it still holds it.
        self._lessees: dict[tuple[str, int], Lessee] = {}

    def find(self, key: str) -> Guest | None:
        """A guest by id or name."""
        for guest in self.guests:
            if key in (guest.id, guest.name):
                return guest
        return None

    async def run(self) -> None:
        """Boot the autostart guests and serve until SIGTERM/SIGINT.

        DaemonAlreadyRunning when another lab answers on the socket,
        RuntimeDirError when the runtime directory is unsafe.
        """
        loop = asyncio.get_running_loop()
        daemon = DaemonSocket(self.socket_path, "lab")
        daemon.claim()
        self.pages.mkdir(mode=0o700, exist_ok=True)
        server = daemon.listen()
        self._server = server
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        for guest in self.guests:
            if guest.spec.autostart:
                try:
                    guest.start()
                except GuestStartFailed as err:
                    log.error("autostart: %s", err)  # the others still boot
        accept = asyncio.create_task(self._accept_loop(server))
        log.info("lab %s serving %d guests on %s", self.fleet.host, len(self.guests), self.socket_path)
        await self._stopping.wait()
        accept.cancel()
        server.close()
        daemon.release()
        for guest in self.guests:
            guest.stop()

    def _reap(self) -> None:
        for guest in self.guests:
            guest.reap()

    def _changed(self) -> None:
        for watcher in list(self._watchers):
            self._spawn(self._notify(watcher))

    async def _notify(self, watcher: FramedSocket) -> None:
        try:
            await watcher.send({"event": "changed"})
        except OSError:
            self._watchers.discard(watcher)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept_loop(self, server: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(server)
            self._spawn(self._serve(FramedSocket(conn)))

    async def _serve(self, conn: FramedSocket) -> None:
        leases: list[tuple[Guest, int]] = []
        try:
            while True:
                try:
                    msg, fds = await conn.recv()
                except ProtocolError as err:
                    await conn.send(error_reply(None, err.code, err.message))
                    if err.fatal:
                        return
                    continue
                for fd in fds:  # the lab takes no fds from clients
                    os.close(fd)
                reply, give = await self._answer(LabCall(msg, conn, leases))
                await conn.send(reply, give)
                for fd in give:
                    os.close(fd)
        except (EOFError, OSError):
            pass
        finally:
            self._watchers.discard(conn)
            for guest, index in leases:
                guest.release(index, conn)
            conn.close()

    async def _answer(self, call: LabCall) -> tuple[Message, list[int]]:
        """One request through the table; every refusal becomes a structured error here."""
        rid = call.msg.get("id")
        op = call.msg.get("op")
        handler = _HANDLERS.get(op) if isinstance(op, str) else None
        try:
            if handler is None:
                raise Refused("unknown_op", f"unknown operation {op!r}")
            fields, fds = await handler(self, call)
        except (ProtocolError, Refused) as err:
            return error_reply(rid, err.code, str(err)), []
        except Exception as exc:
            code = next((c for kind, c in _ERROR_CODES if isinstance(exc, kind)), None)
            if code is None:
                raise
            return error_reply(rid, code, str(exc)), []
        return ok_reply(rid, **fields), fds

    # --- the operations (docs/protocol.md, "The lab's control socket") -----

    def _guest(self, call: LabCall) -> Guest:
        guest = self.find(field_str(call.msg, "guest"))
        if guest is None:
            raise Refused("unknown_guest", f"no guest {call.msg['guest']!r} in the lab")
        return guest

    def _domu(self, call: LabCall) -> LabDomU:
        guest = self.find(field_str(call.msg, "guest"))
        if not isinstance(guest, LabDomU):
            raise Refused("unknown_guest", f"no domU {call.msg.get('guest')!r} in the lab")
        return guest

    async def _hello(self, call: LabCall) -> Answer:
        return {"version": PROTOCOL_VERSION, "host": self.fleet.host, "instance": self.instance}, []

    async def _list(self, call: LabCall) -> Answer:
        guests = [g.describe() for g in self.guests]
        return {"host": self.fleet.host, "instance": self.instance, "guests": guests}, []

    async def _shutdown(self, call: LabCall) -> Answer:
        self._stopping.set()
        return {}, []

    async def _watch(self, call: LabCall) -> Answer:
        self._watchers.add(call.conn)
        return {}, []

    async def _start(self, call: LabCall) -> Answer:
        """Start a guest and wait until its init runs: a failure is the reply's error."""
        guest = self._guest(call)
        try:
            await guest.start_settled()
        except GuestStartFailed as err:
            log.error("%s", err)
            raise Refused("start_failed", str(err)) from None
        return {}, []

    async def _stop(self, call: LabCall) -> Answer:
        self._guest(call).stop()
        return {}, []

    async def _destroy(self, call: LabCall) -> Answer:
        """Remove a guest from the host, as ``lxc-destroy -f`` does: stopped, then no longer listed."""
        guest = self._guest(call)
        self.guests.remove(guest)  # first, so no listing shows it stopped but still there
        guest.stop()
        self._changed()
        return {}, []

    async def _open(self, call: LabCall) -> Answer:
        """open_tty hands over a vtty master, open_ring a domU's page and event channel."""
        guest = self._guest(call)
        index = _index(call)
        wanted = LabOp.OPEN_RING if isinstance(guest, LabDomU) else LabOp.OPEN_TTY
        if call.msg["op"] != wanted:
            raise Refused("bad_request", f"{guest.name} is a {guest.kind}: use {wanted}")
        fds, info = guest.open_console(index, call.conn)
        call.leases.append((guest, index))
        pid, uid = _peer(call.conn)
        self._lessees[(guest.id, index)] = Lessee(call.conn, pid, uid, time.time())
        self._changed()
        return info, fds

    async def _close_tty(self, call: LabCall) -> Answer:
        guest = self._guest(call)
        return {"released": guest.release(_index(call), call.conn)}, []

    async def _holder(self, call: LabCall) -> Answer:
        """Who holds a console now: ``pid``, ``uid``, ``since`` (all None when nobody does)."""
        guest = self._guest(call)
        index = _index(call)
        lessee = self._lessees.get((guest.id, index))
        if lessee is None or _lessee_of(guest, index) is not lessee.conn:
            return {"pid": None, "uid": None, "since": None}, []
        return {"pid": lessee.pid, "uid": lessee.uid, "since": lessee.since}, []

    async def _ring_state(self, call: LabCall) -> Answer:
        guest = self._guest(call)
        index = _index(call)
        if not isinstance(guest, LabDomU):
            raise Refused("bad_request", f"{guest.name} is a {guest.kind}: it has no ring")
        return guest.ring_state(index), []

    async def _ring_connected(self, call: LabCall) -> Answer:
        """The backend set CONNECTED on a ring it opened here: hand it the hypervisor log."""
        guest = self._domu(call)
        msg = call.msg
        index = _index(call)
        boot = msg.get("boot")
        offset = field_int(msg, "from", lo=0, hi=(1 << 63) - 1) if "from" in msg else 0
        info = await guest.ring_connected(index, call.conn, boot if isinstance(boot, str) else None, offset)
        return info, []

    async def _ring_restore(self, call: LabCall) -> Answer:
        """Snapshot restore: put guest output back into a domU's ``out`` ring."""
        guest = self._domu(call)
        index = _index(call)
        data = field_bytes(call.msg, "out", max_len=OUT_SIZE)
        if await guest.ring_restore(index, data) < 0:
            raise Refused("unavailable", f"the frontend of {guest.name} did not answer")
        return {"restored": len(data)}, []


def _lessee_of(guest: Guest, index: int) -> object | None:
    """The connection holding console ``index`` of ``guest`` now, if any."""
    if isinstance(guest, LabDomU):
        return guest.lessee if index == 0 else None
    port = guest.port(index)
    return port.lessee if port is not None else None


def _index(call: LabCall) -> int:
    return field_int(call.msg, "index", lo=0, hi=63)


_HANDLERS: dict[str, Callable[[LabServer, LabCall], Awaitable[Answer]]] = {
    LabOp.HELLO: LabServer._hello,
    LabOp.LIST: LabServer._list,
    LabOp.SHUTDOWN: LabServer._shutdown,
    LabOp.WATCH: LabServer._watch,
    LabOp.START: LabServer._start,
    LabOp.STOP: LabServer._stop,
    LabOp.DESTROY: LabServer._destroy,
    LabOp.OPEN_TTY: LabServer._open,
    LabOp.OPEN_RING: LabServer._open,
    LabOp.CLOSE_TTY: LabServer._close_tty,
    LabOp.RING_STATE: LabServer._ring_state,
    LabOp.RING_CONNECTED: LabServer._ring_connected,
    LabOp.RING_RESTORE: LabServer._ring_restore,
    LabOp.HOLDER: LabServer._holder,
}
