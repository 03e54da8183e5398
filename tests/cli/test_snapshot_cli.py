"""`vconsole snapshot`, `restore` and `show`: exit codes and order (issue 14, item 18)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.lab_host import LabHost
from tests.xen.conftest import wait_console
from vconsole.cli.exit_codes import EXIT_BAD_SNAPSHOT, EXIT_USAGE
from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import encode
from vconsole.snapshot.model import ConsoleRecord, History, Pending, SnapshotFile


def _good_file(path: Path) -> bytes:
    rec = ConsoleRecord("lab", "1", "ct", "container", "vtty", 0, History(b"hello\r\n", 0, 7, 0), 1.6e9,
                        None, [], Pending("exact", 0, b""), Pending("unavailable"))
    data = encode(SnapshotFile(1.7e9, "h", [rec]))
    path.write_bytes(data)
    return data


def test_a_corrupt_snapshot_has_its_own_exit_code(tmp_path: Path) -> None:
    good = _good_file(tmp_path / "good.vcsnap")
    for name, data in (("truncated", good[:-10]), ("flipped", good[:40] + bytes([good[40] ^ 1]) + good[41:]),
                       ("garbage", b"\x80not a snapshot"), ("empty", b"")):
        bad = tmp_path / f"{name}.vcsnap"
        bad.write_bytes(data)
        for command in (["restore", "--socket", str(tmp_path / "none.sock")], ["show"]):
            done = run_cli(*command, str(bad))
            assert done.returncode == EXIT_BAD_SNAPSHOT, (name, command, done.returncode, done.stderr)
            assert done.stderr.startswith(f"vconsole: {bad}: refused: ") and done.stderr.count("\n") == 1
    # A file that is not there is a bad argument, not a bad snapshot.
    done = run_cli("restore", str(tmp_path / "missing.vcsnap"), "--socket", str(tmp_path / "none.sock"))
    assert done.returncode == EXIT_USAGE, done.stderr


async def test_snapshot_all_orders_by_provider_guest_id_console_type_and_index(lab_host: LabHost) -> None:
    sleep = ["/bin/sh", "-c", "printf 'up\\n'; exec sleep 1000"]
    # Discovered in fleet order; a snapshot lists them by id (as numbers), then type and index.
    containers = [{"id": i, "name": f"c{i}", "vttys": 2, "init": sleep} for i in (100, 9, 10)]
    lab_host.start_lab(lab_host.write_fleet(containers, [{"id": 50, "name": "d50", "frontend": "flag-aware"}]))
    lab_host.start_broker()
    client = await lab_host.client()
    try:
        for guest in ("c100", "c9", "c10"):
            await wait_console(client, guest, lambda c: c["state"] == "connected", console="vtty1")
        await wait_console(client, "d50", lambda c: c["state"] == "connected", console="pv0")
        listing = await client.list_guests()
    finally:
        await client.close()
    out = lab_host.base / "all.vcsnap"
    done = lab_host.cli("snapshot", "--all", "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    sessions = json.loads(done.stdout)["sessions"]
    order = {"vtty": 0, "pv": 1, "serial": 2}
    every = [(g["id"], c["type"], c["index"]) for g in listing["guests"] for c in g["consoles"]]
    want = [f"lab:{i}:{t}{n}" for i, t, n in sorted(every, key=lambda k: (int(k[0]), order[k[1]], k[2]))]
    assert sessions == want
    assert sessions[:2] == ["lab:9:vtty0", "lab:9:vtty1"]
    assert [r.key.text for r in decode(out.read_bytes()).records] == want
