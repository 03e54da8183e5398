"""A Xen event channel modelled as one end of a Unix socket pair.

A real event channel is a single pending bit: notifying sets it, notifying
again while it is set changes nothing, and the receiver clears it before
looking at the shared ring.  Here each end of a ``socket.socketpair()`` is one
side of the channel; a notification is one byte, and the byte count carries
no meaning - only "something is pending" does.  The ends are plain fds, so the
lab can hand one to the broker with SCM_RIGHTS and the asyncio loop can watch
it with ``add_reader``.
"""

from __future__ import annotations

import socket
from types import TracebackType

__all__ = ["EventChannel"]

_DRAIN_CHUNK = 4096


class EventChannel:
    """One end of an event channel.

    ``notify()`` never blocks: the socket is non-blocking and a full socket
    buffer just means the peer already has a notification pending, exactly
    like an event channel's pending bit being set already.
    """

    def __init__(self, sock: socket.socket | int) -> None:
        """Wrap a connected socket, or take ownership of a raw fd of one.

        A raw fd is what arrives with ``socket.recv_fds``; the object owns it
        from then on and ``close()`` closes it.
        """
        if isinstance(sock, int):
            sock = socket.socket(fileno=sock)
        sock.setblocking(False)
        self._sock = sock
        self._peer_closed = False

    @classmethod
    def pair(cls) -> tuple[EventChannel, EventChannel]:
        """Both ends of a new channel (e.g. guest end, backend end)."""
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return cls(a), cls(b)

    def fileno(self) -> int:
        """The fd to watch for readability (pending notifications)."""
        return self._sock.fileno()

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called on this end."""
        return self._sock.fileno() < 0

    @property
    def peer_closed(self) -> bool:
        """True once ``notify()`` or ``consume()`` found the other end gone.

        An fd whose peer has closed stays readable forever, so a caller using
        ``add_reader`` should remove the reader when this becomes true.
        """
        return self._peer_closed

    def notify(self) -> bool:
        """Signal the other end; never blocks.

        Returns True if a notification is now pending at the peer (sent now,
        or already pending because its buffer is full), False if the peer has
        gone away.
        """
        try:
            self._sock.send(b"\x01", socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
        except BlockingIOError:
            return True  # buffer full: the peer has plenty pending already
        except (BrokenPipeError, ConnectionResetError):
            self._peer_closed = True
            return False
        return True

    def consume(self) -> bool:
        """Drain all pending notifications; return whether there were any.

        Call this before examining the ring, as a guest clears the pending bit
        first, so a notification that arrives meanwhile is not lost.
        """
        got = False
        while True:
            try:
                chunk = self._sock.recv(_DRAIN_CHUNK, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return got
            except ConnectionResetError:
                self._peer_closed = True
                return got
            if not chunk:  # EOF: nothing more can ever arrive
                self._peer_closed = True
                return got
            got = True

    def close(self) -> None:
        """Close this end; the peer sees EOF.  Idempotent."""
        self._sock.close()

    def __enter__(self) -> EventChannel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<EventChannel fd={self._sock.fileno()} peer_closed={self._peer_closed}>"
