"""The TUI in a plain 80x24 terminal (and smaller): the help fits or scrolls."""

from __future__ import annotations

import asyncio

from tests.tui.screen_text import screen_lines
from vconsole.client import Client
from vconsole.tui.app import VConsoleApp
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
