"""PtyEndpoint: a console reached through a pty master fd."""

from __future__ import annotations

import fcntl
import os
import struct
import termios
from collections.abc import Callable

from vconsole.console.endpoint import ConsoleEndpoint, EndpointClosed

READ_CHUNK = 256 * 1024


class PtyEndpoint(ConsoleEndpoint):
    """A pty master: a vtty master from the kernel (or the lab), a Xen pty.

    ``on_close`` releases whatever else holds the console for us, such as the
    lab lease socket that makes a second opener get EBUSY.
    """

    level_triggered = True

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

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.close(self.fd)
        if self._on_close is not None:
            self._on_close()
