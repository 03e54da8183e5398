"""ReconnectingClient: a broker connection that outlives the broker, for attach and the TUI.

When the connection drops (the broker was restarted, shut down or crashed),
it tries to connect again with backoff (0.1 s doubling to 2 s), forever or
until a timeout, and re-attaches every console it holds from the offset its
output had reached, so output resumes exactly where it stopped and the broker
says what was missed meanwhile. It never starts a broker itself: a client
that is waiting must not undo a ``vconsole shutdown``; any other vconsole
command (or the TUI) starts one, and then it resumes.

What happens is told to one callback as LinkEvents: Connected,
Disconnected(reason), AttemptFailed(reason), Resumed(session, missed, ...), ResumeFailed(session,
code) and GaveUp(reason). Keys are never queued while disconnected:
``input_nowait`` answers False and the caller tells the user they were not
sent, so nothing typed blind reaches a guest later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from vconsole.client import BrokerUnreachable, Client, RequestFailed
from vconsole.domain import AttachMode, SessionKey, Target
from vconsole.protocol_replies import AttachReply, ResumeReply
from vconsole.wire import Message

LOST_REASON = "the broker closed the connection"  # when the transport cannot say more


@dataclass(frozen=True)
class Backoff:
    """Delays between connection attempts: ``first``, doubling up to ``cap`` seconds."""

    first: float = 0.1
    cap: float = 2.0

    def delays(self) -> Iterator[float]:
        """The delay before each attempt, forever."""
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.cap)


@dataclass(frozen=True)
class Connected:
    """A connection is up (``reconnected``: after a loss); held sessions are resumed next."""

    reconnected: bool


@dataclass(frozen=True)
class Disconnected:
    """The connection is lost; reconnecting starts (unless told not to)."""

    reason: str


@dataclass(frozen=True)
class AttemptFailed:
    """A try to connect again failed (``reason``: the connector's one line); the next follows after a backoff."""

    reason: str


@dataclass(frozen=True)
class Resumed:
    """A held session is attached again; its output continues after this event.

    ``missed``: bytes after our offset the history no longer holds;
    ``history_restarted``: the broker holds a new history of the console (it
    restarted without saving the old one), replayed from its start; ``lost``:
    bytes the console's source dropped while nobody held it, since we last looked.
    """

    session: SessionKey
    reply: AttachReply
    missed: int
    lost: int
    history_restarted: bool

    def describe(self) -> str:
        """What the time without a broker cost, in words (attach and the TUI say it alike)."""
        parts = ["reconnected"]
        if self.history_restarted:
            parts.append("the broker restarted without this console's history; showing what it holds now")
        if self.missed:
            parts.append(f"{self.missed} bytes were dropped from the history before you saw them")
        if self.lost:
            parts.append(f"{self.lost} bytes the guest wrote while no broker held the console were lost")
        if not (self.history_restarted or self.missed or self.lost):
            parts.append("nothing was missed")
        return "; ".join(parts)


@dataclass(frozen=True)
class ResumeFailed:
    """A held session could not be attached again (``code`` as in a failed attach); it is dropped."""

    session: SessionKey
    code: str
    message: str


@dataclass(frozen=True)
class GaveUp:
    """No more reconnecting (told not to, or the timeout passed); the link is closed."""

    reason: str


LinkEvent = Connected | Disconnected | AttemptFailed | Resumed | ResumeFailed | GaveUp


@dataclass
class HeldSession:
    """A console kept attached across reconnects, and how far its output got."""

    key: SessionKey
    mode: AttachMode
    offset: int  # the next byte expected
    created: float | None  # which history ``offset`` counts in
    lost: int
    size: tuple[int, int] | None = None
    paused: bool = False  # no output wanted (a hidden tab): re-attached paused too
    # Its events, kept back while it is being attached: they are delivered (and
    # move ``offset``) after the reply is dealt with.
    held: list[Message] | None = None


class ReconnectingClient:
    """Owns a Client, replaces it when the broker comes back, and re-attaches its sessions.

    ``connect`` makes a connected Client (it must not start a broker);
    ``on_link`` gets the LinkEvents; ``on_event`` gets the broker's events
    (output, missed, state, error) as a Client would deliver them.
    ``reconnect`` False gives up at the first loss; ``timeout`` bounds each
    wait for the broker (None: wait until closed). ``why_lost`` says why a
    connection ended when its transport knows (ssh's last words), else the
    Disconnected reason is that the broker closed it.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[Client]],
        on_link: Callable[[LinkEvent], None],
        on_event: Callable[[Message], None],
        *,
        reconnect: bool = True,
        timeout: float | None = None,
        backoff: Backoff = Backoff(),
        why_lost: Callable[[Client], Awaitable[str | None]] | None = None,
    ) -> None:
        self._connect = connect
        self._why_lost = why_lost
        self.on_link = on_link
        self.on_event = on_event
        self.reconnect = reconnect
        self.timeout = timeout
        self.backoff = backoff
        self.sessions: dict[str, HeldSession] = {}  # by the key's text, as events name it
        self._client: Client | None = None
        # Events of consoles not held yet, kept back while attaches are in flight:
        # a console's first output can be dispatched before its attach's reply.
        self._attaching = 0
        self._parked: list[Message] = []
        self._watcher: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def client(self) -> Client | None:
        """The live connection, or None while disconnected."""
        client = self._client
        return None if client is None or client.closed.is_set() else client

    async def start(self, client: Client | None = None) -> None:
        """Take ``client`` (or connect now: BrokerUnreachable if none answers) and watch it."""
        self._install(client if client is not None else await self._connect())
        self.on_link(Connected(reconnected=False))
        self._watcher = asyncio.create_task(self._watch())

    def _install(self, client: Client) -> None:
        self._client = client
        client.on_event = self._event

    # --- sessions ------------------------------------------------------------

    async def attach(
        self,
        target: Target,
        mode: AttachMode = AttachMode.RW,
        *,
        start: int | None = None,
        tail_lines: int | None = None,
        size: tuple[int, int] | None = None,
        ready: bool = False,
        force: bool = False,
    ) -> AttachReply:
        """Attach (now connected: ConnectionError if not) and hold the session from then on.

        Output that comes with the reply is delivered just after this returns
        (on the next turn of the loop), so the caller can set up first; or,
        with ``ready`` (the caller's event handler is set up already), before
        it returns, as it arrived. ``force`` takes the console (Client.attach)
        this once; re-attaching after a reconnect never forces.
        """
        client = self.client
        if client is None:
            raise ConnectionError("not connected to the broker")
        self._attaching += 1
        try:
            reply = await client.attach(target, mode, start=start, tail_lines=tail_lines, size=size, force=force)
            key = reply.session.text
            held = HeldSession(reply.session, mode, reply.offset, reply.created, reply.lost, size)
            held.held = [e for e in self._parked if e.get("session") == key]
            self._parked = [e for e in self._parked if e.get("session") != key]
            self.sessions[key] = held
            if ready:
                self._release(held)
            else:
                asyncio.get_running_loop().call_soon(self._release, held)
            return reply
        finally:
            self._attaching -= 1
            if not self._attaching:
                parked, self._parked = self._parked, []
                for event in parked:
                    self._event(event)

    def detach_nowait(self, session: SessionKey) -> None:
        """Stop holding ``session`` and detach it if connected."""
        self.sessions.pop(session.text, None)
        client = self.client
        if client is not None:
            client.detach_nowait(session)

    async def detach(self, session: SessionKey) -> None:
        """Stop holding ``session`` and detach it, waiting for the broker if connected."""
        self.sessions.pop(session.text, None)
        client = self.client
        if client is not None:
            await client.detach(session)

    def pause_nowait(self, session: SessionKey) -> None:
        """Ask for none of the session's output (kept across reconnects) until ``resume``."""
        held = self.sessions.get(session.text)
        if held is not None:
            held.paused = True
        client = self.client
        if client is not None:
            client.pause_nowait(session)

    async def resume(self, session: SessionKey, *, tail_lines: int | None = None) -> ResumeReply | None:
        """The session's output again, from where it paused or the start of its last lines if later.

        None while disconnected: the reconnect then attaches it unpaused from
        its offset. ConnectionError or RequestFailed as ``Client.resume``.
        """
        held = self.sessions.get(session.text)
        if held is not None:
            held.paused = False
        client = self.client
        if client is None:
            return None
        reply = await client.resume(session, tail_lines=tail_lines)
        if held is not None:
            # Output the reply let through may be dispatched already and moved the offset on.
            held.offset = max(held.offset, reply.offset)
        return reply

    def input_nowait(self, session: SessionKey, data: bytes) -> bool:
        """Send keys if the session is attached now; False (nothing sent, nothing queued) if not."""
        client = self.client
        held = self.sessions.get(session.text)
        if client is None or held is None or held.held is not None:
            return False
        client.input_nowait(session, data)
        return True

    def resize_nowait(self, session: SessionKey, cols: int, rows: int) -> None:
        """The client's window size: sent now if connected, and again with every re-attach."""
        held = self.sessions.get(session.text)
        if held is not None:
            held.size = (cols, rows)
        client = self.client
        if client is not None and (held is None or held.held is None):
            client.resize_nowait(session, cols, rows)

    # --- the connection -----------------------------------------------------

    def _event(self, event: Message) -> None:
        """A broker event: track the offsets of held sessions, hold those being re-attached."""
        held = self.sessions.get(event.get("session"))  # type: ignore[arg-type]
        if held is None and self._attaching and "session" in event:
            self._parked.append(event)
            return
        if held is not None:
            if held.held is not None:
                held.held.append(event)
                return
            kind = event.get("event")
            if kind == "output":
                held.offset = event["offset"] + len(event["data"])
            elif kind == "missed":
                held.offset = event["offset"]
        self.on_event(event)

    def _release(self, held: HeldSession) -> None:
        """Deliver the events held while ``held`` was being attached, then let new ones through."""
        events, held.held = held.held or [], None
        for event in events:
            self._event(event)

    async def _watch(self) -> None:
        while True:
            client = self._client
            assert client is not None
            await client.closed.wait()
            self._client = None
            if self._closing:
                return
            reason = await self._why_lost(client) if self._why_lost is not None else None
            if self._closing:
                return
            self.on_link(Disconnected(reason or LOST_REASON))
            if not self.reconnect:
                self.on_link(GaveUp("the broker went away"))
                return
            client = await self._reconnect()
            if client is None:
                self.on_link(GaveUp(f"no broker came back within {self.timeout:g} s"))
                return
            self._install(client)
            self.on_link(Connected(reconnected=True))
            await self._resume_all(client)

    async def _reconnect(self) -> Client | None:
        """A new connection, tried with backoff; None once the timeout has passed."""
        loop = asyncio.get_running_loop()
        deadline = None if self.timeout is None else loop.time() + self.timeout
        for delay in self.backoff.delays():
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return None
            await asyncio.sleep(delay if left is None else min(delay, left))
            try:
                left = None if deadline is None else max(0.1, deadline - loop.time())
                return await asyncio.wait_for(self._connect(), left)
            except (BrokerUnreachable, OSError, TimeoutError) as exc:
                self.on_link(AttemptFailed(str(exc) or "no answer in time"))
                continue
        return None  # the delays never end; this is for the type checker

    async def _resume_all(self, client: Client) -> None:
        """Attach every held session again from its offset, in the order they were attached."""
        for held in list(self.sessions.values()):
            held.held = []
            try:
                reply = await client.attach(
                    held.key.target, held.mode, start=held.offset, created=held.created, size=held.size,
                    paused=held.paused,
                )
            except RequestFailed as exc:
                self.sessions.pop(held.key.text, None)
                held.held = None
                self.on_link(ResumeFailed(held.key, exc.code, exc.message))
                continue
            except ConnectionError:
                held.held = None
                return  # lost again: the watch loop sees it
            restarted = held.created is not None and reply.created != held.created
            lost = reply.lost if restarted else max(0, reply.lost - held.lost)
            held.offset, held.created, held.lost = reply.offset, reply.created, reply.lost
            self.on_link(Resumed(held.key, reply, reply.missed, lost, restarted))
            self._release(held)

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        self._closing = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        client, self._client = self._client, None
        if client is not None:
            await client.close()
