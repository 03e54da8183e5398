"""Letting a Textual app under a pilot run until something holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot


async def until(pilot: Pilot[Any], check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Let the app run until ``check()`` is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await pilot.pause(0.05)
