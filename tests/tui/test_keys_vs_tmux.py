"""Every key typed into the TUI reaches the guest as it reaches a program in a plain tmux pane.

One tmux window holds two panes with ``synchronize-panes`` on: the left one
runs ``key_dump.py`` (the reference), the right one the vconsole TUI with a
lab console open whose guest is ``key_dump.py`` too. A tmux client attached
on a pty the test owns is given each key as the raw bytes an xterm sends for
it, so tmux parses it and re-encodes it for each pane, as for a person at an
xterm. A marker follows each key; what each dump read between markers is
compared. A difference that is the TUI's on purpose is listed in KNOWN with
its reason and the bytes the TUI sends.

The same key set also goes through the TUI's input parser and key encoder
alone, without tmux: each key must come out as the bytes xterm sent.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from textual import events

from tests.lab_host import REPO, LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import open_console, tui_command
from vconsole.term import Modes
from vconsole.term.keys import encode_key
from vconsole.tui.key_parser import AltKeyParser

KEY_DUMP = REPO / "tests" / "tui" / "key_dump.py"
MARKER = b"{{k}}"
PREFIX = b"\x1d"  # Ctrl-], the TUI's prefix key
LOST = b"<the TUI ate the marker>"
COLS, ROWS = 200, 40


@dataclass(frozen=True)
class XtermKey:
    """A key as a person presses it, and the bytes xterm sends for it."""

    name: str
    data: bytes
    app_cursor: bool = False  # pressed while the guest has application cursor keys (DECCKM)


# xterm's modifier parameter (CSI 1;m X): 1 + shift 1 + alt 2 + ctrl 4.
MODIFIERS = {2: "shift", 3: "alt", 4: "alt+shift", 5: "ctrl", 6: "ctrl+shift", 7: "ctrl+alt", 8: "ctrl+alt+shift"}
# Bytes several keys send (xterm without modifyOtherKeys): every name is listed.
_BYTE_NAMES = {
    0x00: "ctrl+space / ctrl+@ / ctrl+2", 0x08: "ctrl+h / ctrl+backspace", 0x09: "tab / ctrl+i / ctrl+tab",
    0x0D: "enter / ctrl+m / shift+enter / ctrl+enter", 0x1B: "escape / ctrl+[ / ctrl+3",
    0x1C: "ctrl+\\ / ctrl+4", 0x1D: "ctrl+] / ctrl+5", 0x1E: "ctrl+^ / ctrl+6",
    0x1F: "ctrl+_ / ctrl+7 / ctrl+/", 0x20: "space / shift+space", 0x30: "0 / ctrl+0", 0x31: "1 / ctrl+1",
    0x39: "9 / ctrl+9", 0x7F: "backspace / shift+backspace / ctrl+8",
}


def _byte_name(byte: int) -> str:
    if byte in _BYTE_NAMES:
        return _BYTE_NAMES[byte]
    if byte < 0x20:
        return f"ctrl+{chr(byte + 0x60)} / ctrl+shift+{chr(byte + 0x60)}"
    char = chr(byte)
    return f"shift+{char.lower()}" if char.isupper() else char


def _alt(name: str) -> str:
    return " / ".join(f"alt+{part}" for part in name.split(" / "))


def xterm_keys() -> list[XtermKey]:
    """The whole key set: every ASCII key with ctrl/alt/shift, editing, cursor and function keys."""
    keys = [XtermKey(_byte_name(b), bytes([b])) for b in range(0x80)]
    keys += [XtermKey(_alt(_byte_name(b)), bytes([0x1B, b])) for b in range(0x80)]
    keys += [XtermKey("shift+tab", b"\x1b[Z"), XtermKey("\u00e9", "\u00e9".encode()),
             XtermKey("alt+\u00e9", "\x1b\u00e9".encode()), XtermKey("\u00a3", "\u00a3".encode()),
             XtermKey("\u00ba", "\u00ba".encode()), XtermKey("\u20ac", "\u20ac".encode())]
    for app in (False, True):
        for final, name in zip("ABCDHF", ("up", "down", "right", "left", "home", "end"), strict=True):
            keys.append(XtermKey(name, f"\x1b{'O' if app else '['}{final}".encode(), app))
            keys += [XtermKey(f"{mods}+{name}", f"\x1b[1;{m}{final}".encode(), app) for m, mods in MODIFIERS.items()]
    for number, name in ((2, "insert"), (3, "delete"), (5, "pageup"), (6, "pagedown"), (15, "f5"), (17, "f6"),
                         (18, "f7"), (19, "f8"), (20, "f9"), (21, "f10"), (23, "f11"), (24, "f12")):
        keys.append(XtermKey(name, f"\x1b[{number}~".encode()))
        keys += [XtermKey(f"{mods}+{name}", f"\x1b[{number};{m}~".encode()) for m, mods in MODIFIERS.items()]
    for final, name in zip("PQRS", ("f1", "f2", "f3", "f4"), strict=True):
        keys.append(XtermKey(name, f"\x1bO{final}".encode()))
        keys += [XtermKey(f"{mods}+{name}", f"\x1b[1;{m}{final}".encode()) for m, mods in MODIFIERS.items()]
    return keys


class TuiPane(TmuxPane):
    """The tmux window of the comparison; ``type`` and ``screen`` act on the TUI's pane (0.1)."""

    def type(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "0.1", *keys)

    def screen(self) -> str:
        return self.of(1)

    def of(self, pane: int) -> str:
        """The visible text of pane ``pane``: 0 the reference, 1 the TUI."""
        return self._tmux("capture-pane", "-p", "-t", f"0.{pane}")


