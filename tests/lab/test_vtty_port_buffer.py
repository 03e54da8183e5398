"""A vtty with no master open behaves as the Virtuozzo driver: the first 4 KiB stay, later writes are zapped."""

from __future__ import annotations

import asyncio
import os
import time

from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.framed_socket import FramedSocket
from vconsole.lab.vtty import PORT_BUFFER_SIZE


async def _port(lab_host: LabHost, name: str, index: int) -> dict[str, object]:
    conn = await FramedSocket.connect(lab_host.paths.lab_socket)
    try:
        reply, _ = await conn.request({"op": "list", "id": 1})
    finally:
        conn.close()
    guest = next(g for g in reply["guests"] if g["name"] == name)
    console: dict[str, object] = guest["consoles"][index]
    return console


async def _wait_zapped(lab_host: LabHost, name: str, zapped: int) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while True:
        port = await _port(lab_host, name, 0)
        if port["zapped"] == zapped or time.monotonic() > deadline:
            return port
        await asyncio.sleep(0.05)


def _read_master(fd: int, count: int, timeout: float = 10.0) -> bytes:
    os.set_blocking(fd, False)
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < count and time.monotonic() < deadline:
        try:
            data += os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.02)
    return data


async def test_full_port_buffer_keeps_the_oldest_bytes_and_zaps_later_writes(lab_host: LabHost) -> None:
    # No broker: nobody ever opened the master, so every byte goes to the port buffer.
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 701, "name": "quiet", "vttys": 1, "init": lab_host.scripted("quiet")},
    ]))
    written = b"READY\n" + pattern(1, 10000)
    lab_host.command("quiet", 1, "write 10000")
    # The guest's write never blocks, though nobody reads.
    await asyncio.to_thread(lab_host.wait_done, "quiet", 1, 10.0)
    port = await _wait_zapped(lab_host, "quiet", len(written) - PORT_BUFFER_SIZE)
    assert port["port_buffer"] == PORT_BUFFER_SIZE
    assert port["zapped"] == len(written) - PORT_BUFFER_SIZE

    # A full buffer stays as it is: a later write is zapped whole.
    lab_host.command("quiet", 2, "write 100")
    await asyncio.to_thread(lab_host.wait_done, "quiet", 2, 10.0)
    port = await _wait_zapped(lab_host, "quiet", len(written) + 100 - PORT_BUFFER_SIZE)
    assert port["zapped"] == len(written) + 100 - PORT_BUFFER_SIZE
    assert port["port_buffer"] == PORT_BUFFER_SIZE

    # The opener is handed the oldest 4 KiB and the count of what was zapped...
    conn = await FramedSocket.connect(lab_host.paths.lab_socket)
    try:
        reply, fds = await conn.request({"op": "open_tty", "id": 1, "guest": "quiet", "index": 0})
        assert reply["ok"] and len(fds) == 1
        assert reply["port_buffer"] == written[:PORT_BUFFER_SIZE]
        assert reply["zapped"] == len(written) + 100 - PORT_BUFFER_SIZE
        # ...and reads what the guest writes from then on, nothing zapped.
        lab_host.command("quiet", 3, "write 300")
        assert await asyncio.to_thread(_read_master, fds[0], 300) == pattern(3, 300)
        os.close(fds[0])
        # The counters start again for the next opener.
        port = await _port(lab_host, "quiet", 0)
        assert (port["port_buffer"], port["zapped"], port["master_open"]) == (0, 0, True)
    finally:
        conn.close()


async def test_port_buffer_outlives_a_login_shell_that_exited_unread(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 702, "name": "brief", "vttys": 2, "login": "sleep 0.3; echo goodbye"},
    ]))
    # The first open starts the login shell (as a getty would); the opener leaves at once.
    conn = await FramedSocket.connect(lab_host.paths.lab_socket)
    reply, fds = await conn.request({"op": "open_tty", "id": 1, "guest": "brief", "index": 1})
    assert reply["ok"]
    os.close(fds[0])
    conn.close()
    # The shell writes with no master open, then exits: the vtty keeps its words.
    deadline = time.monotonic() + 10
    while (await _port(lab_host, "brief", 1))["port_buffer"] == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    conn = await FramedSocket.connect(lab_host.paths.lab_socket)
    try:
        reply, fds = await conn.request({"op": "open_tty", "id": 1, "guest": "brief", "index": 1})
        assert reply["ok"] and len(fds) == 1
        os.close(fds[0])
        assert reply["port_buffer"] == b"goodbye\r\n"
    finally:
        conn.close()
