"""How ``vconsole events`` shows an event to people: one line, every guest and tool string made safe."""

from __future__ import annotations

import json

import pytest

from vconsole.cli.events_command import EventsRequest
from vconsole.cli.events_output import EventPrinter, event_json, event_line
from vconsole.console_events import ConsoleEvent, EventKind
from vconsole.domain import AttachMode, SessionKey, Severity

KEY = SessionKey("lab", "101", "vtty1")
WHEN = 1796565293.25  # 2026-12-06 13:54:53 UTC


def _event(kind: EventKind, seq: int = 1, **fields: object) -> ConsoleEvent:
    return ConsoleEvent(seq, WHEN, kind, fields.pop("severity", Severity.INFO), fields.pop("name", kind.value),  # type: ignore[arg-type]
                        KEY, "web", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("event", "tail"), [
    (_event(EventKind.WATCH, severity=Severity.CRITICAL, name="panic", text="Kernel panic - not syncing: x", offset=9),
     "CRITICAL  web:vtty1  panic  Kernel panic - not syncing: x"),
    (_event(EventKind.ATTACH, uid=1000, pid=4242, mode=AttachMode.RO), "INFO      web:vtty1  attach  uid 1000 pid 4242 ro"),
    (_event(EventKind.TAKEOVER, severity=Severity.WARNING, uid=0, pid=77, holder_pid=55, holder_uid=1000,
            command="lxc-console -n web -t 1"),
     "WARNING   web:vtty1  takeover  by uid 0 pid 77; holder pid 55 uid 1000 (lxc-console -n web -t 1)"),
    (_event(EventKind.HOLDER, holder_pid=55, command="screen /dev/pts/3"), "web:vtty1  holder  pid 55 (screen /dev/pts/3)"),
    (_event(EventKind.GUEST_STOPPED), "INFO      web:vtty1  guest_stopped"),
    (_event(EventKind.STATE, severity=Severity.WARNING, name="disconnected", text="disconnected: Input/output error"),
     "WARNING   web:vtty1  disconnected  Input/output error"),
    (_event(EventKind.STATE, name="connected", text="connected"), "INFO      web:vtty1  connected"),
])
def test_each_kind_is_one_line_with_its_details(event: ConsoleEvent, tail: str) -> None:
    line = event_line(event, utc=True)
    assert line.startswith("2026-12-06 13:54:53Z  ") and line.endswith(tail), line


def test_hostile_text_names_and_commands_are_spelt_out() -> None:
    event = ConsoleEvent(
        3, WHEN, EventKind.TAKEOVER, Severity.WARNING, "takeover\x1b[2J", SessionKey("lab", "1", "vtty0"),
        "evil\u202egnp", text="line \x1b]0;owned\x07", holder_pid=9, command="sh -c '\x1b[31mred'",
    )
    line = event_line(event)
    assert "\n" not in line and "\x1b" not in line and "\x07" not in line and "\u202e" not in line
    wire = json.loads(event_json(event))
    assert wire["text"] == "line \x1b]0;owned\x07" and wire["guest"] == "evil\u202egnp"  # exact for scripts


def test_the_printer_writes_each_event_once_in_seq_order(capsys: pytest.CaptureFixture[str]) -> None:
    printer = EventPrinter(EventsRequest(None, None, Severity.INFO, follow=True, json=True, utc=False))
    printer.write([_event(EventKind.ATTACH, 2), _event(EventKind.ATTACH, 1)])
    printer.write([_event(EventKind.DETACH, 2), _event(EventKind.DETACH, 3)])  # 2 again: a page and a push
    seqs = [json.loads(line)["seq"] for line in capsys.readouterr().out.splitlines()]
    assert seqs == [1, 2, 3] and printer.last == 3


def test_the_printer_holds_back_events_before_since(capsys: pytest.CaptureFixture[str]) -> None:
    printer = EventPrinter(EventsRequest(None, WHEN + 1, Severity.INFO, follow=True, json=True, utc=False))
    printer.write([_event(EventKind.ATTACH, 1)])  # a push from before --since (which was in the future)
    assert capsys.readouterr().out == "" and printer.last == 1
