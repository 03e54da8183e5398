"""Driving the real ``vconsole`` TUI in a tmux pane like a person, shared by the tmux and SSH tests.

The pane runs a shell; the test types the ``vconsole`` command line into it,
reads the screen with capture-pane and types keys with send-keys. Nothing
here touches the app's internals: what is asserted is what a person sees.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from pathlib import Path

import pytest

from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane

PREFIX = "C-]"


def vconsole_argv() -> list[str]:
    """The installed ``vconsole`` script of this checkout's environment, or ``python -m vconsole``."""
    script = Path(sys.executable).with_name("vconsole")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vconsole"]


def tui_command(lab_host: LabHost) -> str:
    """The shell line that opens the TUI on the lab's broker and reports its exit status."""
    argv = [*vconsole_argv(), "--socket", str(lab_host.paths.socket)]
    return shlex.join(argv) + "; echo TUI-EXIT=$?"


def go_file(lab_host: LabHost) -> Path:
    """Creating this file starts the flood guest's ``yes``."""
    return lab_host.ctl_dir("flood") / "go"


def start_fleet(lab_host: LabHost) -> None:
    """web: a shell; talk: a scripted guest; flood: ``yes`` once the test says go."""
    flood = f"while [ ! -e {shlex.quote(str(go_file(lab_host)))} ]; do sleep 0.05; done; exec yes flooding-the-console"
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 101, "name": "web", "vttys": 1},
        {"id": 102, "name": "talk", "vttys": 1, "init": lab_host.scripted("talk")},
        {"id": 103, "name": "flood", "vttys": 1, "init": ["/bin/sh", "-c", flood]},
    ]))
    lab_host.start_broker()


def wait_tui_ready(pane: TmuxPane) -> None:
    """The guest list is filled and the status line says connected."""
    pane.wait_until(lambda s: "flood 103" in s and "connected" in s, "the guest list", timeout=30)


def tab_bar(screen: str) -> str:
    """The first screen line: the tab labels, right of the guest list."""
    return screen.splitlines()[0] if screen else ""


def active_status(screen: str) -> str:
    """The active tab's status line (third line: tabs, underline, status)."""
    lines = screen.splitlines()
    return lines[2] if len(lines) > 2 else ""


def wait_active(pane: TmuxPane, title: str, timeout: float = 10.0) -> str:
    """Wait until ``title``'s tab is the visible one."""
    return pane.wait_until(lambda s: f"{title} · read-write" in active_status(s), f"tab {title} active", timeout)


def unread_badge(screen: str, title: str) -> str | None:
    """The ``+N`` badge on tab ``title``, if it has one."""
    found = re.search(re.escape(title) + r" \+(\d+(?:\.\d)?[KMGT]?)", tab_bar(screen))
    return found.group(1) if found else None


def prefix(pane: TmuxPane, key: str) -> None:
    """The prefix key, then a command key, as two key presses."""
    pane.type(PREFIX)
    pane.type(key)


def open_console(pane: TmuxPane, guest: str, title: str | None = None, tries_for: float = 5) -> None:
    """Focus the guest list, filter it to ``guest``, press Enter on its console, until its tab
    (``title``, default ``GUEST:vtty0``) is the visible one."""
    title = title or f"{guest}:vtty0"
    prefix(pane, "l")
    # Esc clears an earlier filter. Typed at once, as a fast typist does, Esc and the first
    # letter reach Textual within ESCDELAY and read as Alt+letter, which the list takes the same way.
    pane.type("Escape", guest)
    # The filtered tree puts its cursor on the first console after the next refresh;
    # on a busy machine that can take longer than the pause, so Enter is pressed again
    # (a spare Enter in a shell only prints another prompt).
    for _ in range(3):
        time.sleep(0.5)
        pane.type("Enter")
        deadline = time.monotonic() + tries_for
        while time.monotonic() < deadline:
            if f"{title} · read-write" in active_status(pane.screen()):
                return
            time.sleep(0.1)
    wait_active(pane, title, timeout=5)


def quit_tui(pane: TmuxPane) -> str:
    """Prefix q: the TUI exits 0 and the shell prompt is back on a restored screen."""
    prefix(pane, "q")

    def prompt_back(screen: str) -> bool:
        lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
        return "TUI-EXIT=0" in screen and bool(lines) and lines[-1].endswith(("$", "#"))

    screen = pane.wait_until(prompt_back, "TUI-EXIT=0 and the shell prompt", timeout=15)
    assert "read-write" not in screen and "vconsole ·" not in screen, f"the TUI left its screen behind:\n{screen}"
    return screen


