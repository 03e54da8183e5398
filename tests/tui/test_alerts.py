"""Alerts in the TUI, on the replay broker: badges, notices, the events panel, the next-alert key, acknowledging.

The replay broker (tests/tui/replay_broker.py) pushes the events a test
injects and keeps alerts as the real broker does, so each step of the TUI
is checked against the wire as it is; the same story against a real lab
and broker is in test_alerts_lab.py.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, TabbedContent

from tests.tui.pilot_wait import until
from tests.tui.replay_app import make_app, settle
from tests.tui.test_pilot_keys import open_console
from tests.tui.test_tabs import run_from_palette
from vconsole.client import Client
from vconsole.runtime_paths import RuntimePaths
from vconsole.tui.app import VConsoleApp
from vconsole.tui.events_screen import EventsScreen
from vconsole.tui.guest_tree import GuestTree
from vconsole.tui.log_screen import LogScreen
from vconsole.tui.takeover_screen import TakeoverScreen

PREFIX = "ctrl+right_square_bracket"
PANIC = "Kernel panic - not syncing: Fatal exception"
DOMU = "lab:1:pv0"  # alpine-pv, a domU on host "lab"
AT = 300  # the offset the injected panic names: within a line in the middle of the domU's recording


async def inject(paths: RuntimePaths, session: str, **fields: Any) -> None:
    """Tell the replay broker an event happened on ``session``."""
    client = await Client.connect(paths, autostart=False)
    try:
        await client.request("inject_event", session=session, **fields)
    finally:
        await client.close()


def tree_labels(app: VConsoleApp) -> dict[str, str]:
    """Every tree node's label as plain text, by the label's first word (a guest, a console, ``lab``)."""
    tree = app.query_one(GuestTree)
    out: dict[str, str] = {}
    stack = list(tree.root.children)
    while stack:
        node = stack.pop()
        plain = node.label.plain
        data = node.data
        out[data.session if data is not None else plain.split(" ")[0]] = plain
        stack.extend(node.children)
    return out


def notices(app: VConsoleApp) -> list[str]:
    """The notifications showing now: title and text."""
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def two_tabs(app: VConsoleApp, pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await open_console(app, pilot, "lab:101:vtty0")
    await open_console(app, pilot, "lab:102:vtty0")


async def test_a_panic_on_a_hidden_domu_badges_notifies_lists_jumps_and_is_acknowledged(
    replay_paths: RuntimePaths,
) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(110, 32)) as pilot:
        await two_tabs(app, pilot)
        before = len(app._notifications)
        await inject(replay_paths, DOMU, severity="critical", name="panic", text=PANIC, offset=AT)

        # The badge on the console, its guest and its host.
        labels = await until(pilot, lambda: (t := tree_labels(app)) and "PANIC" in t[DOMU] and t, "the PANIC badge")
        assert "PANIC" in labels["alpine-pv"] and "PANIC" in labels["lab"], labels
        assert "PANIC" not in labels["web"] and "PANIC" not in labels["lab:102:vtty0"]
        # A notice names the console and the line.
        told = await until(pilot, lambda: [n for n in notices(app)[before:] if PANIC in n], "the notice")
        assert "alpine-pv:pv0" in told[0] and "panic (critical)" in told[0], told

        # Prefix e lists it; Enter opens the domU's console and acknowledges it.
        await pilot.press(PREFIX, "e")
        panel = await until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen, "the events panel")
        table = panel.query_one(DataTable)
        row = [str(cell) for cell in table.get_row_at(table.cursor_row)]
        assert row[0] == "●" and row[2:6] == ["alpine-pv", "pv0", "critical", "panic"] and row[6] == PANIC, row
        await pilot.press("enter")
        await until(pilot, lambda: app.main_screen.pane(DOMU) is not None, "the domU's tab")
        # The recorded domU never printed the line: the log view opens at the event's offset.
        log = await until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen, "the log view")
        await until(pilot, lambda: log.view.marked is not None, "the log view to mark a line")
        marked = log.window.lines[log.view.marked]
        assert marked.offset <= AT < marked.end, (marked.offset, marked.end)
        await until(pilot, lambda: "PANIC" not in "".join(tree_labels(app).values()), "the badges to clear")


async def test_no_notice_for_the_visible_console_and_prefix_a_opens_the_next_alert(replay_paths: RuntimePaths) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(110, 32)) as pilot:
        await two_tabs(app, pilot)
        before = len(app._notifications)
        await inject(replay_paths, "lab:102:vtty0", severity="error", name="oops", text="Oops: 0002 [#1] SMP")
        await until(pilot, lambda: "oops" in tree_labels(app)["lab:102:vtty0"], "the oops badge")
        await pilot.pause(0.2)
        assert not [n for n in notices(app)[before:] if "Oops" in n], "the console on screen needs no notice"

        await inject(replay_paths, "lab:101:vtty2", severity="warning", name="oom", text="Out of memory: Killed process 7")
        await until(pilot, lambda: "oom" in tree_labels(app)["lab:101:vtty2"], "the oom badge")
        assert "oom" in tree_labels(app)["web"]
        # The host shows the worst of its guests: the error, not the warning.
        assert "oops" in tree_labels(app)["lab"] and "oom" not in tree_labels(app)["lab"]
        await pilot.press(PREFIX, "a")
        await until(pilot, lambda: app.main_screen.pane("lab:101:vtty2") is not None, "the next alert's tab")
        active = app.main_screen.active_pane()
        assert active is not None and active.session == "lab:101:vtty2"
        # Round: from there the next alert is db's.
        await pilot.press(PREFIX, "a")
        await until(pilot, lambda: (p := app.main_screen.active_pane()) and p.session == "lab:102:vtty0",
                    "back to db's tab")


async def test_acknowledging_in_the_panel_and_jumping_into_the_tab_history(replay_paths: RuntimePaths) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(110, 32)) as pilot:
        await two_tabs(app, pilot)
        line = "BIOS-provided physical RAM map:"  # a line of web:vtty0's recorded boot log
        await inject(replay_paths, "lab:101:vtty0", severity="warning", name="firmware", text=line, offset=10)
        await inject(replay_paths, "lab:101:vtty1", severity="info", name="login", text="web login:")
        await until(pilot, lambda: "firmware" in tree_labels(app)["lab:101:vtty0"], "the badge")
        await pilot.press(PREFIX, "e")
        panel = await until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen, "the events panel")
        table = panel.query_one(DataTable)
        assert table.row_count == 1, "info events are not listed by default"
        await pilot.press("S")
        await until(pilot, lambda: table.row_count == 2, "the info event listed too")
        await pilot.press("up", "a")  # the firmware warning
        await until(pilot, lambda: "firmware" not in tree_labels(app)["lab:101:vtty0"], "the badge to clear")
        assert str(table.get_row_at(0)[0]) == "", "the row is no longer marked unacknowledged"
        await pilot.press("enter")
        pane = await until(pilot, lambda: (p := app.main_screen.active_pane()) and p.session == "lab:101:vtty0" and p,
                           "web's tab")
        # The tab holds the line: its view is scrolled to it, no log view.
        await until(pilot, lambda: line in "\n".join(
            pane.view.render_line(y).text for y in range(pane.view.size.height)), "the line in view")
        assert not isinstance(app.screen, LogScreen)
        assert pane.view.scroll_back > 0, "the line was in the scrollback, above the screen"


async def test_opening_a_busy_console_asks_to_take_it_over(replay_paths: RuntimePaths) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        tree = app.query_one(GuestTree)
        tree.focus()
        tree.move_cursor(tree._console_nodes["lab:102:vtty3"])
        await pilot.pause(0.05)
        await pilot.press("enter")
        dialog = await until(pilot, lambda: isinstance(app.screen, TakeoverScreen) and app.screen, "the question")
        assert "take over?" in dialog.question.plain
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TakeoverScreen), "the question to close")
        assert app.main_screen.pane("lab:102:vtty3") is None, "Escape opens nothing"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TakeoverScreen), "the question again")
        await pilot.press("n")
        pane = await until(pilot, lambda: app.main_screen.pane("lab:102:vtty3"), "the waiting tab")
        await until(pilot, lambda: "busy" in str(pane.status.render()), "the tab says busy")


async def test_the_palette_acknowledges_a_console(replay_paths: RuntimePaths) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        await inject(replay_paths, "lab:102:vtty1", severity="error", name="oops", text="Oops: 0002 [#1] SMP")
        await until(pilot, lambda: "oops" in tree_labels(app)["lab:102:vtty1"], "the oops badge")
        await run_from_palette(app, pilot, "Acknowledge db:vtty1")
        await until(pilot, lambda: "oops" not in "".join(tree_labels(app).values()), "the badge to clear")
        assert any("1 event acknowledged" in n for n in notices(app))


async def test_a_tab_taken_over_by_another_client_turns_read_only_and_says_so(replay_paths: RuntimePaths) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(110, 32)) as pilot:
        await two_tabs(app, pilot)
        pane = app.main_screen.pane("lab:101:vtty0")
        assert pane is not None and not pane.read_only
        client = await Client.connect(replay_paths, autostart=False)
        try:
            await client.request("demote", session="lab:101:vtty0", by="uid 0 pid 4242")
        finally:
            await client.close()
        await until(pilot, lambda: pane.read_only and pane.link.read_only, "the tab to turn read-only")
        assert any("took this console over (uid 0 pid 4242)" in n for n in notices(app))
        assert "READ-ONLY" in str(pane.status.render())
        tabs = app.query_one(TabbedContent)
        assert "web:vtty0 (ro)" in str(tabs.get_tab(pane).label)
