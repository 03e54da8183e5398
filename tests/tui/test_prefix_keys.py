"""The prefix-key table is the one source of the dispatch, the help screen and the hint line."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from textual.actions import parse
from textual.widgets import Static

from vconsole.client import Client
from vconsole.tui.app import VConsoleApp
from vconsole.tui.main_screen import MainScreen
from vconsole.tui.prefix_keys import (
    DEFAULT_PREFIX,
    PREFIX_ITSELF,
    PREFIX_KEYS,
    prefix_action,
    prefix_hint,
)
from vconsole.tui.screens import HelpScreen


def test_every_action_in_the_table_exists_and_takes_its_arguments() -> None:
    for row in PREFIX_KEYS:
        assert row.actions, row
        for key, action in row.actions:
            namespace, name, params = parse(action)
            owner: type[Any] = VConsoleApp if namespace == "app" else MainScreen
            assert namespace in ("", "app"), action
            method = getattr(owner, f"action_{name}", None)
            assert callable(method), f"{key!r} runs {action!r}, which {owner.__name__} lacks"
            inspect.signature(method).bind(None, *params)  # raises on a wrong argument count


def test_dispatch_comes_from_the_table() -> None:
    keys = [key for row in PREFIX_KEYS for key, _ in row.actions]
    assert len(keys) == len(set(keys)), "a key appears twice in the table"
    assert prefix_action("n", DEFAULT_PREFIX) == "step_tab(1)"
    assert prefix_action("7", DEFAULT_PREFIX) == "tab_number(7)"
    assert prefix_action("colon", DEFAULT_PREFIX) == prefix_action(":", DEFAULT_PREFIX) == "app.command_palette"
    # The prefix pressed again, whatever key it is configured to be.
    assert prefix_action(DEFAULT_PREFIX, DEFAULT_PREFIX) == "send_prefix"
    assert prefix_action("ctrl+a", "ctrl+a") == "send_prefix"
    assert prefix_action("x", DEFAULT_PREFIX) is None
    assert prefix_action(PREFIX_ITSELF, "ctrl+a") == "send_prefix"


def test_hint_lists_every_command_row_but_the_prefix_itself() -> None:
    assert prefix_hint() == "n  1-9  u  a  e  w  l  b  s  r  v  :  ?  q"


async def test_help_screen_lists_every_row() -> None:
    async def unreachable() -> Client:
        await asyncio.Event().wait()  # no broker needed: the keys work before the link is up
        raise AssertionError

    app = VConsoleApp(unreachable)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(DEFAULT_PREFIX, "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one(Static).render())
        for row in PREFIX_KEYS:
            assert f"  {row.shown:<8}{row.help}\n" in text
        await pilot.press("x")
        assert isinstance(app.screen, MainScreen)
