"""TmuxControl: one persistent control-mode client (``tmux -C``) of a tmux server, for timing panes.

A command is a line on a pipe and its reply, with no process started per
command, so a pane can be read every millisecond without the reading
dominating what is timed. ``refresh-client -f no-output`` keeps the pane
output tmux would copy to a control client off the pipe; ``watch_output``
turns it on for the panes of the client's session, and ``wait_echo`` then
times an echo by the ``%output`` notification that carries it: tmux parses
what a pane's program wrote into the pane's screen in the same step that
queues the ``%output``, so the line's arrival is the moment the screen shows
it, give or take one tmux loop and one pipe wake-up (tens of µs).
A Typist types letters at a shell prompt in a pane and times their echo.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

POLL = 0.001  # seconds between captures while waiting for a screen
Screen = list[str]
Check = Callable[[Screen], bool]
LINE_KEYS = 20  # letters a Typist types on a line before Ctrl-U clears it
LETTERS = "abcdefghijklmnopqrstuvwxyz"
SILENCE = 0.05  # seconds without output from a pane before wait_echo looks at its screen anyway
# What a terminal does not draw as text: CSI, OSC/DCS strings, other escapes, C0 controls.
_NOT_TEXT = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[]P_^][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]|[\x00-\x1f]")
_OCTAL = re.compile(rb"\\([0-7]{3})")


@dataclass(frozen=True)
class Output:
    """One ``%output`` notification: what a pane's program wrote, and when the line was read."""

    pane: str  # "%N"
    data: bytes  # unescaped
    at: float  # time.perf_counter() when the read that completed the line returned

    def text(self) -> str:
        """The printable text in ``data``, escapes and controls removed."""
        return _NOT_TEXT.sub(b"", self.data).decode(errors="replace")


@dataclass(frozen=True)
class Echo:
    """When an echo showed, and how that was found."""

    at: float  # time.perf_counter()
    by_output: bool  # timed by its %output (else by a capture after SILENCE: SILENCE-coarse)
    retries: int  # %output lines with the character whose capture did not show the echo yet


