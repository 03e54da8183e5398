"""The TUI in a plain 80x24 terminal (and smaller): the help fits or scrolls, the guest list is narrow and collapses."""

from __future__ import annotations

import asyncio

from tests.tui.pilot_wait import until
from tests.tui.replay_app import make_app, settle
from tests.tui.screen_text import screen_lines
from vconsole.client import Client
from vconsole.runtime_paths import RuntimePaths
from vconsole.tui.app import VConsoleApp
from vconsole.tui.guest_tree import GuestTree
from vconsole.tui.main_screen import MainScreen
from vconsole.tui.prefix_keys import DEFAULT_PREFIX, PREFIX_KEYS
from vconsole.tui.screens import HelpScreen


async def no_broker() -> Client:
    await asyncio.Event().wait()  # the keys work before the link is up
    raise AssertionError


def help_lines() -> list[str]:
    """Lines every help screen must show (whole or by scrolling): each key row, and the last line."""
    return [f"{row.shown:<8}{row.help}" for row in PREFIX_KEYS] + ["+N unread bytes, Nc clients attached."]


async def test_help_fits_80x24() -> None:
    app = VConsoleApp(no_broker)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(DEFAULT_PREFIX, "question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        shown = "\n".join(screen_lines(app))
        missing = [line for line in help_lines() if line not in shown]
        assert not missing, f"cut off at 80x24: {missing}\n{shown}"


async def test_help_scrolls_when_it_does_not_fit() -> None:
    app = VConsoleApp(no_broker)
    async with app.run_test(size=(80, 14)) as pilot:
        await pilot.press(DEFAULT_PREFIX, "question_mark")
        await pilot.pause(0.2)
        seen = "\n".join(screen_lines(app))
        assert "scroll" in seen, "the help does not say it scrolls"
        for _ in range(12):
            await pilot.press("down")
            await pilot.pause(0.02)
            assert isinstance(app.screen, HelpScreen), "a scroll key closed the help"
            seen += "\n".join(screen_lines(app))
        missing = [line for line in help_lines() if line not in seen]
        assert not missing, f"never shown while scrolling down: {missing}"
        await pilot.press("home")
        assert help_lines()[0] in "\n".join(screen_lines(app))
        await pilot.press("x")
        assert isinstance(app.screen, MainScreen)


async def test_guest_list_is_narrow_at_80_columns_and_collapses(replay_paths: RuntimePaths) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        tree = app.query_one(GuestTree)
        assert tree.outer_size.width <= 24, f"the guest list takes {tree.outer_size.width} of 80 columns"
        shown = "\n".join(screen_lines(app))
        for line in ("cache 103 stopped", "vtty3 ✖ +87", "legacy-hvm 2"):
            assert line in shown, f"{line!r} is cut off:\n{shown}"
        await pilot.press("enter")
        pane = await until(pilot, app.main_screen.active_pane, "a tab")
        await until(pilot, lambda: pane.view.term.cols == 80 - tree.outer_size.width, "the console's width")

        await pilot.press(DEFAULT_PREFIX, "b")
        await until(pilot, lambda: pane.view.term.cols == 80, "the console to take the whole width")
        assert not tree.display and pane.view.has_focus
        assert "vtty0 ●" not in "\n".join(screen_lines(app))
        await pilot.press(DEFAULT_PREFIX, "b")
        await until(pilot, lambda: tree.display and pane.view.term.cols == 80 - tree.outer_size.width, "the list back")
        assert pane.view.has_focus, "showing the list took the keys from the console"

        # Collapsed, prefix l brings it back to pick another console.
        await pilot.press(DEFAULT_PREFIX, "b", DEFAULT_PREFIX, "l")
        await until(pilot, lambda: tree.display and tree.has_focus, "prefix l to show and focus the list")
        # Closing the last tab never leaves a collapsed list and nothing else.
        await pilot.press(DEFAULT_PREFIX, "b", DEFAULT_PREFIX, "w")
        await until(pilot, lambda: not app.main_screen.panes() and tree.display and tree.has_focus, "the list")
        # With no tab open there is nothing to collapse the list for: say so.
        await pilot.press(DEFAULT_PREFIX, "b")
        await pilot.pause(0.1)
        assert tree.display
        await until(pilot, lambda: "no console is open" in "\n".join(screen_lines(app)), "a notice saying why")


async def test_guest_list_widens_in_a_wide_terminal(replay_paths: RuntimePaths) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(140, 30)) as pilot:
        await settle(pilot)
        wide = app.query_one(GuestTree).outer_size.width
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: app.query_one(GuestTree).outer_size.width < wide, "the list to narrow")
