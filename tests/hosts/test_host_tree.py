"""The guest tree over many vconsole hosts, in a Pilot app: host nodes, their state, rollups, filtering."""

from __future__ import annotations

import copy
import json
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets.tree import TreeNode

from tests.lab_host import REPO
from vconsole.ssh_transport import HostState
from vconsole.tui.guest_tree import ConsoleRef, GuestTree
from vconsole.tui.host_links import HostStatus

LISTING: dict[str, Any] = json.loads((REPO / "tests" / "fixtures" / "tui" / "listing.json").read_text())


class TreeApp(App[None]):
    """Just the tree."""

    def compose(self) -> ComposeResult:
        yield GuestTree(id="guests")


def listing_of(*names: str) -> dict[str, Any]:
    """The fixture's listing with only the guests ``names``, every console's unread 0."""
    out = copy.deepcopy(LISTING)
    out["guests"] = [g for g in out["guests"] if g["name"] in names]
    for guest in out["guests"]:
        for con in guest["consoles"]:
            con["unread"] = 0
    return out


def top(tree: GuestTree) -> list[str]:
    """The top-level nodes' labels."""
    return [n.label.plain for n in tree.root.children]


def leaves(node: TreeNode[ConsoleRef | None]) -> list[ConsoleRef]:
    """Every console under ``node``."""
    out = [node.data] if node.data is not None else []
    for child in node.children:
        out += leaves(child)
    return out


async def test_host_nodes_say_their_state_and_hold_their_guests() -> None:
    async with TreeApp().run_test() as pilot:
        tree = pilot.app.query_one(GuestTree)
        h1, h2 = listing_of("web", "db"), listing_of("web", "cache")
        tree.update_hosts({"h1": h1, "h2": h2}, {
            "h1": HostStatus(HostState.CONNECTED), "h2": HostStatus(HostState.CONNECTED),
            "h3": HostStatus(HostState.UNREACHABLE, "Connection refused"),
            "h4": HostStatus(HostState.VERSION_MISMATCH, "vconsole 9.9.9 there speaks protocol 99"),
            "h5": HostStatus(),
        })
        await pilot.pause()
        assert top(tree) == ["h1 connected", "h2 connected", "h3 unreachable: Connection refused",
                             "h4 version mismatch: vconsole 9.9.9 there speaks protocol 99", "h5 connecting…"]
        h1_node, h2_node = tree.root.children[:2]
        assert {(r.origin, r.guest) for r in leaves(h1_node)} == {("h1", "web"), ("h1", "db")}
        assert {(r.origin, r.guest) for r in leaves(h2_node)} == {("h2", "web"), ("h2", "cache")}
        # web is on both: two consoles of one session id, told apart by their host.
        web = [r for r in tree.refs.values() if r.session == "lab:101:vtty0"]
        assert sorted(r.key for r in web) == ["h1/lab:101:vtty0", "h2/lab:101:vtty0"]
        assert sorted(r.title for r in web) == ["h1/web:vtty0", "h2/web:vtty0"]


async def test_host_nodes_roll_up_unread_bytes_and_the_worst_alert() -> None:
    async with TreeApp().run_test() as pilot:
        tree = pilot.app.query_one(GuestTree)
        h1, h2 = listing_of("web"), listing_of("web")
        h1["guests"][0]["consoles"][0]["unread"] = 100
        h1["guests"][0]["consoles"][1]["unread"] = 20
        h2["guests"][0]["consoles"][1]["alert"] = {"severity": "warning", "name": "oom", "count": 1, "seq": 4}
        h2["guests"][0]["consoles"][2]["alert"] = {"severity": "critical", "name": "panic", "count": 2, "seq": 9}
        statuses = {"h1": HostStatus(HostState.CONNECTED), "h2": HostStatus(HostState.CONNECTED)}
        tree.update_hosts({"h1": h1, "h2": h2}, statuses)
        await pilot.pause()
        assert top(tree) == ["h1 connected +120", "h2 connected  PANIC\u00d72 "]
        # A hidden tab's bytes count on its console and on its host only.
        tree.set_local_unread("h2/lab:101:vtty0", 7)
        await pilot.pause()
        assert top(tree) == ["h1 connected +120", "h2 connected +7  PANIC\u00d72 "]
        # The host goes away: its node says so and keeps its badges.
        statuses["h2"] = HostStatus(HostState.UNREACHABLE, "the broker there went away")
        tree.update_hosts({"h1": h1, "h2": h2}, statuses)
        await pilot.pause()
        assert top(tree)[1] == "h2 unreachable: the broker there went away +7  PANIC\u00d72 "


async def test_a_hidden_tabs_bytes_are_not_counted_twice() -> None:
    """A paused tab is sent nothing, so the broker counts as unread the bytes the tab counts too."""
    async with TreeApp().run_test() as pilot:
        tree = pilot.app.query_one(GuestTree)
        h1 = listing_of("web")
        h1["guests"][0]["consoles"][0]["unread"] = 500  # the broker's count of the paused tab's bytes
        tree.update_hosts({"h1": h1}, {"h1": HostStatus(HostState.CONNECTED)})
        tree.set_local_unread("h1/lab:101:vtty0", 500)  # the tab's own count of the same bytes
        await pilot.pause()
        assert top(tree) == ["h1 connected +500"]
        console = tree._console_nodes["h1/lab:101:vtty0"]
        assert "+500" in console.label.plain
        tree.set_local_unread("h1/lab:101:vtty0", 800)  # the tab heard of a newer end first
        await pilot.pause()
        assert top(tree) == ["h1 connected +800"]


async def test_a_filter_keeps_the_hosts_of_matching_consoles() -> None:
    async with TreeApp().run_test() as pilot:
        tree = pilot.app.query_one(GuestTree)
        tree.update_hosts({"h1": listing_of("web", "db"), "h2": listing_of("cache")},
                          {"h1": HostStatus(HostState.CONNECTED), "h2": HostStatus(HostState.CONNECTED),
                           "h3": HostStatus(HostState.UNREACHABLE, "no route")})
        tree.focus()
        await pilot.press("c", "a", "c")
        await pilot.pause()
        assert top(tree) == ["h2 connected"]
        assert {r.guest for r in leaves(tree.root)} == {"cache"}
        await pilot.press("escape", "h", "1")  # a host's name matches all of its consoles
        await pilot.pause()
        assert top(tree) == ["h1 connected"]
        assert {r.guest for r in leaves(tree.root)} == {"web", "db"}
        await pilot.press("escape")
        await pilot.pause()
        assert top(tree) == ["h1 connected", "h2 connected", "h3 unreachable: no route"]
