"""BrokerLink: the TUI's connection to the broker, turning events into messages.

The guest list comes from one ``list`` at start; from then on the broker
pushes every change (``watch``: a console's state, clients, and its unread
count while output grows), and the link patches its listing in place. A new
``list`` is asked for only when the guests themselves may have changed (a
console we do not know, a console whose state changed, which may be its
guest starting or stopping), a few at once coalesced into one. An idle TUI
asks the broker for nothing.

The connection is a ReconnectingClient: when the broker goes away (a crash, a
restart, ``vconsole shutdown``) the link says so to the screen and every tab,
tries again with backoff (never starting a broker itself), re-attaches each
tab from the offset its output reached, lists the guests again and follows
the event stream again from the last event it saw (event_feed.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from textual.message_pump import MessagePump
from textual.widget import Widget

from vconsole.client import BrokerUnreachable, Client, RequestFailed
from vconsole.console_events import ConsoleEvent
from vconsole.domain import Target
from vconsole.reconnect import (
    AttemptFailed,
    Connected,
    Disconnected,
    GaveUp,
    LinkEvent,
    ReconnectingClient,
    Resumed,
    ResumeFailed,
)
from vconsole.ssh_transport import HostState
from vconsole.tui.event_feed import EventFeed
from vconsole.tui.messages import BrokerBack, BrokerLost, EventArrived, FleetListed
from vconsole.tui.session_link import SessionLink
from vconsole.wire import Op

if TYPE_CHECKING:
    from vconsole.tui.guest_tree import ConsoleRef

Connector = Callable[[], Awaitable[Client]]
LOST = "broker lost, reconnecting…"
RELIST_DELAY = 0.2  # seconds: the events of one start or stop come together; one listing answers them all
PUBLISH_DELAY = 0.1  # seconds: patched consoles reach the guest list together


class BrokerLink:
    """Requests for the app; listings posted to ``screen``, console events to their panes.

    The client runs on Textual's own asyncio loop, so no worker thread is
    needed: events arrive as callbacks and become messages.
    """

    def __init__(
        self,
        reconnect: Connector | None,
        screen: MessagePump,
        *,
        host: str = "",
        why_lost: Callable[[Client], Awaitable[str | None]] | None = None,
        on_state: Callable[[HostState, str], None] | None = None,
        remote: bool = False,
    ) -> None:
        """``reconnect`` connects again after a loss without starting a broker (None: never reconnect).

        With many hosts: ``host`` names this one in its messages, ``why_lost``
        says why its connection ended, ``on_state`` hears its state change
        (tui/host_links.py); ``remote``: its broker's files are another machine's.
        """
        self.screen = screen
        self.host = host
        self.remote = remote
        self.on_state = on_state
        self.reconnects = reconnect is not None
        self.client = ReconnectingClient(reconnect or _no_reconnect, self._on_link, self._on_event,
                                         reconnect=self.reconnects, why_lost=why_lost)
        self.listing: dict[str, Any] = {"guests": []}
        self.events = EventFeed(self._event_new)
        self._consoles: dict[str, tuple[list[dict[str, Any]], int]] = {}  # session: (its guest's consoles, index)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: dict[str, SessionLink] = {}
        self._relist: asyncio.TimerHandle | None = None
        self._publish: asyncio.TimerHandle | None = None

    @property
    def connected(self) -> bool:
        """Whether the broker answers now."""
        return self.client.client is not None

    @property
    def watch_only(self) -> bool:
        """Whether the broker lets us only watch (broker.spy_groups): every tab opens read-only."""
        client = self.client.client
        return client is not None and client.broker_info is not None and client.broker_info.watch_only

    def live(self) -> Client:
        """The connection now; ConnectionError while the broker is away."""
        client = self.client.client
        if client is None:
            raise ConnectionError("not connected to the broker")
        return client

    async def start(self, client: Client) -> None:
        """Take the first connection, watch every console's changes, then list once."""
        await self.client.start(client)
        await self._watch_and_list()

    async def _watch_and_list(self) -> None:
        try:
            client = self.live()
            await client.watch()
        except (RequestFailed, ConnectionError):
            return  # lost again: the next reconnect watches
        await self.refresh()
        await self.events.follow(client)

    def _on_link(self, event: LinkEvent) -> None:
        """The connection's fate, told to the screen and to the tabs it concerns."""
        if isinstance(event, Disconnected):
            self._state(HostState.UNREACHABLE, event.reason)
            if self.reconnects:
                self.screen.post_message(BrokerLost(event.reason, reconnecting=True, host=self.host))
                lost = f"{self.host} lost: {event.reason}; reconnecting…" if self.host else LOST
                for link in self._sessions.values():
                    link.link_lost(lost)
        elif isinstance(event, AttemptFailed):
            self._state(HostState.UNREACHABLE, event.reason)
        elif isinstance(event, GaveUp):
            reason = event.reason if self.reconnects else (
                "the broker was shut down; a --no-daemon TUI neither waits for it nor restarts it")
            self.screen.post_message(BrokerLost(reason, reconnecting=False, host=self.host))
            for link in self._sessions.values():
                link.link_lost("broker gone: " + reason)
        elif isinstance(event, Connected) and event.reconnected:
            self._state(HostState.CONNECTED, "")
            self.screen.post_message(BrokerBack(self.host))
            self._spawn(self._watch_and_list())  # the guests may have changed meanwhile
        elif isinstance(event, Resumed | ResumeFailed):
            resumed = self._sessions.get(event.session.text)
            if resumed is not None:
                resumed.resumed(event)

    def _state(self, state: HostState, reason: str) -> None:
        if self.on_state is not None:
            self.on_state(state, reason)

    async def refresh(self) -> None:
        """Post a fresh listing."""
        try:
            listing = await self.live().list_guests()
        except (RequestFailed, ConnectionError):
            return
        self.listing = listing
        self._consoles = {
            con["session"]: (guest["consoles"], index)
            for guest in listing.get("guests", [])
            for index, con in enumerate(guest.get("consoles", []))
        }
        self.screen.post_message(FleetListed(listing, self.host))

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "console_event":
            self.events.pushed(event)
            return
        if kind == "state" and "session" not in event:
            self._console_changed(event.get("console"))
            return
        link = self._sessions.get(str(event.get("session")))
        if link is None:
            return  # a console no tab shows (any more)
        if kind == "output":
            link.receive(event["offset"], event["data"], answer=bool(event.get("answer")))
        elif kind == "missed":
            link.missed(event["offset"], event["count"])
        elif kind == "state":
            link.state_changed(str(event["state"]), str(event.get("reason", "")))
        elif kind == "demoted":
            link.demoted(str(event.get("by", "another client")))

    def _event_new(self, event: ConsoleEvent) -> None:
        self.screen.post_message(EventArrived(event, self.host))

    def _console_changed(self, console: Any) -> None:
        """A watched console changed: patch the listing, or list again if the guests may have changed."""
        if not isinstance(console, dict):
            return
        where = self._consoles.get(str(console.get("session")))
        if where is None:
            self._later_relist()
            return
        link = self._sessions.get(str(console.get("session")))
        end = console.get("end")
        if link is not None and isinstance(end, int):
            link.grew(end)  # a hidden tab's badge
        consoles, index = where
        if consoles[index].get("state") != console.get("state"):
            self._later_relist()  # a guest may have started or stopped: its own state is in the listing
        consoles[index] = {**consoles[index], **console}
        if self._publish is None:
            self._publish = asyncio.get_running_loop().call_later(PUBLISH_DELAY, self._post_listing)

    def _later_relist(self) -> None:
        if self._relist is None:
            self._relist = asyncio.get_running_loop().call_later(RELIST_DELAY, self._start_relist)

    def _start_relist(self) -> None:
        self._relist = None
        self._spawn(self.refresh())

    def _post_listing(self) -> None:
        self._publish = None
        self.screen.post_message(FleetListed(self.listing, self.host))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def open_session(
        self, ref: ConsoleRef, read_only: bool, pane: Widget, feed: Callable[[bytes], None]
    ) -> SessionLink:
        """The link of a console about to be attached; its events go to ``pane``, small output to ``feed``."""
        link = SessionLink(self, ref, read_only, pane, feed)
        self._sessions[ref.session] = link
        return link

    def forget(self, link: SessionLink) -> None:
        """A console's events go nowhere from now on (it was detached)."""
        if self._sessions.get(link.session) is link:
            del self._sessions[link.session]

    async def guest_op(self, op: Op, guest: Target) -> None:
        """Start or stop a guest (``op``: Op.START or Op.STOP)."""
        client = self.live()
        await (client.start(guest) if op == Op.START else client.stop(guest))

    async def close(self) -> None:
        """Stop listening and disconnect."""
        for handle in (self._relist, self._publish):
            if handle is not None:
                handle.cancel()
        await self.client.close()


async def _no_reconnect() -> Client:
    raise BrokerUnreachable("this TUI does not reconnect")
