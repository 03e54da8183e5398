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

from vconsole.broker.client_access import AccessPolicy, system_group
from vconsole.broker.config_reload import ReloadRefused, ReloadReport, reload_config
from vconsole.broker.connection import ClientConnection
from vconsole.broker.console_logs import BrokerLogs
from vconsole.broker.event_stream import EventStream
from vconsole.broker.registry import ConsoleRegistry
from vconsole.broker.service_notify import ServiceNotifier
from vconsole.broker.session import ConsoleSession
from vconsole.broker.session_events import SessionEvents, WatchSet
from vconsole.broker.snapshots.saved_sessions import SavedSessions, SaveFailed, saved_sessions_file
from vconsole.broker.snapshots.transfers import TransferPool
from vconsole.config import Config
from vconsole.detached import DaemonSocket, SharedSocket
from vconsole.domain import ConsoleState, SessionKey
from vconsole.providers.base import Provider
from vconsole.runtime_paths import RuntimePaths
from vconsole.watches.signatures import BUILTIN, parse_watches

log = logging.getLogger("vconsole.broker")
# Watchers hear of a console's new output (its unread count) at most this often.
OUTPUT_REPORT_INTERVAL = 1.0
# A console's changed alert reaches watchers this soon (changes within it are sent once).
ALERT_REPORT_DELAY = 0.1
# How often quiet consoles are looked at: a prompt left without newline, a silence watch.
IDLE_SWEEP_INTERVAL = 0.25


def systemd_unit() -> str | None:
    """The systemd service this process runs as (``vconsole.service``), if systemd started it."""
    if not os.environ.get("INVOCATION_ID"):
        return None
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                unit = line.rstrip("\n").rsplit("/", 1)[-1]
                if unit.endswith(".service"):
                    return unit
    except OSError:
        pass
    return None


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
        self._alerts_changed: set[SessionKey] = set()
        self._alert_report: asyncio.TimerHandle | None = None
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
        self.transfers = TransferPool()  # every connection's snapshots in parts
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.AbstractServer | None = None
        self.access = AccessPolicy.of(config, paths)
        self.unit = systemd_unit()  # `vconsole restart` asks systemd to restart a service
        self._socket = DaemonSocket(paths.socket, "broker", self._shared())
        # Every session is saved on shutdown and restored on start, in a file of this broker's own.
        self.saved = SavedSessions(self.registry, saved_sessions_file(paths.socket))
        self._started = False
        self._saved_for_stop = False  # a shutdown request saved the sessions already
        self._reloading = asyncio.Lock()

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

    def _shared(self) -> SharedSocket | None:
        """How the socket is shared: the system broker's is root:vconsole 0660, or 0666 when others are admitted."""
        if not self.paths.system:
            return None
        return SharedSocket(system_group(), 0o666 if self.access.admits_others else 0o660)

    def share_socket(self) -> None:
        """Set the listening socket's group and mode again (a reload changed who may connect)."""
        self._socket.shared = self._shared()
        if self._server is not None:
            self._socket.set_access()

    async def reload(self) -> ReloadReport:
        """Reread the configuration and apply it (ReloadRefused: nothing changed)."""
        async with self._reloading:
            return await reload_config(self)

    async def _reload_on_signal(self) -> None:
        try:
            await self.reload()
        except ReloadRefused as exc:
            log.error("reload refused, the configuration stays as it was: %s", exc)

    def _session_made(self, session: ConsoleSession) -> None:
        session.events = SessionEvents(session, self.events, self.watches)

    def _alert_changed(self, key: SessionKey) -> None:
        """A console's alert rose or was acknowledged: watchers get the console again, soon.

        Coalesced: a console printing a hit a millisecond is sent once per
        ALERT_REPORT_DELAY, not once per hit.
        """
        self._alerts_changed.add(key)
        if self._alert_report is None:
            self._alert_report = asyncio.get_running_loop().call_later(ALERT_REPORT_DELAY, self._report_alerts)

    def _report_alerts(self) -> None:
        self._alert_report = None
        keys, self._alerts_changed = self._alerts_changed, set()
        for key in keys:
            session = self.registry.sessions.get(key)
            if session is None:
                continue
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
        service = ServiceNotifier.from_environment()  # before providers start processes that inherit it
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
        self.spawn(service.run(self.registry))  # READY=1 now that discovery is done, then status
        self._started = True
        # Histories saved by the previous broker come back in the background
        # (a large file must not keep the socket silent), in front of any
        # output that arrives meanwhile; attaching waits for them.
        self.saved.start_restore()
        log.info("broker %d serving on %s", os.getpid(), self.paths.socket)

    async def serve_forever(self) -> None:
        """Start, then run until stop() or SIGTERM/SIGINT."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop)
        with contextlib.suppress(RuntimeError, ValueError):  # conserver's SIGHUP: reread the configuration
            loop.add_signal_handler(signal.SIGHUP, lambda: self.spawn(self._reload_on_signal()))
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
