"""Issue 18: under systemd the broker logs in the journal's format (JOURNAL_STREAM)."""

from __future__ import annotations

import os
import re
import signal

import pytest

from tests.lab_host import LabHost
from vconsole.cli.daemon_logging import syslog_priority

FLEET = [{"id": 101, "name": "web", "vttys": 1}]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _serve_once(lab_host: LabHost) -> list[str]:
    """Start and stop a broker on the lab; the lines it wrote to stderr."""
    lab_host.start_broker()
    assert lab_host.broker is not None
    lab_host.broker.send_signal(signal.SIGTERM)
    assert lab_host.broker.wait(20) == 0
    return (lab_host.logs / "broker.log").read_text().splitlines()


def test_journal_lines_have_priorities_and_no_time(lab_host: LabHost, monkeypatch: pytest.MonkeyPatch) -> None:
    lab_host.start_lab(lab_host.write_fleet(FLEET))
    log = lab_host.logs / "broker.log"
    log.touch()
    status = os.stat(log)
    # As systemd does: the variable names the stream stderr is connected to.
    monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino}")
    lines = _serve_once(lab_host)
    serving = [ln for ln in lines if "serving on" in ln]
    assert serving and serving[0].startswith("<6>vconsole.broker: broker "), lines
    assert all(re.match(r"<[0-7]>", ln) for ln in lines), lines
    assert not any(TIMESTAMP.search(ln) for ln in lines), lines


def test_terminal_lines_keep_their_time(lab_host: LabHost, monkeypatch: pytest.MonkeyPatch) -> None:
    lab_host.start_lab(lab_host.write_fleet(FLEET))
    # A JOURNAL_STREAM inherited from a service's shell, while stderr is elsewhere: not the journal.
    monkeypatch.setenv("JOURNAL_STREAM", "1:1")
    lines = _serve_once(lab_host)
    serving = [ln for ln in lines if "serving on" in ln]
    assert serving and TIMESTAMP.match(serving[0]) and not serving[0].startswith("<"), lines


def test_priorities_follow_syslog() -> None:
    assert [syslog_priority(n) for n in (50, 40, 30, 20, 10, 5)] == [2, 3, 4, 6, 7, 7]
