"""ConsoleRegistry: every provider's guests and the sessions the broker holds for them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from vconsole.broker.holders import BusyHolders
from vconsole.broker.session import ConsoleSession, session_key
from vconsole.consolelog.writer import ConsoleLogWriter
from vconsole.domain import ConsoleState, GuestState, SessionKey, Target
from vconsole.providers.base import (
    ConsoleBusy,
    ConsoleSpec,
    GuestInfo,
    GuestNotRunning,
    Provider,
    ProviderError,
)

log = logging.getLogger("vconsole.broker")
REFRESH_INTERVAL = 2.0
OPEN_CONCURRENCY = 32  # guests whose consoles are being opened at once


class TargetError(Exception):
    """A target names no guest or console, or several guests; ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ConsoleRegistry:
    """Discovers guests, opens every console it can, and keeps one session per console."""

    def __init__(
        self,
        providers: list[Provider],
        history_cap: int,
        on_state: Callable[[ConsoleSession], None],
        log_for: Callable[[GuestInfo, ConsoleSpec], ConsoleLogWriter | None] = lambda g, s: None,
        on_new: Callable[[ConsoleSession], None] = lambda s: None,
    ) -> None:
        self.providers = providers
        # Each new session's durable log (None: not logged).
        self._log_for = log_for
        self._on_new = on_new  # a session was made (the broker gives it its events)
        self.history_cap = history_cap
        self.guests: list[GuestInfo] = []
        self.sessions: dict[SessionKey, ConsoleSession] = {}
        self.provider_errors: dict[str, str] = {}
        # The guest incarnation each bound session's endpoint was opened for.
        self._opened_for: dict[SessionKey, str] = {}
        self._on_state = on_state
        self.holders = BusyHolders(on_state)  # who holds the busy consoles
        self._wake = asyncio.Event()
        self._refreshing = asyncio.Lock()

    async def run(self) -> None:
        """Refresh on every change a provider reports, and every few seconds anyway."""
        for provider in self.providers:
            provider.on_change = self.poke
        while True:
            await self.refresh()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), REFRESH_INTERVAL)
            except TimeoutError:
                pass

    def stop_starting(self) -> None:
        """The broker is stopping: no provider starts a daemon from now on (see Provider.stop_starting)."""
        for provider in self.providers:
            provider.stop_starting()

    def poke(self) -> None:
        """Ask for a refresh soon (a guest started or stopped, a console closed)."""
        self._wake.set()

    async def refresh(self) -> None:
        """Rediscover guests and open every console that is not held yet."""
        async with self._refreshing:
            guests: list[GuestInfo] = []
            for provider in self.providers:
                try:
                    found = await asyncio.wait_for(provider.discover(), 10.0)
                except (ProviderError, TimeoutError) as exc:
                    self.provider_errors[provider.name] = str(exc) or "timed out"
                    # Keep the last known guests so their histories stay visible.
                    guests += [g for g in self.guests if g.provider == provider.name]
                    continue
                self.provider_errors.pop(provider.name, None)
                self._end_removed(provider.name, found)
                guests += found
                await self._service_all(provider, found)
            self.guests = guests

    def _end_removed(self, provider: str, found: list[GuestInfo]) -> None:
        """The consoles of guests ``provider`` no longer lists are gone: say so to their clients."""
        present = {g.id for g in found}
        for session in self.sessions.values():
            guest = session.guest  # as last discovered
            if guest.provider == provider and guest.id not in present and session.state != ConsoleState.GONE:
                session.unbind(ConsoleState.GONE, f"{guest.kind} {guest.name} was removed")

    async def _service_all(self, provider: Provider, guests: list[GuestInfo]) -> None:
        """Open the consoles of ``guests``, up to OPEN_CONCURRENCY guests at a time.

        Each open is a round trip to the provider (a lab connection, a tool to
        run); one after the other, a thousand consoles took seconds to come
        up while their guests' output had nowhere to go. Sessions are made
        first, in discovery order, so listings and snapshots keep that order.
        """
        work = [(guest, self._sessions_to_open(guest)) for guest in guests]
        limit = asyncio.Semaphore(OPEN_CONCURRENCY)

        async def open_guest(guest: GuestInfo, sessions: list[ConsoleSession]) -> None:
            async with limit:
                for session in sessions:  # a guest's consoles in order: providers may expect it
                    await self._open(provider, guest, session)

        await asyncio.gather(*(open_guest(g, todo) for g, todo in work if todo))

    def _sessions_to_open(self, guest: GuestInfo) -> list[ConsoleSession]:
        """Make or update the guest's sessions; those that need a console opened."""
        todo = []
        for spec in guest.consoles:
            session = self.session_for(guest, spec)
            session.guest = guest
            if guest.state != GuestState.RUNNING:
                session.unbind(ConsoleState.STOPPED, f"{guest.kind} {guest.name} is stopped")
                continue
            if session.endpoint is not None and self._opened_for.get(session.key) != guest.incarnation:
                # Rebooted between two discoveries (or its lab was replaced): the
                # endpoint belongs to the previous run, whatever it still reads.
                session.unbind(ConsoleState.STOPPED, f"{guest.kind} {guest.name} restarted")
            if session.endpoint is None:
                todo.append(session)
        return todo

    def session_for(self, guest: GuestInfo, spec: ConsoleSpec) -> ConsoleSession:
        """The session of ``guest``'s console ``spec``, made (not opened) if there is none yet."""
        key = session_key(guest, spec)
        session = self.sessions.get(key)
        if session is None:
            session = ConsoleSession(
                guest, spec, self.history_cap, self._on_state, lambda s: self.poke(), self._log_for(guest, spec)
            )
            self.sessions[key] = session
            self._on_new(session)
        return session

    async def _open(self, provider: Provider, guest: GuestInfo, session: ConsoleSession) -> None:
        if session.endpoint is not None:  # bound meanwhile (another refresh cannot run, but be safe)
            return
        try:
            endpoint = await provider.open_console(guest, session.spec)
        except ConsoleBusy as exc:
            session.set_state(ConsoleState.BUSY, str(exc))
            await self.holders.look(provider, session)
            return
        except GuestNotRunning as exc:
            session.set_state(ConsoleState.STOPPED, str(exc))
            return
        except ProviderError as exc:
            session.set_state(ConsoleState.DISCONNECTED, str(exc))
            return
        self._opened_for[session.key] = guest.incarnation
        self.holders.freed(session)
        session.bind(endpoint)

    def provider_of(self, session: ConsoleSession) -> Provider:
        """The provider whose guest ``session`` is a console of (``unknown_guest`` if it is no longer used)."""
        provider = next((p for p in self.providers if p.name == session.guest.provider), None)
        if provider is None:
            raise TargetError("unknown_guest", f"{session.guest.provider} is no longer a provider of this broker")
        return provider

    async def reopen(self, session: ConsoleSession) -> None:
        """Try to open ``session``'s console now (after its holder ended), without a whole refresh."""
        async with self._refreshing:
            if session.endpoint is None and session.guest.state == GuestState.RUNNING:
                await self._open(self.provider_of(session), session.guest, session)

    async def remove_provider(self, name: str, reason: str) -> None:
        """Stop using provider ``name``: its consoles go away (GONE, with ``reason``), then it is closed."""
        async with self._refreshing:
            provider = next((p for p in self.providers if p.name == name), None)
            if provider is None:
                return
            self.providers.remove(provider)
            for key, session in list(self.sessions.items()):
                if session.guest.provider == name:
                    session.unbind(ConsoleState.GONE, reason)
                    del self.sessions[key]
                    self._opened_for.pop(key, None)
                    if session.log is not None:
                        session.log.writer.close()
            self.guests = [g for g in self.guests if g.provider != name]
            self.provider_errors.pop(name, None)
        await provider.close()

    async def add_provider(self, provider: Provider) -> None:
        """Start using ``provider`` (a reload enabled it): connected now, its guests found by the next refresh."""
        provider.on_change = self.poke
        try:
            await provider.connect()
        except Exception as exc:  # as at the broker's start: said in `ls`, retried by each refresh
            self.provider_errors[provider.name] = str(exc)
            log.warning("provider %s: %s", provider.name, exc)
        self.providers.append(provider)
        self.poke()

    def find(self, target: Target) -> tuple[Provider, GuestInfo]:
        """The one guest ``target`` names, and its provider: the lookup every operation uses.

        A name or id that guests of several providers share is refused with
        the candidates, so an operation never acts on a guest picked by order.
        """
        matches = [
            g for g in self.guests
            if target.guest in (g.name, g.id) and target.provider in (None, g.provider)
        ]
        if not matches:
            raise TargetError("unknown_guest", f"no guest named {target.guest_ref!r}")
        if len(matches) > 1:
            where = ", ".join(f"{g.provider}:{g.id}" for g in matches)
            raise TargetError(
                "ambiguous", f"{target.guest_ref!r} matches several guests: {where} (name one of them)"
            )
        guest = matches[0]
        # Guests come only from the providers' discovery: one of them made it.
        return next(p for p in self.providers if p.name == guest.provider), guest

    def resolve(self, target: Target) -> ConsoleSession:
        """The session of the console ``target`` names (its guest's first by default)."""
        _provider, guest = self.find(target)
        spec = self._console_spec(guest, target.console)
        session = self.sessions.get(session_key(guest, spec))
        if session is None:
            raise TargetError("unknown_console", f"{guest.name} has no console {spec.name}")
        return session

    @staticmethod
    def _console_spec(guest: GuestInfo, console: str | int | None) -> ConsoleSpec:
        if not guest.consoles:
            raise TargetError("unknown_console", f"{guest.name} has no consoles")
        if console is None:
            return guest.consoles[0]
        for spec in guest.consoles:
            if console in (spec.index, spec.name, str(spec.index)):
                return spec
        names = ", ".join(s.name for s in guest.consoles)
        raise TargetError("unknown_console", f"{guest.name} has no console {console} ({names})")

    def keys_of(self, target: Target) -> frozenset[SessionKey]:
        """The consoles ``target`` names: its console if it names one, else all of its guest's."""
        if target.console is not None:
            return frozenset({self.resolve(target).key})
        _provider, guest = self.find(target)
        return frozenset(session_key(guest, spec) for spec in guest.consoles)

    def describe(self) -> dict[str, Any]:
        """Every guest and console, for ``list``."""
        guests = []
        for guest in self.guests:
            consoles = []
            provider = next((p for p in self.providers if p.name == guest.provider), None)
            for spec in guest.consoles:
                session = self.sessions.get(session_key(guest, spec))
                if session is not None:
                    extra = provider.console_extra(guest, spec) if provider is not None else {}
                    consoles.append({**extra, **session.describe()})
            guests.append(
                {
                    "host": guest.host,
                    "provider": guest.provider,
                    "kind": guest.kind,
                    "id": guest.id,
                    "name": guest.name,
                    "state": guest.state,
                    "consoles": consoles,
                    **guest.extra,
                }
            )
        providers = [
            {"name": p.name, "host": p.host, "error": self.provider_errors.get(p.name)}
            for p in self.providers
        ]
        return {"guests": guests, "providers": providers}

    async def close(self) -> None:
        """Release every console (gracefully: the sources take over again)."""
        for session in self.sessions.values():
            session.unbind(ConsoleState.DISCONNECTED, "broker stopped")
        for provider in self.providers:
            await provider.close()
