"""GuestTree: the sidebar of hosts, guests and consoles with live state badges.

With many vconsole hosts (``--host``, ``[[hosts]]``) each is a top-level
node saying its state (tui/host_links.py), the unread bytes and the worst
alert of its consoles; its guests are under it. With one, the tree is as it
always was: the provider's host, then kinds, guests and consoles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from vconsole.console_events import ConsoleAlert
from vconsole.display_text import printable
from vconsole.domain import ConsoleState, GuestState
from vconsole.tui.alert_badges import alert_of, append_badge, worst
from vconsole.tui.host_links import HostStatus
from vconsole.tui.messages import OpenConsole
from vconsole.units import human

# State badges: a glyph and a theme variable for its colour.
BADGES: dict[str, tuple[str, str]] = {  # keyed by ConsoleState (a str)
    ConsoleState.CONNECTED: ("●", "green"),
    ConsoleState.DISCONNECTED: ("○", "yellow"),
    ConsoleState.STOPPED: ("■", "grey50"),
    ConsoleState.BUSY: ("✖", "red"),
}
KIND_GROUPS = {"container": "Containers", "domu": "Xen domains"}


@dataclass(frozen=True)
class ConsoleRef:
    """A console as the tree knows it."""

    guest: str  # the name clients attach by
    guest_id: str
    provider: str
    console: str  # "vtty0", "pv0"
    session: str
    state: str
    unread: int
    clients: int
    reason: str
    host: str = ""  # the host the provider says the guest runs on
    alert: ConsoleAlert | None = None  # its worst unacknowledged event, if any
    holder: str = ""  # who holds a busy console from outside (``PID COMMAND``), when the broker says
    origin: str = ""  # the vconsole host it was listed by ("" with one host: this machine's broker)

    @property
    def key(self) -> str:
        """What the TUI knows the console by: its session, qualified by its vconsole host (sessions repeat across hosts)."""
        return f"{self.origin}/{self.session}" if self.origin else self.session

    @property
    def title(self) -> str:
        """``guest:console``, or ``host/guest:console`` with many hosts (not yet printable)."""
        name = f"{self.guest}:{self.console}"
        return f"{self.origin}/{name}" if self.origin else name


def shown_unread(ref: ConsoleRef, local_unread: int) -> int:
    """A console's unread bytes: the broker's count, or an open hidden tab's if larger.

    A paused tab is sent nothing, so the broker counts the same bytes the tab
    counts from the ends it hears of: the larger of the two, never their sum.
    """
    return max(ref.unread, local_unread)


def console_label(ref: ConsoleRef, local_unread: int = 0) -> Text:
    """``vtty0 ● +1.2K 2c PANIC``: name, state, unread bytes, clients, alert."""
    glyph, colour = BADGES.get(ref.state, ("?", "white"))
    label = Text(printable(ref.console))  # names come from providers: nothing in them may act
    label.append(f" {glyph}", style=colour)
    unread = shown_unread(ref, local_unread)
    if unread:
        label.append(f" +{human(unread)}", style="bold")
    if ref.clients:
        label.append(f" {ref.clients}c", style="dim")
    return append_badge(label, ref.alert)


def holder_text(console: dict[str, Any]) -> str:
    """``PID COMMAND`` of a busy console's outside holder, as ``list`` reports it ("" when unknown)."""
    holder = console.get("holder")
    if not isinstance(holder, dict) or holder.get("pid") is None:
        return ""
    return f"{holder['pid']} {holder.get('command', '')}".strip()


def console_refs(listing: dict[str, Any], origin: str = "") -> list[ConsoleRef]:
    """Every console of a listing (of vconsole host ``origin``), in order."""
    refs = []
    for guest in listing.get("guests", []):
        for con in guest.get("consoles", []):
            refs.append(
                ConsoleRef(
                    guest=guest["name"], guest_id=guest["id"], provider=guest["provider"],
                    console=con["name"], session=con["session"], state=con["state"],
                    unread=con["unread"], clients=con["clients"], reason=con.get("reason", ""),
                    host=str(guest.get("host", "")), alert=alert_of(con), holder=holder_text(con),
                    origin=origin,
                )
            )
    return refs


@dataclass
class Rollup:
    """A guest or host node, whose badge is the worst alert of the consoles under it."""

    node: TreeNode[ConsoleRef | None]
    label: Text  # without a badge
    key: str  # "guest NAME" or "host HOST (PROVIDER)", as rollup_keys names a console's
    shown: ConsoleAlert | None = None


def rollup_keys(ref: ConsoleRef) -> tuple[str, str]:
    """The guest node and the host node a console's alert counts in."""
    if ref.origin:
        return f"guest {ref.origin}/{ref.guest}", f"vhost {ref.origin}"
    return f"guest {ref.guest}", f"host {host_key_of(ref)}"


def host_key_of(ref: ConsoleRef) -> str:
    """The host node a console is under (with many hosts: its vconsole host's)."""
    return ref.origin or f"{ref.host} ({ref.provider})"


