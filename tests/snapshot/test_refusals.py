"""A refused snapshot changes nothing, and the message names what is wrong."""

from __future__ import annotations

import pytest

from tests.lab_host import LabHost
from tests.xen.conftest import history_until, read_history, wait_console
from vconsole.client import RequestFailed


async def test_refused_snapshots_change_nothing(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet(
        [{"id": 501, "name": "ct", "vttys": 1, "init": lab_host.scripted("ct")}],
        [{"id": 502, "name": "xd", "frontend": "flag-aware", "program": lab_host.scripted("xd")}],
    )
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    snap_file = lab_host.base / "ct.vcsnap"
    client = await lab_host.client()
    try:
        await wait_console(client, "ct", lambda c: c["state"] == "connected", console="vtty0")
        await history_until(client, "ct", b"READY")
        done = lab_host.cli("snapshot", "ct:0", "-o", str(snap_file))
        assert done.returncode == 0, done.stderr
        before = {g: await read_history(client, g) for g in ("ct", "xd")}
        good = snap_file.read_bytes()

        # Kind mismatch: a container console into a domU.
        done = lab_host.cli("restore", str(snap_file), "--into", "xd")
        assert done.returncode != 0 and "kinds differ" in done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        # A damaged file, refused by the CLI and (sent inline) by the broker.
        bad = snap_file.with_name("bad.vcsnap")
        bad.write_bytes(good[:-10])
        done = lab_host.cli("restore", str(bad))
        assert done.returncode != 0 and "truncated" in done.stderr and done.stderr.count("\n") == 1
        for data in (good[:-10], good[:50] + bytes([good[50] ^ 1]) + good[51:], b"\x80", b""):
            with pytest.raises(RequestFailed) as err:
                await client.request("restore", data=data)
            assert err.value.code == "bad_snapshot"
        with pytest.raises(RequestFailed, match="kinds differ"):
            await client.request("restore", data=good, into={"target": "xd", "console": 0})
        with pytest.raises(RequestFailed, match="inject_input"):
            await client.request("restore", data=good, into={"target": "xd", "console": None},
                                 inject_input="yes")
        for guest, (data, reply) in before.items():
            after, areply = await read_history(client, guest)
            assert (after, areply["start"], areply["end"]) == (data, reply["start"], reply["end"])
        # And the good file does restore.
        done = lab_host.cli("restore", str(snap_file), "--into", "ct:0")
        assert done.returncode == 0, done.stderr
        # Twice would put the same history in front again: refused, nothing changes.
        once, oreply = await read_history(client, "ct")
        done = lab_host.cli("restore", str(snap_file), "--into", "ct:0")
        assert done.returncode != 0 and "already holds this snapshot" in done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        twice, treply = await read_history(client, "ct")
        assert (twice, treply["start"]) == (once, oreply["start"])
    finally:
        await client.close()
