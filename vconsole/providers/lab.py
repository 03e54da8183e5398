"""LabProvider: the embedded lab's guests, reached through the lab socket."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from vconsole.console.endpoint import ConsoleEndpoint
from vconsole.console.pty_endpoint import PtyEndpoint
from vconsole.detached import start_detached, wait_for_socket
from vconsole.framed_socket import FramedSocket
from vconsole.providers.base import (
    CONSOLE_TYPES,
    ConsoleBusy,
    ConsoleSpec,
    ConsoleUnavailable,
    GuestInfo,
    GuestNotRunning,
    Provider,
    ProviderError,
)
from vconsole.wire import ProtocolError

log = logging.getLogger("vconsole.providers.lab")


class LabProvider(Provider):
    """Guests of the lab process (``vconsole lab``), started on demand."""

    name = "lab"

    def __init__(self, socket_path: Path, *, fleet: Path | None = None, autostart: bool = True):
        super().__init__()
        self.socket_path = socket_path
        self.fleet = fleet
        self.autostart = autostart
        self.host = "lab"
        self._control: FramedSocket | None = None
        self._lock = asyncio.Lock()
        self._watch_task: asyncio.Task[None] | None = None
        self._next_id = 0

    async def connect(self) -> None:
        async with self._lock:
            await self._ensure_control()

    async def _ensure_control(self) -> FramedSocket:
        if self._control is not None:
            return self._control
        try:
            control = await FramedSocket.connect(self.socket_path)
        except OSError:
            if not self.autostart:
                raise ProviderError(f"the lab is not running at {self.socket_path}") from None
            args = ["lab", "--socket", str(self.socket_path)]
            if self.fleet is not None:
                args += ["--fleet", str(self.fleet)]
            start_detached(args, "lab.log")
            if not await wait_for_socket(self.socket_path, 10.0):
                raise ProviderError("the lab did not start (see lab.log in the state directory)") from None
            control = await FramedSocket.connect(self.socket_path)
        hello = await self._call(control, {"op": "hello"})
        self.host = str(hello.get("host", "lab"))
        self._control = control
        self._watch_task = asyncio.create_task(self._watch())
        return control

    async def _call(self, conn: FramedSocket, msg: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        try:
            reply, fds = await conn.request({**msg, "id": self._next_id})
        except (OSError, EOFError, ProtocolError) as exc:
            raise ProviderError(f"lost the lab connection: {exc}") from None
        for fd in fds:
            os.close(fd)
        return reply

    async def _request(self, msg: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            control = await self._ensure_control()
            try:
                return await self._call(control, msg)
            except ProviderError:
                self._drop_control()
                raise

    def _drop_control(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._watch_task is not None:
            self._watch_task.cancel()
            self._watch_task = None

    async def _watch(self) -> None:
        """Relay the lab's change events; a lost lab is noticed on the next request."""
        try:
            conn = await FramedSocket.connect(self.socket_path)
        except OSError:
            return
        try:
            await conn.request({"op": "watch", "id": 0})
            while True:
                await conn.recv()
                self.changed()
        except (OSError, EOFError, ProtocolError):
            self.changed()
        finally:
            conn.close()

    async def discover(self) -> list[GuestInfo]:
        reply = await self._request({"op": "list"})
        if not reply.get("ok"):
            raise ProviderError(f"lab list failed: {reply.get('error')}")
        guests = []
        for raw in reply.get("guests", []):
            consoles = [
                ConsoleSpec(c["type"], c["index"])
                for c in raw.get("consoles", [])
                if c.get("type") in CONSOLE_TYPES and isinstance(c.get("index"), int)
            ]
            extra = {k: v for k, v in raw.items() if k not in ("id", "name", "kind", "state", "consoles")}
            guests.append(
                GuestInfo(
                    provider=self.name,
                    host=self.host,
                    kind=str(raw["kind"]),
                    id=str(raw["id"]),
                    name=str(raw["name"]),
                    state=str(raw["state"]),
                    consoles=consoles,
                    extra=extra,
                )
            )
        return guests

    async def open_console(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleEndpoint:
        # One connection per open console: it is the lease on the master, so
        # it closes (and the lab takes the port buffer back) when we die.
        try:
            lease = await FramedSocket.connect(self.socket_path)
        except OSError as exc:
            raise ProviderError(f"cannot reach the lab: {exc.strerror}") from None
        try:
            reply, fds = await lease.request(
                {"op": "open_tty", "id": 1, "guest": guest.id, "index": spec.index}
            )
        except (OSError, EOFError, ProtocolError) as exc:
            lease.close()
            raise ProviderError(f"lab open failed: {exc}") from None
        if not reply.get("ok"):
            lease.close()
            err = reply.get("error") or {}
            code, message = err.get("code"), str(err.get("message", "failed"))
            if code == "EBUSY":
                raise ConsoleBusy(message)
            if code == "stopped":
                raise GuestNotRunning(message)
            if code == "unavailable":
                raise ConsoleUnavailable(message)
            raise ProviderError(message)
        if len(fds) != 1:
            lease.close()
            raise ProviderError("the lab answered open_tty without a master fd")
        return PtyEndpoint(
            fds[0],
            initial=bytes(reply.get("port_buffer", b"")),
            lost=int(reply.get("zapped", 0)),
            on_close=lease.close,
        )

    async def start_guest(self, guest: GuestInfo) -> None:
        await self._checked({"op": "start", "guest": guest.id})

    async def stop_guest(self, guest: GuestInfo) -> None:
        await self._checked({"op": "stop", "guest": guest.id})

    async def _checked(self, msg: dict[str, Any]) -> None:
        reply = await self._request(msg)
        if not reply.get("ok"):
            raise ProviderError(str((reply.get("error") or {}).get("message", "failed")))

    async def close(self) -> None:
        self._drop_control()
