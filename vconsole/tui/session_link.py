"""SessionLink: one open console's end of the broker link, owned by its pane.

Keys and size go out through it; output comes in to its backlog, and the
pane feeds the backlog to its terminal a step at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widget import Widget

from vconsole.term.queries import QueryFilter
from vconsole.tui.messages import ConsoleMissed, ConsoleStateChanged, OutputWaiting

if TYPE_CHECKING:
    from vconsole.tui.broker_link import BrokerLink
    from vconsole.tui.guest_tree import ConsoleRef

# Output waits in the backlog until the pane feeds it to its terminal, FEED_STEP bytes per
# message, so keys are never queued behind a flood. The socket is always read, so a quiet
# console's output is never stuck behind a flood in the broker's buffer; a console more than
# MAX_UNFED bytes ahead of its terminal loses its oldest unfed bytes (reported like "missed").
FEED_STEP = 32 * 1024
MAX_UNFED = 512 * 1024


class OutputBacklog:
    """Output a terminal has not been fed yet, bounded, handed out in steps."""

    def __init__(self, step: int = FEED_STEP, limit: int = MAX_UNFED) -> None:
        self.step = step
        self.limit = limit
        self._unfed = bytearray()

    def __len__(self) -> int:
        return len(self._unfed)

    def push(self, data: bytes) -> int:
        """Add output; returns how many of the oldest bytes were dropped to stay under the limit."""
        unfed = self._unfed
        unfed += data
        if len(unfed) <= self.limit:
            return 0
        # Keep the newest half, cut after a newline so no escape sequence is split.
        cut = len(unfed) - self.limit // 2
        newline = unfed.find(b"\n", cut)
        cut = newline + 1 if 0 <= newline < cut + 4096 else cut
        del unfed[:cut]
        return cut

    def take(self) -> bytes:
        """Up to one step of the oldest unfed bytes."""
        chunk = bytes(self._unfed[: self.step])
        del self._unfed[: self.step]
        return chunk


class SessionLink:
    """An attached console: requests for it, and its events posted to ``pane`` as messages.

    One OutputWaiting is in flight at a time: it is posted when output arrives
    to an empty backlog, and the pane posts itself the next one while a step
    leaves bytes behind.
    """

    def __init__(self, broker: BrokerLink, ref: ConsoleRef, read_only: bool, pane: Widget) -> None:
        self.broker = broker
        self.client = broker.client
        self.session = ref.session
        self.guest_id = ref.guest_id
        self.console = ref.console
        self.read_only = read_only
        self.pane = pane
        self.backlog = OutputBacklog()
        self.queries = QueryFilter()
        self._waiting = False  # an OutputWaiting is in flight

    # --- from the broker ----------------------------------------------------

    def receive(self, data: bytes, answer: bool = False) -> None:
        """Output for this console: into the backlog, and tell the pane if it is not told yet.

        The tab's terminal answers queries (DA, DSR) like a real one, so it sees
        them only where it should answer: live output the broker marks for this
        client (``answer``), in a visible read-write tab. A replay or a hidden
        tab never types an answer into the guest (docs/protocol.md).
        """
        data = self.queries.feed(data, answer=answer and not self.read_only and self.pane.display)
        if not data:
            return
        dropped = self.backlog.push(data)
        if dropped:
            self.pane.post_message(ConsoleMissed(dropped))
        if not self._waiting:
            self._waiting = True
            self.pane.post_message(OutputWaiting())

    def missed(self, count: int) -> None:
        """The broker says this client missed bytes (its history wrapped)."""
        self.pane.post_message(ConsoleMissed(count))

    def state_changed(self, state: str, reason: str) -> None:
        """The console changed state."""
        self.pane.post_message(ConsoleStateChanged(state, reason))

    def take_step(self) -> tuple[bytes, bool]:
        """One step of the backlog for the pane, and whether more is waiting.

        When more is waiting, the pane posts itself another OutputWaiting, which
        queues behind whatever arrived meanwhile.
        """
        chunk = self.backlog.take()
        more = bool(self.backlog)
        self._waiting = more
        return chunk, more

    # --- to the broker ------------------------------------------------------

    async def attach(self, tail_lines: int) -> dict[str, Any]:
        """Attach to the console; the reply says its state."""
        return await self.client.request(
            "attach", target=self.guest_id, console=self.console,
            mode="ro" if self.read_only else "rw", tail_lines=tail_lines,
        )

    def detach(self) -> None:
        """Detach (the session stays in the broker); this console's events go nowhere from now on."""
        self.broker.forget(self)
        self.client.send_nowait("detach", session=self.session)

    def send_input(self, data: bytes) -> None:
        """Keystrokes for the guest; a read-only tab sends nothing."""
        if not self.read_only:
            self.client.send_nowait("input", session=self.session, data=data)

    def resize(self, cols: int, rows: int) -> None:
        """Our terminal size for the guest; a read-only tab leaves the size to others."""
        if not self.read_only:
            self.client.send_nowait("resize", session=self.session, cols=cols, rows=rows)

    async def snapshot(self, path: str) -> int:
        """Snapshot this console into ``path``; returns the file's size."""
        reply = await self.client.request(
            "snapshot", path=path, targets=[{"target": self.guest_id, "console": self.console}]
        )
        return int(reply["size"])

    async def restore(self, path: str) -> int:
        """Restore the snapshot file at ``path`` into this console; returns the ring bytes restored."""
        reply = await self.client.request(
            "restore", path=path, into={"target": self.guest_id, "console": self.console}
        )
        return int(reply.get("ring_bytes", 0))
