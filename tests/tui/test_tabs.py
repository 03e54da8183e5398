"""Tabs opened from the command palette, spy (read-only) tabs, and what they tell the person."""

from __future__ import annotations

from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import TabbedContent
from textual.widgets._tabs import Underline
from textual.widgets.tabbed_content import ContentTabs

from tests.tui.pilot_wait import until
from tests.tui.replay_app import make_app, settle
from tests.tui.screen_text import screen_lines
from vconsole.runtime_paths import RuntimePaths
from vconsole.tui import main_screen
from vconsole.tui.app import VConsoleApp
from vconsole.tui.console_pane import ConsolePane
from vconsole.tui.prefix_keys import DEFAULT_PREFIX

NOTICE = "keys are not sent"


def shown(app: VConsoleApp) -> str:
    return "\n".join(screen_lines(app))


def palette_choice(app: VConsoleApp) -> str:
    """The command Enter would run in the open palette ("" while it has none yet)."""
    lists = app.screen.query(CommandList)
    if not lists or not lists.first().option_count:
        return ""
    options = lists.first()
    prompt = options.get_option_at_index(options.highlighted or 0).prompt
    return str(getattr(prompt, "plain", prompt)).split("\n")[0]  # the title, without its help line


async def run_from_palette(app: VConsoleApp, pilot: Pilot[Any], command: str) -> None:
    """Prefix :, type the command, Enter once the palette offers it first."""
    await pilot.press(DEFAULT_PREFIX, "colon")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
    await pilot.press(*command)
    await until(pilot, lambda: palette_choice(app) == command, f"the palette to offer {command!r}")
    while len(app.screen_stack) > 1:  # the first Enter only highlights when nothing is highlighted
        await pilot.press("enter")
        await pilot.pause(0.05)


def active_title(app: VConsoleApp) -> str:
    pane = app.query_one(TabbedContent).active_pane
    return pane.title if isinstance(pane, ConsolePane) else ""


def underline_span(app: VConsoleApp) -> tuple[int, int]:
    underline = app.query_one(ContentTabs).query_one(Underline)
    return underline.highlight_start, underline.highlight_end


def active_tab_span(app: VConsoleApp) -> tuple[int, int]:
    tab = app.query_one(ContentTabs).active_tab
    assert tab is not None
    return tab.virtual_region.shrink(tab.styles.gutter).column_span


async def test_the_underline_follows_tabs_opened_from_the_palette(
    replay_paths: RuntimePaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(replay_paths)
    # The palette holds screen updates back for 50 ms while its command starts (App.delay_update);
    # whether a new tab is measured inside that window depends on the machine's load. A longer
    # window makes the case certain on any machine.
    real_delay = app.delay_update
    monkeypatch.setattr(app, "delay_update", lambda delay=0.05: real_delay(0.5))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for name in ("web:vtty0", "web:vtty1", "db:vtty0"):
            await run_from_palette(app, pilot, f"Open {name}")
            await until(pilot, lambda n=name: active_title(app) == n, f"{name}'s tab")
            await pilot.pause(1.2)  # the widened window and any slide of the underline are over
            assert active_tab_span(app)[1] > active_tab_span(app)[0]
            assert underline_span(app) == active_tab_span(app), f"the underline is not under {name}'s tab"


async def test_typing_in_a_spy_tab_says_keys_are_not_sent(
    replay_paths: RuntimePaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_screen, "READ_ONLY_NOTICE", 1.0)  # the notice's life, short for the test
    app = make_app(replay_paths)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await run_from_palette(app, pilot, "Spy on web:vtty0 (read-only)")
        pane = await until(pilot, lambda: app.main_screen.pane("lab:101:vtty0"), "the spy tab")
        assert pane.read_only and pane.view.has_focus
        assert NOTICE not in shown(app)
        await pilot.press("a")
        await until(pilot, lambda: NOTICE in shown(app), "a notice that keys are not sent")
        await pilot.press("b", "c", "enter", "ctrl+c")
        await pilot.pause(0.1)
        assert shown(app).count(NOTICE) == 1, "one notice, not one per key"
        await until(pilot, lambda: NOTICE not in shown(app), "the notice to go")
        # Scrolling back is the terminal's own key, not input: no notice for it.
        await pilot.press("shift+pageup")
        await pilot.pause(0.2)
        assert NOTICE not in shown(app)
        await pilot.press("x")
        await until(pilot, lambda: NOTICE in shown(app), "the notice again after a pause")


async def test_a_read_write_tab_gets_no_read_only_notice(replay_paths: RuntimePaths) -> None:
    app = make_app(replay_paths)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await run_from_palette(app, pilot, "Open web:vtty0")
        await until(pilot, lambda: app.main_screen.pane("lab:101:vtty0"), "the tab")
        await pilot.press("a", "b")
        await pilot.pause(0.3)
        assert NOTICE not in shown(app)


def record_notices(app: VConsoleApp, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every notice the app gives from now on (the pilot may outwait a toast's life on screen)."""
    said: list[str] = []
    real = app.notify

    def notify(message: str, *args: Any, **kwargs: Any) -> None:
        said.append(message)
        real(message, *args, **kwargs)

    monkeypatch.setattr(app, "notify", notify)
    return said


async def test_spy_never_silently_replaces_a_read_write_tab(
    replay_paths: RuntimePaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(replay_paths)
    said = record_notices(app, monkeypatch)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await run_from_palette(app, pilot, "Open web:vtty0")
        pane = await until(pilot, lambda: app.main_screen.pane("lab:101:vtty0"), "the read-write tab")
        await run_from_palette(app, pilot, "Open db:vtty0")
        await until(pilot, lambda: active_title(app) == "db:vtty0", "a second tab")

        await run_from_palette(app, pilot, "Spy on web:vtty0 (read-only)")
        await until(pilot, lambda: "to spy on it instead" in shown(app), "a notice refusing the spy tab")
        assert app.main_screen.pane("lab:101:vtty0") is pane and not pane.read_only, "the read-write tab was replaced"
        assert active_title(app) == "web:vtty0" and pane.view.has_focus, "the refusal did not show the open tab"
        assert len(app.main_screen.panes()) == 2

        # The other way, a spy tab opened read-write becomes read-write, and says so.
        await run_from_palette(app, pilot, "Spy on web:vtty1 (read-only)")
        spy = await until(pilot, lambda: app.main_screen.pane("lab:101:vtty1"), "the spy tab")
        assert spy.read_only
        await run_from_palette(app, pilot, "Open web:vtty1")
        rw = await until(pilot, lambda: app.main_screen.pane("lab:101:vtty1"), "the read-write tab")
        assert not rw.read_only
        assert any("web:vtty1" in notice and "now read-write" in notice for notice in said), said
