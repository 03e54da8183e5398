"""LabDomU: a simulated Xen domU with PV console 0 on a shared xencons ring.

The lab plays the toolstack and the hypervisor (design.md §4, Xen 4.21's
public/io/console.h):

* on start it creates the console page (a 4096-byte file in the lab's pages
  directory, ``connection = XENCONSOLE_DISCONNECTED``) and an event channel
  (a socketpair), and starts the guest's frontend process
  (``vconsole.lab.frontend``) with the guest end of the channel;
* it keeps the hypervisor console: the bounded log of what a flag-aware guest
  wrote while its ring was DISCONNECTED (``HypervisorLog``);
* ``open_ring`` hands the backend (the broker) the page fd and the backend end
  of the event channel over SCM_RIGHTS, one backend at a time (EBUSY for a
  second, released when its lease connection closes);
* ``ring_connected``, sent by the backend after it set CONNECTED and notified,
  pings the frontend: its answer is the barrier after which the guest writes
  only to the ring, so the hypervisor log handed back is complete and every
  later byte is in the ring, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vconsole.console.eventchannel import EventChannel
from vconsole.console.xenring import RingCorrupt, XenConsoleRing
from vconsole.domain import GuestState
from vconsole.lab.container import GuestStartFailed, GuestStopped
from vconsole.lab.fleet import DomUSpec
from vconsole.lab.hypervisor_log import (
    ACK,
    DATA,
    PING,
    RESTORE,
    WAITED,
    HypervisorLog,
    RecordReader,
    record,
)
from vconsole.lab.vtty import VttyBusy

log = logging.getLogger("vconsole.lab")
PING_TIMEOUT = 3.0


class RingCorruptError(Exception):
    """The console page's indices are inconsistent; it must not be serviced."""


