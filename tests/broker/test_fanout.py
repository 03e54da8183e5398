"""Acceptance 3: many clients per console, read-only clients, and a stuck client that slows nobody."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.broker.test_history_cap import _console, collect
from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.client import RequestFailed
from vconsole.wire import PROTOCOL_VERSION, encode

FLOOD = 24 * 1024 * 1024


def _fleet(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 301, "name": "talker", "vttys": 2, "init": lab_host.scripted("talker")},
    ]))
    lab_host.start_broker()


async def test_two_clients_see_identical_output_and_read_only_input_is_refused(lab_host: LabHost) -> None:
    _fleet(lab_host)
    a, b = await lab_host.client(), await lab_host.client()
    try:
        ra = await a.request("attach", target="talker", console=0, mode="rw", **{"from": 0})
        rb = await b.request("attach", target="301", console="vtty0", mode="ro", **{"from": 0})
        assert ra["session"] == rb["session"]
        lab_host.command("talker", 1, "write 200000")
        expected = b"READY\n" + pattern(1, 200000)
        (da, _), (db, _) = await asyncio.gather(
            collect(a, ra["session"], len(expected)), collect(b, rb["session"], len(expected))
        )
        assert da == db == expected

        with pytest.raises(RequestFailed) as err:
            await b.request("input", session=rb["session"], data=b"ls\r")
        assert err.value.code == "read_only"
        with pytest.raises(RequestFailed) as err:
            await b.request("resize", session=rb["session"], cols=100, rows=40)
        assert err.value.code == "read_only"
        assert (await a.request("input", session=ra["session"], data=b""))["ok"]

        con = _console(await a.request("list"), "talker", "vtty0")
        assert con["clients"] == 2
        assert sorted(c["mode"] for c in con["attached"]) == ["ro", "rw"]
    finally:
        await a.close()
        await b.close()


async def test_a_stuck_client_slows_neither_the_guest_nor_other_clients(lab_host: LabHost) -> None:
    # 4 MiB of history gives a reading client half a second of slack on a busy 2-core machine.
    lab_host.write_config('[broker]\nhistory = "4MiB"\n')
    _fleet(lab_host)
    # The stuck client: a raw socket that attaches and then does not read for 10 s.
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(lab_host.paths.socket))
    stuck.sendall(encode({"op": "hello", "id": 1, "version": PROTOCOL_VERSION}))
    stuck.sendall(encode({"op": "attach", "id": 2, "target": "talker", "mode": "ro", "from": 0}))
    reader = await lab_host.client()
    try:
        r = await reader.request("attach", target="talker", mode="ro", **{"from": 0})
        began = time.monotonic()
        # Paced at 8 MB/s so a reading client keeps up; the stuck one falls 24 MiB behind.
        lab_host.command("talker", 1, f"write {FLOOD} 8000000")
        expected_len = len(b"READY\n") + FLOOD
        data, missed = await collect(reader, r["session"], expected_len, timeout=60)
        elapsed = time.monotonic() - began
        guest_took = await asyncio.to_thread(lab_host.wait_done, "talker", 1)
        assert missed == [], (missed, elapsed, guest_took)
        assert data[6:] == pattern(1, FLOOD)
        # Loose bound that only catches a collapse: the paced write takes about 3 s.
        assert guest_took < 8, f"the guest was slowed: {guest_took:.1f}s for {FLOOD} bytes"
        assert elapsed < 20

        con = _console(await reader.request("list"), "talker", "vtty0")
        stuck_view = next(c for c in con["attached"] if c["cursor"] < expected_len)
        assert stuck_view["unread"] > 0

        await asyncio.sleep(max(0.0, 10 - (time.monotonic() - began)))
        # Now the stuck client reads: it is told exactly how much it missed, then the rest.
        got, missed_count = await asyncio.to_thread(_drain_stuck, stuck, expected_len)
        assert missed_count > 0
        assert got + missed_count == expected_len
    finally:
        stuck.close()
        await reader.close()


def _drain_stuck(sock: socket.socket, until: int) -> tuple[int, int]:
    from vconsole.wire import FrameDecoder

    decoder = FrameDecoder()
    got = missed = 0
    end = 0
    sock.settimeout(20)
    while end < until:
        chunk = sock.recv(1 << 20)
        assert chunk, "broker closed the stuck client's connection"
        for msg in decoder.feed(chunk):
            assert isinstance(msg, dict), msg
            if msg.get("event") == "output":
                assert msg["offset"] == end or end == 0
                got += len(msg["data"])
                end = msg["offset"] + len(msg["data"])
            elif msg.get("event") == "missed":
                missed += msg["count"]
                end = msg["offset"]
    return got, missed
