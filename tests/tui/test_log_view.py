"""Issue 15 in the TUI: a tab scrolls back into the console's log, and the log view finds lines, times and boots.

Real lab, real broker (its history capped at 64 KiB, its log on), the real app under a Pilot.
"""

from __future__ import annotations

import asyncio
import math
import re
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.broker.test_history_cap import _console
from tests.lab_host import LabHost
from tests.tui.pilot_wait import until
from tests.tui.test_pilot_keys import open_console
from vconsole.client import Client
from vconsole.domain import Target
from vconsole.tui import log_screen, log_scrollback
from vconsole.tui.app import VConsoleApp
from vconsole.tui.console_pane import ConsolePane
from vconsole.tui.guest_tree import GuestTree
from vconsole.tui.log_lines import ViewLine
from vconsole.tui.log_screen import LogScreen

LINES = 3000
PAD = "." * 50
# At every start, once told (a file "go" appears in the directory it is given), prints LINES
# numbered lines of 64 bytes each (CR LF on the tty), then waits. Told, not at once: the lab
# keeps only 4 KiB of what a guest writes while no broker holds its console.
PRINTER = (
    "import os, sys, time\n"
    "go = os.path.join(sys.argv[1], 'go')\n"
    "while not os.path.exists(go):\n"
    "    time.sleep(0.02)\n"
    "os.unlink(go)\n"
    f"for i in range(1, {LINES} + 1):\n"
    f"    sys.stdout.write('line %05d {PAD}\\n' % i)\n"
    "sys.stdout.write('printed all\\n')\n"
    "sys.stdout.flush()\n"
    "time.sleep(3600)\n"
)
LINE_BYTES = len(f"line 00001 {PAD}\r\n")


@pytest.fixture
async def app_pilot(lab_host: LabHost) -> AsyncIterator[tuple[VConsoleApp, Pilot[Any]]]:
    lab_host.write_config('[broker]\nhistory = "64KiB"\n')
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 101, "name": "printer", "vttys": 1,
         "init": [sys.executable, "-u", "-c", PRINTER, str(lab_host.ctl_dir("printer"))]},
    ]))
    lab_host.start_broker()
    app = VConsoleApp(lambda: Client.connect(lab_host.paths, autostart=False))
    async with app.run_test(size=(110, 32)) as pilot:
        tree = app.query_one(GuestTree)
        await until(pilot, lambda: len(tree._console_nodes) == 1, "the guest tree")
        yield app, pilot


async def console_info(lab_host: LabHost) -> dict[str, Any]:
    client = await lab_host.client()
    try:
        return _console(await client.request("list"), "printer", "vtty0")
    finally:
        await client.close()


async def printed(lab_host: LabHost, boots: int = 1) -> dict[str, Any]:
    """Tell the guest to print once the broker holds its console in boot ``boots``; the console once it did."""
    for _ in range(200):
        info = await console_info(lab_host)
        if info["state"] == "connected" and info.get("boot") == boots:
            break
        await asyncio.sleep(0.05)
    (lab_host.ctl_dir("printer") / "go").touch()
    for _ in range(200):
        info = await console_info(lab_host)
        if info["end"] >= boots * (LINES * LINE_BYTES):
            await asyncio.sleep(0.3)
            return await console_info(lab_host)
        await asyncio.sleep(0.1)
    pytest.fail(f"the guest did not print its lines: {info}")


def view_text(pane: ConsolePane) -> list[str]:
    view = pane.view
    return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


def log_rows(screen: LogScreen) -> list[str]:
    view = screen.view
    return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


def marked(screen: LogScreen) -> ViewLine | None:
    """The line the view marked (a search hit, where a jump landed)."""
    index = screen.view.marked
    return None if index is None else screen.window.lines[index]


def marked_at(screen: LogScreen, offset: int) -> bool:
    line = marked(screen)
    return line is not None and line.offset == offset


def highlighted(screen: LogScreen, text: str) -> bool:
    """Whether ``text`` is on a row in view, drawn in the search hit's style (bold)."""
    view = screen.view
    for y in range(view.size.height):
        strip = view.render_line(y)
        if text in strip.text:
            return any(seg.text == text and seg.style is not None and seg.style.bold for seg in strip)
    return False


