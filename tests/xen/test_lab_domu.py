"""Lab domUs end to end: real lab and broker processes, real shared pages.

Each test writes its own fleet, starts ``vconsole lab`` and ``vconsole
serve`` as subprocesses in a private runtime directory (tests/lab_host.py)
and talks to the broker with the real client.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.guest_program import pattern
from tests.lab_host import LabHost
from tests.xen.conftest import (
    HERE,
    compile_c,
    console_info,
    history_until,
    read_history,
    strip_banners,
    wait_console,
)
from vconsole.client import Client
from vconsole.console.xen_endpoint import CONNECTED_BANNER, HYPERVISOR_BANNER
from vconsole.console.xenring import (
    OUT_SIZE,
    XENCONSOLE_CONNECTED,
    XENCONSOLE_DISCONNECTED,
    XenConsoleRing,
)

# A guest that answers every input line, so input and output both cross the ring.
ANSWERER = ["/bin/sh", "-c", 'echo READY; while IFS= read -r l; do echo "got:$l"; done']


def page_path(host: LabHost, domid: int) -> Path:
    return host.paths.lab_pages / f"domu-{domid}-pv0.page"


def peek(host: LabHost, domid: int) -> dict[str, int]:
    """The page's indices and flag, as a third party sees them (non-consuming)."""
    # The lab answers on its socket a moment before its guests have booted.
    wait_until(lambda: page_path(host, domid).exists(), 10, f"domU {domid}'s page")
    with XenConsoleRing.open(page_path(host, domid)) as ring:
        return {
            "connection": ring.connection,
            "out_pending": (ring.out_prod - ring.out_cons) % 2**32,
            "in_pending": (ring.in_prod - ring.in_cons) % 2**32,
        }


def wait_until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def type_and_wait(client: Client, key: str, text: bytes, expect: bytes, timeout: float = 10.0) -> float:
    """Send ``text`` to an attached session; seconds until ``expect`` is echoed back."""
    began = time.monotonic()
    await client.request("input", session=key, data=text)
    seen = b""
    deadline = began + timeout
    while expect not in seen:
        ev = await asyncio.wait_for(client.events.get(), max(0.01, deadline - time.monotonic()))
        if ev.get("event") == "output" and ev.get("session") == key:
            seen += ev["data"]
    return time.monotonic() - began


async def attach_rw(client: Client, guest: str) -> str:
    reply = await client.request("attach", target=guest, mode="rw")
    assert reply["state"] == "connected", reply
    return str(reply["session"])


# --- ls --json and attach ----------------------------------------------------

