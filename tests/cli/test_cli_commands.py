"""The CLI as a script would use it: ls, start/stop, attach errors and their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.lab_host import LabHost

CONSOLE_FIELDS = {"name", "index", "type", "state", "pending", "unread", "clients", "history", "dropped"}
GUEST_FIELDS = {"host", "provider", "kind", "id", "name", "state", "consoles"}


def _ls(lab_host: LabHost) -> dict:  # type: ignore[type-arg]
    result = lab_host.cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_ls_json_start_stop(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet(
        [
            {"id": 101, "name": "web", "vttys": 3},
            {"id": 102, "name": "db", "vttys": 2, "autostart": False},
        ],
        [{"id": 1, "name": "dom1"}],
    ))
    lab_host.start_broker()
    listing = _ls(lab_host)
    guests = {g["name"]: g for g in listing["guests"]}
    assert set(guests) == {"web", "db", "dom1"}
    for guest in guests.values():
        assert GUEST_FIELDS <= set(guest)
        assert guest["provider"] == "lab" and guest["host"] == "testlab"
        for con in guest["consoles"]:
            assert CONSOLE_FIELDS <= set(con)
    assert guests["web"]["kind"] == "container" and guests["dom1"]["kind"] == "domu"
    assert [c["name"] for c in guests["web"]["consoles"]] == ["vtty0", "vtty1", "vtty2"]
    assert guests["web"]["state"] == "running"
    assert guests["db"]["state"] == "stopped"
    assert {c["state"] for c in guests["db"]["consoles"]} == {"stopped"}

    assert lab_host.cli("start", "db").returncode == 0
    db = next(g for g in _ls(lab_host)["guests"] if g["name"] == "db")
    assert db["state"] == "running"
    assert {c["state"] for c in db["consoles"]} == {"connected"}

    assert lab_host.cli("stop", "web").returncode == 0
    web = next(g for g in _ls(lab_host)["guests"] if g["name"] == "web")
    assert web["state"] == "stopped"
    assert {c["state"] for c in web["consoles"]} == {"stopped"}
    # The history of a stopped guest is kept.
    assert web["consoles"][0]["history"] > 0

    table = lab_host.cli("ls")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0] == "providers: lab (testlab)"
    assert table.stdout.splitlines()[1].split()[:5] == ["GUEST", "ID", "KIND", "STATE", "CONSOLE"]
    assert any(line.startswith("db") and "vtty0" in line for line in table.stdout.splitlines())


def test_attach_errors_have_distinct_exit_codes(lab_host: LabHost, runtime: Path) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 101, "name": "web", "vttys": 2},
        {"id": 102, "name": "off", "vttys": 1, "autostart": False},
    ]))
    lab_host.start_broker()
    cases = [
        (("attach", "nosuch"), 4, "no guest named 'nosuch'"),
        (("attach", "web", "7"), 4, "no console 7"),
        (("attach", "off"), 5, "stopped"),
        (("attach", "web", "--escape", "^^^"), 2, "escape key"),
        (("frobnicate",), 2, "invalid choice"),
    ]
    for args, code, message in cases:
        result = lab_host.cli(*args)
        assert result.returncode == code, (args, result.returncode, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

    # An unreachable broker: its runtime directory cannot exist (a file is in the way).
    blocker = runtime / "blocker"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "vconsole", "attach", "web", "--socket", str(blocker / "b.sock")],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("vconsole: ")


def test_attach_without_a_terminal_relays_piped_input(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([{"id": 101, "name": "web", "vttys": 2}]))
    lab_host.start_broker()
    time.sleep(0.3)  # let the login shell on vtty1 print its prompt
    proc = subprocess.Popen(
        [sys.executable, "-m", "vconsole", "attach", "web", "1", "--socket", str(lab_host.paths.socket)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(b"echo piped-$((40+2))\r")
    proc.stdin.flush()
    time.sleep(1.0)
    proc.stdin.write(b"\x1d.")  # the escape, then '.', detaches
    proc.stdin.flush()
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert b"piped-42" in out
    assert b"detached" in err
