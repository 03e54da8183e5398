"""Taking a console: ``attach --force`` (docs/protocol.md, "Taking a console over").

A busy console's outside holder (``xl console``, ``lxc-console``, ``vzctl
console``, whatever holds a lab vtty's master) is ended: SIGTERM, then SIGKILL
after GRACE seconds; then the broker opens the console and the client
attaches. It is never done to:

- a vconsole broker or lab (``vconsole serve``, ``lab``, ``--no-daemon``, or
  this broker's or its lab's pid file): it serves every console it holds;
- a process of another uid than the asking client's, unless that client is
  root; and the broker signals only what its own uid may (any, as root).

A read-write broker client of a console is instead made read-only ("bumped",
as conserver says): it is told with a ``demoted`` push.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import TYPE_CHECKING

from vconsole.broker.attachment import Attachment, EventSink
from vconsole.broker.session import ConsoleSession
from vconsole.console_events import EventKind
from vconsole.detached import read_pid_file
from vconsole.domain import AttachMode, ConsoleState, Severity
from vconsole.providers.base import ConsoleHolder, ProviderError
from vconsole.providers.host_processes import HostProcess, is_vconsole_daemon, read_process

if TYPE_CHECKING:
    from vconsole.broker.server import Broker

log = logging.getLogger("vconsole.broker")
GRACE = 2.0  # seconds a holder has to exit after SIGTERM before SIGKILL
REOPEN_TIMEOUT = 5.0  # the source may take a moment to let go (a lease noticed closed, a tty released)
POLL = 0.05


class TakeoverRefused(Exception):
    """The console cannot be taken; ``code`` is the error code (``refused`` or ``busy``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def who(sink: EventSink) -> str:
    """A client as events and notices name it: ``uid N pid M``."""
    return f"uid {sink.peer_uid} pid {sink.peer_pid}"


def _refusal(broker: Broker, holder: ConsoleHolder, process: HostProcess, taker: EventSink) -> str | None:
    """Why ``holder`` may not be ended for ``taker``; None if it may."""
    ours = {os.getpid(), read_pid_file(broker.paths.socket), read_pid_file(broker.paths.lab_socket)}
    if holder.pid in ours or is_vconsole_daemon(process):
        return f"pid {holder.pid} is a vconsole broker or lab; it is not ended"
    if taker.peer_uid not in (0, holder.uid):
        return f"pid {holder.pid} belongs to {holder.user} (uid {holder.uid}), not to uid {taker.peer_uid}"
    if os.geteuid() not in (0, holder.uid):
        return f"pid {holder.pid} belongs to {holder.user} (uid {holder.uid}); the broker runs as uid {os.geteuid()}"
    return None


def _same_process(pid: int, started: float | None) -> bool:
    """Whether ``pid`` is still the process that started at ``started`` (not exited, not a reused pid)."""
    now = read_process(pid)
    return now is not None and now.started == started


async def _end(process: HostProcess) -> None:
    """SIGTERM, then SIGKILL if it is still there after GRACE; returns once it is gone."""
    for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, GRACE)):
        try:
            os.kill(process.pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            raise TakeoverRefused("refused", f"not permitted to signal pid {process.pid}") from None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _same_process(process.pid, process.started):
                return
            await asyncio.sleep(POLL)
    raise TakeoverRefused("busy", f"pid {process.pid} did not exit after SIGKILL")


async def take_over(broker: Broker, session: ConsoleSession, taker: EventSink) -> ConsoleHolder:
    """End the outside holder of busy ``session`` and open the console; the holder that was ended."""
    registry = broker.registry
    try:
        holder = await registry.provider_of(session).find_holder(session.guest, session.spec)
    except ProviderError as exc:
        raise TakeoverRefused("busy", f"{session.key} is busy and its holder cannot be found: {exc}") from None
    if holder is None:
        raise TakeoverRefused("busy", f"{session.key} is busy and its holder cannot be found: {session.reason}")
    process = read_process(holder.pid)
    if process is not None and process.command != holder.command:
        process = None  # it exited since it was found, and the pid is another process's now
    if process is not None:
        why = _refusal(broker, holder, process, taker)
        if why is not None:
            raise TakeoverRefused("refused", f"cannot take {session.key}: {why}")
        log.warning("%s: ending pid %d (%s) for %s", session.key, holder.pid, holder.command, who(taker))
        await _end(process)
    if session.events is not None:
        session.events.publish(
            EventKind.TAKEOVER, Severity.WARNING,
            text=f"{who(taker)} ended pid {holder.pid} ({holder.user}): {holder.command}",
            uid=taker.peer_uid, pid=taker.peer_pid,
            holder_pid=holder.pid, holder_uid=holder.uid, command=holder.command,
        )
    deadline = time.monotonic() + REOPEN_TIMEOUT
    while True:
        await registry.reopen(session)
        if session.state == ConsoleState.CONNECTED:
            return holder
        if session.state != ConsoleState.BUSY or time.monotonic() > deadline:
            raise TakeoverRefused("busy", f"{session.key} is still {session.state} after its holder ended: "
                                          f"{session.reason}")
        await asyncio.sleep(POLL * 4)


def demote_writers(session: ConsoleSession, taker: EventSink) -> list[Attachment]:
    """Make every other read-write client of ``session`` read-only, and tell each; those demoted.

    The taker's attach follows at once, which makes the session work out its
    active writer again.
    """
    demoted = [a for a in session.attachments if a.sink is not taker and a.mode == AttachMode.RW]
    by = who(taker)
    for attachment in demoted:
        attachment.mode = AttachMode.RO
        attachment.sink.send({"event": "demoted", "session": session.key.text, "by": by})
        if session.events is not None:
            session.events.demoted(attachment, taker.peer_uid, taker.peer_pid)
    return demoted
