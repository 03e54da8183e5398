"""Acceptance 4: ``vconsole attach`` driven through tmux like a person."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

import pytest

from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane, needs_tmux

pytestmark = needs_tmux


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    p = TmuxPane(env)
    yield p
    p.close()


def test_attach_type_detach_reattach(lab_host: LabHost, pane: TmuxPane) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    attach = f"{sys.executable} -m vconsole attach web --socket {lab_host.paths.socket}; echo EXIT=$?"
    pane.type(attach, "Enter")
    pane.wait_for("root@web:~#")
    pane.type("echo the answer is $((6*7))", "Enter")
    pane.wait_for("the answer is 42")
    # Keys a shell needs reach the guest: Ctrl-C interrupts a running command.
    pane.type("sleep 30", "Enter")
    time.sleep(0.5)
    pane.type("C-c")
    pane.type("echo after-interrupt", "Enter")
    # Typed-ahead text would be echoed once; the command's output makes it twice.
    deadline = time.monotonic() + 10
    while pane.screen().count("after-interrupt") < 2:
        assert time.monotonic() < deadline, pane.screen()
        time.sleep(0.1)
    pane.type("C-]", ".")
    screen = pane.wait_for("EXIT=0")
    assert "[vconsole: detached]" in screen

    pane.type("clear", "Enter")
    time.sleep(0.3)
    pane.type(attach, "Enter")
    screen = pane.wait_for("the answer is 42")
    assert "echo the answer is $((6*7))" in screen
    pane.type("C-]", ".")
    pane.wait_for("EXIT=0")


def test_window_size_follows_the_terminal_and_read_only_sends_nothing(lab_host: LabHost, pane: TmuxPane) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    base = f"{sys.executable} -m vconsole attach web 1 --socket {lab_host.paths.socket}"
    pane.type(base, "Enter")
    pane.wait_for("root@web:~#")
    pane.type("stty size", "Enter")
    pane.wait_for("30 100")
    pane._tmux("resize-window", "-t", "0", "-x", "90", "-y", "25")
    time.sleep(0.5)
    pane.type("stty size", "Enter")
    pane.wait_for("25 90")
    pane.type("C-]", ".")
    pane.type("clear", "Enter")
    time.sleep(0.3)
    pane.type(base + " -r", "Enter")
    pane.wait_for("read-only")
    pane.type("echo spy-typed", "Enter")
    time.sleep(1.0)
    assert "spy-typed" not in pane.screen()
    pane.type("C-]", ".")
    pane.wait_for("detached")


def test_size_goes_back_to_the_remaining_client_when_one_detaches(lab_host: LabHost, pane: TmuxPane) -> None:
    """Issue 14 item 5: two attaches in terminals of different sizes; the smaller one leaves."""
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    attach = f"{sys.executable} -m vconsole attach web 1 --socket {lab_host.paths.socket}"
    pane.type(attach, "Enter")
    pane.wait_for("root@web:~#")
    # Print the size each time it changes, with no more typing in this window.
    pane.type('old=; while sleep 0.1; do s=$(stty size); [ "$s" != "$old" ] && echo "size=$s" && old=$s; done', "Enter")
    pane.wait_for("size=30 100")
    small = TmuxPane(pane.env, cols=80, rows=24)
    try:
        small.type(attach + "; echo EXIT=$?", "Enter")
        pane.wait_for("size=24 80")
        small.type("C-]", ".")
        small.wait_for("EXIT=0")
        pane.wait_until(lambda s: s.count("size=30 100") == 2, "the size back to 30 100")
    finally:
        small.close()
    pane.type("C-c")
    pane.type("stty size", "Enter")
    pane.wait_until(lambda s: s.count("30 100") == 3, "stty size 30 100")
    pane.type("C-]", ".")
    pane.wait_for("detached")
