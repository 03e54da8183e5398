"""The real ``vconsole`` TUI in tmux: a lab domU panics while another tab is active, and the person follows it up.

Only what a person sees is asserted: the PANIC badge on the domU and its
host in the guest list, the notification, the events panel (prefix e)
listing the panic, Enter opening the domU's console on the panic line, and
the badge gone (opening it from the panel acknowledged it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import open_console, prefix, quit_tui, tui_command, wait_active
from tests.tui.test_alerts_lab import PANIC_LINE, go_file, start_panic_fleet

pytestmark = needs_tmux
COLS, ROWS = 100, 30
TREE = 30  # columns of the guest list at this width (its border included)


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    p = TmuxPane.shell(cols=COLS, rows=ROWS)
    yield p
    p.close()


def tree_line(screen: str, name: str) -> str:
    """The guest list's line that names ``name`` ("" if none)."""
    return next((line[:TREE] for line in screen.splitlines() if f" {name}" in line[:TREE]), "")


def test_a_domu_panic_is_badged_notified_listed_opened_and_acknowledged(lab_host: LabHost, pane: TmuxPane) -> None:
    start_panic_fleet(lab_host)
    pane.type(tui_command(lab_host), "Enter")
    pane.wait_until(lambda s: "xd 7" in s and "connected" in s, "the guest list", timeout=30)
    open_console(pane, "web")  # the tab on screen when the domU panics
    pane.wait_for("root@web:~#")
    prefix(pane, "l")
    pane.type("Escape")  # the whole guest list again (open_console filtered it to web)
    pane.wait_until(lambda s: "xd 7" in s, "the whole guest list")
    go_file(lab_host).touch()

    screen = pane.wait_until(lambda s: "PANIC" in tree_line(s, "xd 7") and "PANIC" in tree_line(s, "pv0"),
                             "the PANIC badge on the domU", timeout=20)
    assert "PANIC" in tree_line(screen, "testlab"), screen
    assert "PANIC" not in tree_line(screen, "web 101"), screen
    # The notification (bottom right) names the console and the line.
    pane.wait_until(lambda s: "xd:pv0" in s and "Kernel panic" in s[-2000:] and "panic (critical)" in s,
                    "the notification")

    prefix(pane, "e")
    screen = pane.wait_until(lambda s: "Enter open" in s and "panic" in s, "the events panel")
    row = next(line for line in screen.splitlines() if " panic " in line)
    assert "●" in row and " xd " in row and " pv0 " in row and "critical" in row and PANIC_LINE[:40] in row, row

    pane.type("Enter")
    wait_active(pane, "xd:pv0")
    # The line in the console itself (a column right of the guest list), not in a notification.
    pane.wait_until(lambda s: any(line[TREE:].startswith(PANIC_LINE) for line in s.splitlines()),
                    "the panic line in the domU's tab")
    pane.wait_until(lambda s: "PANIC" not in s, "the badges to clear")
    quit_tui(pane)


def test_the_help_lists_the_alert_keys(lab_host: LabHost, pane: TmuxPane) -> None:
    start_panic_fleet(lab_host)
    pane.type(tui_command(lab_host), "Enter")
    pane.wait_until(lambda s: "xd 7" in s and "connected" in s, "the guest list", timeout=30)
    prefix(pane, "?")
    screen = pane.wait_for("vconsole keys")
    assert "next console with an unacknowledged alert" in screen and "events: panics" in screen, screen
    pane.type("Escape")
    quit_tui(pane)

