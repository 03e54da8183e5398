"""Following consoles through the broker, as ``log --follow`` and ``wait`` do.

One ReconnectingClient (it waits for a lost broker and never starts one),
the attachments the caller makes on it, a check every few seconds for idle
lines (a prompt), and SIGINT/SIGTERM/SIGHUP ending it with 128 + the signal,
as attach does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from vconsole.cli.attach import DETACH_SIGNALS
from vconsole.cli.commands import connected
from vconsole.client import Client
from vconsole.reconnect import LinkEvent, ReconnectingClient
from vconsole.runtime_paths import RuntimePaths
from vconsole.wire import Message


class Following(Protocol):
    """What follows: events in, and a result once it is done."""

    done: asyncio.Future[int]

    def finish(self, code: int) -> None:
        """End with exit code ``code``."""

    def on_event(self, event: Message) -> None:
        """A broker event (output, state)."""

    def on_link(self, event: LinkEvent) -> None:
        """The link was lost, resumed, or gave up."""


async def follow_through_broker(
    args: argparse.Namespace,
    following: Following,
    attach: Callable[[ReconnectingClient], Awaitable[None]],
    idle: Callable[[], None],
    every: float,
) -> int:
    """Connect (as attach does), ``attach`` on the link, call ``idle`` every ``every`` s; the exit code."""
    paths = RuntimePaths.resolve(args.socket)

    async def reconnect() -> Client:
        return await Client.connect(paths, autostart=False)  # never start a broker: see cli/attach.py

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            idle()

    async with connected(args) as client:
        link = ReconnectingClient(reconnect, following.on_link, following.on_event)
        await link.start(client)
        loop = asyncio.get_running_loop()
        ticker: asyncio.Task[None] | None = None
        try:
            await attach(link)
            for sig in DETACH_SIGNALS:
                with contextlib.suppress(RuntimeError, ValueError):
                    loop.add_signal_handler(sig, following.finish, 128 + sig)
            ticker = asyncio.create_task(tick())
            return await following.done
        finally:
            if ticker is not None:
                ticker.cancel()
            for sig in DETACH_SIGNALS:
                with contextlib.suppress(RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
            await link.close()
