"""Fixtures for the console log tests: a real LogStore over files in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.store import LogStore
from vconsole.consolelog.writer import LogLimits


def meta(guest: str = "201", console: str = "vtty0", provider: str = "lab") -> LogMeta:
    """A console's meta as the broker would give it."""
    return LogMeta(provider, guest, f"guest-{guest}", console, 0, "testhost")


def open_store(root: Path, limits: LogLimits | None = None, total_limit: int = 2 << 30) -> LogStore:
    """An opened store over ``root`` with the same limits for every console."""
    fixed = limits or LogLimits()
    store = LogStore(root, total_limit=total_limit, limits_for=lambda m: fixed)
    store.open()
    return store


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Where the log root goes (not created yet)."""
    return tmp_path / "log"


@pytest.fixture
def store(root: Path) -> Iterator[LogStore]:
    """An opened store with default limits, closed after the test."""
    s = open_store(root)
    yield s
    s.close()
