"""LinkStatus: what the main screen's bottom line and notices say of its broker links.

With one host: ``connected · lab · prefix …``, and "broker lost" while it is
away. With many: ``2 of 3 hosts connected · prefix …``, a notice naming the
host that was lost (and why) or came back; the host's node in the tree says
its state meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vconsole.display_text import printable
from vconsole.tui.guest_tree import GuestTree
from vconsole.tui.prefix_keys import key_label

if TYPE_CHECKING:
    from vconsole.tui.main_screen import MainScreen


class LinkStatus:
    """The main screen's status line and link notices."""

    def __init__(self, main: MainScreen) -> None:
        self.main = main
        self._tree_due = False  # a redraw of the hosts' tree is queued

    def _show(self, text: str) -> None:
        main = self.main
        main.idle_status = text
        if not main.prefix_pending:
            main.set_status(text)

    def link_up(self) -> None:
        """Connected: the idle status line says so, and which providers the broker serves (or how many hosts answer)."""
        main = self.main
        label = key_label(main.prefix)
        hosts = main.vconsole.hosts
        if hosts is not None:
            self._show(f"{hosts.summary()} · prefix {label} · {label} ? for help")
            return
        serves = f" · {', '.join(main.providers)}" if main.providers else ""
        self._show(f"connected{serves} · prefix {label} · {label} ? for help")

    def host_changed(self, notice: str) -> None:
        """A host's state changed: its node, the status line, and ``notice`` if there is one."""
        if notice:
            self.main.notify(notice, title="host", severity="error", timeout=15, markup=False)
        self.show_hosts()
        self.link_up()

    def show_hosts(self) -> None:
        """The tree of many hosts, from each one's listing and state (plus what open tabs received unseen).

        Queued behind the messages already waiting: hosts answering together
        (a start) rebuild the tree once, not once each, which reads every
        host's listing when it runs.
        """
        if not self._tree_due:
            self._tree_due = True
            self.main.call_later(self._show_hosts_now)

    def _show_hosts_now(self) -> None:
        self._tree_due = False
        main = self.main
        hosts = main.vconsole.hosts
        if hosts is not None:
            tree = main.query_one(GuestTree)
            tree.local_unread = {p.key: p.unread for p in main.panes()}
            tree.update_hosts(hosts.listings(), hosts.statuses())

    def lost(self, reason: str, reconnecting: bool, host: str) -> None:
        """A link is gone: say so until it is back (a prefix key must not bring "connected" back)."""
        main = self.main
        if host:
            main.notify(f"{host}: {printable(reason, 300)}; reconnecting…", title="host lost", severity="error",
                        timeout=10, markup=False)
            self.link_up()
            return
        if reconnecting:
            self._show("broker lost, reconnecting… · keys typed now are not sent")
            main.notify(f"{reason}; reconnecting…", title="broker lost", severity="error", timeout=10, markup=False)
        else:
            self._show(f"disconnected: {reason} · {key_label(main.prefix)} q quits")
            main.notify(reason, title="broker lost", severity="error", timeout=30, markup=False)

    def back(self, host: str) -> None:
        """Connected again: the status line says so; each tab says what it missed as it resumes."""
        self.link_up()
        if host:
            self.main.notify(f"{host}: connected again", title="reconnected", timeout=5, markup=False)
        else:
            self.main.notify("connected to the broker again", title="reconnected", timeout=5)
