"""``vconsole events --follow``: the kept events, then new ones as the broker pushes them.

The stream is read page by page with ``follow`` set on each request, so no
event falls between the last page and the pushes; pushes that come while
paging are held and printed after it, each event once (by seq). When the
broker goes away, following waits for it (see broker_follow.py) and asks
again from the last event printed; a restarted broker (another pid, or a
``last`` below what was printed) numbers events from 1 again, so all of its
events are read. SIGINT, SIGTERM and SIGHUP end it with 128 + the signal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import select
import sys

from vconsole.cli.broker_follow import follow_through_broker
from vconsole.cli.events_command import EventsRequest
from vconsole.cli.events_output import EventPrinter, notice, read_pages
from vconsole.cli.exit_codes import BY_ERROR_CODE, EXIT_ERROR, EXIT_NO_BROKER, EXIT_OK
from vconsole.cli.log_command import reader_gone
from vconsole.client import Client, RequestFailed
from vconsole.console_events import ConsoleEvent
from vconsole.reconnect import Connected, Disconnected, GaveUp, LinkEvent, ReconnectingClient
from vconsole.wire import Message

IDLE_CHECK = 1.0  # how often a follower with nothing to print checks that its reader is still there


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll says POLLERR on the write end)."""
    poller = select.poll()
    try:
        poller.register(sys.stdout.fileno(), 0)
    except (OSError, ValueError):
        return False
    return any(mask & (select.POLLERR | select.POLLHUP) for _fd, mask in poller.poll(0))


class EventFollower:
    """Prints pushed events; asks again after a reconnect."""

    def __init__(self, request: EventsRequest) -> None:
        self.request = request
        self.printer = EventPrinter(request)
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.broker_pid: int | None = None
        self._held: list[ConsoleEvent] | None = None  # pushes that came while paging
        self._link: ReconnectingClient | None = None
        self._resuming: asyncio.Task[None] | None = None

    def finish(self, code: int) -> None:
        """End following with exit ``code``."""
        if not self.done.done():
            self.done.set_result(code)

    def on_event(self, event: Message) -> None:
        """A pushed event: printed (held while paging); other broker events are not ours."""
        if event.get("event") != "console_event":
            return
        try:
            pushed = ConsoleEvent.from_wire(event)
        except (KeyError, TypeError, ValueError):
            return
        skipped = event.get("skipped")
        if isinstance(skipped, int) and skipped > 0:
            notice(f"{skipped} events were not sent while this terminal was not keeping up")
        if self._held is not None:
            self._held.append(pushed)
        else:
            self._write([pushed])

    def on_link(self, event: LinkEvent) -> None:
        """The broker connection: lost (we wait for it), back (ask again), or given up."""
        if isinstance(event, Disconnected):
            notice("broker lost, reconnecting…")
        elif isinstance(event, Connected) and event.reconnected and self._link is not None:
            self._resuming = asyncio.create_task(self._resume(self._link))
        elif isinstance(event, GaveUp):
            notice(event.reason)
            self.finish(EXIT_NO_BROKER)

    async def start(self, link: ReconnectingClient) -> None:
        """The kept events, then follow (a failed request is the command's error)."""
        self._link = link
        client = link.client
        if client is None:
            raise ConnectionError("not connected to the broker")
        self.broker_pid = client.broker_info.pid if client.broker_info is not None else None
        await self._catch_up(client, 0)

    async def _resume(self, link: ReconnectingClient) -> None:
        client = link.client
        if client is None:
            return  # lost again: the next Connected asks again
        pid = client.broker_info.pid if client.broker_info is not None else None
        restarted = pid != self.broker_pid
        self.broker_pid = pid
        try:
            if restarted:
                self._renumbered()
            await self._catch_up(client, self.printer.last)
            notice("reconnected" + ("; the broker restarted: its events are new" if restarted else ""))
        except RequestFailed as exc:
            notice(f"could not follow on: {exc.message}")
            self.finish(BY_ERROR_CODE.get(exc.code, EXIT_ERROR))
        except ConnectionError:
            pass  # lost again: the next Connected asks again

    def _renumbered(self) -> None:
        self.printer.last = 0

    async def _catch_up(self, client: Client, since: int) -> None:
        self._held = []
        try:
            last = await read_pages(client, self.request, self.printer, since=since, follow=True)
            if last < since:  # numbered anew under the same pid: read them all
                self._renumbered()
                await read_pages(client, self.request, self.printer, since=0, follow=True)
            held = self._held
        finally:
            self._held = None
        self._write(held)

    def _write(self, events: list[ConsoleEvent]) -> None:
        if self.done.done():
            return
        try:
            self.printer.write(events)
        except BrokenPipeError:
            reader_gone()
            self.finish(EXIT_OK)

    def tick(self) -> None:
        """Once a second: end when whoever read our output has gone (``| head``), as no event may come to tell."""
        if stdout_reader_gone():
            reader_gone()
            self.finish(EXIT_OK)

    async def close(self) -> None:
        """Cancel a resume still under way."""
        if self._resuming is not None:
            self._resuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resuming


async def follow_events(args: argparse.Namespace, request: EventsRequest) -> int:
    """Print the kept events and follow; the exit code (130 on Ctrl-C)."""
    follower = EventFollower(request)
    try:
        return await follow_through_broker(args, follower, follower.start, follower.tick, IDLE_CHECK)
    finally:
        await follower.close()
