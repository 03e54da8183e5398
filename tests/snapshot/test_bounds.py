"""Window sizes, snapshot screens and saved files are bounded (issue 14, item 10).

A client once resized a console to 4096x4096: every snapshot then carried
16M-cell screens (67 MB for 29 KB of history), and the next broker start
spent 24 s restoring them before it answered anyone.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lab_host import LabHost
from tests.xen.conftest import read_history, wait_console
from vconsole.broker.history import OutputHistory
from vconsole.broker.session import ConsoleSession
from vconsole.broker.snapshots.capture import capture_session
from vconsole.broker.snapshots.restore import seed_session
from vconsole.broker.snapshots.saved_sessions import saved_sessions_file
from vconsole.broker.snapshots.screen import render_screen
from vconsole.client import RequestFailed
from vconsole.consolelog.layout import console_dir, log_root
from vconsole.consolelog.reader import ConsoleLog
from vconsole.domain import MAX_WINDOW, SessionKey
from vconsole.protocol import Resize
from vconsole.providers.base import ConsoleSpec, GuestInfo
from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import encode
from vconsole.snapshot.model import ConsoleRecord, History, Pending, SnapshotFile
from vconsole.term.terminal import Terminal


def _session(cap: int = 1 << 20, guest_id: str = "1") -> ConsoleSession:
    guest = GuestInfo("lab", "h", "container", guest_id, "ct", "running")
    return ConsoleSession(guest, ConsoleSpec("vtty", 0), cap, lambda s: None, lambda s: None)


async def test_a_resize_beyond_terminal_limits_is_refused(lab_host: LabHost) -> None:
    init = ["/bin/sh", "-c", "printf 'SIZED\\n'; exec sleep 1000"]
    lab_host.start_lab(lab_host.write_fleet([{"id": 301, "name": "ct", "vttys": 1, "init": init}]))
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        await wait_console(client, "ct", lambda c: c["state"] == "connected", console="vtty0")
        key = (await client.request("attach", target="ct", console=0, mode="rw"))["session"]
        for cols, rows in ((4096, 4096), (MAX_WINDOW + 1, 24), (80, MAX_WINDOW + 1)):
            with pytest.raises(RequestFailed) as err:
                await client.request("resize", session=key, cols=cols, rows=rows)
            assert err.value.code == "bad_request"
            assert f"1..{MAX_WINDOW}" in err.value.message
        await client.request("resize", session=key, cols=MAX_WINDOW, rows=MAX_WINDOW)
    finally:
        await client.close()


def test_a_client_sends_a_huge_window_as_the_largest_one() -> None:
    fields = Resize(SessionKey("lab", "1", "vtty0"), 5000, 3000).fields()
    assert (fields["cols"], fields["rows"]) == (MAX_WINDOW, MAX_WINDOW)
    assert Resize.parse(fields).cols == MAX_WINDOW


async def test_a_snapshot_screen_is_bounded_by_what_the_history_fills() -> None:
    # The numbers: 29 KB of log lines in the largest window there is.
    session = _session()
    session.history.append(b"".join(b"line %05d of the boot log\r\n" % i for i in range(1100)))
    session.size = (MAX_WINDOW, MAX_WINDOW)
    record = (await capture_session(session, None)).record
    assert record.screen is not None
    assert record.screen["cols"] <= 30 and record.screen["rows"] <= MAX_WINDOW
    assert len(msgpack.packb(record.screen)) < 200_000  # a million-cell screen packs to 4 MB
    # A full-screen program's cursor addressing is cropped to what it drew.
    session = _session()
    session.history.append(b"\x1b[2J\x1b[10;20Hdrawn\x1b[1;1H")
    session.size = (MAX_WINDOW, MAX_WINDOW)
    screen = (await capture_session(session, None)).record.screen
    assert screen is not None and (screen["cols"], screen["rows"]) == (24, 10)
    assert Terminal.from_state(screen).screen_text()[9] == " " * 19 + "drawn"


LINE_TEXT = st.text("ab \t漢é\r\n\x08", max_size=40)
ESCAPES = st.sampled_from(["\x1b[5;7H", "\x1b[2J", "\x1b[41m \x1b[K\x1b[m", "\x1b[3B", "\x1b[31mred\x1b[m",
                           "\x1b7\x1b[9;2H\x1b8", "\x1b[?1049h", "\x1b[?1049l", "\x1b[2;4r", "\x1bM"])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINE_TEXT | ESCAPES, max_size=12), st.integers(1, 120), st.integers(1, 40))
def test_a_bounded_screen_is_the_top_left_of_the_full_window(parts: list[str], cols: int, rows: int) -> None:
    history = OutputHistory(1 << 16)
    history.append("".join(parts).encode())
    small = Terminal.from_state(render_screen(history, (cols, rows)))
    full = Terminal(cols, rows, scrollback=0)
    full.feed(history.read(history.tail_offset(rows, 32 * 1024)))
    assert small.cols <= cols and small.rows <= rows
    assert small.cursor == full.cursor
    for y in range(rows):
        want = [(c, s) for c, s in zip(full.lines[y].chars, full.lines[y].styles, strict=True)]
        if y < small.rows:
            have = list(zip(small.lines[y].chars, small.lines[y].styles, strict=True))
            assert have == want[: small.cols], f"row {y}"
            assert all(cell == (" ", 0) for cell in want[small.cols :]), f"row {y} was cut"
        else:
            assert all(cell == (" ", 0) for cell in want), f"row {y} was cut"


def test_a_decoded_huge_window_and_screen_are_bounded() -> None:
    # What a broker wrote before windows were bounded: a window over the limit
    # and a screen at that size (1001x1001 here; it was up to 4096x4096).
    huge = Terminal(MAX_WINDOW + 1, MAX_WINDOW + 1, scrollback=0)
    huge.feed(b"old screen\r\n")
    record = ConsoleRecord("lab", "1", "ct", "container", "vtty", 0, History(b"old screen\r\n", 0, 12, 0),
                           1.6e9, None, [], Pending("exact", 0, b""), Pending("unavailable"),
                           winsize=(65535, 65535), screen=huge.to_state())
    began = time.monotonic()
    (decoded,) = decode(encode(SnapshotFile(1.7e9, "h", [record]))).records
    assert time.monotonic() - began < 1.5  # validating the 2M cells took seconds
    assert decoded.screen is None and decoded.history.data == b"old screen\r\n"
    assert decoded.winsize == (65535, 65535)  # the file says so; using it is bounded:
    session = _session()
    seed_session(session, decoded, 1.7e9)
    assert session.size == (MAX_WINDOW, MAX_WINDOW)
    loop = asyncio.new_event_loop()
    try:
        screen = loop.run_until_complete(capture_session(session, None)).record.screen
    finally:
        loop.close()
    assert screen is not None and screen["cols"] <= MAX_WINDOW and screen["rows"] <= MAX_WINDOW


def _big_record(guest_id: str, history: bytes) -> ConsoleRecord:
    """A record whose screen is the largest there is: seconds to validate."""
    term = Terminal(MAX_WINDOW, MAX_WINDOW, scrollback=0)
    term.feed(b"\x1b[41m\x1b[2J")  # every cell coloured: nothing to crop
    return ConsoleRecord("lab", guest_id, f"g{guest_id}", "container", "vtty", 0,
                         History(history, 0, len(history), 0), 1.6e9, 1.65e9, [], Pending("exact", 0, b""),
                         Pending("unavailable"), winsize=(MAX_WINDOW, MAX_WINDOW), screen=term.to_state())


async def test_a_huge_saved_file_is_restored_in_the_background(lab_host: LabHost) -> None:
    marker = lab_host.ctl_dir("ct") / "printed"
    init = ["/bin/sh", "-c", f"printf 'BOOT-LINE\\n'; touch {marker}; exec sleep 1000"]
    lab_host.start_lab(lab_host.write_fleet([{"id": 701, "name": "ct", "vttys": 1, "init": init}]))
    old = b"OLD-HISTORY-LINE\r\n" * 100
    snap = SnapshotFile(1.7e9, "testlab", [_big_record("701", old)] + [_big_record(str(900 + i), b"x")
                                                                        for i in range(3)])
    saved: Path = saved_sessions_file(lab_host.paths.socket)
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_bytes(encode(snap))
    deadline = time.monotonic() + 20
    while not marker.exists():  # the guest has printed: the broker's first read gets it
        assert time.monotonic() < deadline, "the guest never printed"
        await asyncio.sleep(0.05)

    lab_host.start_broker()
    client = await lab_host.client()
    try:
        # The broker answers while the file (4 screens of a million cells) is still being read.
        status = (await client.list_guests())["saved_sessions"]
        assert status["restore"] == "restoring", status
        assert status["file"] == str(saved)
        # The console was opened, and read the guest's boot line, before the
        # restore: the restored history goes in front of it, and attaching
        # waits for it, so the replay starts with the restored bytes.
        data, reply = await read_history(client, "ct", "vtty0")
        assert data.startswith(old) and data[len(old):].lstrip(b"\r\n").startswith(b"BOOT-LINE")
        assert (reply["start"], reply["end"]) == (0, len(data))
        info = await wait_console(client, "ct", lambda c: True, console="vtty0")
        assert [(m["start"], m["end"]) for m in info["marks"] if m["source"] == "restored"] == [(0, len(old))]
        # The console's log began with this broker: it was written again at the new offsets.
        logged = ConsoleLog(console_dir(log_root(lab_host.paths.socket, None), SessionKey("lab", "701", "vtty0")))
        assert (logged.start, logged.read(0, len(data))) == (0, (0, data))
        status = (await client.list_guests())["saved_sessions"]
        assert (status["restore"], status["restored"], status["error"]) == ("restored", 4, "")
    finally:
        await client.close()
    log = lab_host.log("broker")
    assert "in the background" in log and "restored the histories of 4 sessions" in log
