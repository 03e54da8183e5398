"""Taking a console over from the TUI, and being taken over, with a real lab and broker.

The holder is a real process outside the broker holding a lab vtty master
(tests/vtty_holder.py, as ``vzctl console`` holds one): opening that busy
console asks ``take over? (ends PID COMMAND)`` and ``y`` ends it and
attaches. A tab another client takes over with ``attach --force`` turns
read-only and says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.lab_host import LabHost
from tests.takeover.test_lab_holders import HOLDER, Holder
from tests.tui.pilot_wait import until
from tests.tui.test_alerts import notices
from tests.tui.test_pilot_keys import open_console, screen_of
from vconsole.client import Client
from vconsole.domain import AttachMode, ConsoleState, parse_target
from vconsole.tui.app import VConsoleApp
from vconsole.tui.guest_tree import GuestTree
from vconsole.tui.takeover_screen import TakeoverScreen

BUSY = "lab:101:vtty1"


@pytest.fixture
async def held_app(lab_host: LabHost) -> AsyncIterator[tuple[VConsoleApp, Pilot[Any], Holder]]:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    holder = Holder(lab_host.paths.lab_socket, "web", 1)
    try:
        lab_host.start_broker()
        app = VConsoleApp(lambda: Client.connect(lab_host.paths, autostart=False))
        async with app.run_test(size=(110, 32)) as pilot:
            tree = app.query_one(GuestTree)
            await until(pilot, lambda: (r := tree.ref(BUSY)) and r.state == ConsoleState.BUSY and r.holder,
                        "the busy console and its holder in the tree", timeout=20)
            yield app, pilot, holder
    finally:
        holder.close()


async def test_opening_a_held_console_offers_to_take_it_over_and_y_does(
    held_app: tuple[VConsoleApp, Pilot[Any], Holder],
) -> None:
    app, pilot, holder = held_app
    tree = app.query_one(GuestTree)
    tree.focus()

    def cursor_on_busy() -> bool:
        # A listing that came meanwhile rebuilds the tree and puts the cursor back a refresh later.
        node = tree._console_nodes[BUSY]
        if tree.cursor_node is not node:
            tree.move_cursor(node)
            return False
        return True

    await until(pilot, cursor_on_busy, "the cursor on the busy console")
    await pilot.pause(0.2)
    await until(pilot, cursor_on_busy, "the cursor still on the busy console")
    await pilot.press("enter")
    dialog = await until(pilot, lambda: isinstance(app.screen, TakeoverScreen) and app.screen, "the question")
    question = dialog.question.plain
    assert f"take over? (ends {holder.pid} " in question and HOLDER.name[:8] in question, question
    await pilot.press("y")
    pane = await until(pilot, lambda: app.main_screen.pane(BUSY), "the tab")
    await until(pilot, lambda: pane.state == ConsoleState.CONNECTED, "the console attached", timeout=20)
    assert holder.gone(10), "the holder still runs"
    await until(pilot, lambda: "root@web:~#" in screen_of(app), "the guest's shell")
    pane.link.send_input(b"echo took-$((6*7))\r")
    await until(pilot, lambda: "took-42" in screen_of(app), "the shell to answer")


async def test_a_tab_taken_over_with_force_turns_read_only(
    held_app: tuple[VConsoleApp, Pilot[Any], Holder], lab_host: LabHost,
) -> None:
    app, pilot, _holder = held_app
    pane = await open_console(app, pilot, "lab:101:vtty0")
    assert not pane.read_only
    taker = await Client.connect(lab_host.paths, autostart=False)
    try:
        await taker.attach(parse_target("web:0"), AttachMode.RW, force=True)
        await until(pilot, lambda: pane.read_only, "the tab to turn read-only")
        await until(pilot, lambda: any("took this console over (uid " in n for n in notices(app)), "the notice")
        assert "READ-ONLY" in str(pane.status.render())
    finally:
        await taker.close()
