"""A kernel panic on a lab domU while another tab is active, seen in the TUI: a real lab and broker.

The badge on the domU and on its host, a notification, the events panel
(prefix e) listing it, Enter opening the domU's console at the line, and the
badge gone once that acknowledged it.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.lab_host import LabHost
from tests.tui.pilot_wait import until
from tests.tui.test_alerts import notices, tree_labels
from tests.tui.test_pilot_keys import open_console
from vconsole.client import Client
from vconsole.tui.app import VConsoleApp
from vconsole.tui.events_screen import EventsScreen
from vconsole.tui.guest_tree import GuestTree
from vconsole.tui.log_screen import LogScreen

PREFIX = "ctrl+right_square_bracket"
PANIC_LINE = "Kernel panic - not syncing: Fatal exception"
DOMU = "lab:7:pv0"


def panic_program(go: Path) -> str:
    """A domU that waits for ``go``, then panics as a kernel does: several lines, the first in two writes."""
    return (
        f"while [ ! -e {shlex.quote(str(go))} ]; do sleep 0.05; done; "
        "printf 'CPU: 0 PID: 1 Comm: init Not tainted\\n'; "
        "printf 'Kernel pan'; sleep 0.5; printf 'ic - not syncing: Fatal exception\\n'; "
        "printf 'Kernel Offset: disabled\\n---[ end Kernel panic - not syncing: Fatal exception ]---\\n'; "
        "sleep 1000"
    )


def go_file(lab_host: LabHost) -> Path:
    return lab_host.base / "panic-go"


def start_panic_fleet(lab_host: LabHost) -> None:
    """web: the lab's demo shell; xd: a domU that panics once the test says go."""
    lab_host.start_lab(lab_host.write_fleet(
        [{"id": 101, "name": "web", "vttys": 1}],
        [{"id": 7, "name": "xd", "program": panic_program(go_file(lab_host))}],
    ))
    lab_host.start_broker()


@pytest.fixture
async def app_pilot(lab_host: LabHost) -> AsyncIterator[tuple[VConsoleApp, Pilot[Any]]]:
    start_panic_fleet(lab_host)
    app = VConsoleApp(lambda: Client.connect(lab_host.paths, autostart=False))
    async with app.run_test(size=(110, 32)) as pilot:
        tree = app.query_one(GuestTree)
        await until(pilot, lambda: len(tree._console_nodes) == 2, "the guest tree")
        yield app, pilot


async def test_a_domu_panic_while_another_tab_is_active(
    app_pilot: tuple[VConsoleApp, Pilot[Any]], lab_host: LabHost,
) -> None:
    app, pilot = app_pilot
    await open_console(app, pilot, "lab:101:vtty0")
    before = len(app._notifications)
    go_file(lab_host).touch()

    labels = await until(pilot, lambda: (t := tree_labels(app)) and "PANIC" in t[DOMU] and t, "the PANIC badge",
                         timeout=20)
    assert "PANIC" in labels["xd"] and "PANIC" in labels["testlab"], labels
    assert "PANIC" not in labels["lab:101:vtty0"] and "PANIC" not in labels["web"]
    told = await until(pilot, lambda: [n for n in notices(app)[before:] if PANIC_LINE in n], "the notification")
    assert told[0].startswith("panic (critical): xd:pv0: "), told
    # One panic (its trailer repeats the line), one notice.
    assert len(told) == 1

    await pilot.press(PREFIX, "e")
    panel = await until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen, "the events panel")
    table = panel.query_one(DataTable)
    rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    panics = [r for r in rows if r[5] == "panic"]
    assert len(panics) == 1 and panics[0][0] == "●" and panics[0][2:4] == ["xd", "pv0"], rows
    assert panics[0][6] == PANIC_LINE
    assert rows[-1] == panics[0], "newest last: the cursor starts on it"

    await pilot.press("enter")
    pane = await until(pilot, lambda: (p := app.main_screen.active_pane()) and p.session == DOMU and p,
                       "the domU's tab")
    # The tab's replay holds the line: it is shown there, not in the log view.
    await until(pilot, lambda: PANIC_LINE in "\n".join(
        pane.view.render_line(y).text for y in range(pane.view.size.height)), "the panic line in the tab")
    assert not isinstance(app.screen, LogScreen)
    # Opening it acknowledged it: the broker's state push clears every badge.
    await until(pilot, lambda: "PANIC" not in "".join(tree_labels(app).values()), "the badges to clear")
    # The panel lists it still, no longer marked.
    await pilot.press(PREFIX, "e")
    panel = await until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen, "the panel again")
    table = panel.query_one(DataTable)
    last = [str(c) for c in table.get_row_at(table.row_count - 1)]
    assert last[5] == "panic" and last[0] == "", last


async def test_after_the_broker_restarts_the_tui_follows_its_new_stream(lab_host: LabHost) -> None:
    """A new broker numbers its events from 1 again: the TUI reads it whole and is told of its panic."""
    start_panic_fleet(lab_host)

    async def connect() -> Client:
        return await Client.connect(lab_host.paths, autostart=False)

    app = VConsoleApp(connect, reconnect=connect)
    async with app.run_test(size=(110, 32)) as pilot:
        tree = app.query_one(GuestTree)
        await until(pilot, lambda: len(tree._console_nodes) == 2, "the guest tree")
        await open_console(app, pilot, "lab:101:vtty0")
        link = app.link
        assert link is not None
        await until(pilot, lambda: link.events.following, "the TUI to follow the events")
        old_pid = link.events.broker_pid
        lab_host.kill_broker(signal.SIGKILL)
        lab_host.start_broker()
        await until(pilot, lambda: link.events.broker_pid not in (None, old_pid) and link.events.following,
                    "the TUI to follow the new broker's events", timeout=20)
        before = len(app._notifications)
        go_file(lab_host).touch()
        await until(pilot, lambda: [n for n in notices(app)[before:] if PANIC_LINE in n], "the notification",
                    timeout=20)
        await until(pilot, lambda: "PANIC" in tree_labels(app).get(DOMU, ""), "the PANIC badge")
        assert [e.name for e in link.events.events if e.name == "panic"] == ["panic"]
