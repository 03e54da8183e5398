"""LabServer: the lab's control socket, playing the kernel's console interfaces.

Each connection is a FramedSocket. ``open_tty`` answers with the vtty master
fd over SCM_RIGHTS, as VE_CONFIGURE_OPEN_TTY returns one; the master stays
open for that connection until it sends ``close_tty`` or disconnects, so a
broker killed with SIGKILL releases its masters the way a dying process closes
its fds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from vconsole.console.xenring import OUT_SIZE
from vconsole.framed_socket import FramedSocket
from vconsole.lab.container import GuestStartFailed, GuestStopped, LabContainer
from vconsole.lab.domu import LabDomU, RingCorruptError
from vconsole.lab.fleet import Fleet
from vconsole.lab.vtty import VttyBusy
from vconsole.runtime_paths import ensure_private_dir
from vconsole.wire import (
    PROTOCOL_VERSION,
    ProtocolError,
    error_reply,
    field_bytes,
    field_int,
    field_str,
    ok_reply,
)

log = logging.getLogger("vconsole.lab")
Guest = LabContainer | LabDomU


class LabServer:
    """The simulated host: its guests and the socket the broker talks to."""

    def __init__(self, fleet: Fleet, socket_path: Path, pages: Path) -> None:
        self.fleet = fleet
        self.socket_path = socket_path
        self.pages = pages
        self.guests: list[Guest] = [LabContainer(c, self._changed) for c in fleet.containers]
        self.guests += [LabDomU(d, pages, self._changed) for d in fleet.domus]
        self._watchers: set[FramedSocket] = set()
        self._stopping = asyncio.Event()
        self._server: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def find(self, key: str) -> Guest | None:
        """A guest by id or name."""
        for guest in self.guests:
            if key in (guest.id, guest.name):
                return guest
        return None

    async def run(self) -> None:
        """Boot the autostart guests and serve until SIGTERM/SIGINT."""
        loop = asyncio.get_running_loop()
        ensure_private_dir(self.socket_path.parent)
        self.pages.mkdir(mode=0o700, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            server.bind(str(self.socket_path))
        finally:
            os.umask(old)
        server.listen(128)
        server.setblocking(False)
        self._server = server
        pidfile = self.socket_path.with_name(self.socket_path.name + ".pid")
        pidfile.write_text(f"{os.getpid()}\n")
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
        for path in (self.socket_path, pidfile):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
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
                give: list[int] = []
                if msg.get("op") == "ring_connected":
                    reply = await self._ring_connected(msg, conn)
                elif msg.get("op") == "ring_restore":
                    reply = await self._ring_restore(msg)
                elif msg.get("op") == "start":
                    reply = await self._start(msg)
                else:
                    reply, give = self._handle(msg, conn, leases)
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

    async def _start(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Start a guest and wait until its init runs: a failure is the reply's error."""
        rid = msg.get("id")
        try:
            guest = self.find(field_str(msg, "guest"))
            if guest is None:
                return error_reply(rid, "unknown_guest", f"no guest {msg['guest']!r} in the lab")
            await guest.start_settled()
        except ProtocolError as err:
            return error_reply(rid, err.code, err.message)
        except GuestStartFailed as err:
            log.error("%s", err)
            return error_reply(rid, "start_failed", str(err))
        return ok_reply(rid)

    async def _ring_connected(self, msg: dict[str, Any], conn: FramedSocket) -> dict[str, Any]:
        """The backend set CONNECTED on a ring it opened here: hand it the hypervisor log."""
        rid = msg.get("id")
        try:
            guest = self.find(field_str(msg, "guest"))
            if not isinstance(guest, LabDomU):
                return error_reply(rid, "unknown_guest", f"no domU {msg.get('guest')!r} in the lab")
            index = field_int(msg, "index", lo=0, hi=63)
            boot = msg.get("boot")
            offset = field_int(msg, "from", lo=0, hi=(1 << 63) - 1) if "from" in msg else 0
            info = await guest.ring_connected(index, conn, boot if isinstance(boot, str) else None, offset)
        except ProtocolError as err:
            return error_reply(rid, err.code, err.message)
        except LookupError as err:
            return error_reply(rid, "no_console", str(err))
        return ok_reply(rid, **info)

    async def _ring_restore(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Snapshot restore: put guest output back into a domU's ``out`` ring."""
        rid = msg.get("id")
        try:
            guest = self.find(field_str(msg, "guest"))
            if not isinstance(guest, LabDomU):
                return error_reply(rid, "unknown_guest", f"no domU {msg.get('guest')!r} in the lab")
            index = field_int(msg, "index", lo=0, hi=63)
            data = field_bytes(msg, "out", max_len=OUT_SIZE)
            acted_on = await guest.ring_restore(index, data)
        except ProtocolError as err:
            return error_reply(rid, err.code, err.message)
        except GuestStopped as err:
            return error_reply(rid, "stopped", str(err))
        except LookupError as err:
            return error_reply(rid, "no_console", str(err))
        if acted_on < 0:
            return error_reply(rid, "unavailable", f"the frontend of {guest.name} did not answer")
        return ok_reply(rid, restored=len(data))

    def _handle(
        self, msg: dict[str, Any], conn: FramedSocket, leases: list[tuple[Guest, int]]
    ) -> tuple[dict[str, Any], list[int]]:
        rid = msg.get("id")
        op = msg.get("op")
        try:
            if op == "hello":
                return ok_reply(rid, version=PROTOCOL_VERSION, host=self.fleet.host), []
            if op == "list":
                return ok_reply(rid, host=self.fleet.host, guests=[g.describe() for g in self.guests]), []
            if op == "shutdown":
                self._stopping.set()
                return ok_reply(rid), []
            if op == "watch":
                self._watchers.add(conn)
                return ok_reply(rid), []
            guest = self.find(field_str(msg, "guest"))
            if guest is None:
                return error_reply(rid, "unknown_guest", f"no guest {msg['guest']!r} in the lab"), []
            if op == "stop":
                guest.stop()
                return ok_reply(rid), []
            index = field_int(msg, "index", lo=0, hi=63)
            if op in ("open_tty", "open_ring"):
                # open_tty hands over a vtty master, open_ring a domU's
                # console page and event channel (see lab/domu.py).
                wanted = "open_ring" if isinstance(guest, LabDomU) else "open_tty"
                if op != wanted:
                    return error_reply(rid, "bad_request", f"{guest.name} is a {guest.kind}: use {wanted}"), []
                fds, info = guest.open_console(index, conn)
                leases.append((guest, index))
                self._changed()
                return ok_reply(rid, **info), fds
            if op == "ring_state":
                if not isinstance(guest, LabDomU):
                    return error_reply(rid, "bad_request", f"{guest.name} is a {guest.kind}: it has no ring"), []
                return ok_reply(rid, **guest.ring_state(index)), []
            if op == "close_tty":
                released = guest.release(index, conn)
                return ok_reply(rid, released=released), []
            return error_reply(rid, "unknown_op", f"unknown operation {op!r}"), []
        except ProtocolError as err:
            return error_reply(rid, err.code, err.message), []
        except VttyBusy as err:
            return error_reply(rid, "EBUSY", str(err)), []
        except RingCorruptError as err:
            return error_reply(rid, "corrupt", str(err)), []
        except GuestStopped as err:
            return error_reply(rid, "stopped", str(err)), []
        except LookupError as err:
            return error_reply(rid, "no_console", str(err)), []
        except (RuntimeError, OSError) as err:
            # Answer, never drop the connection: it may hold other masters' leases.
            return error_reply(rid, "unavailable", str(err)), []
