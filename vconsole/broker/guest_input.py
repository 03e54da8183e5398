"""GuestInput: keystrokes on their way to a guest, never blocking the broker.

A keystroke with nothing queued ahead of it goes straight to the endpoint;
what the guest does not take at once waits (at most MAX_INPUT_BACKLOG) and is
written as the endpoint's write fd becomes writable. The newest bytes
written are kept for a snapshot's exact count of unread input.
"""

from __future__ import annotations

import asyncio

from vconsole.console.endpoint import ConsoleEndpoint, EndpointClosed

MAX_INPUT_BACKLOG = 64 * 1024
# What the broker wrote to each console, newest last: the bytes behind an
# exact count of unread input (a pty slave's TIOCINQ) in a snapshot.
INPUT_LOG = 64 * 1024


class InputBacklogFull(Exception):
    """The guest is not reading its input and the backlog is full."""


class GuestInput:
    """One console's input side: the queue, the writer callback, and what was written."""

    def __init__(self) -> None:
        self.endpoint: ConsoleEndpoint | None = None
        self.written = bytearray()  # the newest INPUT_LOG bytes the guest took
        self._queue = bytearray()
        self._writing = False

    @property
    def backlog(self) -> bytes:
        """Input accepted from clients that the guest has not taken yet."""
        return bytes(self._queue)

    @property
    def waiting(self) -> bool:
        """Whether input is queued (a ring, with no write fd, frees space on its read events)."""
        return bool(self._queue)

    def bind(self, endpoint: ConsoleEndpoint) -> None:
        """Write to ``endpoint`` from now on."""
        self.endpoint = endpoint

    def unbind(self) -> None:
        """The endpoint is going away: stop writing, drop the queue (the guest never took it)."""
        endpoint, self.endpoint = self.endpoint, None
        wfd = endpoint.write_fileno() if endpoint is not None else None
        if self._writing and wfd is not None:
            asyncio.get_running_loop().remove_writer(wfd)
        self._writing = False
        self._queue.clear()

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the guest (written now if nothing waits); InputBacklogFull, EndpointClosed."""
        endpoint = self.endpoint
        if endpoint is None:
            raise EndpointClosed("console is not connected")
        if len(self._queue) + len(data) > MAX_INPUT_BACKLOG:
            raise InputBacklogFull(f"the guest is not reading input ({len(self._queue)} bytes waiting)")
        if not self._queue and not self._writing:
            # Nothing queued ahead of it (a keystroke, usually): straight to
            # the guest, without the backlog's copies.
            try:
                n = endpoint.write(data)
            except EndpointClosed:
                return  # the read side reports the hang-up
            if n:
                self._took(data[:n])
            if n == len(data):
                return
            data = data[n:]
        self._queue += data
        self.write_some()

    def write_some(self) -> None:
        """Write what the guest takes now; watch the write fd while some is left."""
        endpoint = self.endpoint
        if endpoint is None:
            return
        try:
            while self._queue:
                n = endpoint.write(bytes(self._queue[:65536]))
                if n == 0:
                    break
                self._took(self._queue[:n])
                del self._queue[:n]
        except EndpointClosed:
            self._queue.clear()
            return
        wfd = endpoint.write_fileno()
        want = bool(self._queue) and wfd is not None
        if want != self._writing and wfd is not None:
            loop = asyncio.get_running_loop()
            if want:
                loop.add_writer(wfd, self.write_some)
            else:
                loop.remove_writer(wfd)
            self._writing = want

    def _took(self, data: bytes | bytearray) -> None:
        self.written += data
        del self.written[:-INPUT_LOG]
