"""``[[watches]]`` in config.toml with a real lab and broker: user watches, ignores, bad ones, quiet watches."""

from __future__ import annotations

import json
import time

from tests.conftest import wait_for
from tests.events.cli_events import (
    FOREVER,
    events_json,
    gated_init,
    listed_console,
    raw_log,
    watch_hits,
)
from tests.lab_host import LabHost
from vconsole.console_events import EventKind
from vconsole.domain import Severity

WATCHES = """\
[[watches]]
name = "replication"
regex = "replication (lag|broken)"
severity = "error"
guests = ["db"]
ignore = ["replication lag 0s"]

[[watches]]
name = "typo"
regex = "unterminated ["

[[watches]]
name = "app-fatal"
regex = "FATAL: "
severity = "critical"
consoles = [0]
"""

# What db prints: two user hits, a configured false positive, and two of the built-in ignore list.
DB_OUTPUT = (
    "[    0.000000] Kernel command line: BOOT_IMAGE=/vmlinuz root=/dev/xvda1 ro panic=10 oops=panic\\n"
    "[    0.412345] NMI watchdog: Perf event create on CPU 0 failed with -2\\n"
    "[    0.412400] NMI watchdog: Shutting down hard lockup detector on all cpus\\n"
    "postgres[311]: replication lag 0s\\n"
    "postgres[311]: replication broken: primary unreachable\\n"
    "app[40]: FATAL: cannot open /srv/app.sock\\n"
)


def test_user_watches_fire_ignores_hold_and_a_bad_regex_is_one_warning(lab_host: LabHost) -> None:
    """Acceptance 2: the broker starts (started by ls itself) with the good watches; ls names the bad key."""
    lab_host.write_config(WATCHES)
    db_init, db_gate = gated_init(lab_host, "db", f"printf '{DB_OUTPUT}'")
    web_init, web_gate = gated_init(lab_host, "web", "printf 'replication broken too\\n'")
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 621, "name": "db", "vttys": 1, "init": db_init},
        {"id": 622, "name": "web", "vttys": 1, "init": web_init},
    ]))
    listed = lab_host.cli("ls")  # no broker yet: this starts one, checking the config first
    assert listed.returncode == 0, listed.stderr
    (warning,) = [line for line in listed.stderr.splitlines() if "watches" in line]
    assert warning.startswith("vconsole: warning: ") and warning.endswith("watches[1].regex: unterminated character set at position 13")
    assert "typo" not in listed.stdout
    listing = json.loads(lab_host.cli("ls", "--json").stdout)
    assert len(listing["watch_errors"]) == 1 and "watches[1].regex" in listing["watch_errors"][0]
    wait_for(lambda: listed_console(lab_host, "db")["state"] == "connected", what="db's console")
    wait_for(lambda: listed_console(lab_host, "web")["state"] == "connected", what="web's console")
    db_gate.touch()
    web_gate.touch()
    wait_for(lambda: len(watch_hits(lab_host)) >= 2, what="the user watches' events")
    time.sleep(1.0)  # anything else would have come by now
    hits = watch_hits(lab_host)
    assert [(e.guest, e.name, e.severity, e.text) for e in hits] == [
        ("db", "replication", Severity.ERROR, "postgres[311]: replication broken: primary unreachable"),
        ("db", "app-fatal", Severity.CRITICAL, "app[40]: FATAL: cannot open /srv/app.sock"),
    ]
    raw = raw_log(lab_host, "db")
    for hit in hits:
        assert hit.offset is not None and raw[hit.offset :].startswith(hit.text.encode())


def test_a_silence_watch_fires_once_on_a_console_that_talked_then_stopped(lab_host: LabHost) -> None:
    lab_host.write_config('[[watches]]\nname = "gone-quiet"\nsilence = 1\nseverity = "warning"\n')
    talker_init, gate = gated_init(lab_host, "talker", "printf 'tick\\n'")
    lab_host.start_lab(lab_host.write_fleet([
        {"id": 631, "name": "talker", "vttys": 1, "init": talker_init},
        {"id": 632, "name": "mute", "vttys": 1, "init": FOREVER},  # never talked: never silent
    ]))
    lab_host.start_broker()
    wait_for(lambda: listed_console(lab_host, "talker")["state"] == "connected", what="the console")
    gate.touch()
    began = time.monotonic()

    def silences() -> list[object]:
        return [e for e in events_json(lab_host) if e.kind is EventKind.SILENCE]

    wait_for(silences, timeout=15, what="the silence event")
    assert time.monotonic() - began >= 1.0
    time.sleep(2.5)  # fires once per silence, not again every second
    (silence,) = [e for e in events_json(lab_host) if e.kind is EventKind.SILENCE]
    assert (silence.guest, silence.name, silence.severity) == ("talker", "gone-quiet", Severity.WARNING)
    assert listed_console(lab_host, "talker")["alert"]["name"] == "gone-quiet"
    assert listed_console(lab_host, "mute")["alert"] is None


def test_an_activity_watch_fires_when_a_silent_console_talks_again(lab_host: LabHost) -> None:
    lab_host.write_config('[[watches]]\nname = "woke"\nactivity = 1\nseverity = "info"\n')
    init, gate = gated_init(lab_host, "sleeper", "printf 'zzz\\n'")
    init = f"printf 'booted\\n'; {init}"
    lab_host.start_lab(lab_host.write_fleet([{"id": 641, "name": "sleeper", "vttys": 1, "init": init}]))
    lab_host.start_broker()
    wait_for(lambda: b"booted" in raw_log(lab_host, "sleeper"), what="the first output")
    time.sleep(1.5)
    assert not [e for e in events_json(lab_host) if e.kind is EventKind.ACTIVITY]  # the first output is no news
    gate.touch()

    def activity() -> list[object]:
        return [e for e in events_json(lab_host) if e.kind is EventKind.ACTIVITY]

    wait_for(activity, timeout=15, what="the activity event")
    (woke,) = [e for e in events_json(lab_host) if e.kind is EventKind.ACTIVITY]
    assert (woke.guest, woke.name, woke.severity) == ("sleeper", "woke", Severity.INFO)
    assert woke.offset is not None and raw_log(lab_host, "sleeper")[woke.offset :].startswith(b"zzz")
    assert listed_console(lab_host, "sleeper")["alert"] is None  # info raises no alert
