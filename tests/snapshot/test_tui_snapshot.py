"""The TUI side: prefix s / prefix r against a real lab and broker, and ``vconsole show``."""

from __future__ import annotations

from typing import Any

from tests.lab_host import LabHost
from tests.tui.test_pilot_keys import until
from tests.xen.conftest import wait_console
from vconsole.client import Client
from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import encode
from vconsole.snapshot.model import ConsoleRecord, History, Pending, SnapshotFile
from vconsole.tui.app import VConsoleApp
from vconsole.tui.guest_tree import GuestTree
from vconsole.tui.snapshot_screens import RestoreScreen, snapshot_files
from vconsole.tui.snapshot_view import SnapshotViewerApp

PREFIX = "ctrl+right_square_bracket"


async def test_prefix_s_snapshots_and_prefix_r_restores(lab_host: LabHost) -> None:
    init = ["/bin/sh", "-c", "printf 'TUI-LINE\\r\\n'; exec sleep 1000"]
    lab_host.start_lab(lab_host.write_fleet([{"id": 601, "name": "ct", "vttys": 1, "init": init}]))
    lab_host.start_broker()
    app = VConsoleApp(lambda: Client.connect(lab_host.paths, autostart=False))
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.query_one(GuestTree)
        await until(pilot, lambda: "lab:601:vtty0" in tree._console_nodes, "the guest tree")
        node = tree._console_nodes["lab:601:vtty0"]
        assert node.data is not None
        await app.main_screen.open_console(node.data)
        await until(pilot, lambda: "TUI-LINE" in "\n".join(app.main_screen.active_pane().view.term.screen_text()),  # type: ignore[union-attr]
                    "the console output")
        await pilot.press(PREFIX, "s")
        files: list[Any] = await until(pilot, snapshot_files, "a snapshot file")
        (rec,) = decode(files[0].read_bytes()).records
        assert b"TUI-LINE" in rec.history.data

        await pilot.press(PREFIX, "r")
        await until(pilot, lambda: isinstance(app.screen, RestoreScreen), "the restore dialog")
        await pilot.press("enter")
        client = await lab_host.client()
        try:
            info = await wait_console(client, "ct", lambda c: any(m["source"] == "restored" for m in c["marks"]),
                                      console="vtty0")
            # The console's own snapshot: its history is there already, not put in front again.
            assert info["history"] == len(rec.history.data)
        finally:
            await client.close()


async def test_show_displays_every_record() -> None:
    recs = [
        ConsoleRecord("lab", str(i), f"g{i}", "container", "vtty", 0,
                      History(f"SHOWN-{i}\r\n".encode(), 0, 9, 0), 1.6e9, None, [],
                      Pending("exact", 0, b""), Pending("unavailable"))
        for i in range(2)
    ]
    snap = decode(encode(SnapshotFile(1.7e9, "h", recs)))
    app = SnapshotViewerApp(snap, title="x.vcsnap")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert len(app.views) == 2
        assert "SHOWN-1" in "\n".join(app.views[1].term.screen_text())
        await pilot.press("n")
        await pilot.press("q")
