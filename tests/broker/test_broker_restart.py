"""Acceptance 5: SIGKILL the broker; guests keep running, vtty port buffers hold the oldest 4 KiB, the new broker reconnects."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from tests.broker.test_history_cap import _console, collect
from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.framed_socket import FramedSocket

PORT_BUFFER = 4096


async def lab_list(lab_host: LabHost) -> dict[str, Any]:
    """The lab's own view (what the kernel would say), bypassing the broker."""
    conn = await FramedSocket.connect(lab_host.paths.lab_socket)
    try:
        reply, _ = await conn.request({"op": "list", "id": 1})
        return reply
    finally:
        conn.close()


def _lab_console(listing: dict[str, Any], name: str, index: int) -> dict[str, Any]:
    guest = next(g for g in listing["guests"] if g["name"] == name)
    return guest["consoles"][index]


async def test_sigkilled_broker_is_replaced_and_port_buffers_keep_the_oldest_bytes(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 501, "name": "survivor", "vttys": 3, "init": lab_host.scripted("survivor")},
        {"id": 502, "name": "other", "vttys": 2},
    ]))
    lab_host.start_broker()
    client = await lab_host.client()
    listing = await client.request("list")
    assert all(c["state"] == "connected" for g in listing["guests"] for c in g["consoles"])
    # What the first broker read is in the console's log: the next one's offsets go on from it.
    logged = _console(listing, "survivor", "vtty0")["end"]
    await client.close()
    before = await lab_list(lab_host)
    assert _lab_console(before, "survivor", 0)["master_open"]

    lab_host.kill_broker(signal.SIGKILL)
    # The lab sees the masters close, as the kernel would when the holder dies.
    for _ in range(100):
        now = await lab_list(lab_host)
        if not any(c["master_open"] for g in now["guests"] for c in g["consoles"]):
            break
        await asyncio.sleep(0.05)
    assert not any(c["master_open"] for g in now["guests"] for c in g["consoles"])

    # With no master open, a 10000-byte write never blocks: the port keeps the first 4 KiB
    # and zaps the rest, as the Virtuozzo driver does.
    lab_host.command("survivor", 1, "write 10000")
    await asyncio.to_thread(lab_host.wait_done, "survivor", 1, 10.0)
    for _ in range(100):
        port = _lab_console(await lab_list(lab_host), "survivor", 0)
        if port["port_buffer"] == PORT_BUFFER:
            break
        await asyncio.sleep(0.05)
    assert port["port_buffer"] == PORT_BUFFER
    assert port["zapped"] == 10000 - PORT_BUFFER
    assert lab_host.lab is not None and lab_host.lab.poll() is None

    lab_host.start_broker()
    client = await lab_host.client()
    try:
        listing = await client.request("list")
        states = {(g["name"], c["name"]): c["state"] for g in listing["guests"] for c in g["consoles"]}
        assert set(states.values()) == {"connected"}, states
        assert len(states) == 5
        con = _console(listing, "survivor", "vtty0")
        assert con["lost"] == 10000 - PORT_BUFFER
        assert con["end"] == logged + PORT_BUFFER
        reply = await client.request("attach", target="survivor", mode="ro", **{"from": logged})
        data, _ = await collect(client, reply["session"], logged + PORT_BUFFER)
        assert data == pattern(1, 10000)[:PORT_BUFFER]
        # The guest is the same process and still answers.
        lab_host.command("survivor", 2, "write 100")
        more, _ = await collect(client, reply["session"], logged + PORT_BUFFER + 100)
        assert more == pattern(2, 100)
    finally:
        await client.close()


async def test_busy_console_is_reported_and_attach_is_refused(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 601, "name": "shared", "vttys": 2}]))
    # Someone else (like vzctl console) holds vtty1's master before the broker starts.
    holder = await FramedSocket.connect(lab_host.paths.lab_socket)
    reply, fds = await holder.request({"op": "open_tty", "id": 1, "guest": "shared", "index": 1})
    assert reply["ok"] and len(fds) == 1
    try:
        lab_host.start_broker()
        listing = (await asyncio.to_thread(lab_host.cli, "ls", "--json")).stdout
        import json

        consoles = {c["name"]: c for c in json.loads(listing)["guests"][0]["consoles"]}
        assert consoles["vtty0"]["state"] == "connected"
        assert consoles["vtty1"]["state"] == "busy"
        assert "already open" in consoles["vtty1"]["reason"]
        # A second opener gets EBUSY from the lab itself too.
        other = await FramedSocket.connect(lab_host.paths.lab_socket)
        again, _ = await other.request({"op": "open_tty", "id": 1, "guest": "shared", "index": 1})
        other.close()
        assert again["error"]["code"] == "EBUSY"

        result = await asyncio.to_thread(lab_host.cli, "attach", "shared", "1")
        assert result.returncode == 6
        assert "busy" in result.stderr and "Traceback" not in result.stderr
    finally:
        os.close(fds[0])
        holder.close()
    # Released: the broker takes the console on its next refresh.
    client = await lab_host.client()
    try:
        for _ in range(100):
            con = _console(await client.request("list"), "shared", "vtty1")
            if con["state"] == "connected":
                break
            await asyncio.sleep(0.1)
        assert con["state"] == "connected"
    finally:
        await client.close()
