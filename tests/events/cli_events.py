"""What the events tests share: running ``vconsole events`` and reading its JSON lines."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import vconsole_cmd
from tests.lab_host import LabHost
from vconsole.console_events import ConsoleEvent

FOREVER = "sleep 1000"


def events_json(lab_host: LabHost, *args: str) -> list[ConsoleEvent]:
    """``vconsole events --json ARGS``: its events (it must succeed and say nothing on stderr)."""
    done = lab_host.cli("events", "--json", *args)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return [ConsoleEvent.from_wire(json.loads(line)) for line in done.stdout.splitlines()]


def watch_hits(lab_host: LabHost, *args: str) -> list[ConsoleEvent]:
    """The watch events (built-in and user) among ``events_json``."""
    return [e for e in events_json(lab_host, *args) if e.kind.value == "watch"]


def raw_log(lab_host: LabHost, target: str) -> bytes:
    """``vconsole log TARGET --raw``: the console's bytes, exactly (no newline translation)."""
    done = subprocess.run(
        vconsole_cmd("log", target, "--raw", "--socket", str(lab_host.paths.socket)),
        capture_output=True, stdin=subprocess.DEVNULL, timeout=30, check=True,
    )
    return done.stdout


def listed_console(lab_host: LabHost, guest: str, index: int = 0) -> dict[str, Any]:
    """One console of ``ls --json``."""
    listing = json.loads(lab_host.cli("ls", "--json").stdout)
    (found,) = [g for g in listing["guests"] if g["name"] == guest]
    console: dict[str, Any] = found["consoles"][index]
    return console


def gated_init(lab_host: LabHost, name: str, script: str) -> tuple[str, Any]:
    """A shell command that runs ``script`` once the test creates the gate file (returned)."""
    gate = lab_host.ctl_dir(name) / "go"
    return f"while [ ! -e {gate} ]; do sleep 0.05; done; {script}; {FOREVER}", gate


def events_process(lab_host: LabHost, *args: str) -> subprocess.Popen[str]:
    """``vconsole events ARGS`` running in the background, its stdout a pipe."""
    return subprocess.Popen(
        vconsole_cmd("events", *args, "--socket", str(lab_host.paths.socket)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )


class LineReader:
    """The lines a background process writes, read on a thread so a test can wait with a timeout."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float = 20.0) -> str:
        """The next line (AssertionError if none comes in time or the stream ended)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout}s") from None
        assert line is not None, "the stream ended"
        return line

    def until(self, check: Callable[[str], bool], timeout: float = 20.0) -> list[str]:
        """Lines up to and including the first that ``check`` accepts."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            seen.append(self.next(max(0.01, deadline - time.monotonic())))
            if check(seen[-1]):
                return seen
