"""VConsoleCommands: what the command palette (prefix then :) offers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from vconsole.client import RequestFailed
from vconsole.domain import GuestState
from vconsole.tui.guest_tree import console_refs

if TYPE_CHECKING:
    from vconsole.tui.app import VConsoleApp


class VConsoleCommands(Provider):
    """Open or spy on any console, start and stop guests, switch themes."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app: VConsoleApp = self.app  # type: ignore[assignment]
        out: list[tuple[str, Callable[[], Any], str]] = []
        for ref in console_refs(app.listing):
            name = f"{ref.guest}:{ref.console}"
            out.append((f"Open {name}", partial(app.open_console, ref), f"attach to {name} ({ref.state})"))
            out.append(
                (f"Spy on {name} (read-only)", partial(app.open_console, ref, True), "watch without typing")
            )
        for guest in app.listing.get("guests", []):
            op = "stop" if guest["state"] == GuestState.RUNNING else "start"
            out.append(
                (f"{op.title()} guest {guest['name']}", partial(self._guest_op, op, guest["id"]), f"{guest['kind']} {guest['id']}")
            )
        for theme in sorted(app.themes):
            out.append((f"Theme: {theme}", partial(app.switch_theme, theme), "switch colours"))
        active = app.active_pane()
        if active is not None:
            out.append(("Close tab", partial(app.close_pane, active), "the session stays in the broker"))
        out.append(("Help", app.action_prefix_help, "every key"))
        out.append(("Quit", app.action_quit, "leave; the broker keeps the consoles"))
        return out

    async def _guest_op(self, op: str, guest_id: str) -> None:
        app: VConsoleApp = self.app  # type: ignore[assignment]
        if app.link is None:
            return
        try:
            await app.link.guest_op(op, guest_id)
        except RequestFailed as exc:
            app.notify(exc.message, title=f"{op} failed", severity="error")
        else:
            app.notify(f"{op} {guest_id}: done")
            await app.link.refresh()

    async def discover(self) -> Hits:
        """Everything, before the user types."""
        for title, action, help_text in self._commands():
            yield DiscoveryHit(title, action, help=help_text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        """Fuzzy-match the commands."""
        matcher = self.matcher(query)
        for title, action, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), action, help=help_text)
