"""HostLinks: the TUI over many vconsole hosts, one BrokerLink each, each connected on its own.

``vconsole --host h1 --host h2`` (or ``[[hosts]]``) hands the TUI one
HostEndpoint per host (cli builds them: tui never imports cli). Each host
connects in a task of its own, so a slow or dead one blocks neither the UI
nor the others: while it does not answer its node says why
(``unreachable: REASON``) and it is tried again with backoff. Once connected,
its BrokerLink follows the broker's pushes as with one host (no polling: an
idle host costs nothing), and its ReconnectingClient gets it back after a
loss, its tabs resuming from their offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from textual.message_pump import MessagePump

from vconsole.client import BrokerUnreachable, Client
from vconsole.display_text import printable
from vconsole.reconnect import Backoff
from vconsole.ssh_transport import MAX_REASON, HostState, VersionMismatch
from vconsole.tui.broker_link import BrokerLink
from vconsole.tui.messages import HostChanged

MAX_HOST_REASON = 80  # characters of a host's reason on its node (the sidebar is narrow; the notice has it all)
# A host that does not answer at start is asked again after these delays (seconds).
START_BACKOFF = Backoff(first=1.0, cap=15.0)
STATE_TEXT: dict[HostState, str] = {
    HostState.CONNECTING: "connecting…",
    HostState.CONNECTED: "connected",
    HostState.UNREACHABLE: "unreachable",
    HostState.VERSION_MISMATCH: "version mismatch",
}
STATE_STYLE: dict[HostState, str] = {
    HostState.CONNECTING: "yellow",
    HostState.CONNECTED: "green",
    HostState.UNREACHABLE: "red",
    HostState.VERSION_MISMATCH: "red",
}


@dataclass(frozen=True)
class HostEndpoint:
    """How the TUI reaches one vconsole host's broker.

    ``connect`` may start a broker there; ``reconnect`` never does (a shutdown
    stays one); ``why_lost`` says why a connection ended (ssh's last words);
    ``remote``: its broker's files are another machine's (a snapshot comes
    back inline and is written here).
    """

    name: str
    connect: Callable[[], Awaitable[Client]]
    reconnect: Callable[[], Awaitable[Client]]
    close: Callable[[], Awaitable[None]]
    why_lost: Callable[[Client], Awaitable[str | None]] | None = None
    remote: bool = True


@dataclass(frozen=True)
class HostStatus:
    """A host's state and its one-line reason (printable, trimmed)."""

    state: HostState = HostState.CONNECTING
    reason: str = ""

    def describe(self) -> str:
        """``connecting…``, ``connected``, ``unreachable: REASON``, ``version mismatch: REASON``."""
        text = STATE_TEXT[self.state]
        return f"{text}: {self.reason}" if self.reason and self.state is not HostState.CONNECTED else text

    @property
    def style(self) -> str:
        """Its colour on the host's node."""
        return STATE_STYLE[self.state]


# ssh runs in batch mode under the TUI (it cannot ask on a terminal Textual draws on): a refused key says so.
BATCH_HINT = "(the TUI runs ssh in batch mode: the key must be in ssh-agent or unencrypted)"


def host_reason(host: str, text: str, limit: int = MAX_HOST_REASON) -> str:
    """A connector's one line without the ``HOST:`` it starts with (the node names the host), printable."""
    reason = printable(text.removeprefix(f"{host}: ") or "no answer", limit)
    return f"{reason} {BATCH_HINT}" if "Permission denied" in reason else reason


@dataclass
class HostLink:
    """One host: its endpoint, its state, and its BrokerLink once it answered."""

    endpoint: HostEndpoint
    screen: MessagePump
    status: HostStatus = HostStatus()
    link: BrokerLink | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The host's name (``local`` for this machine)."""
        return self.endpoint.name

    def set_status(self, state: HostState, reason: str = "") -> None:
        """A new state: the screen relabels the host's node and the status line."""
        status = HostStatus(state, host_reason(self.name, reason) if reason else "")
        if status != self.status:
            # Not answering at start is told once (a lost host's notice says it already, by BrokerLost).
            failed = self.status.state is HostState.CONNECTING and state is not HostState.CONNECTED
            self.status = status
            whole = HostStatus(state, host_reason(self.name, reason, MAX_REASON))
            self.screen.post_message(HostChanged(self.name, f"{self.name}: {whole.describe()}" if failed else ""))

    async def run(self) -> None:
        """Connect (retrying with backoff until it answers), then follow it through its BrokerLink."""
        for delay in START_BACKOFF.delays():
            try:
                client = await self.endpoint.connect()
            except VersionMismatch as exc:
                # The node says "version mismatch" already; the reason names both versions.
                self.set_status(HostState.VERSION_MISMATCH, exc.reason.removeprefix("version mismatch: "))
            except (BrokerUnreachable, OSError) as exc:
                self.set_status(HostState.UNREACHABLE, str(exc) or type(exc).__name__)
            except Exception as exc:  # a hello gone wrong, say: still its reason, and it is tried again
                self.set_status(HostState.UNREACHABLE, f"{type(exc).__name__}: {exc}")
            else:
                break
            await asyncio.sleep(delay)
        link = BrokerLink(self.endpoint.reconnect, self.screen, host=self.name,
                          why_lost=self.endpoint.why_lost, on_state=self.set_status, remote=self.endpoint.remote)
        self.link = link
        self.set_status(HostState.CONNECTED)
        await link.start(client)

    async def close(self) -> None:
        """Stop connecting, close the link and the host's transport."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.link is not None:
            await self.link.close()
        await self.endpoint.close()


class HostLinks:
    """Every host of the TUI, in the order given."""

    def __init__(self, endpoints: list[HostEndpoint], screen: MessagePump) -> None:
        self.hosts: dict[str, HostLink] = {e.name: HostLink(e, screen) for e in endpoints}

    def start(self) -> None:
        """Connect to every host at once, each in its own task."""
        for host in self.hosts.values():
            host.screen.post_message(HostChanged(host.name))  # its node, "connecting…"
            host.task = asyncio.create_task(host.run(), name=f"host {host.name}")

    def link(self, name: str) -> BrokerLink | None:
        """The host's link, once it answered."""
        host = self.hosts.get(name)
        return host.link if host is not None else None

    def links(self) -> list[tuple[str, BrokerLink]]:
        """Every host's link that answered, with its name."""
        return [(h.name, h.link) for h in self.hosts.values() if h.link is not None]

    def statuses(self) -> dict[str, HostStatus]:
        """Every host's state, in order."""
        return {name: host.status for name, host in self.hosts.items()}

    def listings(self) -> dict[str, dict[str, Any]]:
        """Every host's last listing (kept while it is unreachable: its node says so)."""
        return {name: host.link.listing for name, host in self.hosts.items() if host.link is not None}

    def summary(self) -> str:
        """``2 of 3 hosts connected``."""
        up = sum(1 for h in self.hosts.values() if h.status.state is HostState.CONNECTED)
        return f"{up} of {len(self.hosts)} hosts connected"

    async def close(self) -> None:
        """Close every host's link and transport."""
        await asyncio.gather(*(host.close() for host in self.hosts.values()), return_exceptions=True)
