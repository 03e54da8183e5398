"""Issue 15: every byte a console printed is on disk with its time, surviving a killed broker.

Real lab, real broker processes, real files under the test's XDG_STATE_HOME.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.broker.test_history_cap import _console, collect
from tests.guest_program import pattern
from tests.lab_host import LabHost
from vconsole.consolelog.layout import console_dir, log_root
from vconsole.consolelog.reader import ConsoleLog
from vconsole.domain import SessionKey

# A guest that prints a numbered 9-byte line every millisecond, raw (no \r added), once
# its gate file (argv[1]) exists: before the broker holds the console, the lab's 4 KiB
# port buffer would zap lines while a loaded machine starts the broker.
TICKER = (
    "import os, sys, time, tty\n"
    "tty.setraw(1)\n"
    "while not os.path.exists(sys.argv[1]):\n"
    "    time.sleep(0.01)\n"
    "i = 0\n"
    "while True:\n"
    "    os.write(1, b'%08d\\n' % i)\n"
    "    i += 1\n"
    "    time.sleep(0.001)\n"
)
LINE = 9


def ticker(lab_host: LabHost, name: str, guest_id: int) -> dict[str, Any]:
    """A fleet entry for a ticking container; it ticks once ``lab_host.ctl_dir(name) / "go"`` exists."""
    gate = str(lab_host.ctl_dir(name) / "go")
    return {"id": guest_id, "name": name, "vttys": 1, "init": [sys.executable, "-u", "-c", TICKER, gate]}


def expected(first: int, last: int) -> bytes:
    """The ticker's lines ``first`` to ``last`` inclusive."""
    return b"".join(b"%08d\n" % i for i in range(first, last + 1))


def the_log(lab_host: LabHost, guest_id: int, console: str = "vtty0", root: Path | None = None) -> ConsoleLog:
    """The console's log as the files hold it (read-only, like `vconsole log`)."""
    root = root or log_root(lab_host.paths.socket, None)
    return ConsoleLog(console_dir(root, SessionKey("lab", str(guest_id), console)))


def log_bytes(log: ConsoleLog) -> bytes:
    """Every byte the log holds, from its start (asserting no hole)."""
    out = bytearray()
    offset = log.start
    while offset < log.end:
        at, data = log.read(offset, 1 << 20)
        assert at == offset, f"hole in the log at {offset}..{at}"
        out += data
        offset += len(data)
    return bytes(out)


async def wait_end(lab_host: LabHost, guest: str, at_least: int, timeout: float = 20) -> dict[str, Any]:
    """The guest's first console once its history end passed ``at_least``."""
    client = await lab_host.client()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            con = _console(await client.request("list"), guest, "vtty0")
            if con["end"] >= at_least or loop.time() > deadline:
                return con
            await asyncio.sleep(0.05)
    finally:
        await client.close()


def contiguous_lines(data: bytes) -> tuple[int, int]:
    """(first, last) line numbers of ``data``, asserting they follow one another without a gap."""
    lines = data.split(b"\n")[:-1]
    numbers = [int(x) for x in lines]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "a gap in the lines"
    return numbers[0], numbers[-1]


async def test_sigkill_loses_nothing_the_broker_read(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([ticker(lab_host, "tick", 301)]))
    lab_host.start_broker()
    (lab_host.ctl_dir("tick") / "go").touch()
    await wait_end(lab_host, "tick", 200 * LINE)
    lab_host.kill_broker(signal.SIGKILL)

    # What the killed broker had read is all on disk, every line in order.
    before = log_bytes(the_log(lab_host, 301))
    assert before.startswith(b"00000000\n")
    cut = before.rfind(b"\n") + 1
    first, last = contiguous_lines(before[:cut])
    assert first == 0 and last >= 199

    await asyncio.sleep(1.0)  # the guest goes on ticking with no broker: its port keeps 4 KiB
    lab_host.start_broker()
    con = await wait_end(lab_host, "tick", len(before) + 4096 + 100 * LINE)
    after = log_bytes(the_log(lab_host, 301))
    assert after[: len(before)] == before, "the restarted broker appends after the old log"
    # One gap, at the restart: exactly the bytes the port zapped while no broker ran (lost).
    tail_end = after.rfind(b"\n") + 1
    whole = after[:tail_end]
    last_line = int(whole[-LINE:-1])
    full = expected(0, last_line)
    split = next(i for i in range(len(whole)) if whole[i] != full[i])
    lost = len(full) - len(whole)
    assert lost > 0 and con["lost"] == lost
    assert whole == full[:split] + full[split + lost :]
    assert split >= len(before) - (len(before) - cut)  # the gap comes after what was logged

    # `vconsole log` reads the same bytes from the files, escape-free text being the same here.
    printed = await asyncio.to_thread(lab_host.cli, "log", "tick", "--from-start")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.encode().startswith(before[:cut])

    # A replay from offset 0 after the restart comes from the log: the old lines too.
    client = await lab_host.client()
    try:
        reply = await client.attach(SessionKey("lab", "301", "vtty0").target, start=0)
        data, missed = await collect(client, reply.session.text, reply.offset + len(before))
        assert not missed and data[: len(before)] == before
    finally:
        await client.close()


