"""Acceptance 3: snapshot a real lab, stop everything, start fresh, restore.

A legacy domU has 1 KiB unread in its ``out`` ring (a foreign backend holds
the ring, as ``xl console`` holds its flock, so nobody consumes it) and a
container has 100 bytes typed but not yet read. After a snapshot, the lab
and the broker stop; a fresh lab and broker start, ``vconsole restore
--inject-input`` puts the ring bytes back and re-types the input, and the
TUI shows the restored history.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

from tests.guest_program import pattern
from tests.lab_host import LabHost
from tests.xen.conftest import history_until, wait_console
from vconsole.client import Client
from vconsole.console.xenring import XenConsoleRing
from vconsole.framed_socket import FramedSocket
from vconsole.snapshot.decode import decode
from vconsole.tui.app import VConsoleApp

OLD_CT = ["/bin/sh", "-c",
          "printf 'OLD-HISTORY-LINE %s\\r\\n' 1 2 3; stty raw -echo; echo READY; exec sleep 1000"]
TYPED = bytes(range(32, 132))  # 100 bytes, none of them special in raw mode


def fleet(host: LabHost, ct_init: list[str], xd_prog: list[str]) -> Path:
    return host.write_fleet(
        [{"id": 301, "name": "ct", "vttys": 1, "init": ct_init}],
        [{"id": 302, "name": "xd", "frontend": "legacy", "program": xd_prog}],
    )


def out_pending(host: LabHost) -> int:
    with XenConsoleRing.open(host.paths.lab_pages / "domu-302-pv0.page") as ring:
        return (ring.out_prod - ring.out_cons) % 2**32


def wait_until(pred: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def test_snapshot_stop_everything_restore_into_fresh_lab(lab_host: LabHost) -> None:
    lab_host.start_lab(fleet(lab_host, OLD_CT, lab_host.scripted("xd")))
    # A foreign backend maps the ring first: the broker will find it busy.
    lease = await FramedSocket.connect(lab_host.paths.lab_socket)
    reply, fds = await lease.request({"op": "open_ring", "id": 1, "guest": "302", "index": 0})
    for fd in fds:
        os.close(fd)
    assert reply["ok"], reply
    lab_host.command("xd", 1, "write 1018")
    lab_host.wait_done("xd", 1)
    wait_until(lambda: out_pending(lab_host) == 1024, "1 KiB in the out ring")
    ring_bytes = b"READY\n" + pattern(1, 1018)

    lab_host.start_broker()
    client = await lab_host.client()
    try:
        await wait_console(client, "ct", lambda c: c["state"] == "connected", console="vtty0")
        old_history = await history_until(client, "ct", b"READY")
        att = await client.request("attach", target="ct", console=0, mode="rw")
        await client.request("input", session=att["session"], data=TYPED)
        await asyncio.sleep(0.3)
    finally:
        await client.close()
    snap_file = lab_host.base / "all.vcsnap"
    done = lab_host.cli("snapshot", "--all", "-o", str(snap_file))
    assert done.returncode == 0, done.stderr
    assert "not captured" not in done.stderr  # the busy domU's ring was copied by the lab
    assert out_pending(lab_host) == 1024  # capture consumed nothing
    snap = decode(snap_file.read_bytes())
    records = {r.guest_name: r for r in snap.records}
    ct, xd = records["ct"], records["xd"]
    assert ct.history.data == old_history
    assert ct.pending_input.how == "input-log" and ct.pending_input.data == TYPED
    assert ct.termios is not None and ct.winsize is not None
    assert xd.ring is not None and xd.ring.out_data == ring_bytes
    assert xd.pending_output.how == "exact" and xd.pending_output.data == ring_bytes

    # Stop the lab and the broker; start both fresh (no saved sessions).
    lease.close()
    lab_host.kill_broker(signal.SIGKILL)
    assert lab_host.lab is not None
    lab_host.lab.send_signal(signal.SIGTERM)
    lab_host.lab.wait(15)
    new_ct = [*lab_host.scripted("ct2"), "--hexecho"]
    lab_host.start_lab(fleet(lab_host, new_ct, lab_host.scripted("xd2")))
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        await wait_console(client, "ct", lambda c: c["state"] == "connected", console="vtty0")
        await wait_console(client, "xd", lambda c: c["state"] == "connected")
        await history_until(client, "ct", b"READY")
        done = lab_host.cli("restore", str(snap_file), "--inject-input")
        assert done.returncode == 0, done.stderr
        assert "ring 1024 bytes, input 100 bytes" in done.stdout
        # The typed input reached the new guest, which reports what it read.
        data = await history_until(client, "ct", TYPED.hex().encode()[-40:])
        assert data.startswith(old_history)
        hexes = b"".join(re.findall(rb"in:([0-9a-f]+)", data))
        assert bytes.fromhex(hexes.decode()) == TYPED
        # The ring bytes reached the new domU's ring and the broker read them.
        xd_data = await history_until(client, "xd", ring_bytes)
        assert xd_data.count(ring_bytes) == 1
        listing = await client.request("list")
        ct_info = next(c for g in listing["guests"] if g["name"] == "ct" for c in g["consoles"])
        (mark,) = [m for m in ct_info["marks"] if m["source"] == "restored"]
        assert (mark["start"], mark["end"]) == (ct.history.start, ct.history.end)
        assert mark["first"] == ct.created
    finally:
        await client.close()

    # The TUI shows the restored history.
    from tests.tui.test_pilot_keys import until
    from vconsole.tui.guest_tree import GuestTree

    app = VConsoleApp(lambda: Client.connect(lab_host.paths, autostart=False))
    async with app.run_test(size=(110, 32)) as pilot:
        tree = app.query_one(GuestTree)
        await until(pilot, lambda: len(tree._console_nodes) == 2, "the guest tree")
        node = tree._console_nodes["lab:301:vtty0"]
        assert node.data is not None
        await app.main_screen.open_console(node.data)
        await until(pilot, lambda: app.main_screen.active_pane() is not None
                    and "OLD-HISTORY-LINE 3" in "\n".join(app.main_screen.active_pane().view.term.screen_text()),  # type: ignore[union-attr]
                    "the restored history on screen")
