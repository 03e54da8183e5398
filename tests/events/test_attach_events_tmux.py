"""Acceptance 5 (events): ``vconsole attach`` typed in tmux, rw then ro: each comes and goes as an event."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator

import pytest

from tests.events.cli_events import events_json
from tests.lab_host import LabHost
from tests.tmux_pane import TmuxPane, needs_tmux
from vconsole.console_events import EventKind
from vconsole.domain import AttachMode

pytestmark = needs_tmux


@pytest.fixture
def pane(lab_host: LabHost) -> Iterator[TmuxPane]:
    p = TmuxPane.shell()
    yield p
    p.close()


def test_attach_and_detach_in_a_terminal_are_events_with_that_process(lab_host: LabHost, pane: TmuxPane) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 651, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    pids = []
    for n, flags in enumerate(("", "-r")):
        # The shell prints its pid and becomes `vconsole attach`: the event must name that process.
        attach = f"{sys.executable} -m vconsole attach {flags} web --socket {lab_host.paths.socket}"
        pane.type(f"sh -c 'echo PID$$=; exec {attach}'; echo EXIT{n}=$?", "Enter")
        screen = pane.wait_until(
            lambda s: s.rstrip().endswith("root@web:~#") and "[vconsole: attached" in s.split("PID")[-1],
            "the console's prompt",
        )
        pids.append(int(re.findall(r"PID(\d+)=", screen)[-1]))
        pane.type("C-]", ".")
        pane.wait_for(f"EXIT{n}=0")
    people = [
        (e.kind, e.mode, e.uid, e.pid) for e in events_json(lab_host, "web")
        if e.kind in (EventKind.ATTACH, EventKind.DETACH)
    ]
    uid = os.getuid()
    assert people == [
        (EventKind.ATTACH, AttachMode.RW, uid, pids[0]),
        (EventKind.DETACH, AttachMode.RW, uid, pids[0]),
        (EventKind.ATTACH, AttachMode.RO, uid, pids[1]),
        (EventKind.DETACH, AttachMode.RO, uid, pids[1]),
    ]
    shown = lab_host.cli("events", "web").stdout
    assert f"INFO      web:vtty0  attach  uid {uid} pid {pids[0]} rw" in shown, shown
    assert f"detach  uid {uid} pid {pids[1]} ro" in shown, shown