def two_tabs_walkthrough(pane: TmuxPane, lab_host: LabHost, command: str | None = None) -> None:
    """Open two consoles, type, switch, watch unread badges, close a tab, quit.

    ``command`` is the shell line that opens the TUI (by default tui_command).
    """
    pane.type(command or tui_command(lab_host), "Enter")
    wait_tui_ready(pane)

    open_console(pane, "web")
    pane.wait_for("root@web:~#")
    pane.type("echo the answer is $((6*7))", "Enter")
    pane.wait_for("the answer is 42")

    open_console(pane, "talk")
    pane.wait_for("READY")
    bar = tab_bar(pane.screen())
    assert "web:vtty0" in bar and "talk:vtty0" in bar, bar

    # Prefix 1: back to web; the hidden talk tab gains a badge when its guest prints.
    prefix(pane, "1")
    wait_active(pane, "web:vtty0")
    assert unread_badge(pane.screen(), "talk:vtty0") is None
    lab_host.command("talk", 1, "write 300")
    screen = pane.wait_until(lambda s: unread_badge(s, "talk:vtty0") == "300", "the +300 badge on talk")
    assert "1:00000000" not in screen  # the output went to the hidden tab only

    # A command typed in web prints after we switched away: web gets the badge.
    # It waits for a file the test makes once talk is shown (a fixed sleep lost
    # the race when the machine was loaded).
    go = lab_host.base / "web-go"
    pane.type(f"until [ -e {go} ]; do sleep 0.1; done; echo done-$((2*21))-later", "Enter")
    prefix(pane, "2")
    screen = wait_active(pane, "talk:vtty0")
    assert unread_badge(screen, "talk:vtty0") is None, "a visible tab has no unread badge"
    # What talk printed while hidden is on its screen (raw "\n" lines: a staircase).
    pane.wait_for("004:....")
    go.touch()
    pane.wait_until(lambda s: unread_badge(s, "web:vtty0") is not None, "the unread badge on web")

    # Prefix u: the next tab with unread output.
    prefix(pane, "u")
    screen = wait_active(pane, "web:vtty0")
    pane.wait_for("done-42-later")
    assert unread_badge(pane.screen(), "web:vtty0") is None

    # n and p cycle.
    prefix(pane, "n")
    wait_active(pane, "talk:vtty0")
    prefix(pane, "p")
    wait_active(pane, "web:vtty0")

    # w closes the visible tab; the other one takes over.
    prefix(pane, "w")
    screen = wait_active(pane, "talk:vtty0")
    pane.wait_until(lambda s: "web:vtty0" not in tab_bar(s), "the web tab to close")

    quit_tui(pane)


def type_and_time(pane: TmuxPane, marker: int, timeout: float = 10.0) -> float:
    """Seconds from send-keys of ``echo $((marker-1+1))x`` to its output on screen."""
    expected = f"{marker}x"
    began = time.monotonic()
    pane.type(f"echo $(({marker - 1}+1))x", "Enter")
    while True:
        # The typed line shows "$((N-1+1))x", so only the command's output matches.
        if expected in pane.screen():
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            pytest.fail(f"{expected!r} never appeared; screen:\n{pane.screen()}")
        time.sleep(0.01)


def flood_latency(pane: TmuxPane, lab_host: LabHost, label: str, command: str | None = None, bound: float = 2.0) -> None:
    """While a hidden tab floods, a command typed in the visible tab answers within ``bound``."""
    pane.type(command or tui_command(lab_host), "Enter")
    wait_tui_ready(pane)
    open_console(pane, "flood")
    open_console(pane, "web")
    pane.wait_for("root@web:~#")

    idle = [type_and_time(pane, 1000 + i) for i in range(3)]
    pane.type("clear", "Enter")

    go_file(lab_host).touch()
    screen = pane.wait_until(
        lambda s: (b := unread_badge(s, "flood:vtty0")) is not None and b[-1] in "MG",
        "megabytes of unread flood output", timeout=30,
    )
    before = unread_badge(screen, "flood:vtty0")
    busy = [type_and_time(pane, 2000 + i) for i in range(8)]
    pane.type("clear", "Enter")
    screen = pane.wait_until(lambda s: unread_badge(s, "flood:vtty0") != before, "the flood to go on")
    after = unread_badge(screen, "flood:vtty0")
    assert before != after

    print(
        f"\n[{label}] key-to-screen latency, idle: "
        + ", ".join(f"{t * 1000:.0f}" for t in idle)
        + f" ms; while another tab floods (unread {before} -> {after}): "
        + ", ".join(f"{t * 1000:.0f}" for t in busy)
        + f" ms; max {max(busy) * 1000:.0f} ms"
    )
    assert max(busy) < bound, f"keys took {max(busy):.2f}s under flood (bound {bound}s)"
    # The flood tab is still the app's: switching to it shows the flood, and back again works.
    prefix(pane, "1")
    pane.wait_for("flooding-the-console")
    prefix(pane, "2")
    wait_active(pane, "web:vtty0")
    quit_tui(pane)