def host_label(name: str, status: HostStatus, unread: int) -> Text:
    """``h1 connected +1.2K``: a vconsole host's node, without its alert badge."""
    label = Text(printable(name, 40), style="bold")
    label.append(f" {status.describe()}", style=status.style)
    if unread:
        label.append(f" +{human(unread)}", style="bold")
    return label


class GuestTree(Tree[ConsoleRef | None]):
    """Host, then Containers / Xen domains, then guests, then consoles.

    Typing filters the tree by guest or console name; Backspace edits the
    filter and Escape clears it. Enter on a console posts OpenConsole.
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__("guests", id=id)
        self.show_root = False
        self.guide_depth = 2  # the narrowest Textual allows: the sidebar is narrow at 80 columns
        self.filter_text = ""
        self.listing: dict[str, Any] = {"guests": []}
        # With many hosts: each one's listing and state, in the order given (empty: one host).
        self.listings: dict[str, dict[str, Any]] = {}
        self.hosts: dict[str, HostStatus] = {}
        self.local_unread: dict[str, int] = {}  # by ConsoleRef.key
        self._console_nodes: dict[str, TreeNode[ConsoleRef | None]] = {}
        self.refs: dict[str, ConsoleRef] = {}  # every listed console (filtered out or not), by ConsoleRef.key
        # Guest and host nodes, by their rollup key, with what their badges show.
        self._rollups: dict[str, Rollup] = {}
        self._shape: tuple[Any, ...] = ()

    @property
    def many_hosts(self) -> bool:
        """Whether the tree shows vconsole hosts (more than this machine's broker)."""
        return bool(self.hosts)

    def update_listing(self, listing: dict[str, Any]) -> None:
        """New data (one host): relabel in place, or rebuild if guests or consoles changed."""
        self.listing = listing
        self._update()

    def update_hosts(self, listings: dict[str, dict[str, Any]], hosts: dict[str, HostStatus]) -> None:
        """New data of many hosts: each one's listing (none while unreachable) and state."""
        self.listings = listings
        self.hosts = hosts
        self._update()

    def _every_ref(self) -> list[ConsoleRef]:
        if not self.many_hosts:
            return console_refs(self.listing)
        return [r for name in self.hosts for r in console_refs(self.listings.get(name, {}), name)]

    def _update(self) -> None:
        every = self._every_ref()
        self.refs = {r.key: r for r in every}
        refs = [r for r in every if self._matches(r)]
        guests = self._guests()
        shape = (tuple(self.hosts), *((r.origin, r.provider, r.guest, r.console, guests[(r.origin, r.guest)]["state"])
                                      for r in refs))
        if shape != self._shape:
            self._rebuild(refs, guests)
            self._shape = shape
            return
        for ref in refs:
            node = self._console_nodes.get(ref.key)
            # Only what changed is relabelled: each relabel repaints a tree line.
            if node is not None and (node.data != ref or ref.key in self.local_unread):
                node.data = ref
                node.set_label(console_label(ref, self.local_unread.get(ref.key, 0)))
        self._relabel_rollups()

    def _guests(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every listed guest, by (vconsole host, name)."""
        if not self.many_hosts:
            return {("", g["name"]): g for g in self.listing.get("guests", [])}
        return {(name, g["name"]): g for name, listing in self.listings.items() for g in listing.get("guests", [])}

    def _relabel_rollups(self) -> None:
        """Each guest and host shows the worst alert of its consoles, shown or filtered out;
        a vconsole host also its state and its consoles' unread bytes."""
        alerts: dict[str, ConsoleAlert] = {}  # rollup key: the worst alert under it
        unread: dict[str, int] = {}  # a vconsole host's rollup key: its consoles' unread bytes
        for ref in self.refs.values():
            if ref.alert is not None:
                for key in rollup_keys(ref):
                    alerts[key] = worst((alerts.get(key), ref.alert)) or ref.alert
            if ref.origin:
                host_key = rollup_keys(ref)[1]
                unread[host_key] = unread.get(host_key, 0) + shown_unread(ref, self.local_unread.get(ref.key, 0))
        for name, status in self.hosts.items():
            rollup = self._rollups.get(f"vhost {name}")
            if rollup is None:
                continue
            label = host_label(name, status, unread.get(rollup.key, 0))
            if label != rollup.label:  # Text compares its words: a new state or count
                rollup.label, rollup.shown = label, alerts.get(rollup.key)
                rollup.node.set_label(append_badge(label.copy(), rollup.shown))
        for rollup in self._rollups.values():
            alert = alerts.get(rollup.key)
            if alert != rollup.shown:
                rollup.shown = alert
                rollup.node.set_label(append_badge(rollup.label.copy(), alert))

    def set_local_unread(self, key: str, count: int) -> None:
        """What an open tab (ConsoleRef.key) got while hidden, added to its console's badge (no listing needed)."""
        self.local_unread[key] = count
        node = self._console_nodes.get(key)
        if node is not None and node.data is not None:
            node.set_label(console_label(node.data, count))
        if self.many_hosts:
            self._relabel_rollups()  # its host's unread

    def _matches(self, ref: ConsoleRef) -> bool:
        needle = self.filter_text.lower()
        return not needle or any(
            needle in s.lower() for s in (ref.guest, ref.guest_id, ref.console, ref.provider, ref.origin)
        )

    def _rebuild(self, refs: list[ConsoleRef], guests: dict[tuple[str, str], Any]) -> None:
        cursor = self.cursor_node.data.key if self.cursor_node and self.cursor_node.data else None
        self.clear()
        self._console_nodes.clear()
        self._rollups.clear()
        hosts: dict[str, TreeNode[ConsoleRef | None]] = {}
        groups: dict[tuple[str, str], TreeNode[ConsoleRef | None]] = {}
        guest_nodes: dict[str, TreeNode[ConsoleRef | None]] = {}
        shown = {r.origin for r in refs}
        for name, status in self.hosts.items():
            # Every host has its node (one unreachable shows why), unless the filter leaves none of its consoles.
            if name in shown or not self.filter_text:
                label = host_label(name, status, 0)
                hosts[name] = self.root.add(label.copy(), expand=True)
                self._rollups[f"vhost {name}"] = Rollup(hosts[name], label, f"vhost {name}")
        for ref in refs:
            guest = guests[(ref.origin, ref.guest)]
            host_key = host_key_of(ref)
            guest_rollup, host_rollup = rollup_keys(ref)
            host = hosts.get(host_key)
            if host is None:
                label = Text(printable(host_key), style="bold")
                host = hosts[host_key] = self.root.add(label.copy(), expand=True)
                self._rollups[host_rollup] = Rollup(host, label, host_rollup)
            group_key = (host_key, guest["kind"])
            group = groups.get(group_key)
            if group is None:
                label = KIND_GROUPS.get(guest["kind"], guest["kind"])
                group = groups[group_key] = host.add(Text(printable(label)), expand=True)
            gnode = guest_nodes.get(guest_rollup)
            if gnode is None:
                text = Text(printable(ref.guest))
                text.append(f" {printable(guest['id'])}", style="dim")
                if guest["state"] != GuestState.RUNNING:
                    text.append(f" {printable(guest['state'])}", style="grey50")
                gnode = guest_nodes[guest_rollup] = group.add(text.copy(), expand=True)
                self._rollups[guest_rollup] = Rollup(gnode, text, guest_rollup)
            node = gnode.add_leaf(console_label(ref, self.local_unread.get(ref.key, 0)), data=ref)
            self._console_nodes[ref.key] = node
        self._relabel_rollups()
        target = self._console_nodes.get(cursor) if cursor else None
        if target is None and self._console_nodes:
            # Start on the first console, so Enter opens something at once.
            target = next(iter(self._console_nodes.values()))
        if target is not None:
            # Node lines exist only after the tree lays out again.
            self.call_after_refresh(self.move_cursor, target)

    def on_tree_node_selected(self, event: Tree.NodeSelected[ConsoleRef | None]) -> None:
        """Enter on a console opens it."""
        event.stop()
        if event.node.data is not None:
            self.post_message(OpenConsole(event.node.data))

    async def on_key(self, event: events.Key) -> None:
        """Type to filter; Backspace edits, Escape clears."""
        printable = bool(event.character and event.character.isprintable() and len(event.character) == 1)
        if printable and event.key.startswith("alt+"):
            # Esc then a key within ESCDELAY reads as Alt+key: what the person meant is
            # "clear the filter, then type this".
            self.filter_text = event.character or ""
        elif printable and event.key != "space":
            self.filter_text += event.character or ""
        elif event.key == "backspace" and self.filter_text:
            self.filter_text = self.filter_text[:-1]
        elif event.key == "escape" and self.filter_text:
            self.filter_text = ""
        else:
            return
        event.stop()
        event.prevent_default()
        self.border_title = f"filter: {self.filter_text}" if self.filter_text else "guests"
        self.update_listing(self.listing)

    def first_unread(self, skip: set[str]) -> ConsoleRef | None:
        """The first console with unread output, not in ``skip`` (ConsoleRef keys)."""
        for ref in self._every_ref():
            if ref.key not in skip and (ref.unread or self.local_unread.get(ref.key)):
                return ref
        return None

    def next_alert(self, after: str | None) -> ConsoleRef | None:
        """The next console with an unacknowledged alert after ``after`` (a ConsoleRef key) in list order, round."""
        refs = list(self.refs.values())
        sessions = [r.key for r in refs]
        start = sessions.index(after) + 1 if after in sessions else 0
        for ref in refs[start:] + refs[:start]:
            if ref.alert is not None:
                return ref
        return None

    def ref(self, key: str) -> ConsoleRef | None:
        """The listed console of ``key`` (ConsoleRef.key), if it is listed."""
        return self.refs.get(key)
