"""LabProvider: the embedded lab's guests, reached through the lab socket."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from vconsole.console.endpoint import ConsoleEndpoint
from vconsole.console.pty_endpoint import PtyEndpoint
from vconsole.console.xen_endpoint import XenRingEndpoint, corrupt_reason
from vconsole.console.xenring import RingCorrupt
from vconsole.detached import start_detached, wait_for_socket
from vconsole.domain import GuestState, ProviderName
from vconsole.framed_socket import FramedSocket
from vconsole.providers.base import (
    CONSOLE_TYPES,
    ConsoleBusy,
    ConsoleHolder,
    ConsoleSpec,
    ConsoleUnavailable,
    GuestInfo,
    GuestNotRunning,
    Provider,
    ProviderError,
    RingCapture,
)
from vconsole.providers.host_processes import read_process
from vconsole.snapshot.fields import U8, U32, U64
from vconsole.snapshot.model import MAX_HV_LOG, RING_IN, RING_OUT, HypervisorLog, RingState
from vconsole.wire import ProtocolError, field_bytes, field_int

log = logging.getLogger("vconsole.providers.lab")


class LabProvider(Provider):
    """Guests of the lab process (``vconsole lab``), started on demand.

    Only discovery (and ``connect``) may start the lab, and only until the
    broker calls ``stop_starting``: a capture, a guest command or a shutdown
    that finds no lab fails instead, so nothing on an exit path starts one.
    A lab that exits and comes back (killed, restarted) is another instance
    (its hello says which): its guests are new boots, each with a new
    ``GuestInfo.incarnation``, so the broker drops the old masters and opens
    the new guests' consoles.
    """

    name = ProviderName.LAB
    supports_ring_snapshots = True

    def __init__(self, socket_path: Path, *, fleet: Path | None = None, autostart: bool = True):
        super().__init__()
        self.socket_path = socket_path
        self.fleet = fleet
        self.host = "lab"
        self._may_start = autostart
        self._instance = ""  # the instance of the lab we last reached (its hello)
        self._control: FramedSocket | None = None
        self._lock = asyncio.Lock()
        self._watch_task: asyncio.Task[None] | None = None
        self._next_id = 0
        # Console-level facts from the lab's list (a domU ring's page path).
        self._console_facts: dict[tuple[str, str], dict[str, Any]] = {}
        # How far into each domU's hypervisor log we already are: (boot, offset).
        self._hv_seen: dict[tuple[str, str], tuple[str, int]] = {}

    async def connect(self) -> None:
        """Reach the lab, starting it if none answers (unless starting was stopped)."""
        async with self._lock:
            await self._ensure_control(start=True)

    def stop_starting(self) -> None:
        self._may_start = False

    async def _ensure_control(self, *, start: bool) -> FramedSocket:
        """The control connection; the lab is started only if ``start`` and starting is still allowed."""
        if self._control is not None:
            return self._control
        try:
            control = await FramedSocket.connect(self.socket_path)
        except OSError:
            if not (start and self._may_start):
                raise ProviderError(f"the lab is not running at {self.socket_path}") from None
            control = await self._start_lab()
        try:
            hello = await self._call(control, {"op": "hello"})
        except ProviderError:
            control.close()
            raise
        self.host = str(hello.get("host", "lab"))
        instance = str(hello.get("instance", ""))
        if self._instance and instance != self._instance:
            log.warning("the lab on %s is a new instance: its guests are new boots", self.socket_path)
        self._instance = instance
        self._control = control
        self._watch_task = asyncio.create_task(self._watch(control))
        return control

    async def _start_lab(self) -> FramedSocket:
        args = ["lab", "--socket", str(self.socket_path)]
        if self.fleet is not None:
            args += ["--fleet", str(self.fleet)]
        log.info("starting the lab on %s", self.socket_path)
        # Checked and started in one step of the loop: stop_starting cannot slip in between.
        started = await start_detached(args, "lab.log")
        if not await wait_for_socket(self.socket_path, 10.0, started):
            raise ProviderError(started.failure("the lab"))
        try:
            return await FramedSocket.connect(self.socket_path)
        except OSError as exc:
            raise ProviderError(f"cannot reach the lab: {exc.strerror}") from None

    async def _call(self, conn: FramedSocket, msg: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        try:
            reply, fds = await conn.request({**msg, "id": self._next_id})
        except (OSError, EOFError, ProtocolError) as exc:
            raise ProviderError(f"lost the lab connection: {exc}") from None
        for fd in fds:
            os.close(fd)
        return reply

    async def _request(self, msg: dict[str, Any], *, start: bool = False) -> dict[str, Any]:
        """One request on the control connection; only discovery passes ``start``."""
        async with self._lock:
            control = await self._ensure_control(start=start)
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

    async def _watch(self, control: FramedSocket) -> None:
        """Relay the lab's change events; when the lab goes away, forget its control connection.

        The next discovery then reaches whatever lab answers (or starts one),
        and its hello tells whether it is still the same lab.
        """
        try:
            conn = await FramedSocket.connect(self.socket_path)
        except OSError:
            conn = None
        if conn is not None:
            try:
                await conn.request({"op": "watch", "id": 0})
                while True:
                    await conn.recv()
                    self.changed()
            except (OSError, EOFError, ProtocolError):
                pass
            finally:
                conn.close()
        if self._control is control:  # not replaced meanwhile: this lab is gone
            self._watch_task = None
            self._control = None
            control.close()
        self.changed()

    async def discover(self) -> list[GuestInfo]:
        reply = await self._request({"op": "list"}, start=True)
        if not reply.get("ok"):
            raise ProviderError(f"lab list failed: {reply.get('error')}")
        guests = []
        facts: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in reply.get("guests", []):
            for c in raw.get("consoles", []):
                if c.get("type") == "pv" and isinstance(c.get("index"), int) and "ring" in c:
                    keep = ("ring", "frontend_waited", "hypervisor_log", "hypervisor_dropped")
                    facts[(str(raw["id"]), f"pv{c['index']}")] = {k: c[k] for k in keep if k in c}
            consoles = [
                ConsoleSpec(c["type"], c["index"])
                for c in raw.get("consoles", [])
                if c.get("type") in CONSOLE_TYPES and isinstance(c.get("index"), int)
            ]
            extra = {k: v for k, v in raw.items() if k not in ("id", "name", "kind", "state", "consoles", "boot")}
            guests.append(
                GuestInfo(
                    provider=self.name,
                    host=self.host,
                    kind=str(raw["kind"]),
                    id=str(raw["id"]),
                    name=str(raw["name"]),
                    state=_guest_state(raw.get("state")),
                    consoles=consoles,
                    extra=extra,
                    incarnation=f"{self._instance}:{raw.get('boot', '')}",
                )
            )
        self._console_facts = facts
        return guests

    def console_extra(self, guest: GuestInfo, spec: ConsoleSpec) -> dict[str, Any]:
        return dict(self._console_facts.get((guest.id, spec.name), {}))

    async def find_holder(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleHolder | None:
        """The process holding the console's lease, as the lab knows it (its peer credentials).

        Named from /proc like any other holder; since is when it took the lease.
        """
        reply = await self._request({"op": "holder", "guest": guest.id, "index": spec.index})
        pid = reply.get("pid") if reply.get("ok") else None
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        since = reply.get("since")
        process = await asyncio.to_thread(read_process, pid)
        if process is None:
            return None
        return process.holder(float(since) if isinstance(since, (int, float)) else None)

    async def _lease(
        self, op: str, guest: GuestInfo, spec: ConsoleSpec, nfds: int
    ) -> tuple[FramedSocket, dict[str, Any], list[int]]:
        """Open a console on its own connection, which is the lease on it.

        The connection closes when we die, and the lab then takes the
        console back (a vtty's port buffer, a ring's hypervisor console).
        """
        try:
            lease = await FramedSocket.connect(self.socket_path)
        except OSError as exc:
            raise ProviderError(f"cannot reach the lab: {exc.strerror}") from None
        try:
            reply, fds = await lease.request(
                {"op": op, "id": 1, "guest": guest.id, "index": spec.index}
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
            if code == "corrupt":
                raise ProviderError(corrupt_reason(message))
            raise ProviderError(message)
        if len(fds) != nfds:
            for fd in fds:
                os.close(fd)
            lease.close()
            raise ProviderError(f"the lab answered {op} with {len(fds)} fds, not {nfds}")
        return lease, reply, fds

    async def open_console(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleEndpoint:
        if guest.kind == "domu":
            return await self._open_ring(guest, spec)
        lease, reply, fds = await self._lease("open_tty", guest, spec, 1)
        return PtyEndpoint(
            fds[0],
            initial=bytes(reply.get("port_buffer", b"")),
            lost=int(reply.get("zapped", 0)),
            on_close=lease.close,
        )

    async def _open_ring(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleEndpoint:
        """Map a domU's console ring (page and event channel), connect as its backend."""
        lease, reply, fds = await self._lease("open_ring", guest, spec, 2)
        try:
            endpoint = XenRingEndpoint(
                fds[0], fds[1], ring_path=str(reply.get("ring", "")), on_close=lease.close
            )
        except RingCorrupt as exc:
            lease.close()
            raise ProviderError(corrupt_reason(exc)) from None
        except (OSError, ValueError) as exc:
            lease.close()
            raise ProviderError(f"cannot map the console page: {exc}") from None
        # CONNECTED is set and the guest notified; the lab syncs with the
        # frontend and returns everything it wrote to the hypervisor console.
        key = (guest.id, spec.name)
        boot, offset = self._hv_seen.get(key, ("", 0))
        try:
            synced, _ = await lease.request(
                {"op": "ring_connected", "id": 2, "guest": guest.id, "index": spec.index,
                 "boot": boot, "from": offset}
            )
        except (OSError, EOFError, ProtocolError) as exc:
            endpoint.close()
            raise ProviderError(f"lab ring_connected failed: {exc}") from None
        if not synced.get("ok"):
            endpoint.close()
            raise ProviderError(str((synced.get("error") or {}).get("message", "ring_connected failed")))
        self._hv_seen[key] = (str(synced.get("boot", "")), int(synced.get("hv_end", 0)))
        endpoint.set_hypervisor_log(bytes(synced.get("hv_log", b"")), int(synced.get("hv_missed", 0)))
        return endpoint

    async def capture_ring(self, guest: GuestInfo, spec: ConsoleSpec) -> RingCapture:
        """The lab's ``ring_state``: it reads the page as the toolstack, consuming nothing."""
        reply = await self._request({"op": "ring_state", "guest": guest.id, "index": spec.index})
        if not reply.get("ok"):
            raise ProviderError(str((reply.get("error") or {}).get("message", "ring_state failed")))
        try:
            in_cons, in_prod, out_cons, out_prod = (
                field_int(reply, k, lo=0, hi=U32) for k in ("in_cons", "in_prod", "out_cons", "out_prod")
            )
            ring = RingState(
                in_cons, in_prod, out_cons, out_prod, connection=field_int(reply, "connection", lo=0, hi=U8),
                in_data=field_bytes(reply, "in", max_len=RING_IN),
                out_data=field_bytes(reply, "out", max_len=RING_OUT),
            )
            hv_log = HypervisorLog(field_bytes(reply, "hv_log", max_len=MAX_HV_LOG),
                                   field_int(reply, "hv_dropped", lo=0, hi=U64))
        except ProtocolError as exc:
            raise ProviderError(f"lab ring_state: {exc.message}") from None
        return RingCapture(ring, hv_log)

    async def restore_ring(self, guest: GuestInfo, spec: ConsoleSpec, out: bytes) -> None:
        """The lab's ``ring_restore``: the domU's frontend, the ring's only producer, writes ``out``."""
        await self._checked({"op": "ring_restore", "guest": guest.id, "index": spec.index, "out": out})

    async def start_guest(self, guest: GuestInfo) -> None:
        await self._checked({"op": "start", "guest": guest.id})

    async def stop_guest(self, guest: GuestInfo) -> None:
        await self._checked({"op": "stop", "guest": guest.id})

    async def _checked(self, msg: dict[str, Any]) -> None:
        reply = await self._request(msg)
        if not reply.get("ok"):
            raise ProviderError(str((reply.get("error") or {}).get("message", "failed")))

    async def close(self) -> None:
        self.stop_starting()
        self._drop_control()


def _guest_state(value: object) -> GuestState:
    """A lab guest's state; anything else means the lab speaks another protocol."""
    try:
        return GuestState(str(value))
    except ValueError:
        raise ProviderError(f"the lab reported a guest state {value!r}") from None