@dataclass(frozen=True)
class Known:
    """A documented difference: what the TUI sends instead, and why it cannot do better."""

    tui: bytes
    reason: str


_HOME_END = ("tmux sends Home/End as its own TERM (screen) does, CSI 1~ / CSI 4~, in both cursor modes; "
             "vconsole's guests get TERM=xterm-256color, so the TUI sends what xterm sends")
# By (bytes typed, application cursor mode).
KNOWN: dict[tuple[bytes, bool], Known] = {
    (PREFIX, False): Known(PREFIX, "Ctrl-] is the TUI's prefix: typed twice it sends one, a plain pane gets both"),
    (b"\x1b[5;2~", False): Known(b"", "Shift+PageUp scrolls the TUI's scrollback"),
    (b"\x1b[6;2~", False): Known(b"", "Shift+PageDown scrolls the TUI's scrollback"),
    (b"\x1b[H", False): Known(b"\x1b[H", _HOME_END),
    (b"\x1b[F", False): Known(b"\x1b[F", _HOME_END),
    (b"\x1bOH", True): Known(b"\x1bOH", _HOME_END),
    (b"\x1bOF", True): Known(b"\x1bOF", _HOME_END),
}


class KeyRig:
    """The two panes, the attached client's pty, and the two dump logs."""

    def __init__(self, lab_host: LabHost, env: dict[str, str]) -> None:
        self.ref_log = lab_host.base / "ref.keys"
        self.tui_log = lab_host.base / "tui.keys"
        self.ref_log.touch()
        dump = f"{sys.executable} {KEY_DUMP} {self.ref_log}"
        self.pane = TuiPane(env, cols=COLS, rows=ROWS, command=dump)
        self.client: subprocess.Popen[bytes] | None = None
        self.master = -1
        self.pane._tmux("set-option", "-g", "prefix", "None")
        self.pane._tmux("set-option", "-g", "escape-time", "20")
        self.pane._tmux("set-option", "-g", "assume-paste-time", "0")
        self.pane._tmux("split-window", "-h", tui_command(lab_host))

    def attach(self) -> None:
        """A client on our own pty, sized like the window; its output is read and dropped."""
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = dict(self.pane.env, TERM="xterm-256color")
        self.client = subprocess.Popen(
            ["tmux", "-L", self.pane.name, "-f", "/dev/null", "attach-session", "-t", "0"],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
        )
        os.close(slave)
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + 10
        while "attached" not in self.pane._tmux("list-clients", "-F", "#{session_attached} attached"):
            assert time.monotonic() < deadline, "the tmux client did not attach"
            time.sleep(0.05)
        self.pane._tmux("set-option", "-w", "-t", "0", "synchronize-panes", "on")

    def _drain(self) -> None:
        while True:
            try:
                if not os.read(self.master, 65536):
                    return
            except OSError:
                return

    def logs(self) -> tuple[bytes, bytes]:
        return self.ref_log.read_bytes(), self.tui_log.read_bytes()

    def press(self, key: XtermKey) -> tuple[bytes, bytes]:
        """Type ``key`` then the marker; the bytes each program read for the key.

        The TUI's prefix key is typed twice, as a person does to send it.
        """
        ref, tui = self.logs()
        start = len(ref), len(tui)
        presses = 2 if key.data == PREFIX else 1
        # ESC alone or ESC + one byte: tmux and Textual both wait to see whether more
        # follows, so the next key waits until this one came out on both sides.
        pending = key.data[:1] == b"\x1b" and len(key.data) <= 2
        for press in range(presses):
            if pending or press < presses - 1:
                os.write(self.master, key.data)
                known = KNOWN.get((key.data, key.app_cursor))
                self._settle(start, None if known is None else len(known.tui))
            else:
                os.write(self.master, key.data + MARKER)
        if pending:
            os.write(self.master, MARKER)
        ends = self._markers(start)
        if ends is None:
            # The TUI ate (part of) the marker, as a prefix key does: type it again, for both.
            os.write(self.master, MARKER)
            again = self._markers(self._markers_found(start), timeout=10)
            if again is None:
                pytest.fail(f"the marker after {key.name} never arrived: {self.logs()!r}")
            ref, tui = self.logs()
            return ref[start[0]:ref.find(MARKER, start[0])], LOST
        ref, tui = self.logs()
        return ref[start[0]:ends[0]], tui[start[1]:ends[1]]

    def _markers_found(self, start: tuple[int, int]) -> tuple[int, int]:
        """Where to look for the next marker: after the ones already read."""
        ref, tui = self.logs()
        ref_end, tui_end = ref.find(MARKER, start[0]), tui.find(MARKER, start[1])
        return (ref_end + len(MARKER) if ref_end >= 0 else start[0], tui_end + len(MARKER) if tui_end >= 0 else len(tui))

    def _markers(self, start: tuple[int, int], timeout: float = 3.0) -> tuple[int, int] | None:
        """Positions of the first marker after ``start`` in both logs, once both have one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ref, tui = self.logs()
            ends = ref.find(MARKER, start[0]), tui.find(MARKER, start[1])
            if min(ends) >= 0:
                return ends
            time.sleep(0.005)
        return None

    def _settle(self, start: tuple[int, int], expect: int | None) -> None:
        """Wait until the reference read something and the TUI as much (or ``expect``), or 0.5 s more."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            ref, tui = self.logs()
            got_ref, got_tui = len(ref) - start[0], len(tui) - start[1]
            if got_ref:
                deadline = min(deadline, time.monotonic() + 0.5)
                if got_tui >= (got_ref if expect is None else expect):
                    return
            time.sleep(0.005)

    def application_cursor_keys(self) -> None:
        """Have both dumps set DECCKM; wait until both terminals in front of them show it."""
        os.write(self.master, b"{{app}}")
        self.pane.wait_until(lambda _screen: "MODE-APP" in self.pane.of(0), "MODE-APP in the reference pane")
        self.pane.wait_for("MODE-APP")

    def close(self) -> None:
        if self.client is not None:
            self.client.kill()
            self.client.wait(5)
        if self.master >= 0:
            os.close(self.master)
        self.pane.close()


