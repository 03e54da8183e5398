"""TmuxControl: one persistent control-mode client (``tmux -C``) of a tmux server, for timing panes.

A command is a line on a pipe and its reply, with no process started per
command, so a pane can be read every millisecond without the reading
dominating what is timed. ``refresh-client -f no-output`` keeps the pane
output tmux would copy to a control client off the pipe.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import subprocess
import time
from collections.abc import Callable

POLL = 0.001  # seconds between captures while waiting for a screen
Screen = list[str]
Check = Callable[[Screen], bool]


class TmuxControl:
    """A persistent control-mode client (``tmux -C``) of a tmux server: commands over pipes."""

    def __init__(self, socket_name: str, session: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["tmux", "-L", socket_name, "-C", "attach-session", "-t", session],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self._buf = b""
        # A command sent before the attach is done finds no client: wait for it.
        deadline = time.monotonic() + 10
        while not self._line(deadline).startswith(b"%session-changed "):
            pass
        self.command("refresh-client -f no-output")

    def _line(self, deadline: float) -> bytes:
        while (end := self._buf.find(b"\n")) < 0:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._out], [], [], left)[0]:
                raise TimeoutError("the tmux control client did not answer")
            chunk = os.read(self._out, 1 << 16)
            if not chunk:
                raise ConnectionError("the tmux control client exited")
            self._buf += chunk
        line, self._buf = self._buf[:end], self._buf[end + 1:]
        return line

    def command(self, line: str, timeout: float = 10.0) -> Screen:
        """Run one tmux command; its output lines."""
        os.write(self._in, line.encode() + b"\n")
        deadline = time.monotonic() + timeout
        body: list[bytes] | None = None
        while True:
            got = self._line(deadline)
            if body is None:
                # A block with flags 0 answers a command this client did not send (its own
                # attach); any other line outside a block is a notification.
                if got.startswith(b"%begin ") and not got.endswith(b" 0"):
                    body = []
            elif got.startswith((b"%end ", b"%error ")):
                text = [b.decode(errors="replace") for b in body]
                if got.startswith(b"%error "):
                    raise RuntimeError(f"tmux {line!r}: {' '.join(text)}")
                return text
            else:
                body.append(got)

    def send(self, pane: str, data: bytes) -> None:
        """Bytes typed into ``pane``."""
        self.command(f"send-keys -t {pane} -H {data.hex(' ')}")

    def screen(self, pane: str) -> Screen:
        """The pane's visible text, one string a row."""
        return self.command(f"capture-pane -p -t {pane}")

    def wait(self, pane: str, check: Check, what: str, timeout: float = 20.0) -> Screen:
        """Capture ``pane`` every POLL seconds until ``check`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(pane)
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} never showed; screen:\n" + "\n".join(screen))
            time.sleep(POLL)

    def close(self) -> None:
        """End the control client (the server stays)."""
        with contextlib.suppress(OSError):
            os.close(self._in)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def shows(text: str) -> Check:
    """Some row has ``text`` with only blanks after it: at the row's end, or before a gap.

    The gap allows for an overlay drawn over the right of the screen (a TUI's
    notification) that leaves ``text`` in plain sight.
    """
    pattern = re.compile(re.escape(text) + r"(?:\s*$|\s{3,})")
    return lambda screen: any(pattern.search(row) for row in screen)


def hides(text: str) -> Check:
    """No row shows ``text`` (see ``shows``)."""
    seen = shows(text)
    return lambda screen: not seen(screen)