async def test_rotation_keeps_the_limit_and_counts_what_it_evicted(lab_host: LabHost) -> None:
    lab_host.write_config('[log]\nlimit = "64KiB"\nsegment_size = "16KiB"\n')
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 201, "name": "chatty", "vttys": 1, "init": lab_host.scripted("chatty")},
    ]))
    lab_host.start_broker()
    await wait_end(lab_host, "chatty", 6)
    lab_host.command("chatty", 1, "write 655360")  # 10x the limit
    await asyncio.to_thread(lab_host.wait_done, "chatty", 1)
    con = await wait_end(lab_host, "chatty", 655360 + 6)
    log = the_log(lab_host, 201)
    directory = console_dir(log_root(lab_host.paths.socket, None), SessionKey("lab", "201", "vtty0"))
    on_disk = sum(p.stat().st_size for p in directory.iterdir() if p.suffix in (".seg", ".idx"))
    assert on_disk <= 64 * 1024 + 16 * 1024 + 64 * 1024  # limit + one segment (+ one read past it)
    assert log.end == con["end"]
    assert con["dropped"] == log.start == log.dropped > 0  # evicted whole segments, counted exactly
    assert con["log_state"] == "ok"


async def test_global_limit_evicts_oldest_first_across_consoles(lab_host: LabHost) -> None:
    lab_host.write_config('[log]\nlimit = "256KiB"\nsegment_size = "16KiB"\ntotal_limit = "160KiB"\n')
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 201, "name": "old", "vttys": 1, "init": lab_host.scripted("old")},
        {"id": 202, "name": "new", "vttys": 1, "init": lab_host.scripted("new")},
    ]))
    lab_host.start_broker()
    await wait_end(lab_host, "old", 6)
    await wait_end(lab_host, "new", 6)
    lab_host.command("old", 1, "write 102400")
    await asyncio.to_thread(lab_host.wait_done, "old", 1)
    await wait_end(lab_host, "old", 102400)
    lab_host.command("new", 1, "write 102400")
    await asyncio.to_thread(lab_host.wait_done, "new", 1)
    await wait_end(lab_host, "new", 102400)
    client = await lab_host.client()
    try:
        listing = await client.request("list")
    finally:
        await client.close()
    old, new = _console(listing, "old", "vtty0"), _console(listing, "new", "vtty0")
    assert old["dropped"] > 0 and new["dropped"] == 0, (old["dropped"], new["dropped"])
    assert listing["log"]["evicted"] >= old["dropped"]
    root = log_root(lab_host.paths.socket, None)
    total = sum(p.stat().st_size for p in root.rglob("*") if p.suffix in (".seg", ".idx"))
    assert total <= 160 * 1024 + 2 * 16 * 1024
    assert "evict" in lab_host.log("broker")