class TmuxControl:
    """A persistent control-mode client (``tmux -C``) of a tmux server: commands over pipes."""

    def __init__(self, socket_name: str, session: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["tmux", "-L", socket_name, "-C", "attach-session", "-t", session],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self._buf = b""
        self._lines: deque[tuple[float, bytes]] = deque()  # complete lines read, with their read time
        self.outputs: deque[Output] = deque()  # %output read and not yet taken by wait_echo
        self._watching = False
        # A command sent before the attach is done finds no client: wait for it.
        deadline = time.monotonic() + 10
        while not self._line(deadline).startswith(b"%session-changed "):
            pass
        self.command("refresh-client -f no-output")

    def _read(self, timeout: float) -> bool:
        """Read what the client wrote within ``timeout`` seconds; whether anything came."""
        if not select.select([self._out], [], [], max(timeout, 0))[0]:
            return False
        chunk = os.read(self._out, 1 << 16)
        at = time.perf_counter()
        if not chunk:
            raise ConnectionError("the tmux control client exited")
        *lines, self._buf = (self._buf + chunk).split(b"\n")
        self._lines.extend((at, line) for line in lines)
        return True

    def _line(self, deadline: float) -> bytes:
        """The next line that is not pane output (which is kept in ``outputs`` while watched)."""
        while True:
            while not self._lines:
                if not self._read(deadline - time.monotonic()):
                    raise TimeoutError("the tmux control client did not answer")
            at, line = self._lines.popleft()
            if not self._keep_output(at, line):
                return line

    def _keep_output(self, at: float, line: bytes) -> bool:
        """Whether ``line`` is pane output (kept in ``outputs`` while watched)."""
        if not line.startswith(b"%output "):
            return False
        if self._watching:
            _, _, rest = line.partition(b" ")
            pane, _, data = rest.partition(b" ")
            self.outputs.append(Output(pane.decode(), _OCTAL.sub(lambda m: bytes([int(m[1], 8)]), data), at))
        return True

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

    def watch_output(self, on: bool) -> None:
        """Have tmux copy the output of the session's panes to this client (or stop it)."""
        self.command("refresh-client -f " + ("!no-output" if on else "no-output"))
        self._watching = on
        self.outputs.clear()

    def drain(self) -> None:
        """Forget pane output read or waiting on the pipe (what came before a key is sent)."""
        while self._read(0):
            pass
        self._lines = deque(item for item in self._lines if not item[1].startswith(b"%output "))
        self.outputs.clear()

    def _next_output(self, pane: str, deadline: float) -> Output | None:
        """The next %output of ``pane``, or None if none comes by ``deadline`` (monotonic)."""
        while True:
            while self.outputs:
                out = self.outputs.popleft()
                if out.pane == pane:
                    return out
            if self._lines:
                # No command is in flight: a line is pane output or a notification to pass over.
                at, line = self._lines.popleft()
                self._keep_output(at, line)
            elif not self._read(deadline - time.monotonic()):
                return None

    def wait_echo(self, pane: str, char: str, check: Check, what: str, timeout: float = 20.0) -> Echo:
        """When ``pane`` first drew output holding ``char`` after which ``check`` holds on its screen.

        Needs ``watch_output(True)`` and a ``drain()`` before the key is sent. Each
        %output of ``pane`` whose text holds ``char`` is confirmed with one capture
        (output holding the letter elsewhere is passed over); if the pane is silent
        for SILENCE seconds its screen is captured anyway, so a missed %output costs
        precision (``by_output`` False), not the sample.
        """
        deadline = time.monotonic() + timeout
        retries = 0
        while True:
            out = self._next_output(pane, min(deadline, time.monotonic() + SILENCE))
            if out is None:
                screen = self.screen(pane)
                if check(screen):
                    return Echo(time.perf_counter(), False, retries)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{what} never showed; screen:\n" + "\n".join(screen))
            elif char in out.text():
                if check(self.screen(pane)):
                    return Echo(out.at, True, retries)
                retries += 1

    def poll_echo(self, pane: str, char: str, check: Check, what: str, timeout: float = 20.0) -> float:
        """Seconds from the %output ``wait_echo`` would time to a capture that shows the echo.

        Captures back to back (no sleep) until ``check`` holds, meanwhile keeping the
        pane output; the result checks ``wait_echo``'s timing: it should never be
        negative (the screen showing an echo before its %output came), and is about
        a capture round trip (what a poll adds at the least).
        """
        deadline = time.monotonic() + timeout
        while not check(screen := self.screen(pane)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} never showed; screen:\n" + "\n".join(screen))
        shown = time.perf_counter()
        while self._read(0):  # output that came with the capture's reply
            pass
        while self._lines:
            self._keep_output(*self._lines.popleft())
        first = next((o.at for o in self.outputs if o.pane == pane and char in o.text()), None)
        if first is None:
            raise RuntimeError(f"{what} showed without a %output holding {char!r}")
        return shown - first

    def send(self, pane: str, data: bytes) -> None:
        """Bytes typed into ``pane``."""
        self.command(f"send-keys -t {pane} -H {data.hex(' ')}")

    def screen(self, pane: str) -> Screen:
        """The pane's visible text, one string a row."""
        return self.command(f"capture-pane -p -t {pane}")

    def wait(self, pane: str, check: Check, what: str, timeout: float = 20.0) -> Screen:
        """Capture ``pane`` every POLL seconds until ``check`` holds (resolution: POLL + a capture)."""
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


@dataclass
class Typist:
    """Letters typed at one pane's shell prompt, LINE_KEYS to a line, then Ctrl-U."""

    tmux: TmuxControl
    pane: str
    prompt_end: str  # how the prompt ends, right before the typed letters
    line: int = 0
    typed: str = ""
    keys: int = 0  # letters timed
    by_capture: int = 0  # echoes timed by a capture after SILENCE (no %output holding the letter)
    retries: int = 0  # %output lines holding the letter whose capture did not yet show the echo

    def _type(self) -> tuple[str, float]:
        """Send the next letter: it, and the time just before the send."""
        # Each line starts at another letter, so no earlier line on screen can match.
        char = (LETTERS[self.line % 26:] + LETTERS)[len(self.typed)]
        self.typed += char
        self.tmux.drain()
        began = time.perf_counter()
        self.tmux.send(self.pane, char.encode())
        return char, began

    def key(self) -> float:
        """Type the next letter: seconds from sending it until its %output showed it on screen."""
        char, began = self._type()
        echo = self.tmux.wait_echo(self.pane, char, shows(self.prompt_end + self.typed),
                                   f"the echo of {self.typed!r}")
        self.keys += 1
        self.by_capture += not echo.by_output
        self.retries += echo.retries
        if len(self.typed) == LINE_KEYS:
            self.clear()
        return echo.at - began

    def check_key(self) -> float:
        """Type the next letter; seconds from its %output to a back-to-back capture that shows it."""
        char, _ = self._type()
        lag = self.tmux.poll_echo(self.pane, char, shows(self.prompt_end + self.typed), f"the echo of {self.typed!r}")
        if len(self.typed) == LINE_KEYS:
            self.clear()
        return lag

    def clear(self) -> None:
        """Ctrl-U: a fresh line for the next letter."""
        if self.typed:
            self.tmux.send(self.pane, b"\x15")
            self.tmux.wait(self.pane, hides(self.prompt_end + self.typed), "the line to clear")
            self.line, self.typed = self.line + 1, ""


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
