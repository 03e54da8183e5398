"""BrokerLink: the TUI's connection to the broker, turning events into messages."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from textual.message_pump import MessagePump
from textual.widget import Widget

from vconsole.client import Client, RequestFailed
from vconsole.tui.messages import BrokerLost, FleetListed
from vconsole.tui.session_link import SessionLink

if TYPE_CHECKING:
    from vconsole.tui.guest_tree import ConsoleRef

LIST_INTERVAL = 1.0


class BrokerLink:
    """Requests for the app; listings posted to ``screen``, console events to their panes.

    The client runs on Textual's own asyncio loop, so no worker thread is
    needed: events arrive as callbacks and become messages.
    """

    def __init__(self, client: Client, screen: MessagePump) -> None:
        self.client = client
        self.screen = screen
        client.on_event = self._on_event
        self._poll: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: dict[str, SessionLink] = {}

    async def start(self) -> None:
        """Watch state changes and poll the listing (for unread counts)."""
        await self.client.request("watch")
        self._poll = asyncio.create_task(self._poll_list())
        self._spawn(self._watch_closed())

    async def _watch_closed(self) -> None:
        await self.client.closed.wait()
        self.screen.post_message(BrokerLost("the broker closed the connection"))

    async def _poll_list(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(LIST_INTERVAL)

    async def refresh(self) -> None:
        """Post a fresh listing."""
        try:
            listing = await self.client.request("list")
        except (RequestFailed, ConnectionError):
            return
        self.screen.post_message(FleetListed(listing))

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "state" and "session" not in event:
            # A watched console changed: a new listing shows it everywhere at once.
            self._spawn(self.refresh())
            return
        link = self._sessions.get(str(event.get("session")))
        if link is None:
            return  # a console no tab shows (any more)
        if kind == "output":
            link.receive(event["data"], answer=bool(event.get("answer")))
        elif kind == "missed":
            link.missed(event["count"])
        elif kind == "state":
            link.state_changed(str(event["state"]), str(event.get("reason", "")))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def open_session(self, ref: ConsoleRef, read_only: bool, pane: Widget) -> SessionLink:
        """The link of a console about to be attached; its events go to ``pane`` from now on."""
        link = SessionLink(self, ref, read_only, pane)
        self._sessions[ref.session] = link
        return link

    def forget(self, link: SessionLink) -> None:
        """A console's events go nowhere from now on (it was detached)."""
        if self._sessions.get(link.session) is link:
            del self._sessions[link.session]

    async def guest_op(self, op: str, target: str) -> None:
        """Start or stop a guest."""
        await self.client.request(op, target=target)

    async def close(self) -> None:
        """Stop polling and disconnect."""
        if self._poll is not None:
            self._poll.cancel()
        await self.client.close()
