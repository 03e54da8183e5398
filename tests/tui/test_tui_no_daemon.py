"""``vconsole --no-daemon``: the TUI serves the broker itself and, on quit, closes it like a daemon.

A person runs the TUI with ``--no-daemon`` in tmux on a private lab, opens a
domU's console, types, and quits with the prefix key and ``q``. Closing the
in-process broker must save every session (the sessions file, holding what
was typed) and hand the Xen ring back to the lab (``connection`` byte
DISCONNECTED), exactly as a daemon does on SIGTERM.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator

import pytest

from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from tests.tui.person import active_status, prefix, quit_tui, vconsole_argv, wait_active
from vconsole.broker.snapshots.saved_sessions import saved_sessions_file
from vconsole.console.xenring import XENCONSOLE_CONNECTED, XENCONSOLE_DISCONNECTED, XenConsoleRing
from vconsole.detached import socket_answers

pytestmark = needs_tmux

DOMID = 7


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env, cols=100, rows=30)
    yield p
    p.close()


def ring_connection(lab_host: LabHost) -> int:
    """The ``connection`` byte of the domU's console page, read without consuming anything."""
    with XenConsoleRing.open(lab_host.paths.lab_pages / f"domu-{DOMID}-pv0.page") as ring:
        return ring.connection


def test_no_daemon_tui_quit_saves_sessions_and_disconnects_the_ring(lab_host: LabHost, pane: TmuxPane) -> None:
    lab_host.start_lab(lab_host.write_fleet([], [{"id": DOMID, "name": "xpv", "frontend": "flag-aware"}]))
    sessions = saved_sessions_file(lab_host.paths.socket)  # the broker's saved sessions
    assert not sessions.exists()
    assert ring_connection(lab_host) == XENCONSOLE_DISCONNECTED  # as the toolstack leaves it

    argv = [*vconsole_argv(), "--no-daemon", "--socket", str(lab_host.paths.socket)]
    pane.type(shlex.join(argv) + "; echo TUI-EXIT=$?", "Enter")
    pane.wait_until(lambda s: "xpv 7" in s and "connected" in s, "the guest list", timeout=30)
    assert socket_answers(lab_host.paths.socket), "the TUI serves the broker on the socket"
    assert ring_connection(lab_host) == XENCONSOLE_CONNECTED  # the in-process broker services it

    # Open the domU's console from the guest list (filtered to it), then type.
    prefix(pane, "l")
    pane.type("Escape", "xpv")
    for _ in range(3):
        pane.type("Enter")
        try:
            wait_active(pane, "xpv:pv0", timeout=5)
            break
        except pytest.fail.Exception:
            continue
    assert "xpv:pv0 · read-write" in active_status(pane.screen())
    pane.wait_for("root@xpv:~#", timeout=20)
    pane.type("echo no-daemon-$((20+22))-saved", "Enter")
    pane.wait_for("no-daemon-42-saved")

    quit_tui(pane)
    assert not socket_answers(lab_host.paths.socket), "the in-process broker is gone with the TUI"
    assert ring_connection(lab_host) == XENCONSOLE_DISCONNECTED
    assert sessions.exists(), "quitting the TUI saved no sessions"
    assert b"no-daemon-42-saved" in sessions.read_bytes()  # the history, stored as raw bytes