@pytest.fixture
def rig(lab_host: LabHost) -> Iterator[KeyRig]:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 101, "name": "keys", "vttys": 1, "init": [sys.executable, str(KEY_DUMP), str(lab_host.base / "tui.keys")]},
    ]))
    lab_host.start_broker()
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    rig = KeyRig(lab_host, env)
    try:
        rig.pane.wait_until(lambda s: "keys 101" in s and "connected" in s, "the guest list", timeout=30)
        open_console(rig.pane, "keys")
        rig.pane.wait_for("KEY-DUMP-READY")
        assert "KEY-DUMP-READY" in rig.pane.of(0)
        rig.attach()
        yield rig
    finally:
        rig.close()


def _show(data: bytes) -> str:
    return LOST.decode() if data == LOST else data.hex(" ") or "(nothing)"


@needs_tmux
def test_every_key_reaches_the_guest_as_in_a_plain_tmux_pane(rig: KeyRig) -> None:
    """The whole key set, in normal and application cursor mode, against the reference pane."""
    keys = xterm_keys()
    began = time.monotonic()
    results: list[tuple[XtermKey, bytes, bytes]] = []
    for app in (False, True):
        if app:
            rig.application_cursor_keys()
        results += [(key, *rig.press(key)) for key in keys if key.app_cursor == app]
    took = time.monotonic() - began

    silent = [key.name for key, ref, _tui in results if not ref]
    assert not silent, f"the reference pane got nothing for {silent}: the comparison is broken"
    wrong, stale = [], []
    for key, ref, tui in results:
        known = KNOWN.get((key.data, key.app_cursor))
        if known is None and tui != ref:
            wrong.append(f"{key.name:40} sent {_show(key.data):24} tmux pane {_show(ref):24} TUI {_show(tui)}")
        elif known is not None and tui != known.tui:
            stale.append(f"{key.name:40} KNOWN says TUI {_show(known.tui)}, got {_show(tui)} (tmux pane {_show(ref)})")
    print(f"\n{len(results)} keys in {took:.1f} s; {len(KNOWN)} known differences")
    assert not wrong and not stale, "\n".join(["keys that differ:", *wrong, "KNOWN differences that no longer hold:", *stale])


def test_every_xterm_key_survives_the_parser_and_encoder() -> None:
    """Bytes in, Textual events (AltKeyParser), bytes out: the same bytes, for the whole key set."""
    wrong = []
    for key in xterm_keys():
        parser = AltKeyParser()
        # The end of input stands for the pause after a key: a lone ESC is the Escape key.
        messages = [*parser.feed(key.data.decode()), *parser.feed("")]
        modes = Modes()
        modes.app_cursor = key.app_cursor
        sent = b"".join(encode_key(m.key, modes, m.character) for m in messages if isinstance(m, events.Key))
        if sent != key.data:
            names = [(m.key, m.character) for m in messages if isinstance(m, events.Key)]
            wrong.append(f"{key.name:40} typed {_show(key.data):24} events {names} sent {_show(sent)}")
    assert not wrong, "\n".join(wrong)
