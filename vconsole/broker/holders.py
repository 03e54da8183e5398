"""BusyHolders: who outside the broker holds each busy console, found and announced once.

When a console answers busy (another opener holds it), the registry asks the
console's provider who that is (Provider.find_holder), on every refresh while
it stays busy. The session keeps the answer (``ls`` shows it; a state push
tells watchers when it changes) and each new holder is announced once (a
HOLDER event), not on every refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from vconsole.broker.session import ConsoleSession
from vconsole.console_events import EventKind
from vconsole.domain import ConsoleState, SessionKey
from vconsole.providers.base import ConsoleHolder, Provider, ProviderError

log = logging.getLogger("vconsole.broker")
LOOKUP_TIMEOUT = 5.0  # a provider asking a hung daemon must not hold up the refresh for long


class BusyHolders:
    """Finds the holder of each busy console and publishes each new one once (a HOLDER event)."""

    def __init__(self, on_state: Callable[[ConsoleSession], None]) -> None:
        self._on_state = on_state
        # The holder last announced per console: the same process found again is no news.
        self._announced: dict[SessionKey, tuple[int, float | None]] = {}

    async def look(self, provider: Provider, session: ConsoleSession) -> ConsoleHolder | None:
        """Ask ``provider`` who holds ``session``'s console; record it on the session if still busy."""
        try:
            holder = await asyncio.wait_for(provider.find_holder(session.guest, session.spec), LOOKUP_TIMEOUT)
        except (ProviderError, OSError, TimeoutError) as exc:
            log.debug("%s: cannot tell who holds it: %s", session.key, exc)
            holder = None
        if session.state != ConsoleState.BUSY:
            return holder  # freed (or stopped) meanwhile: nothing to record
        if holder != session.holder:
            session.holder = holder
            self._on_state(session)
        if holder is not None and self._announced.get(session.key) != (holder.pid, holder.since):
            self._announced[session.key] = (holder.pid, holder.since)
            if session.events is not None:
                session.events.publish(
                    EventKind.HOLDER, text=f"held by pid {holder.pid} ({holder.user}): {holder.command}",
                    holder_pid=holder.pid, holder_uid=holder.uid, command=holder.command,
                )
        return holder

    def freed(self, session: ConsoleSession) -> None:
        """The broker holds ``session``'s console again: the next holder is news again."""
        session.holder = None
        self._announced.pop(session.key, None)
