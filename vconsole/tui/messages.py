"""Messages the broker link posts to the app (dataclasses, as in Posting).

Textual's Message initialises itself in ``__post_init__``, which the
dataclass ``__init__`` calls, so these need nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class FleetListed(Message):
    """A fresh ``list`` from the broker."""

    listing: dict[str, Any]


@dataclass
class ConsoleOutput(Message):
    """Bytes for an open console tab."""

    session: str
    offset: int
    data: bytes


@dataclass
class ConsoleMissed(Message):
    """The tab fell behind by more than the history holds."""

    session: str
    count: int


@dataclass
class ConsoleState(Message):
    """An open console changed state (connected, disconnected, stopped, busy)."""

    session: str
    state: str
    reason: str


@dataclass
class BrokerLost(Message):
    """The connection to the broker is gone."""

    reason: str
