"""BrokerLink: the TUI's connection to the broker, turning events into messages."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.message_pump import MessagePump

from vconsole.client import Client, RequestFailed
from vconsole.tui.messages import (
    BrokerLost,
    ConsoleMissed,
    ConsoleOutput,
    ConsoleState,
    FleetListed,
)

LIST_INTERVAL = 1.0
# Output waits here until the app feeds it to a terminal, FEED_STEP bytes per message, so keys
# are never queued behind a flood. The socket is always read, so a quiet console's output is
# never stuck behind a flood in the broker's buffer; a console more than MAX_UNFED bytes ahead
# of its terminal loses its oldest unfed bytes (reported like the broker's "missed").
FEED_STEP = 32 * 1024
MAX_UNFED = 512 * 1024


class BrokerLink:
    """Requests for the app, and broker events posted to ``target`` as messages.

    The client runs on Textual's own asyncio loop, so no worker thread is
    needed: events arrive as callbacks and become messages.
    """

    def __init__(self, client: Client, target: MessagePump) -> None:
        self.client = client
        self.target = target
        client.on_event = self._on_event
        self._poll: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._unfed: dict[str, bytearray] = {}

    async def start(self) -> None:
        """Watch state changes and poll the listing (for unread counts)."""
        await self.client.request("watch")
        self._poll = asyncio.create_task(self._poll_list())
        self._spawn(self._watch_closed())

    async def _watch_closed(self) -> None:
        await self.client.closed.wait()
        self.target.post_message(BrokerLost("the broker closed the connection"))

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
        self.target.post_message(FleetListed(listing))

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "output":
            self._queue_output(event["session"], event["offset"], event["data"])
        elif kind == "missed":
            self.target.post_message(ConsoleMissed(event["session"], event["count"]))
        elif kind == "state" and "session" in event:
            self.target.post_message(
                ConsoleState(event["session"], str(event["state"]), str(event.get("reason", "")))
            )
        elif kind == "state":
            # A watched console changed: a new listing shows it everywhere at once.
            self._spawn(self.refresh())

    def _queue_output(self, session: str, offset: int, data: bytes) -> None:
        # One ConsoleOutput message per session is in flight at a time; it carries no bytes,
        # the app takes them with take_output when it gets to it.
        unfed = self._unfed.get(session)
        if unfed is None:
            self._unfed[session] = bytearray(data)
            self.target.post_message(ConsoleOutput(session, offset, b""))
            return
        unfed += data
        if len(unfed) > MAX_UNFED:
            # Keep the newest half, cut after a newline so no escape sequence is split.
            cut = len(unfed) - MAX_UNFED // 2
            newline = unfed.find(b"\n", cut)
            cut = newline + 1 if 0 <= newline < cut + 4096 else cut
            del unfed[:cut]
            self.target.post_message(ConsoleMissed(session, cut))

    def take_output(self, session: str) -> tuple[bytes, bool]:
        """Up to FEED_STEP unfed bytes of ``session``, and whether more are waiting.

        When more are waiting the caller posts itself another ConsoleOutput, which
        queues behind any keys that arrived meanwhile.
        """
        unfed = self._unfed.get(session)
        if unfed is None:
            return b"", False
        chunk = bytes(unfed[:FEED_STEP])
        del unfed[:FEED_STEP]
        if not unfed:
            del self._unfed[session]
            return chunk, False
        return chunk, True

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def attach(self, target: str, console: str, read_only: bool, tail_lines: int) -> dict[str, Any]:
        """Attach to a console; the reply names the session."""
        return await self.client.request(
            "attach", target=target, console=console, mode="ro" if read_only else "rw", tail_lines=tail_lines
        )

    def detach(self, session: str) -> None:
        """Detach (the session stays in the broker)."""
        self._unfed.pop(session, None)
        self.client.send_nowait("detach", session=session)

    def send_input(self, session: str, data: bytes) -> None:
        """Keystrokes for the guest (errors come back as error events)."""
        self.client.send_nowait("input", session=session, data=data)

    def resize(self, session: str, cols: int, rows: int) -> None:
        """Tell the guest our terminal size."""
        self.client.send_nowait("resize", session=session, cols=cols, rows=rows)

    async def guest_op(self, op: str, target: str) -> None:
        """Start or stop a guest."""
        await self.client.request(op, target=target)

    async def close(self) -> None:
        """Stop polling and disconnect."""
        if self._poll is not None:
            self._poll.cancel()
        await self.client.close()
