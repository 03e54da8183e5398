"""Issue 14 item 4: a guest removed from its host while attached ends the attach with "guest removed".

The lab's ``destroy`` removes a guest as ``lxc-destroy -f`` does (stopped and
no longer listed at once); the real LXC case is in tests/providers/test_lxc_real.py.
"""

from __future__ import annotations

import asyncio
import json
import time

from tests.lab_host import LabHost
from tests.providers.attach import Attached
from vconsole.domain import AttachMode, ConsoleState, parse_target

EXIT_GONE = 8


def _wait_exit(att: Attached, timeout: float = 15.0) -> int | None:
    deadline = time.monotonic() + timeout
    while att.proc.isalive() and time.monotonic() < deadline:
        att._pump(0.1)
    return None if att.proc.isalive() else att.proc.exitstatus


async def test_attach_says_guest_removed_and_exits_8(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 101, "name": "web", "vttys": 2},
        {"id": 102, "name": "db", "vttys": 1},
    ]))
    lab_host.start_broker()
    watcher = await lab_host.client()
    await watcher.watch()
    reply = await watcher.attach(parse_target("web:1"), AttachMode.RO)
    att = await asyncio.to_thread(Attached, lab_host.paths.socket, "web", "1")
    try:
        await lab_host.destroy("web")
        await asyncio.to_thread(att.expect, b"guest removed: container web was removed")
        assert await asyncio.to_thread(_wait_exit, att) == EXIT_GONE
    finally:
        att.close()
    try:
        # An attached client is told the console is gone (not left "disconnected").
        states = []
        while not states or states[-1] != ConsoleState.GONE:
            event = await asyncio.wait_for(watcher.events.get(), 10)
            if event.get("event") == "state" and event.get("session") == reply.session.text:
                states.append(event["state"])
        assert event["reason"] == "container web was removed"
    finally:
        await watcher.close()
    listing = json.loads((await asyncio.to_thread(lab_host.cli, "ls", "--json")).stdout)
    assert [g["name"] for g in listing["guests"]] == ["db"]
    result = await asyncio.to_thread(lab_host.cli, "attach", "web", "1")
    assert result.returncode == 4 and "no guest named 'web'" in result.stderr
