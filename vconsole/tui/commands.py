"""VConsoleCommands: what the command palette (prefix then :) offers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from vconsole.client import RequestFailed
from vconsole.display_text import printable
from vconsole.domain import GuestState, Target
from vconsole.tui.guest_tree import console_refs
from vconsole.wire import Op

if TYPE_CHECKING:
    from vconsole.tui.app import VConsoleApp
    from vconsole.tui.main_screen import MainScreen


class VConsoleCommands(Provider):
    """Open or spy on any console, start and stop guests, switch themes.

    A command of the main screen: ``self.screen`` is the screen the palette
    was opened from.
    """

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app = cast("VConsoleApp", self.app)
        main = cast("MainScreen", self.screen)
        out: list[tuple[str, Callable[[], Any], str]] = []
        # With many hosts, each one's listing and consoles are named ``host/guest``.
        listings = app.hosts.listings() if app.hosts is not None else {"": main.listing}
        for ref in (r for origin, listing in listings.items() for r in console_refs(listing, origin)):
            name = escape(printable(ref.title))  # the palette reads titles as markup
            open_tab = main.pane(ref.key)
            out.append((f"Open {name}", partial(main.open_console, ref), f"attach to {name} ({ref.state})"))
            spy_help = "watch without typing"
            if open_tab is not None and not open_tab.read_only:
                spy_help = "open read-write in a tab: close that tab first"
            out.append((f"Spy on {name} (read-only)", partial(main.open_console, ref, True), spy_help))
            if ref.alert is not None:
                count = f"{ref.alert.count} event{'' if ref.alert.count == 1 else 's'}"
                out.append((f"Acknowledge {name}", partial(main.alerts.acknowledge_console, ref),
                            escape(printable(f"{ref.alert.name}: {count}; clears its badge"))))
        for origin, listing in listings.items():
            for guest in listing.get("guests", []):
                op = Op.STOP if guest["state"] == GuestState.RUNNING else Op.START
                target = Target(str(guest["id"]), str(guest["provider"]))
                name = f"{origin}/" * bool(origin) + str(guest["name"])
                out.append(
                    (f"{op.title()} guest {escape(printable(name))}", partial(self._guest_op, op, target, origin),
                     escape(printable(f"{guest['kind']} {guest['id']}")))
                )
        for theme in sorted(app.themes):
            out.append((f"Theme: {theme}", partial(app.switch_theme, theme), "switch colours"))
        active = main.active_pane()
        if active is not None:
            out.append(("Close tab", partial(main.close_pane, active), "the session stays in the broker"))
        out.append(("Help", main.action_help, "every key"))
        out.append(("Quit", app.action_quit, "leave; the broker keeps the consoles"))
        return out

    async def _guest_op(self, op: Op, guest: Target, origin: str) -> None:
        app = cast("VConsoleApp", self.app)
        link = app.link_of(origin)
        if link is None:
            return
        try:
            await link.guest_op(op, guest)
        except RequestFailed as exc:
            app.notify(printable(exc.message, 1024), title=f"{op} failed", severity="error", markup=False)
        except ConnectionError as exc:
            app.notify(str(exc), title=f"{op} failed", severity="error", markup=False)
        else:
            app.notify(f"{op} {printable(str(guest))}: done", markup=False)
            await link.refresh()

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
