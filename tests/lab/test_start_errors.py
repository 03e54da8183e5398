"""Starting a guest whose init cannot run is a one-line error and a non-zero exit, from the lab through the broker."""

from __future__ import annotations

import json
import subprocess
import time

from tests.lab_host import LabHost
from vconsole.framed_socket import FramedSocket

NOWHERE = "/nonexistent/init"


def _states(lab_host: LabHost) -> dict[str, str]:
    result = lab_host.cli("ls", "--json")
    assert result.returncode == 0, result.stderr
    return {g["name"]: g["state"] for g in json.loads(result.stdout)["guests"]}


def _assert_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stderr
    stderr = result.stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vconsole: "), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_start_of_a_guest_whose_init_cannot_run_fails_with_the_reason(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet(
        [
            {"id": 201, "name": "noinit", "vttys": 1, "autostart": False, "init": [NOWHERE]},
            {"id": 202, "name": "shinit", "vttys": 1, "autostart": False, "init": NOWHERE},
            {"id": 203, "name": "brief", "vttys": 1, "autostart": False, "init": "true"},
            # Booted with the lab: its failure must not keep the others from booting.
            {"id": 204, "name": "autobad", "vttys": 1, "init": [NOWHERE]},
            {"id": 205, "name": "good", "vttys": 1},
        ],
        [{"id": 206, "name": "noprog", "autostart": False, "program": [NOWHERE]}],
    ))
    lab_host.start_broker()
    assert _states(lab_host) == {
        "noinit": "stopped", "shinit": "stopped", "brief": "stopped",
        "autobad": "stopped", "good": "running", "noprog": "stopped",
    }

    began = time.monotonic()
    result = lab_host.cli("start", "noinit")
    _assert_error(result, "container noinit", "init cannot run", NOWHERE, "not found")
    assert time.monotonic() - began < 5
    # A shell command that cannot find its program: init dies at once with 127.
    _assert_error(lab_host.cli("start", "shinit"), "container shinit", "exited at once", "127")
    _assert_error(lab_host.cli("start", "noprog"), "domu noprog", "program cannot run", NOWHERE)
    # An init that ran and finished is a boot and a shutdown, not an error.
    assert lab_host.cli("start", "brief").returncode == 0
    states = _states(lab_host)
    assert [states[n] for n in ("noinit", "shinit", "noprog", "autobad")] == ["stopped"] * 4
    assert states["good"] == "running"
    # The lab said why in its log, one line each.
    log = lab_host.log("lab")
    assert "autostart: container autobad: init cannot run" in log
    assert "container shinit: init exited at once" in log
    assert "Traceback" not in log


async def test_a_login_that_cannot_run_is_an_answer_not_a_dropped_connection(lab_host: LabHost) -> None:
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 301, "name": "nologin", "vttys": 2, "login": [NOWHERE]},
    ]))
    conn = await FramedSocket.connect(lab_host.paths.lab_socket)
    try:
        reply, fds = await conn.request({"op": "open_tty", "id": 1, "guest": "nologin", "index": 1})
        assert fds == []
        assert not reply["ok"]
        assert reply["error"]["code"] == "unavailable"
        assert NOWHERE in reply["error"]["message"]
        # The same connection still answers (it could be holding other masters).
        reply, _ = await conn.request({"op": "list", "id": 2})
        assert reply["ok"] and reply["guests"][0]["state"] == "running"
    finally:
        conn.close()
