"""PtyEndpoint: a console reached through a pty master fd."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
from collections.abc import Callable

from vconsole.console.endpoint import ConsoleEndpoint, EndpointClosed, SourceFacts
from vconsole.snapshot.model import NotCaptured, SourceFact, Termios

READ_CHUNK = 256 * 1024
TIOCGPTPEER = getattr(termios, "TIOCGPTPEER", 0x5441)


class PtyEndpoint(ConsoleEndpoint):
    """A pty master: a vtty master from the kernel (or the lab), a Xen pty.

    ``on_close`` releases whatever else holds the console for us, such as the
    lab lease socket that makes a second opener get EBUSY.
    """

    level_triggered = True
    drain_before_snapshot = True

    def __init__(
        self,
        master_fd: int,
        *,
        initial: bytes = b"",
        lost: int = 0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        os.set_blocking(master_fd, False)
        self.fd = master_fd
        self.initial = initial
        self.lost = lost
        self._on_close = on_close
        self._closed = False

    def fileno(self) -> int:
        return self.fd

    def write_fileno(self) -> int | None:
        return self.fd

    def read(self) -> bytes:
        try:
            data = os.read(self.fd, READ_CHUNK)
        except BlockingIOError:
            return b""
        except OSError as exc:
            # EIO: every slave is closed, the guest side has gone.
            raise EndpointClosed(os.strerror(exc.errno or 0)) from None
        if not data:
            raise EndpointClosed("end of file")
        return data

    def write(self, data: bytes) -> int:
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise EndpointClosed(os.strerror(exc.errno or 0)) from None

    def resize(self, cols: int, rows: int) -> None:
        try:
            fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        except OSError:
            pass  # a hung-up pty has no size; the read side reports the hang-up

    def window_size(self) -> tuple[int, int]:
        """(cols, rows) as the guest sees them."""
        rows, cols, _, _ = struct.unpack(
            "HHHH", fcntl.ioctl(self.fd, termios.TIOCGWINSZ, b"\0" * 8)
        )
        return cols, rows

    def pending_output(self) -> int:
        try:
            buf = fcntl.ioctl(self.fd, termios.FIONREAD, b"\0\0\0\0")
        except OSError:
            return 0
        return int(struct.unpack("i", buf)[0])

    def source_facts(self) -> SourceFacts:
        """Unread bytes on both sides of the pty, its termios and window size."""
        unknown: list[NotCaptured] = []
        pending_input = settings = winsize = None
        try:
            pending_input = self.peer_unread()
        except OSError as exc:
            unknown.append(NotCaptured(SourceFact.PENDING_INPUT,
                                       f"the other end of the pty cannot be reached ({exc.strerror})"))
        try:
            settings = read_termios(self.fd)
        except (OSError, termios.error) as exc:
            unknown.append(NotCaptured(SourceFact.TERMIOS, f"cannot be read ({exc.args[-1]})"))
        try:
            winsize = self.window_size()
        except OSError as exc:
            unknown.append(NotCaptured(SourceFact.WINDOW_SIZE, f"cannot be read ({exc.strerror})"))
        return SourceFacts(pending_output=self.pending_output(), pending_input=pending_input,
                           termios=settings, winsize=winsize, unknown=tuple(unknown))

    def peer_unread(self) -> int:
        """Bytes queued for the guest's side (its ``TIOCINQ``), reached with ``TIOCGPTPEER``.

        There is no kernel interface to read them without consuming them
        (TIOCPEEK was never merged). OSError when this fd is not a master.
        """
        peer = fcntl.ioctl(self.fd, TIOCGPTPEER, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            return int(struct.unpack("i", fcntl.ioctl(peer, termios.FIONREAD, b"\0" * 4))[0])
        finally:
            os.close(peer)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.close(self.fd)
        if self._on_close is not None:
            self._on_close()


def read_termios(fd: int) -> Termios:
    """The terminal's ``struct termios`` (``line`` from the raw ``TCGETS``); OSError or termios.error."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
    raw = fcntl.ioctl(fd, termios.TCGETS, b"\0" * 64)
    ccb = bytes(c[0] if isinstance(c, bytes) else int(c) & 0xFF for c in cc)
    return Termios(iflag, oflag, cflag, lflag, raw[16], ispeed, ospeed, ccb)
