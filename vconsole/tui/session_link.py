"""SessionLink: one open console's end of the broker link, owned by its pane.

Keys and size go out through it; output comes in to its tail buffer, and the
pane feeds the tail to its terminal, only while the tab is visible.

A tab that nobody sees is not even sent its output: the link pauses the
attachment (``pause``), and the badge counts the guest's bytes from the end
offsets the broker reports to watchers once a second. What came before the
pause took effect is kept as raw bytes (the newest TAIL_LIMIT of them),
unparsed. When the tab is shown, it resumes from the start of the newest
screenful (``resume`` with ``tail_lines``), a replay whose queries are never
answered; when a visible tab falls far behind a flood, only the newest
screenful is parsed: the broker keeps the history, and a screen needs only
its tail.

While the broker is away, keys are refused out loud (a notice with how many
bytes were not sent, at most once a second) and never sent later; when the
link re-attaches the console, it resumes from the offset its output reached.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.widget import Widget

from vconsole.client import RequestFailed
from vconsole.domain import AttachMode, SessionKey, Target
from vconsole.protocol_replies import AttachReply
from vconsole.protocol_snapshots import RestoreRequest
from vconsole.reconnect import Resumed, ResumeFailed
from vconsole.snapshot_transfer import TransferFailed, send_restore, snapshot_here
from vconsole.term.queries import QueryFilter
from vconsole.tui.messages import (
    ConsoleDemoted,
    ConsoleLinkLost,
    ConsoleMissed,
    ConsoleResumed,
    ConsoleStateChanged,
    ConsoleUnread,
    OutputWaiting,
)

if TYPE_CHECKING:
    from vconsole.tui.broker_link import BrokerLink
    from vconsole.tui.guest_tree import ConsoleRef

# Raw output a tab holds unparsed (hidden, or between two feeds); older bytes are skipped.
TAIL_LIMIT = 256 * 1024
# What a visible tab parses at once. More waiting than this is "far behind" (a flood, a
# hidden tab being shown): only the newest screenful is parsed. The engine takes about
# 5 us a line, so one feed stays within a few milliseconds and keys never wait long.
FEED_LINES = 1000
FEED_BYTES = 64 * 1024
# Seconds: a hidden tab's badge changes at most this often (a new label is a new layout).
BADGE_INTERVAL = 1.0
# A little output after a quiet spell (an echo, a prompt) reaches a visible tab's terminal at
# once, without a message hop that would wait behind whatever else is queued (a hidden flood's
# reads). Anything else goes through the tail, so a flood is parsed a screenful at a time.
FEED_AT_ONCE = 1024
QUIET = 0.002  # seconds without output before a console counts as quiet
REFUSED_NOTICE_EVERY = 1.0  # seconds between "typed bytes were not sent" notices while disconnected


class OutputTail:
    """Output a terminal has not been fed: the newest bytes, bounded, taken whole or as a tail."""

    def __init__(self, limit: int = TAIL_LIMIT, feed_lines: int = FEED_LINES, feed_bytes: int = FEED_BYTES) -> None:
        self.limit = limit
        self.feed_lines = feed_lines
        self.feed_bytes = feed_bytes
        self._unfed = bytearray()

    def __len__(self) -> int:
        return len(self._unfed)

    def push(self, data: bytes) -> None:
        """Add output; past the limit the oldest bytes go (down to half the limit, so trimming is rare)."""
        unfed = self._unfed
        unfed += data
        if len(unfed) > self.limit:
            del unfed[: line_start(unfed, len(unfed) - self.limit // 2)]

    def take(self, keep_lines: int) -> tuple[bytes, int]:
        """What to feed now, and how many older bytes were skipped.

        All of it when it is at most ``feed_lines`` lines and ``feed_bytes``
        bytes; else only the newest ``keep_lines`` lines (a screenful), from
        the start of a line so no sequence is cut.
        """
        unfed = self._unfed
        if len(unfed) <= self.feed_bytes and unfed.count(b"\n") <= self.feed_lines:
            data = bytes(unfed)
            unfed.clear()
            return data, 0
        floor = max(len(unfed) - self.feed_bytes, 0)
        # The newline that begins the newest keep_lines lines (a last line without one is a
        # line too: a prompt); if the feed bound comes first, the first line start after it.
        start = len(unfed)
        for _ in range(keep_lines + (unfed[-1:] == b"\n")):
            newline = unfed.rfind(b"\n", floor, start)
            if newline < 0:
                start = line_start(unfed, floor)
                break
            start = newline
        else:
            start += 1
        data = bytes(unfed[start:])
        unfed.clear()
        return data, start


def line_start(data: bytearray, at: int) -> int:
    """The first line start at or after ``at`` (just past a newline), if one is near; else ``at``."""
    at = max(at, 0)
    if at == 0 or data[at - 1 : at] == b"\n":
        return at
    newline = data.find(b"\n", at, at + 4096)
    return newline + 1 if newline >= 0 else at


class SessionLink:
    """An attached console: requests for it, and its events posted to ``pane`` as messages.

    ``end`` is the offset just past the newest byte the guest wrote that we
    know of, ``seen`` how far the tab was visible: the badge is the difference,
    in the guest's bytes (whatever we skipped or the broker could not send us).
    One OutputWaiting is in flight at a time, and only while the tab is visible.
    """

    def __init__(
        self, broker: BrokerLink, ref: ConsoleRef, read_only: bool, pane: Widget, feed: Callable[[bytes], None]
    ) -> None:
        self.broker = broker
        self.client = broker.client
        self.session = ref.session
        self.key = SessionKey.parse(ref.session)
        self.target = Target(ref.guest_id, ref.provider, ref.console)
        self.guest_id = ref.guest_id
        self.console = ref.console
        self.read_only = read_only
        self.pane = pane
        self.feed = feed  # the pane's terminal
        self.tail = OutputTail()
        self.queries = QueryFilter()
        self.end = 0
        self.seen = 0
        self._waiting = False  # an OutputWaiting is in flight
        self._received_at = float("-inf")  # when output last came
        self._badge_at = float("-inf")  # when the pane last heard of unread bytes
        self._badge_later: asyncio.TimerHandle | None = None
        self.refused = 0  # typed bytes not sent since the last notice
        self._refused_told = float("-inf")
        self.paused = False  # we asked the broker to send no output (hidden)
        self._resuming: set[asyncio.Task[None]] = set()

    @property
    def visible(self) -> bool:
        """Whether the pane is the visible tab (its tab set displays only that one)."""
        return bool(self.pane.display)

    @property
    def unread(self) -> int:
        """Bytes the guest wrote since the tab was last visible."""
        return 0 if self.visible else self.end - self.seen

    # --- from the broker ----------------------------------------------------

    def receive(self, offset: int, data: bytes, answer: bool = False) -> None:
        """Output for this console at ``offset``: kept raw; a visible tab is told, a hidden one counts.

        The tab's terminal answers queries (DA, DSR) like a real one, so it sees
        them only where it should answer: live output the broker marks for this
        client (``answer``), in a visible read-write tab. A replay or a hidden
        tab never types an answer into the guest (docs/protocol.md).
        """
        self.end = max(self.end, offset + len(data))
        data = self.queries.feed(data, answer=answer and not self.read_only and self.visible)
        if not self.visible:
            self.hide()  # hidden by a way the screen did not tell us of
            self.tail.push(data)
            self._tell_unread()
            return
        self.seen = self.end
        now = asyncio.get_running_loop().time()
        quiet = now - self._received_at > QUIET
        self._received_at = now
        if quiet and not self._waiting and not self.tail and len(data) <= FEED_AT_ONCE:
            self.feed(data)
            return
        self.tail.push(data)
        if not self._waiting:
            self._waiting = True
            self.pane.post_message(OutputWaiting())

    def missed(self, offset: int, count: int) -> None:
        """The broker says this client missed ``count`` bytes before ``offset`` (its history wrapped)."""
        self.end = max(self.end, offset)
        if self.visible:
            self.seen = self.end
        self.pane.post_message(ConsoleMissed(count))

    def grew(self, end: int) -> None:
        """The broker reports the console's history end (to watchers): a paused tab's badge counts from it."""
        if not self.visible and end > self.end:
            self.end = end
            self._tell_unread()

    def state_changed(self, state: str, reason: str) -> None:
        """The console changed state."""
        self.pane.post_message(ConsoleStateChanged(state, reason))

    def demoted(self, by: str) -> None:
        """Another client took the console over (``attach --force``): this tab is read-only from now on."""
        self.read_only = True  # the broker refuses its keys now; none are sent
        held = self.client.sessions.get(self.key.text)
        if held is not None:
            held.mode = AttachMode.RO  # a re-attach after a broker restart stays read-only too
        self.pane.post_message(ConsoleDemoted(by))

    def link_lost(self, reason: str) -> None:
        """The broker is away: the tab says so until it is resumed."""
        self.pane.post_message(ConsoleLinkLost(reason))

    def resumed(self, event: Resumed | ResumeFailed) -> None:
        """Attached again from our offset (or refused): the tab says what the loss cost."""
        self.tell_refused(force=True)
        if isinstance(event, ResumeFailed):
            self.pane.post_message(ConsoleStateChanged(event.code, event.message))
            return
        if event.history_restarted:  # offsets count in the new history from here on
            self.end = event.reply.offset
            self.seen = self.end
        self.pane.post_message(ConsoleResumed(str(event.reply.state), event.describe()))

    def _tell_unread(self) -> None:
        """A ConsoleUnread now, or once BADGE_INTERVAL has passed since the last one."""
        if self._badge_later is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._badge_at + BADGE_INTERVAL - loop.time()
        if wait <= 0:
            self._post_unread()
        else:
            self._badge_later = loop.call_later(wait, self._post_unread)

    def _post_unread(self) -> None:
        self._badge_later = None
        self._badge_at = asyncio.get_running_loop().time()
        self.pane.post_message(ConsoleUnread())

    # --- to the terminal ----------------------------------------------------

    def shown(self, rows: int) -> None:
        """The tab became visible: what the guest wrote meanwhile counts as seen; output comes again.

        Output resumes where it paused, or at the start of the newest ``rows``
        lines when the guest wrote more meanwhile: a screenful rebuilds the screen.
        """
        self.seen = self.end
        if self.paused:
            self.paused = False
            task = asyncio.create_task(self._resume(rows))
            self._resuming.add(task)
            task.add_done_callback(self._resuming.discard)

    async def _resume(self, rows: int) -> None:
        try:
            reply = await self.client.resume(self.key, tail_lines=rows)
        except (RequestFailed, ConnectionError):
            return  # not attached now: a re-attach (reconnect) sends its output unpaused
        if reply is not None:
            self.end = max(self.end, reply.end)
            if self.visible:
                self.seen = self.end

    def hide(self) -> None:
        """The tab is hidden: the broker sends it no output until it is shown (its cursor waits)."""
        if not self.paused:
            self.paused = True
            self.client.pause_nowait(self.key)

    def take(self, keep_lines: int) -> tuple[bytes, int]:
        """What the pane should feed now (see OutputTail.take); nothing while hidden."""
        self._waiting = False
        if not self.visible:
            return b"", 0
        return self.tail.take(keep_lines)

    # --- to the broker ------------------------------------------------------

    async def attach(self, tail_lines: int, force: bool = False) -> AttachReply:
        """Attach to the console (``force``: the broker ends a program holding it); the reply says its
        state and where its replay starts."""
        mode = AttachMode.RO if self.read_only else AttachMode.RW
        # Its events come to this link already (BrokerLink.open_session): none need wait a turn.
        reply = await self.client.attach(self.target, mode, tail_lines=tail_lines, ready=True, force=force)
        # The replay (up to the history's end then) is old output: not unread. Some of it
        # may have been received already, in the same read as the reply.
        self.end = max(self.end, reply.end)
        self.seen = max(self.seen, reply.end)
        return reply

    def detach(self) -> None:
        """Detach (the session stays in the broker); this console's events go nowhere from now on."""
        if self._badge_later is not None:
            self._badge_later.cancel()
            self._badge_later = None
        for task in self._resuming:
            task.cancel()
        self.broker.forget(self)
        self.client.detach_nowait(self.key)

    def send_input(self, data: bytes) -> None:
        """Keystrokes for the guest; a read-only tab sends nothing, a disconnected one refuses them out loud."""
        if not self.read_only and not self.client.input_nowait(self.key, data):
            self.refused += len(data)
            self.tell_refused()

    def tell_refused(self, force: bool = False) -> None:
        """Say how many typed bytes were not sent (at most once every REFUSED_NOTICE_EVERY seconds)."""
        now = time.monotonic()
        if self.refused and (force or now - self._refused_told >= REFUSED_NOTICE_EVERY):
            self.pane.notify(f"not connected: {self.refused} typed bytes were not sent",
                             title="broker lost", severity="warning", timeout=3, markup=False)
            self.refused = 0
            self._refused_told = now

    def resize(self, cols: int, rows: int) -> None:
        """Our terminal size for the guest (kept for re-attaching); a read-only tab leaves the size to others."""
        if not self.read_only:
            self.client.resize_nowait(self.key, cols, rows)

    async def snapshot(self, path: str) -> int:
        """Snapshot this console into ``path`` on this machine; returns the file's size.

        A broker that cannot write our path (another host's, or one of another
        uid) sends the bytes, in parts when large, and they are written here.
        """
        client = self.broker.live()
        if not self.broker.remote and client.names_files:
            return (await client.snapshot([self.target], path)).size
        origin = self.broker.host if self.broker.remote else None
        try:
            reply = await snapshot_here(client, [self.target], Path(path), origin)
        except TransferFailed as exc:
            raise RequestFailed("transfer_failed", str(exc)) from None
        return reply.size

    async def restore(self, path: str) -> int:
        """Restore the snapshot file at ``path`` (on this machine) into this console; returns the ring bytes restored."""
        client = self.broker.live()
        request = RestoreRequest(into=self.target)
        if not self.broker.remote and client.names_files:
            reply = await client.restore(dataclasses.replace(request, path=path))
        else:  # the broker cannot read our file: its bytes go through the connection
            data = await asyncio.get_running_loop().run_in_executor(None, Path(path).read_bytes)
            reply = await send_restore(client, data, request)
        return reply.ring_bytes
