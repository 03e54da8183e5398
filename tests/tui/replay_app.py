"""The TUI app on a replay broker (tests/tui/replay_broker.py), and waiting for its first listing."""

from __future__ import annotations

from typing import Any

from vconsole.client import Client
from vconsole.runtime_paths import RuntimePaths
from vconsole.tui.app import VConsoleApp


def make_app(paths: RuntimePaths, theme: str | None = None) -> VConsoleApp:
    """The TUI on the replay broker at ``paths``."""
    return VConsoleApp(lambda: Client.connect(paths, autostart=False), theme=theme)


async def settle(pilot: Any) -> None:
    """Wait for the first listing, then a few frames."""
    # Wait for the listing and a few frames; the replay is immediate.
    for _ in range(100):
        await pilot.pause(0.02)
        if pilot.app.main_screen.listing.get("guests"):
            break
    await pilot.pause(0.2)
