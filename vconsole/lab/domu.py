"""LabDomU: a simulated Xen domU (listed now; its PV console ring is separate work)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vconsole.lab.container import GuestStopped
from vconsole.lab.fleet import DomUSpec


class LabDomU:
    """A domU of the lab with PV console 0."""

    kind = "domu"

    def __init__(self, spec: DomUSpec, pages: Path, on_change: Callable[[], None]) -> None:
        self.spec = spec
        self.pages = pages
        self.state = "stopped"
        self._on_change = on_change

    @property
    def id(self) -> str:
        """The domain id."""
        return self.spec.id

    @property
    def name(self) -> str:
        """The domain name."""
        return self.spec.name

    def start(self) -> None:
        """Create the domain."""
        if self.state != "running":
            self.state = "running"
            self._on_change()

    def stop(self) -> None:
        """Destroy the domain."""
        if self.state != "stopped":
            self.state = "stopped"
            self._on_change()

    def open_console(self, index: int, lessee: object) -> tuple[list[int], dict[str, Any]]:
        """Map the console ring (not in this lab yet)."""
        if self.state != "running":
            raise GuestStopped(f"domain {self.name} is not running")
        raise RuntimeError(f"the lab does not serve PV console rings yet (domain {self.name})")

    def release(self, index: int, lessee: object) -> bool:
        """Unmap the console ring."""
        return False

    def reap(self) -> None:
        """Nothing to reap yet."""

    def describe(self) -> dict[str, Any]:
        """The domain as the lab's ``list`` reports it."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "frontend": self.spec.frontend,
            "consoles": [{"type": "pv", "index": 0}],
        }
