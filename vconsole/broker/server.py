"""Broker: the console server, one per host, listening on a private Unix socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import time
from collections.abc import Coroutine
from typing import Any

from vconsole.broker.connection import ClientConnection
from vconsole.broker.console_logs import BrokerLogs
from vconsole.broker.event_stream import EventStream
from vconsole.broker.registry import ConsoleRegistry
from vconsole.broker.session import ConsoleSession
from vconsole.broker.session_events import SessionEvents, WatchSet
from vconsole.broker.snapshots.saved_sessions import SavedSessions, SaveFailed, saved_sessions_file
from vconsole.config import Config
from vconsole.detached import DaemonSocket
from vconsole.domain import ConsoleState, SessionKey
from vconsole.providers.base import Provider
from vconsole.runtime_paths import RuntimePaths
from vconsole.watches.signatures import BUILTIN, parse_watches

log = logging.getLogger("vconsole.broker")
# Watchers hear of a console's new output (its unread count) at most this often.
OUTPUT_REPORT_INTERVAL = 1.0
# How often quiet consoles are looked at: a prompt left without newline, a silence watch.
IDLE_SWEEP_INTERVAL = 0.25


def raise_fd_limit() -> None:
    """Each console costs an fd or two; a host with hundreds of guests needs more than 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Broker:
    """Holds every console, serves clients, and keeps going when they leave."""

    def __init__(self, paths: RuntimePaths, config: Config, providers: list[Provider]) -> None:
        self.paths = paths
        self.config = config
        self.logs = BrokerLogs(paths, config.log)
        self.events = EventStream(self._alert_changed)
        parsed = parse_watches(config.watches, config.source)
        # A bad watch is skipped and said once; the others work (the broker never refuses to start for one).
        self.watch_errors = list(parsed.errors)
        for error in self.watch_errors:
            log.warning("%s", error)
        builtin = BUILTIN if config.builtin_watches else ()
        self.watches = WatchSet(builtin + parsed.watches, parsed.quiet)
        self.registry = ConsoleRegistry(
            providers, config.history_cap, self.state_changed, self.logs.writer_for, self._session_made
        )
        self.clients: set[ClientConnection] = set()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.AbstractServer | None = None
        self._socket = DaemonSocket(paths.socket, "broker")
        # Every session is saved on shutdown and restored on start, in a file of this broker's own.
        self.saved = SavedSessions(self.registry, saved_sessions_file(paths.socket))
        self._started = False
        self._saved_for_stop = False  # a shutdown request saved the sessions already

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run background work tied to the broker's lifetime."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def state_changed(self, session: ConsoleSession) -> None:
        """Tell attached and watching clients that a console changed."""
        info = session.describe()
        for client in list(self.clients):
            if client.watching:
                client.send({"event": "state", "console": info, "guest": session.guest.name})
        event = {"event": "state", "session": session.key, "state": session.state, "reason": session.reason}
        for attachment in list(session.attachments):
            attachment.sink.send(event)

    def _session_made(self, session: ConsoleSession) -> None:
        session.events = SessionEvents(session, self.events, self.watches)

    def _alert_changed(self, key: SessionKey) -> None:
        """A console's alert rose or was acknowledged: watchers get the console again."""
        session = self.registry.sessions.get(key)
        if session is not None:
            info = session.describe()
            for client in list(self.clients):
                if client.watching:
                    client.send({"event": "state", "console": info, "guest": session.guest.name})

    def stop(self, saved: bool = False) -> None:
        """Begin a graceful shutdown; from now on no provider starts a daemon (the lab).

        ``saved``: the sessions were just saved, do not save them again.
        """
        self._saved_for_stop = self._saved_for_stop or saved
        self.registry.stop_starting()
        self._stopping.set()

    async def wait_stopping(self) -> None:
        """Return once a shutdown was asked for (stop(), a client's ``shutdown``, a signal)."""
        await self._stopping.wait()

    async def start(self) -> None:
        """Bind the socket and start servicing consoles.

        DaemonAlreadyRunning when another broker answers on the socket,
        RuntimeDirError when the runtime directory is unsafe.
        """
        raise_fd_limit()
        self._socket.claim()
        # Before any console is opened: each session's history is its log's tail.
        self.logs.open()
        # Open every console before answering, so the first client sees them all.
        for provider in self.registry.providers:
            try:
                await provider.connect()
            except Exception as exc:
                self.registry.provider_errors[provider.name] = str(exc)
                log.warning("provider %s: %s", provider.name, exc)
        await self.registry.refresh()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(
            lambda: ClientConnection(self), sock=self._socket.listen()
        )
        self.spawn(self.registry.run())
        self.spawn(self._report_output())
        self.spawn(self._sweep_idle())
        self.spawn(self.logs.sync_forever())
        self._started = True
        # Histories saved by the previous broker come back in the background
        # (a large file must not keep the socket silent), in front of any
        # output that arrives meanwhile; attaching waits for them.
        self.saved.start_restore()
        log.info("broker %d serving on %s", os.getpid(), self.paths.socket)

    async def serve_forever(self) -> None:
        """Start, then run until stop() or SIGTERM/SIGINT."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop)
        await self.start()
        try:
            await self.wait_stopping()
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the socket and release every console so its source takes over.

        Nothing here starts a daemon: saving the sessions asks the lab for ring
        state only if it still answers.
        """
        self.registry.stop_starting()
        if self._server is not None:
            self._server.close()
            self._server = None
        for client in list(self.clients):
            if client.transport is not None:
                client.transport.close()
        for task in list(self._tasks):
            task.cancel()
        try:
            if self._started:
                self._started = False
                if not self._saved_for_stop:
                    with contextlib.suppress(SaveFailed):  # logged; the last good file is kept
                        await self.saved.save()
        finally:
            # Whatever saving did, release the consoles and the socket.
            await self.saved.close()
            await self.registry.close()
            self.logs.close()
            self._socket.release()

    async def _sweep_idle(self) -> None:
        """Let each console's events look at what only time reveals (a prompt, a silence)."""
        while True:
            await asyncio.sleep(IDLE_SWEEP_INTERVAL)
            now = time.time()
            for session in list(self.registry.sessions.values()):
                events = session.events
                if events is not None and events.waiting:
                    events.idle(now)

    async def _report_output(self) -> None:
        """Send watchers a console's ``state`` event when its output or read position moved.

        State events say a console's unread bytes, but output moves them far
        more often than states change: once a second at most, and only for
        consoles whose history end or furthest-sent offset moved, watchers get
        the console again, so a guest list stays current without asking for
        a full listing every second. An idle host sends nothing.
        """
        told: dict[SessionKey, tuple[int, int]] = {}
        while True:
            await asyncio.sleep(OUTPUT_REPORT_INTERVAL)
            watchers = [client for client in self.clients if client.watching]
            if not watchers:
                continue
            for session in list(self.registry.sessions.values()):
                now = (session.history.end, session.seen)
                if session.state == ConsoleState.GONE or told.get(session.key) == now:
                    continue
                told[session.key] = now
                event = {"event": "state", "console": session.describe(), "guest": session.guest.name}
                for client in watchers:
                    client.send(event)
