"""``vconsole wait``: the real CLI against a real lab and broker."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, vconsole_cmd, wait_for
from tests.lab_host import LabHost
from vconsole.cli.exit_codes import EXIT_ERROR, EXIT_OK, EXIT_STOPPED, EXIT_UNKNOWN, EXIT_USAGE

FOREVER = "sleep 1000"


def _console(lab_host: LabHost, guest: str) -> dict[str, Any]:
    listing = json.loads(lab_host.cli("ls", "--json").stdout)
    (found,) = [g for g in listing["guests"] if g["name"] == guest]
    console: dict[str, Any] = found["consoles"][0]
    return console


def _gated(lab_host: LabHost, name: str, script: str) -> tuple[dict[str, Any], Path]:
    """A running container whose init runs ``script`` once the test creates its gate file."""
    gate = lab_host.ctl_dir(name) / "go"
    init = f"while [ ! -e {gate} ]; do sleep 0.05; done; {script}; {FOREVER}"
    return {"id": 400 + len(name), "name": name, "vttys": 1, "init": init}, gate


def _waiter(lab_host: LabHost, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        vconsole_cmd("wait", *args, "--socket", str(lab_host.paths.socket)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )


def test_wait_after_start_prints_the_login_prompt(lab_host: LabHost) -> None:
    """Acceptance 3: `vconsole start web && vconsole wait web --pattern 'login:'`; wait reads nothing."""
    fleet = lab_host.write_fleet([{
        "id": 401, "name": "web", "vttys": 1, "autostart": False,
        "init": f"sleep 1; printf 'Welcome\\n\\033[1mweb login: \\033[0m'; {FOREVER}",
    }])
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    assert _console(lab_host, "web")["state"] == "stopped"
    refused = lab_host.cli("wait", "web", "--pattern", "login:", "--timeout", "10")
    assert refused.returncode == EXIT_STOPPED and refused.stderr.count("\n") == 1, refused.stderr
    started = lab_host.cli("start", "web")
    assert started.returncode == EXIT_OK, started.stderr
    waited = lab_host.cli("wait", "web", "--pattern", "login:", "--timeout", "30")
    assert (waited.returncode, waited.stdout, waited.stderr) == (EXIT_OK, "web login: \n", "")
    # A LOG attachment never counts as reading: everything the guest wrote is still unread.
    assert _console(lab_host, "web")["unread"] >= len("Welcome\r\nweb login: ")


def test_a_pattern_that_never_comes_times_out_and_an_unknown_guest_is_exit_4(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet([{"id": 402, "name": "quiet", "vttys": 1, "init": f"printf 'hello\\n'; {FOREVER}"}])
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    began = time.monotonic()
    waited = lab_host.cli("wait", "quiet", "--pattern", "never there", "--timeout", "1")
    took = time.monotonic() - began
    assert waited.returncode == EXIT_ERROR and waited.stdout == ""
    assert waited.stderr.count("\n") == 1 and "no line matching 'never there'" in waited.stderr
    assert 1.0 <= took < 10.0
    unknown = lab_host.cli("wait", "nosuch", "--pattern", "x", "--timeout", "10")
    assert unknown.returncode == EXIT_UNKNOWN and unknown.stderr.count("\n") == 1, unknown.stderr
    unknown_console = lab_host.cli("wait", "quiet", "7", "--pattern", "x", "--timeout", "10")
    assert unknown_console.returncode == EXIT_UNKNOWN, unknown_console.stderr


def test_from_start_finds_an_earlier_line_and_from_now_does_not(lab_host: LabHost) -> None:
    fleet = lab_host.write_fleet([{"id": 403, "name": "early", "vttys": 1, "init": f"printf 'boot done\\n'; {FOREVER}"}])
    lab_host.start_lab(fleet)
    lab_host.start_broker()
    wait_for(lambda: "boot done" in lab_host.cli("log", "early").stdout, what="the line in the log")
    found = lab_host.cli("wait", "early", "--pattern", "^boot d", "--from", "start", "--timeout", "10")
    assert (found.returncode, found.stdout) == (EXIT_OK, "boot done\n"), found.stderr
    missed = lab_host.cli("wait", "early", "--pattern", "^boot d", "--from", "now", "--timeout", "1")
    assert missed.returncode == EXIT_ERROR, missed.stderr
    default = lab_host.cli("wait", "early", "--pattern", "^boot d", "--timeout", "1")
    assert default.returncode == EXIT_ERROR, default.stderr  # --from now is the default


def test_a_line_split_across_writes_matches_as_one_line(lab_host: LabHost) -> None:
    """The halves come 0.6 s apart, longer than the prompt delay: the first is matched alone, then whole."""
    guest, gate = _gated(
        lab_host, "split",
        "printf 'boot ok\\n[   1.0] \\033[31mKernel pa'; sleep 0.6; printf 'nic - not syncing: VFS\\033[0m\\nafter\\n'",
    )
    lab_host.start_lab(lab_host.write_fleet([guest]))
    lab_host.start_broker()
    waiter = _waiter(lab_host, "split", "--pattern", r"Kernel panic - not syncing: \w+$", "--timeout", "30")
    try:
        wait_for(lambda: _console(lab_host, "split")["clients"] == 1, what="wait attached")
        gate.touch()
        out, err = waiter.communicate(timeout=30)
    finally:
        waiter.kill()
        waiter.wait()
    assert (waiter.returncode, out, err) == (EXIT_OK, "[   1.0] Kernel panic - not syncing: VFS\n", "")
    assert _console(lab_host, "split")["clients"] == 0


def test_interrupt_ends_wait_with_130(lab_host: LabHost) -> None:
    import signal

    lab_host.start_lab(lab_host.write_fleet([{"id": 405, "name": "idle", "vttys": 1, "init": FOREVER}]))
    lab_host.start_broker()
    waiter = _waiter(lab_host, "idle", "--pattern", "x")
    try:
        wait_for(lambda: _console(lab_host, "idle")["clients"] == 1, what="wait attached")
        waiter.send_signal(signal.SIGINT)
        assert waiter.wait(10) == 130
    finally:
        waiter.kill()
        waiter.wait()


def test_bad_regex_and_bad_options_are_one_line_and_exit_2(runtime: Path) -> None:
    for args, message in (
        (["web", "--pattern", "(unclosed"], "not a valid regular expression"),
        (["web", "--pattern", "x", "--timeout", "-3"], "not a number of seconds"),
        (["web", "--pattern", "x", "--from", "later"], "invalid choice"),
        (["web"], "--pattern"),
    ):
        done = run_cli("wait", *args)
        assert done.returncode == EXIT_USAGE and done.stdout == "", args
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_wait_outlives_a_broker_restart_and_still_honours_its_timeout(lab_host: LabHost) -> None:
    guest, gate = _gated(lab_host, "later", "printf 'ready now\\n'")
    lab_host.start_lab(lab_host.write_fleet([guest]))
    lab_host.start_broker()
    waiter = _waiter(lab_host, "later", "--pattern", "ready", "--timeout", "60")
    short = _waiter(lab_host, "later", "--pattern", "ready", "--timeout", "3")
    try:
        wait_for(lambda: _console(lab_host, "later")["clients"] == 2, what="both waits attached")
        lab_host.kill_broker()
        assert short.wait(15) == EXIT_ERROR  # no broker, and the timeout passed: 1, not a hang
        lab_host.start_broker()  # the waiter never starts one itself; it re-attaches to this one
        wait_for(lambda: _console(lab_host, "later")["clients"] == 1, timeout=20, what="wait re-attached")
        gate.touch()
        out, err = waiter.communicate(timeout=30)
    finally:
        for proc in (waiter, short):
            proc.kill()
            proc.wait()
    assert (waiter.returncode, out) == (EXIT_OK, "ready now\n"), err
    assert "broker lost" in err