class LabDomU:
    """A domU of the lab with PV console 0."""

    kind = "domu"

    def __init__(self, spec: DomUSpec, pages: Path, on_change: Callable[[], None]) -> None:
        self.spec = spec
        self.pages = pages
        self.state = GuestState.STOPPED
        self._on_change = on_change
        self.page_path = pages / f"domu-{spec.id}-pv0.page"
        self.ring: XenConsoleRing | None = None
        self._page_fd = -1
        self._evtchn: EventChannel | None = None  # the backend end, dup'd to the broker
        self._hvc: socket.socket | None = None
        self._reader = RecordReader()
        self.proc: subprocess.Popen[bytes] | None = None
        self.hvlog = HypervisorLog()
        self.boot = ""
        self.lessee: object | None = None
        self.waited = 0.0
        self._acks: dict[bytes, asyncio.Future[int]] = {}

    @property
    def id(self) -> str:
        """The domain id."""
        return self.spec.id

    @property
    def name(self) -> str:
        """The domain name."""
        return self.spec.name

    # --- lifecycle -------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.spec.env)
        env.update(VC_GUEST=self.name, VC_TTY="hvc0", TERM="xterm-256color")
        return env

    def start(self) -> None:
        """Create the domain: its console page, event channel and frontend.

        GuestStartFailed, with nothing created, when the program cannot run.
        """
        if self.state == GuestState.RUNNING:
            return
        env = self._env()
        program = self.spec.program[0]
        if shutil.which(program, path=env.get("PATH")) is None:
            raise GuestStartFailed(f"domu {self.name}: program cannot run: {program}: not found or not executable")
        self.pages.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.page_path.unlink()
        self.ring = XenConsoleRing.create(self.page_path)
        self._page_fd = os.open(self.page_path, os.O_RDWR | os.O_CLOEXEC)
        guest_end, backend_end = EventChannel.pair()
        hvc_lab, hvc_guest = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.hvlog = HypervisorLog()
        self._reader = RecordReader()
        self.boot = secrets.token_hex(8)
        self.waited = 0.0
        argv = [
            sys.executable,
            "-m",
            "vconsole.lab.frontend",
            "--page",
            str(self.page_path),
            "--evtchn",
            str(guest_end.fileno()),
            "--hvc",
            str(hvc_guest.fileno()),
            "--kind",
            self.spec.frontend,
            "--name",
            self.name,
            "--",
            *self.spec.program,
        ]
        try:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                pass_fds=(guest_end.fileno(), hvc_guest.fileno()),
                start_new_session=True,
            )
        finally:
            guest_end.close()
            hvc_guest.close()
        self._evtchn = backend_end
        hvc_lab.setblocking(False)
        self._hvc = hvc_lab
        asyncio.get_running_loop().add_reader(hvc_lab.fileno(), self._hvc_readable)
        self.state = GuestState.RUNNING
        log.info("domU %s: frontend %s pid %d, page %s", self.name, self.spec.frontend, self.proc.pid, self.page_path)
        self._on_change()

    async def start_settled(self) -> None:
        """Start, as ``start``: the program is checked first, but a domU does not wait for it.

        (The frontend is a Python process of its own; how soon it runs the
        program depends on the host's load, so no settle time would be exact.)
        """
        self.start()

    def stop(self) -> None:
        """Destroy the domain: kill its frontend (and program), remove its page."""
        if self.state == GuestState.STOPPED:
            return
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(3)
        self._teardown()

    def _teardown(self) -> None:
        self.proc = None
        self.state = GuestState.STOPPED
        self.lessee = None
        if self._hvc is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                asyncio.get_running_loop().remove_reader(self._hvc.fileno())
            self._hvc.close()
            self._hvc = None
        for fut in self._acks.values():
            if not fut.done():
                fut.set_result(-1)
        self._acks.clear()
        if self._evtchn is not None:
            self._evtchn.close()
            self._evtchn = None
        if self._page_fd >= 0:
            os.close(self._page_fd)
            self._page_fd = -1
        if self.ring is not None:
            self.ring.close()
            self.ring = None
        with contextlib.suppress(FileNotFoundError):
            self.page_path.unlink()
        self._on_change()

    def reap(self) -> None:
        """Notice a frontend that exited (the guest program ended: the domain shut down)."""
        if self.proc is not None and self.proc.poll() is not None:
            log.info("domU %s: frontend exited with %s", self.name, self.proc.returncode)
            self._teardown()

    # --- the hypervisor console channel ----------------------------------

    def _hvc_readable(self) -> None:
        sock = self._hvc
        if sock is None:
            return
        while True:
            try:
                data = sock.recv(256 * 1024)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                # The frontend is gone; SIGCHLD will tear the domain down.
                asyncio.get_running_loop().remove_reader(sock.fileno())
                return
            try:
                records = self._reader.feed(data)
            except ValueError as exc:
                log.warning("domU %s: bad record from the frontend: %s", self.name, exc)
                asyncio.get_running_loop().remove_reader(sock.fileno())
                return
            for kind, payload in records:
                if kind == DATA:
                    self.hvlog.append(payload)
                elif kind == ACK and len(payload) >= 9:
                    fut = self._acks.pop(payload[:8], None)
                    if fut is not None and not fut.done():
                        fut.set_result(payload[8])
                elif kind == WAITED:
                    with contextlib.suppress(ValueError):
                        self.waited = float(payload.decode())

    async def sync_frontend(self) -> int:
        """Ping the frontend; return the ``connection`` value it now acts on (-1: no answer).

        Every hypervisor-console byte it wrote before answering is in the log
        when this returns.
        """
        return await self._ask(PING)

    async def _ask(self, kind: bytes, payload: bytes = b"") -> int:
        """Send the frontend a record with a fresh token; its ACK's connection byte."""
        if self._hvc is None:
            return -1
        token = secrets.token_bytes(8)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._acks[token] = fut
        try:
            self._hvc.send(record(kind, token + payload))
            return await asyncio.wait_for(fut, PING_TIMEOUT)
        except (OSError, TimeoutError):
            return -1
        finally:
            self._acks.pop(token, None)

    # --- the backend's side ---------------------------------------------

    def check_ring(self) -> None:
        """Raise RingCorruptError if the page's indices are inconsistent."""
        if self.ring is None:
            return
        try:
            self.ring.check()
        except RingCorrupt as exc:
            raise RingCorruptError(str(exc)) from None

    def open_console(self, index: int, lessee: object) -> tuple[list[int], dict[str, Any]]:
        """Map PV console ``index`` for ``lessee``: ([page fd, event channel fd], facts)."""
        if self.state != GuestState.RUNNING or self.ring is None or self._evtchn is None:
            raise GuestStopped(f"domain {self.name} is not running")
        if index != 0:
            raise LookupError(f"domain {self.name} has no PV console {index} (only 0)")
        if self.lessee is not None:
            raise VttyBusy(f"the console ring of {self.name} is already mapped by a backend")
        self.check_ring()
        self.lessee = lessee
        fds = [os.dup(self._page_fd), os.dup(self._evtchn.fileno())]
        return fds, {"ring": str(self.page_path), "boot": self.boot, "frontend": self.spec.frontend}

    async def ring_connected(
        self, index: int, lessee: object, boot: str | None, offset: int
    ) -> dict[str, Any]:
        """The backend set CONNECTED: sync with the frontend, return the hypervisor log.

        ``offset`` is how far into this boot's log the backend already has
        (``boot`` names the boot it got it from; another boot starts at 0).
        """
        if self.lessee is not lessee:
            raise LookupError(f"the console ring of {self.name} is not mapped by this connection")
        acted_on = await self.sync_frontend()
        if boot != self.boot:
            offset = 0
        data, missed = self.hvlog.read_from(offset)
        return {
            "boot": self.boot,
            "hv_log": data,
            "hv_missed": missed,
            "hv_start": offset + missed,
            "hv_end": self.hvlog.end,
            "frontend_connection": acted_on,
        }

    def ring_state(self, index: int) -> dict[str, Any]:
        """The ring as a snapshot records it, read without consuming anything.

        Indices, flag, the unconsumed bytes of both rings (``cons`` to
        ``prod``) and the hypervisor console log.
        """
        ring = self.ring
        if self.state != GuestState.RUNNING or ring is None:
            raise GuestStopped(f"domain {self.name} is not running")
        if index != 0:
            raise LookupError(f"domain {self.name} has no PV console {index} (only 0)")
        self.check_ring()
        try:
            out, inp = ring.peek_out(), ring.peek_in()
        except RingCorrupt as exc:
            raise RingCorruptError(str(exc)) from None
        hv_data, _missed = self.hvlog.read_from(0)
        return {
            "in_cons": ring.in_cons, "in_prod": ring.in_prod,
            "out_cons": ring.out_cons, "out_prod": ring.out_prod,
            "connection": ring.connection, "in": inp, "out": out,
            "hv_log": hv_data, "hv_dropped": self.hvlog.dropped,
        }

    async def ring_restore(self, index: int, out: bytes) -> int:
        """Put restored guest output back into ``out`` through the frontend.

        The frontend is the ring's only producer, so it writes the bytes (ahead
        of any output still waiting) and answers; returns -1 without an answer.
        """
        if self.state != GuestState.RUNNING or self.ring is None:
            raise GuestStopped(f"domain {self.name} is not running")
        if index != 0:
            raise LookupError(f"domain {self.name} has no PV console {index} (only 0)")
        return await self._ask(RESTORE, out)

    def release(self, index: int, lessee: object) -> bool:
        """The backend unmapped the ring (or its lease connection closed)."""
        if self.lessee is not lessee:
            return False
        self.lessee = None
        self._on_change()
        return True

    def describe(self) -> dict[str, Any]:
        """The domain as the lab's ``list`` reports it."""
        console: dict[str, Any] = {"type": "pv", "index": 0, "backend_open": self.lessee is not None}
        ring = self.ring
        if ring is not None:
            console.update(
                ring=str(self.page_path),
                connection=ring.connection,
                hypervisor_log=len(self.hvlog),
                hypervisor_dropped=self.hvlog.dropped,
                frontend_waited=round(self.waited, 6),
            )
            try:
                console.update(out_pending=ring.out_pending, in_pending=ring.in_pending)
            except RingCorrupt as exc:
                console["corrupt"] = str(exc)
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "frontend": self.spec.frontend,
            "consoles": [console],
        }
