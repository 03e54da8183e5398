"""``vconsole attach`` in tmux panes: replayed queries are never answered, live ones exactly once.

tmux answers DA and DSR for its panes as any terminal does, so whatever
query ``attach`` writes to the pane comes back as typed input. The guest
(tests/query_guest.py) records every byte it reads.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

import pytest

from tests.lab_host import REPO, LabHost
from tests.query_guest import QUERY, answers, typed
from tests.tmux_pane import TmuxPane, needs_tmux

pytestmark = needs_tmux
QUIET = 1.5  # seconds an answer would surely have taken to arrive


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env["TERM"] = "xterm-256color"
    return env


@pytest.fixture
def panes(lab_host: LabHost) -> Iterator[list[TmuxPane]]:
    made: list[TmuxPane] = []
    yield made
    for p in made:
        p.close()


def start_asker(lab_host: LabHost, *more: dict[str, object]) -> None:
    """A lab whose guest ``asker`` writes QUERY on command and logs its input."""
    init = [sys.executable, "-u", str(REPO / "tests" / "query_guest.py"), str(lab_host.ctl_dir("asker"))]
    lab_host.start_lab(lab_host.write_fleet([{"id": 371, "name": "asker", "vttys": 1, "init": init}, *more]))
    lab_host.start_broker()


def ask(lab_host: LabHost, seq: int) -> None:
    """Make the guest write its queries and wait until it has."""
    lab_host.command("asker", seq, QUERY.hex())
    lab_host.wait_done("asker", seq)


def wait_answers(lab_host: LabHost, expected: tuple[int, int]) -> None:
    """Wait for ``expected`` (DA, CPR) answers in all, then make sure no more come."""
    ctl = lab_host.ctl_dir("asker")
    deadline = time.monotonic() + 10
    while answers(ctl) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(QUIET)
    assert answers(ctl) == expected, typed(ctl)


def _attach_line(lab_host: LabHost, *flags: str) -> str:
    return " ".join([sys.executable, "-m", "vconsole", "attach", "asker", *flags,
                     "--socket", str(lab_host.paths.socket), "; echo EXIT=$?"])


def test_replayed_queries_type_nothing_into_the_guest(lab_host: LabHost, panes: list[TmuxPane]) -> None:
    start_asker(lab_host)
    time.sleep(0.5)  # the broker reads the guest's READY
    ask(lab_host, 1)  # nobody attached: only the history holds these queries
    pane = TmuxPane(_env())
    panes.append(pane)
    pane.type(_attach_line(lab_host), "Enter")
    pane.wait_for("asked 1")
    wait_answers(lab_host, (0, 0))

    # Live, this terminal is the one that answers: once each.
    ask(lab_host, 2)
    pane.wait_for("asked 2")
    wait_answers(lab_host, (1, 1))

    # Attached again, both asks replay (the screen's worth and the whole history): no answers.
    pane.type("C-]", ".")
    pane.wait_for("EXIT=0")
    pane.type("clear; " + _attach_line(lab_host), "Enter")
    pane.wait_for("asked 2")
    pane.type("C-]", ".")
    pane.wait_for("EXIT=0")
    pane.type("clear; " + _attach_line(lab_host, "--from-start"), "Enter")
    pane.wait_for("asked 2")
    wait_answers(lab_host, (1, 1))


def test_two_attached_terminals_answer_a_live_query_once(lab_host: LabHost, panes: list[TmuxPane]) -> None:
    start_asker(lab_host)
    first, second = TmuxPane(_env()), TmuxPane(_env(), cols=80, rows=24)
    panes += [first, second]
    first.type(_attach_line(lab_host), "Enter")
    first.wait_for("READY")
    second.type(_attach_line(lab_host), "Enter")
    second.wait_for("READY")
    spy = TmuxPane(_env())
    panes.append(spy)
    spy.type(_attach_line(lab_host, "-r"), "Enter")
    spy.wait_for("read-only")

    ask(lab_host, 1)
    for p in (first, second, spy):
        p.wait_for("asked 1")
    wait_answers(lab_host, (1, 1))

    # Typing in the first makes it the active one; still one answer each.
    first.type("x")
    ask(lab_host, 2)
    for p in (first, second, spy):
        p.wait_for("asked 2")
    wait_answers(lab_host, (2, 2))
    assert typed(lab_host.ctl_dir("asker")).count(b"x") == 1

    # The active one leaves: the other answers from now on.
    first.type("C-]", ".")
    first.wait_for("EXIT=0")
    ask(lab_host, 3)
    second.wait_for("asked 3")
    wait_answers(lab_host, (3, 3))
