"""Pilot tests of the TUI against a real lab and broker: every key path and badge change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from tests.lab_host import LabHost
from tests.tui.pilot_wait import until
from vconsole.client import Client
from vconsole.tui.app import VConsoleApp
from vconsole.tui.console_pane import ConsolePane
from vconsole.tui.guest_tree import GuestTree
from vconsole.tui.main_screen import MainScreen
from vconsole.tui.screens import HelpScreen
from vconsole.tui.snapshot_screens import RestoreScreen


def fleet(lab_host: LabHost) -> Path:
    echo = [*lab_host.scripted("keys"), "--hexecho"]
    return lab_host.write_fleet([
        {"id": 101, "name": "keys", "vttys": 1, "init": echo},
        {"id": 102, "name": "talk", "vttys": 2, "init": lab_host.scripted("talk")},
        {"id": 103, "name": "off", "vttys": 1, "autostart": False},
    ])


@pytest.fixture
async def app_pilot(lab_host: LabHost) -> AsyncIterator[tuple[VConsoleApp, Pilot[Any]]]:
    lab_host.start_lab(fleet(lab_host))
    lab_host.start_broker()
    app = VConsoleApp(lambda: Client.connect(lab_host.paths, autostart=False))
    async with app.run_test(size=(110, 32)) as pilot:
        tree = app.query_one(GuestTree)
        await until(pilot, lambda: len(tree._console_nodes) == 4, "the guest tree")
        yield app, pilot


def screen_of(app: VConsoleApp) -> str:
    pane = app.main_screen.active_pane()
    assert pane is not None
    return "\n".join(pane.view.term.screen_text())


async def open_console(app: VConsoleApp, pilot: Pilot[Any], session: str) -> ConsolePane:
    tree = app.query_one(GuestTree)
    tree.focus()
    tree.move_cursor(tree._console_nodes[session])
    await pilot.pause(0.05)
    await pilot.press("enter")
    pane = await until(pilot, lambda: app.main_screen.pane(session), f"a tab for {session}")
    await until(pilot, lambda: any(pane.view.term.screen_text()), "replayed output")
    return pane  # type: ignore[no-any-return]


async def test_every_key_reaches_the_guest_except_the_prefix(app_pilot: tuple[VConsoleApp, Pilot[Any]]) -> None:
    app, pilot = app_pilot
    pane = await open_console(app, pilot, "lab:101:vtty0")
    assert pane.view.has_focus
    keys = {
        "ctrl+c": "03", "ctrl+q": "11", "ctrl+p": "10", "ctrl+z": "1a", "escape": "1b",
        "f1": "1b4f50", "f12": "1b5b32347e", "tab": "09", "up": "1b5b41", "a": "61",
    }
    for key, hex_bytes in keys.items():
        await pilot.press(key)
        await until(pilot, lambda h=hex_bytes: f"in:{h}" in screen_of(app), f"{key} to arrive as {hex_bytes}")
    # The prefix twice sends one prefix byte; the app did not act on it.
    await pilot.press("ctrl+right_square_bracket", "ctrl+right_square_bracket")
    await until(pilot, lambda: "in:1d" in screen_of(app), "the prefix byte")
    assert len(app.screen_stack) == 1 and app.is_running


async def test_prefix_commands_switch_close_focus_help_palette_quit(app_pilot: tuple[VConsoleApp, Pilot[Any]]) -> None:
    app, pilot = app_pilot
    tabs = app.query_one(TabbedContent)
    first = await open_console(app, pilot, "lab:101:vtty0")
    second = await open_console(app, pilot, "lab:102:vtty0")
    assert tabs.active == second.id
    await pilot.press("ctrl+right_square_bracket", "p")
    assert tabs.active == first.id
    await pilot.press("ctrl+right_square_bracket", "n")
    assert tabs.active == second.id
    await pilot.press("ctrl+right_square_bracket", "1")
    assert tabs.active == first.id and first.view.has_focus
    await pilot.press("ctrl+right_square_bracket", "2")
    assert tabs.active == second.id
    # The command key never reaches the guest, even when both arrive together.
    assert "in:6e" not in "\n".join(first.view.term.screen_text())

    await pilot.press("ctrl+right_square_bracket", "l")
    assert app.query_one(GuestTree).has_focus
    await pilot.press("ctrl+right_square_bracket", "w")
    await until(pilot, lambda: app.main_screen.pane("lab:102:vtty0") is None, "the tab to close")
    assert [p.session for p in app.main_screen.panes()] == ["lab:101:vtty0"]

    await pilot.press("ctrl+right_square_bracket", "question_mark")
    await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
    await pilot.press("x")
    await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")

    await pilot.press("ctrl+right_square_bracket", "colon")
    await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "the command palette")
    await pilot.press("escape")
    await until(pilot, lambda: len(app.screen_stack) == 1, "the palette to close")

    await pilot.press("ctrl+right_square_bracket", "q")
    await until(pilot, lambda: not app.is_running, "the app to quit")


async def test_badges_and_unread_tab_labels_follow_the_guests(app_pilot: tuple[VConsoleApp, Pilot[Any]], lab_host: LabHost) -> None:
    app, pilot = app_pilot
    tree = app.query_one(GuestTree)
    tabs = app.query_one(TabbedContent)

    def label(session: str) -> str:
        return str(tree._console_nodes[session].label)

    # A console nobody has open shows its unread bytes in the sidebar.
    lab_host.command("talk", 1, "write 3066")  # plus READY\n: 3 KiB exactly
    await until(pilot, lambda: "+3.0K" in label("lab:102:vtty0"), "an unread badge")
    talk = await open_console(app, pilot, "lab:102:vtty0")
    await until(pilot, lambda: "+" not in label("lab:102:vtty0"), "the badge to clear once open")
    assert "1c" in label("lab:102:vtty0")
    keys = await open_console(app, pilot, "lab:101:vtty0")
    assert tabs.active == keys.id
    # A hidden tab counts what arrives while it is hidden.
    lab_host.command("talk", 2, "write 500")
    await until(pilot, lambda: talk.unread == 500, "unread bytes on the hidden tab")
    assert str(tabs.get_tab(talk.id or "").label).endswith("+500")
    await pilot.press("ctrl+right_square_bracket", "u")
    await until(pilot, lambda: tabs.active == talk.id, "prefix u to jump to the unread tab")
    assert talk.unread == 0 and str(tabs.get_tab(talk.id or "").label) == talk.title

    # State badges follow start and stop.
    assert "■" in label("lab:103:vtty0")
    await asyncio.to_thread(lab_host.cli, "start", "off")
    await until(pilot, lambda: "●" in label("lab:103:vtty0"), "the started guest's badge")
    await asyncio.to_thread(lab_host.cli, "stop", "talk")
    await until(pilot, lambda: "■" in label("lab:102:vtty0"), "the stopped guest's badge")
    await until(pilot, lambda: talk.state == "stopped", "the open tab to say stopped")
    assert "Start guest" in str(talk.status.render())


async def test_read_only_tab_is_marked_and_sends_nothing(app_pilot: tuple[VConsoleApp, Pilot[Any]]) -> None:
    app, pilot = app_pilot
    tree = app.query_one(GuestTree)
    ref = tree._console_nodes["lab:101:vtty0"].data
    assert ref is not None
    await app.main_screen.open_console(ref, read_only=True)
    pane = await until(pilot, lambda: app.main_screen.pane("lab:101:vtty0"), "the spy tab")
    assert pane.read_only and "(ro)" in str(app.query_one(TabbedContent).get_tab(pane.id or "").label)
    assert "READ-ONLY" in str(pane.status.render())
    await until(pilot, lambda: "READY" in screen_of(app), "replay")
    await pilot.press("a", "b", "enter")
    await pilot.pause(0.5)
    assert "in:" not in screen_of(app)


async def test_typing_filters_the_guest_list(app_pilot: tuple[VConsoleApp, Pilot[Any]]) -> None:
    app, pilot = app_pilot
    tree = app.query_one(GuestTree)
    tree.focus()
    await pilot.press("t", "a", "l")
    await until(pilot, lambda: set(tree._console_nodes) == {"lab:102:vtty0", "lab:102:vtty1"}, "the filter")
    await pilot.press("escape")
    await until(pilot, lambda: len(tree._console_nodes) == 4, "the filter to clear")


async def test_restore_is_a_modal_screen_that_esc_cancels(app_pilot: tuple[VConsoleApp, Pilot[Any]]) -> None:
    app, pilot = app_pilot
    # Without a tab there is nothing to restore into: no dialog.
    await pilot.press("ctrl+right_square_bracket", "r")
    await pilot.pause(0.2)
    assert isinstance(app.screen, MainScreen)
    pane = await open_console(app, pilot, "lab:101:vtty0")
    await pilot.press("ctrl+right_square_bracket", "r")
    await until(pilot, lambda: isinstance(app.screen, RestoreScreen), "the restore dialog")
    # While it is open, keys are the dialog's: Esc closes it and never reaches the guest.
    await pilot.press("escape")
    await until(pilot, lambda: app.screen is app.main_screen, "the dialog to close")
    await pilot.press("z")
    await until(pilot, lambda: "in:7a" in screen_of(app), "the next key to reach the guest")
    assert "in:1b" not in "\n".join(pane.view.term.screen_text())
