"""LabContainer: a simulated container with its vttys."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import Any

from vconsole.domain import GuestState
from vconsole.lab.fleet import ContainerSpec
from vconsole.lab.vtty import ProgramFailed, VttyPort

# How long init must run for a start to count, as vzctl start waits for init:
# a shell that cannot find its program exits within a few milliseconds.
START_SETTLE = 0.3
# What shells exit with when a command cannot run (POSIX 2.8.2).
SHELL_STATUS = {126: "cannot execute", 127: "command not found"}


class GuestStopped(Exception):
    """The guest is not running, so its consoles do not exist."""


class GuestStartFailed(Exception):
    """The guest's init (a domU's program) could not run or died at once; the guest is stopped."""


def describe_exit(status: int) -> str:
    """A program's exit status in words: ``status 127 (command not found)``, ``signal SIGSEGV``."""
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-status).name}"
        return f"signal {-status}"
    meaning = SHELL_STATUS.get(status)
    return f"status {status} ({meaning})" if meaning else f"status {status}"


class LabContainer:
    """A container whose vtty 0 (``/dev/console``) runs init; its exit stops the container."""

    kind = "container"

    def __init__(self, spec: ContainerSpec, on_change: Callable[[], None]) -> None:
        self.spec = spec
        self.state = GuestState.STOPPED
        self._on_change = on_change
        self.ports: list[VttyPort] = []
        self.init_status: int | None = None  # how init ended, once it has
        self._init_ended = asyncio.Event()

    @property
    def id(self) -> str:
        """The container id (a CTID such as 101)."""
        return self.spec.id

    @property
    def name(self) -> str:
        """The container name."""
        return self.spec.name

    def _env(self, index: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.spec.env)
        env.update(VC_GUEST=self.name, VC_TTY=f"tty{index}", TERM="xterm-256color")
        return env

    def start(self) -> None:
        """Boot: create the vttys and run init on vtty 0; GuestStartFailed if init cannot run."""
        if self.state == GuestState.RUNNING:
            return
        ports = [
            VttyPort(
                i,
                self.spec.init if i == 0 else self.spec.login,
                self._env(i),
                self._port_exited,
            )
            for i in range(self.spec.vttys)
        ]
        try:
            ports[0].spawn()
        except ProgramFailed as exc:
            raise GuestStartFailed(f"container {self.name}: init cannot run: {exc}") from None
        self.ports = ports
        self.state = GuestState.RUNNING
        self.init_status = None
        self._init_ended.clear()
        self._on_change()

    async def start_settled(self) -> None:
        """Start, then wait up to START_SETTLE for init to prove it runs.

        GuestStartFailed if init cannot run, or exits failing within that
        time (the container is stopped again by then). An init that exits 0
        at once did run: that is a container that booted and shut down.
        """
        if self.state == GuestState.RUNNING:
            return
        self.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._init_ended.wait(), START_SETTLE)
        status = self.init_status
        if status is not None and status != 0:
            raise GuestStartFailed(f"container {self.name}: init exited at once with {describe_exit(status)}")

    def stop(self) -> None:
        """Kill every process of the container and destroy its vttys."""
        if self.state == GuestState.STOPPED:
            return
        self.state = GuestState.STOPPED
        for port in self.ports:
            port.stop()
        self.ports = []
        self._on_change()

    def port(self, index: int) -> VttyPort | None:
        """The vtty ``index`` of a running container."""
        if self.state != GuestState.RUNNING or not 0 <= index < len(self.ports):
            return None
        return self.ports[index]

    def open_console(self, index: int, lessee: object) -> tuple[list[int], dict[str, Any]]:
        """Open vtty ``index``'s master for ``lessee``: ([fd], facts for the opener)."""
        if self.state != GuestState.RUNNING:
            raise GuestStopped(f"container {self.name} is stopped")
        port = self.port(index)
        if port is None:
            raise LookupError(f"container {self.name} has no vtty{index} (vttys 0..{self.spec.vttys - 1})")
        fd, buffered, zapped = port.open_master(lessee)
        return [fd], {"port_buffer": buffered, "zapped": zapped}

    def release(self, index: int, lessee: object) -> bool:
        """Close the master ``lessee`` opened on vtty ``index``."""
        port = self.port(index)
        return port is not None and port.release(lessee)

    def reap(self) -> None:
        """Notice guest processes that exited (called on SIGCHLD)."""
        for port in list(self.ports):
            port.check_exit()

    def _port_exited(self, port: VttyPort) -> None:
        # init exiting is the container shutting down; a login shell exiting
        # just frees its vtty for the next open, as a getty respawn would.
        if port.index == 0:
            self.init_status = port.exit_status
            self._init_ended.set()
            self.stop()
        else:
            self._on_change()

    def describe(self) -> dict[str, Any]:
        """The container as the lab's ``list`` reports it."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "consoles": [
                {
                    "type": "vtty",
                    "index": i,
                    "master_open": bool(self.ports) and self.ports[i].master_open,
                    "port_buffer": len(self.ports[i].port_buffer) if self.ports else 0,
                    "zapped": self.ports[i].zapped if self.ports else 0,
                }
                for i in range(self.spec.vttys)
            ],
        }