async def test_torn_tail_is_repaired_with_one_line(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 201, "name": "torn", "vttys": 1, "init": lab_host.scripted("torn")},
    ]))
    lab_host.start_broker()
    await wait_end(lab_host, "torn", 6)
    lab_host.command("torn", 1, "write 20000")
    await asyncio.to_thread(lab_host.wait_done, "torn", 1)
    await wait_end(lab_host, "torn", 20006)
    lab_host.kill_broker(signal.SIGTERM)
    directory = console_dir(log_root(lab_host.paths.socket, None), SessionKey("lab", "201", "vtty0"))
    seg = max(directory.glob("*.seg"))
    idx = seg.with_suffix(".idx")
    with open(seg, "r+b") as f:
        f.truncate(seg.stat().st_size - 1001)
    with open(idx, "r+b") as f:
        f.truncate(idx.stat().st_size - 7)
    with open(idx, "ab") as f:
        f.write(b"\xde\xad\xbe\xef garbage after a crash" * 3)
    lab_host.start_broker()
    con = await wait_end(lab_host, "torn", 1)
    assert con["log_state"] == "ok"
    repaired = [line for line in lab_host.log("broker").splitlines() if "repaired" in line]
    assert len(repaired) == 1 and "lab:201:vtty0" in repaired[0], repaired
    log = the_log(lab_host, 201)
    data = log_bytes(log)
    assert data.startswith(b"READY") and len(data) >= 20006 - 1001 - 64


def _fill(path: Path) -> Path:
    """Fill the filesystem of ``path`` with one file; return it (delete it to free the space)."""
    filler = path / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs as the log directory needs root")
async def test_full_disk_degrades_the_log_never_the_console(lab_host: LabHost) -> None:
    mnt = lab_host.base / "logfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], check=True)
    try:
        lab_host.write_config(f'[log]\ndir = "{mnt}"\n')
        lab_host.start_lab(lab_host.write_fleet([
            {"id": 201, "name": "full", "vttys": 1, "init": lab_host.scripted("full")},
        ]))
        lab_host.start_broker()
        await wait_end(lab_host, "full", 6)
        filler = _fill(mnt)
        lab_host.command("full", 1, "write 100000")
        await asyncio.to_thread(lab_host.wait_done, "full", 1)
        con = await wait_end(lab_host, "full", 100006)
        assert con["state"] == "connected" and con["end"] >= 100006
        assert con["log_state"] == "degraded" and "space" in con["log_reason"].lower()
        assert con["not_logged"] > 0
        listed = await asyncio.to_thread(lab_host.cli, "ls")
        assert listed.returncode == 0 and "console log not written: full:vtty0:" in listed.stderr
        client = await lab_host.client()
        try:  # the console still works from memory
            reply = await client.attach(SessionKey("lab", "201", "vtty0").target, tail_lines=2)
            assert reply.end == con["end"]
        finally:
            await client.close()

        filler.unlink()  # space is back: the next output after the retry interval is logged again
        await asyncio.sleep(1.2)
        lab_host.command("full", 2, "write 1000")
        await asyncio.to_thread(lab_host.wait_done, "full", 2)
        con = await wait_end(lab_host, "full", 101006)
        assert con["log_state"] == "ok", con
        log = the_log(lab_host, 201, root=mnt)
        assert log.not_logged == con["not_logged"] > 0
        at, data = log.read(log.end - 10, 10)
        assert at == log.end - 10 and data == pattern(2, 1000)[-10:]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def test_previous_boot_is_readable_after_lab_and_broker_restart(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet([{"id": 201, "name": "web", "vttys": 1, "init": lab_host.scripted("web")}])
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    await wait_end(lab_host, "web", 6)
    lab_host.command("web", 1, "write 640")
    await asyncio.to_thread(lab_host.wait_done, "web", 1)
    await wait_end(lab_host, "web", 646)
    # A stand-in for a host reboot: the broker and the lab go, then come back.
    lab_host.kill_broker(signal.SIGTERM)
    assert lab_host.lab is not None
    lab_host.lab.send_signal(signal.SIGTERM)
    lab_host.lab.wait(10)
    for done in lab_host.ctl_dir("web").iterdir():
        done.unlink()
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    con = await wait_end(lab_host, "web", 646 + 6)
    assert con["boot"] == 2

    previous = lab_host.cli("log", "web", "--boot", "-1")
    assert previous.returncode == 0, previous.stderr
    assert "1:00000000:" in previous.stdout and "1:00000009:" in previous.stdout
    current = lab_host.cli("log", "web", "--boot")
    assert current.returncode == 0, current.stderr
    assert "READY" in current.stdout and "1:00000000:" not in current.stdout
    # Through the broker too: a replay from the start crosses the boot boundary.
    everything = lab_host.cli("log", "web", "--from-start")
    assert everything.stdout.count("READY") == 2