async def test_domu_consoles_listed_with_ring_and_attachable(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet(
        [],
        [
            {"id": 1, "name": "fa", "frontend": "flag-aware", "program": ANSWERER},
            {"id": 2, "name": "lg", "frontend": "legacy", "program": ANSWERER},
        ],
    )
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        for name, domid in (("fa", 1), ("lg", 2)):
            await wait_console(client, name, lambda c: c["state"] == "connected")
            await history_until(client, name, b"READY")
            key = await attach_rw(client, name)
            await type_and_wait(client, key, f"hello {name}\r".encode(), f"got:hello {name}".encode())
            assert peek(lab_host, domid)["connection"] == XENCONSOLE_CONNECTED
        out = lab_host.cli("ls", "--json")
        assert out.returncode == 0, out.stderr
        listing = json.loads(out.stdout)
        domus = {g["name"]: g for g in listing["guests"] if g["kind"] == "domu"}
        assert set(domus) == {"fa", "lg"}
        for name, domid in (("fa", 1), ("lg", 2)):
            (con,) = domus[name]["consoles"]
            assert con["name"] == "pv0" and con["state"] == "connected"
            assert con["ring"] == str(page_path(lab_host, domid))
            assert os.path.getsize(con["ring"]) == 4096
            assert con["pending"] == 0 and con["input_pending"] == 0
            assert domus[name]["frontend"] == ("flag-aware" if name == "fa" else "legacy")
    finally:
        await client.close()


# --- acceptance 2: a C program on a live page ---------------------------------

async def test_c_program_on_a_live_lab_page(lab_host: LabHost, c_compiler: str, tmp_path: Path) -> None:
    """An independent C reader checks the ABI on a page the broker is servicing.

    The C program (own struct copy) checks offsets and ``connection ==
    XENCONSOLE_CONNECTED`` (set by the broker), writes a line into ``in`` and
    taps ``out`` non-destructively (see ring_tap.c), so the broker stays the
    only consumer: both the tap and the broker's history must show the guest's
    answer, and the broker must have consumed every byte (pending back to 0).
    The repository's general frontend checker (tests/console/xenring_check.c)
    is also run read-only against the same live page.
    """
    tap = compile_c(c_compiler, HERE / "ring_tap.c", tmp_path / "ring_tap")
    checker = compile_c(c_compiler, HERE.parent / "console" / "xenring_check.c", tmp_path / "xenring_check")
    fleet = lab_host.write_fleet([], [{"id": 5, "name": "cdom", "frontend": "legacy", "program": ANSWERER}])
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        info = await wait_console(client, "cdom", lambda c: c["state"] == "connected" and "ring" in c)
        await history_until(client, "cdom", b"READY")
        ring = info["ring"]

        check = subprocess.run(
            [str(checker), ring, "--expect-connection", str(XENCONSOLE_CONNECTED)],
            capture_output=True, text=True, timeout=30,
        )
        assert check.returncode == 0, check.stdout
        assert check.stdout.startswith("layout=ok")

        line = b"from C 0123456789"
        proc = await asyncio.to_thread(
            subprocess.run,
            [str(tap), ring, "--expect-connection", str(XENCONSOLE_CONNECTED),
             "--input-hex", (line + b"\r").hex(), "--until-hex", (b"got:" + line).hex(),
             "--timeout-ms", "15000"],
            capture_output=True, text=True, timeout=30,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        facts = dict(w.split("=", 1) for ln in proc.stdout.splitlines() for w in ln.split() if "=" in w)
        assert facts["layout"] == "ok" and facts["connection_offset"] == "3088"
        assert facts["connection"] == "0" and facts["wrote"] == str(len(line) + 1)
        tapped = bytes.fromhex(facts["tap_hex"])
        assert b"got:" + line in tapped
        # The broker serviced the same ring meanwhile and holds the same bytes.
        history = await history_until(client, "cdom", b"got:" + line)
        assert tapped in history
        await wait_console(client, "cdom", lambda c: c["pending"] == 0 and c["input_pending"] == 0)
    finally:
        await client.close()


# --- acceptance 3: boot before connect ---------------------------------------

async def test_flag_aware_boot_before_broker_goes_to_hypervisor_console(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet(
        [], [{"id": 3, "name": "early", "frontend": "flag-aware", "program": lab_host.scripted("early")}]
    )
    lab_host.start_lab(fleet)
    lab_host.command("early", 1, "write 10240")
    took = lab_host.wait_done("early", 1, timeout=20)  # no broker: must not block
    assert took < 5.0
    state = peek(lab_host, 3)
    assert state["connection"] == XENCONSOLE_DISCONNECTED and state["out_pending"] == 0

    lab_host.start_broker()
    client = await lab_host.client()
    try:
        expected = b"READY\n" + pattern(1, 10240)
        data, reply = await read_history(client, "early")
        assert strip_banners(data) == expected  # everything, in order
        assert [m["source"] for m in reply["marks"]] == ["hypervisor"]  # attach says where, as list does
        assert data.startswith(HYPERVISOR_BANNER) and data.endswith(CONNECTED_BANNER)
        info = await console_info(client, "early")
        (mark,) = info["marks"]
        assert mark["source"] == "hypervisor"
        assert data[mark["start"] : mark["end"]] == expected
        assert info["lost"] == 0
        # From now on the guest writes to the ring.
        lab_host.command("early", 2, "write 3000")
        lab_host.wait_done("early", 2)
        data = await history_until(client, "early", pattern(2, 3000))
        assert strip_banners(data) == expected + pattern(2, 3000)
        assert peek(lab_host, 3)["connection"] == XENCONSOLE_CONNECTED
    finally:
        await client.close()


async def test_legacy_blocks_until_broker_connects_then_all_arrives(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet(
        [], [{"id": 4, "name": "old", "frontend": "legacy", "program": lab_host.scripted("old")}]
    )
    lab_host.start_lab(fleet)
    count = 64 * 1024  # more than the ring plus the pty's own buffer
    lab_host.command("old", 1, f"write {count}")
    wait_until(lambda: peek(lab_host, 4)["out_pending"] == OUT_SIZE, 10, "the ring to fill")
    time.sleep(1.0)
    done = lab_host.ctl_dir("old") / "1.done"
    assert not done.exists(), "a legacy guest must block while nobody services its ring"
    assert peek(lab_host, 4)["connection"] == XENCONSOLE_DISCONNECTED

    lab_host.start_broker()
    client = await lab_host.client()
    try:
        lab_host.wait_done("old", 1, timeout=30)
        expected = b"READY\n" + pattern(1, count)
        data = await history_until(client, "old", expected[-200:])
        assert data == expected  # no hypervisor log for a legacy guest, nothing lost
        info = await wait_console(client, "old", lambda c: c.get("frontend_waited", 0) >= 0.9)
        assert info["marks"] == [] and info["lost"] == 0
    finally:
        await client.close()


# --- acceptance 4: SIGKILL the broker ------------------------------------------

async def test_sigkill_broker_guests_keep_running_and_nothing_is_lost(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet(
        [],
        [
            {"id": 6, "name": "fa", "frontend": "flag-aware", "program": lab_host.scripted("fa")},
            {"id": 7, "name": "lg", "frontend": "legacy", "program": lab_host.scripted("lg")},
        ],
    )
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        for name in ("fa", "lg"):
            await wait_console(client, name, lambda c: c["state"] == "connected")
            lab_host.command(name, 1, "write 3000")
        first = {name: strip_banners(await history_until(client, name, pattern(1, 3000))) for name in ("fa", "lg")}
    finally:
        await client.close()
    lab_pid = lab_host.lab.pid if lab_host.lab else 0

    lab_host.kill_broker(signal.SIGKILL)
    count = 64 * 1024
    for name, domid in (("fa", 6), ("lg", 7)):
        assert peek(lab_host, domid)["connection"] == XENCONSOLE_CONNECTED  # left as it was
        lab_host.command(name, 2, f"write {count}")
    for domid in (6, 7):
        wait_until(lambda d=domid: peek(lab_host, d)["out_pending"] == OUT_SIZE, 10, "rings to fill")
    time.sleep(0.5)
    for name in ("fa", "lg"):
        assert not (lab_host.ctl_dir(name) / "2.done").exists()  # waiting in the ring, not dropped
    assert lab_host.lab is not None and lab_host.lab.poll() is None and lab_host.lab.pid == lab_pid

    lab_host.start_broker()
    client = await lab_host.client()
    try:
        for name in ("fa", "lg"):
            lab_host.wait_done(name, 2, timeout=30)
            data = await history_until(client, name, pattern(2, count)[-100:])
            data = strip_banners(data)
            assert data.count(pattern(2, count)) == 1
            # The new broker has the first one's history (its console log, with
            # the hypervisor log of before the first broker connected: not put
            # in twice) and then the ring, complete.
            assert data.endswith(pattern(2, count))
            assert data.startswith(first[name])
            assert data[len(first[name]) : -count] == b"", data[:200]
            info = await console_info(client, name)
            assert info["lost"] == 0 and info["state"] == "connected"
    finally:
        await client.close()


# --- acceptance 1 (lab level): a corrupt page ------------------------------------

async def test_corrupt_page_is_reported_and_others_keep_working(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet(
        [{"id": 101, "name": "ct", "vttys": 1, "init": ["/bin/cat"]}],
        [
            {"id": 8, "name": "bad", "frontend": "legacy", "program": ANSWERER},
            {"id": 9, "name": "good", "frontend": "flag-aware", "program": ANSWERER},
        ],
    )
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    watcher = await lab_host.client()
    try:
        for name in ("bad", "good"):
            await wait_console(client, name, lambda c: c["state"] == "connected")
            await history_until(client, name, b"READY")
        await wait_console(client, "ct", lambda c: c["state"] == "connected", console="vtty0")
        await watcher.request("watch")

        with XenConsoleRing.open(page_path(lab_host, 8)) as ring:
            ring.out_prod = (ring.out_cons + 5000) % 2**32  # a hostile guest's indices
        info = await wait_console(client, "bad", lambda c: c["state"] == "disconnected", timeout=10)
        assert info["reason"].startswith("ring corrupt: "), info
        assert "out_prod" in info["reason"]

        # The broker is alive and the other consoles work, through a ring and a pty.
        assert lab_host.broker is not None and lab_host.broker.poll() is None
        key = await attach_rw(client, "good")
        await type_and_wait(client, key, b"still here\r", b"got:still here")
        reply = await client.request("attach", target="ct", mode="rw")
        await type_and_wait(client, str(reply["session"]), b"xyz", b"xyz")

        # No hot loop: over two seconds the corrupt console barely changes state.
        while not watcher.events.empty():
            watcher.events.get_nowait()
        await asyncio.sleep(2.0)
        bad_events = []
        while not watcher.events.empty():
            ev = watcher.events.get_nowait()
            if ev.get("event") == "state" and ev.get("guest") == "bad":
                bad_events.append(ev)
        assert len(bad_events) <= 2, bad_events
        info = await console_info(client, "bad")
        assert info["state"] == "disconnected" and info["reason"].startswith("ring corrupt: ")

        # Repaired, the broker picks the ring up again by itself.
        with XenConsoleRing.open(page_path(lab_host, 8)) as ring:
            ring.out_cons = ring.out_prod
        await wait_console(client, "bad", lambda c: c["state"] == "connected", timeout=15)
        key = await attach_rw(client, "bad")
        await type_and_wait(client, key, b"back\r", b"got:back")
    finally:
        await watcher.close()
        await client.close()


# --- acceptance 5: one domU floods ----------------------------------------------

async def test_flooding_domu_does_not_starve_keystroke_echo(lab_host: LabHost) -> None:
    lab_host.write_config('[broker]\nhistory = "16M"\n\n[lab]\nenabled = true\n')
    fleet = lab_host.write_fleet(
        [{"id": 101, "name": "ct", "vttys": 1, "init": ["/bin/cat"]}],
        [
            {"id": 10, "name": "flood", "frontend": "legacy", "program": lab_host.scripted("flood")},
            {"id": 11, "name": "quiet", "frontend": "flag-aware", "program": ["/bin/cat"]},
        ],
    )
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    sampler = await lab_host.client()
    try:
        await wait_console(client, "flood", lambda c: c["state"] == "connected")
        await history_until(client, "flood", b"READY")
        keys = {name: await attach_rw(client, name) for name in ("ct", "quiet")}
        count = 3_000_000
        lab_host.command("flood", 1, f"write {count}")
        done = lab_host.ctl_dir("flood") / "1.done"
        latencies: dict[str, list[float]] = {"ct": [], "quiet": []}
        pendings: list[int] = []
        began = time.monotonic()
        i = 0
        while not done.exists() and time.monotonic() - began < 60:
            for name, key in keys.items():
                ch = "abcdefghijklmnopqrstuvwxyz"[i % 26].encode()
                latencies[name].append(await type_and_wait(client, key, ch, ch))
            pendings.append((await console_info(sampler, "flood"))["pending"])
            i += 1
            await asyncio.sleep(0.02)
        flood_time = time.monotonic() - began
        assert done.exists(), "the flood never finished"
        expected = b"READY\n" + pattern(1, count)
        await wait_console(sampler, "flood", lambda c: c["end"] >= len(expected) and c["pending"] == 0, timeout=30)
        data, _ = await read_history(sampler, "flood")
        info = await console_info(sampler, "flood")
        assert data == expected, "flood bytes were lost or reordered"
        assert info["lost"] == 0 and info["dropped"] == 0
        assert max(pendings) > 0, pendings  # the flood showed as pending in the ring
        for name, lat in latencies.items():
            assert len(lat) >= 3, (name, lat)
            p90 = sorted(lat)[int(0.9 * (len(lat) - 1))]
            print(
                f"\n{name}: {len(lat)} keystrokes during a {count}-byte flood ({flood_time:.1f}s): "
                f"median {statistics.median(lat) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms, "
                f"max {max(lat) * 1000:.1f} ms; flood pending max {max(pendings)}"
            )
            assert p90 < 0.2, (name, lat)  # a loose bound: catches a collapse only
    finally:
        await sampler.close()
        await client.close()


# --- graceful backend exit, and the lab's ring protocol -----------------------

async def test_graceful_broker_exit_sends_flag_aware_guest_back_to_hypervisor_console(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet(
        [], [{"id": 12, "name": "fa", "frontend": "flag-aware", "program": lab_host.scripted("fa")}]
    )
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        await wait_console(client, "fa", lambda c: c["state"] == "connected")
        await history_until(client, "fa", b"READY")
    finally:
        await client.close()
    lab_host.kill_broker(signal.SIGTERM)
    assert peek(lab_host, 12)["connection"] == XENCONSOLE_DISCONNECTED
    lab_host.command("fa", 1, "write 5000")
    lab_host.wait_done("fa", 1)  # to the hypervisor console: never blocks
    assert peek(lab_host, 12)["out_pending"] == 0

    lab_host.start_broker()
    client = await lab_host.client()
    try:
        data, _ = await read_history(client, "fa")
        assert strip_banners(data).endswith(pattern(1, 5000))
        info = await console_info(client, "fa")
        mark = info["marks"][-1]
        assert mark["source"] == "hypervisor"
        assert data[mark["start"] : mark["end"]].endswith(pattern(1, 5000))
        assert peek(lab_host, 12)["connection"] == XENCONSOLE_CONNECTED
    finally:
        await client.close()


async def test_lab_ring_ops_lease_and_log_offsets(lab_host: LabHost) -> None:
    from vconsole.framed_socket import FramedSocket

    fleet = lab_host.write_fleet(
        [{"id": 101, "name": "ct", "vttys": 1, "init": ["/bin/cat"]}],
        [{"id": 13, "name": "fa", "frontend": "flag-aware", "program": lab_host.scripted("fa")}],
    )
    lab_host.start_lab(fleet)  # no broker: we are the backend
    lab_host.command("fa", 1, "write 1000")
    lab_host.wait_done("fa", 1)
    lab = await FramedSocket.connect(lab_host.paths.lab_socket)
    other = await FramedSocket.connect(lab_host.paths.lab_socket)
    try:
        reply, fds = await lab.request({"op": "open_ring", "id": 1, "guest": "fa", "index": 0})
        assert reply["ok"] and len(fds) == 2 and reply["ring"] == str(page_path(lab_host, 13))
        busy, none = await other.request({"op": "open_ring", "id": 1, "guest": "fa", "index": 0})
        assert busy["error"]["code"] == "EBUSY" and none == []
        wrong, _ = await other.request({"op": "open_tty", "id": 2, "guest": "fa", "index": 0})
        assert wrong["error"]["code"] == "bad_request"
        wrong, _ = await other.request({"op": "open_ring", "id": 3, "guest": "ct", "index": 0})
        assert wrong["error"]["code"] == "bad_request"

        with XenConsoleRing.from_fd(fds[0]) as ring:
            ring.connection = XENCONSOLE_CONNECTED
            os.write(fds[1], b"\x01")  # notify
            synced, _ = await lab.request(
                {"op": "ring_connected", "id": 2, "guest": "fa", "index": 0, "boot": "", "from": 0}
            )
            assert synced["ok"] and synced["frontend_connection"] == XENCONSOLE_CONNECTED
            assert synced["hv_log"] == b"READY\n" + pattern(1, 1000)
            assert synced["hv_missed"] == 0 and synced["hv_end"] == 1006
            # Asked again from where we are, in the same boot: nothing new.
            again, _ = await lab.request(
                {"op": "ring_connected", "id": 3, "guest": "fa", "index": 0,
                 "boot": synced["boot"], "from": synced["hv_end"]}
            )
            assert again["hv_log"] == b"" and again["hv_start"] == 1006
            # The guest now writes to the ring.
            lab_host.command("fa", 2, "write 100")
            lab_host.wait_done("fa", 2)
            assert ring.read_out() == pattern(2, 100)
        for fd in fds:
            os.close(fd)
    finally:
        lab.close()  # the lease ends with the connection
    try:
        deadline = time.monotonic() + 5
        while True:
            reply, fds = await other.request({"op": "open_ring", "id": 9, "guest": "fa", "index": 0})
            if reply["ok"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert reply["ok"], reply
        for fd in fds:
            os.close(fd)
    finally:
        other.close()


async def test_domu_stop_and_start_reconnects_with_the_new_boot(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet(
        [], [{"id": 14, "name": "fa", "frontend": "flag-aware", "program": ANSWERER}]
    )
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        await wait_console(client, "fa", lambda c: c["state"] == "connected")
        await history_until(client, "fa", b"READY")
        await client.request("stop", target="fa")
        await wait_console(client, "fa", lambda c: c["state"] == "stopped")
        assert not page_path(lab_host, 14).exists()  # the domain's page is gone
        await client.request("start", target="fa")
        await wait_console(client, "fa", lambda c: c["state"] == "connected")
        data = await history_until(client, "fa", b"READY", timeout=10)
        deadline = time.monotonic() + 10
        while strip_banners(data).count(b"READY") < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            data, _ = await read_history(client, "fa")
        assert strip_banners(data).count(b"READY") == 2  # each boot once, none repeated
        key = await attach_rw(client, "fa")
        await type_and_wait(client, key, b"again\r", b"got:again")
    finally:
        await client.close()


async def test_hypervisor_log_overflow_before_connect_is_counted_as_lost(lab_host: LabHost) -> None:
    from vconsole.lab.hypervisor_log import LOG_SIZE

    fleet = lab_host.write_fleet(
        [], [{"id": 15, "name": "chatty", "frontend": "flag-aware", "program": lab_host.scripted("chatty")}]
    )
    lab_host.start_lab(fleet)
    count = 100 * 1024
    lab_host.command("chatty", 1, f"write {count}")
    lab_host.wait_done("chatty", 1)  # never blocks, even past the log's size
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        data, _ = await read_history(client, "chatty")
        info = await console_info(client, "chatty")
        everything = b"READY\n" + pattern(1, count)
        assert strip_banners(data) == everything[-LOG_SIZE:]  # the newest bytes, in order
        assert info["lost"] == len(everything) - LOG_SIZE
        assert info["hypervisor_dropped"] == len(everything) - LOG_SIZE
    finally:
        await client.close()


async def test_lab_control_errors_are_structured_and_keep_the_connection(lab_host: LabHost) -> None:
    from vconsole.framed_socket import FramedSocket

    lab_host.start_lab(lab_host.write_fleet(
        [{"id": 101, "name": "ct", "vttys": 1, "init": ["/bin/cat"]},
         {"id": 102, "name": "off", "vttys": 1, "autostart": False}],
        [{"id": 13, "name": "fa", "frontend": "flag-aware", "program": lab_host.scripted("fa")}],
    ))
    lab = await FramedSocket.connect(lab_host.paths.lab_socket)
    try:
        cases = [
            ({"op": "teleport"}, "unknown_op", "unknown operation 'teleport'"),
            ({"op": 7}, "unknown_op", "unknown operation 7"),
            ({"op": "start", "guest": "nosuch"}, "unknown_guest", "no guest 'nosuch' in the lab"),
            ({"op": "start", "guest": 5}, "bad_request", "field 'guest' must be a string"),
            ({"op": "open_tty", "guest": "ct", "index": 99}, "bad_request", "field 'index' must be in 0..63"),
            ({"op": "open_tty", "guest": "ct", "index": 3}, "no_console", "has no vtty3"),
            ({"op": "open_tty", "guest": "off", "index": 0}, "stopped", "off is stopped"),
            ({"op": "ring_state", "guest": "ct", "index": 0}, "bad_request", "it has no ring"),
            ({"op": "ring_restore", "guest": "ct", "index": 0, "out": b""}, "unknown_guest", "no domU 'ct'"),
        ]
        for rid, (msg, code, message) in enumerate(cases, 1):
            reply, fds = await lab.request({**msg, "id": rid})
            assert reply["id"] == rid and reply["ok"] is False and fds == [], (msg, reply)
            assert reply["error"]["code"] == code and message in reply["error"]["message"], (msg, reply)
        # The same connection still works after every refusal.
        reply, fds = await lab.request({"op": "open_tty", "id": 99, "guest": "ct", "index": 0})
        assert reply["ok"] and len(fds) == 1
        os.close(fds[0])
    finally:
        lab.close()