async def test_shift_pgup_scrolls_back_past_the_memory_history_into_the_log(
    app_pilot: tuple[VConsoleApp, Pilot[Any]], lab_host: LabHost, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, pilot = app_pilot
    monkeypatch.setattr(log_scrollback, "OLDER_READ", 16 * 1024)  # many reads, each joined to the next
    info = await printed(lab_host)
    memory_start = info["end"] - info["history"]
    assert info["history"] <= 64 * 1024 and memory_start > 100 * LINE_BYTES, info
    pane = await open_console(app, pilot, "lab:101:vtty0")
    await until(pilot, lambda: "printed all" in "\n".join(view_text(pane)), "the newest output")
    # Line 10 is long gone from the broker's memory: only the log has it.
    assert 10 * LINE_BYTES < memory_start
    seen: set[int] = set()
    for _ in range(400):
        await pilot.press("shift+pageup")
        await pilot.pause(0.02)
        rows = view_text(pane)
        seen.update(int(m[1]) for row in rows if (m := re.match(r"line (\d{5}) ", row)))
        if "the console log begins here" in " ".join(rows):
            break
    else:
        pytest.fail(f"never reached the log's start; oldest line seen {min(seen, default=None)}")
    assert {1, 10, 500} <= seen, "scrolling back shows the log's oldest lines"
    assert seen == set(range(1, max(seen) + 1)), "no line is missing between the log and the scrollback"
    assert rows.index(next(r for r in rows if "the console log begins here" in r)) < rows.index(
        next(r for r in rows if r.startswith("line 00001 "))), rows
    # Typing (or Shift+PgDn) goes back to the live screen.
    await pilot.press(*["shift+pagedown"] * 200)
    assert pane.view.scroll_back == 0 and "printed all" in "\n".join(view_text(pane))


async def test_the_log_view_has_times_finds_a_line_and_jumps_to_boots_and_times(
    app_pilot: tuple[VConsoleApp, Pilot[Any]], lab_host: LabHost, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, pilot = app_pilot
    monkeypatch.setattr(log_screen, "READ", 16 * 1024)  # the view holds a part of the log and reads on
    await printed(lab_host)
    between = math.ceil(time.time()) + 1  # a whole second after the first boot's lines, before the second's
    await asyncio.sleep(between - time.time() + 0.2)
    client = await lab_host.client()
    try:
        await client.stop(Target("printer"))
        await client.start(Target("printer"))
    finally:
        await client.close()
    await printed(lab_host, boots=2)
    await open_console(app, pilot, "lab:101:vtty0")
    await pilot.press("ctrl+right_square_bracket", "v")
    screen = await until(pilot, lambda: app.screen if isinstance(app.screen, LogScreen) else None, "the log view")
    assert isinstance(screen, LogScreen)
    await until(pilot, lambda: screen.window.lines, "the log's lines")
    assert not screen.window.at_top, "the view reads a part of the log, newest first"
    rows = log_rows(screen)
    assert all(re.match(r"\d\d:\d\d:\d\d ", row) for row in rows if row), rows
    assert rows[-1].endswith("printed all"), rows  # opens at the newest line

    # At the top of what it holds, the view reads older lines and keeps showing the same ones.
    first, start = screen.window.lines[0], screen.window.start
    await pilot.press("home")
    await until(pilot, lambda: screen.window.start < start, "older lines read at the top")
    await until(pilot, lambda: log_rows(screen)[0].endswith(first.text), "the same line at the top")
    await pilot.press("up")
    before = screen.window.lines[screen.window.lines.index(first) - 1]
    await until(pilot, lambda: log_rows(screen)[0].endswith(before.text), "the line before it")

    # Escape closes a prompt, not the view; a time it cannot read is a one-line message.
    await pilot.press("slash", "x", "escape")
    assert isinstance(app.screen, LogScreen) and screen.prompt is None
    await pilot.press("t", *"soon", "enter")
    assert screen.status_text.startswith("bad time 'soon'"), screen.status_text

    # Search older lines: the found line is in view and marked, the text highlighted.
    await pilot.press("slash", *"line 00042 ", "enter")
    hit = await until(pilot, lambda: (line := marked(screen)) and "line 00042 " in line.text and line, "the search hit")
    assert hit.boot == 2, "the newest boot's line 42 comes first"
    assert highlighted(screen, "line 00042 ")
    await pilot.press("n")
    hit = await until(pilot, lambda: (line := marked(screen)) and line.boot == 1 and line, "the first boot's hit")
    assert "line 00042 " in hit.text and highlighted(screen, "line 00042 ")

    # b goes to the start of the current line's boot or the one before, B to the next boot's start, round.
    boots = screen.window.boots
    assert [b.number for b in boots] == [1, 2], boots
    await pilot.press("B")
    await until(pilot, lambda: marked_at(screen, boots[1].start), "the second boot's first line")
    await pilot.press("b")
    await until(pilot, lambda: marked_at(screen, max(boots[0].start, screen.window.log_start)),
                "the first boot's first line")
    await pilot.press("b")
    await until(pilot, lambda: marked_at(screen, boots[1].start), "the second boot's first line again")
    await pilot.press("g")
    await until(pilot, lambda: marked_at(screen, screen.window.log_start)
                and log_rows(screen)[0].endswith("line 00001 " + PAD), "the log's start")

    # t jumps to a time: the first line that came at or after it (the second boot's first).
    await pilot.press("t", *time.strftime("%H:%M:%S", time.localtime(between)), "enter")
    hit = await until(pilot, lambda: marked_at(screen, boots[1].start) and marked(screen), "the line at the time")
    assert hit.time >= between
    await pilot.press("G")
    await until(pilot, lambda: log_rows(screen)[-1].endswith("printed all"), "the newest line again")
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(app.screen, LogScreen), "the log view to close")
