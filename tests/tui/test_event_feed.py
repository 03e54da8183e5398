"""The TUI's side of the event stream, as values: the feed's order and bound, which events notify, badge text."""

from __future__ import annotations

from rich.text import Text

from vconsole.console_events import ConsoleAlert, ConsoleEvent, EventKind
from vconsole.domain import SessionKey, Severity
from vconsole.tui.alert_badges import append_badge, badge_text, worst
from vconsole.tui.event_feed import EventFeed
from vconsole.tui.event_notices import EventNotices, notice_text

KEY = SessionKey("lab", "7", "pv0")
OTHER = SessionKey("lab", "101", "vtty0")


def event(seq: int, kind: EventKind = EventKind.WATCH, severity: Severity = Severity.CRITICAL,
          session: SessionKey = KEY, text: str = "Kernel panic - not syncing: Fatal exception") -> ConsoleEvent:
    return ConsoleEvent(seq, 1796540400.0 + seq, kind, severity, "panic" if kind == EventKind.WATCH else kind.value,
                        session, "xd", text, offset=100 * seq)


def test_the_feed_keeps_each_event_once_in_seq_order_and_bounded() -> None:
    told: list[int] = []
    feed = EventFeed(lambda e: told.append(e.seq), limit=3)
    for seq in (2, 1, 4, 2, 3):
        feed.add(event(seq))
    assert [e.seq for e in feed.events] == [2, 3, 4] and feed.last == 4
    feed.pushed({"event": "console_event", **event(5).to_wire()})
    feed.pushed({"event": "console_event", **event(5).to_wire()})
    feed.pushed({"event": "console_event", "seq": "garbage"})
    assert told == [5], "a push is told once; a malformed one is dropped"
    assert [e.seq for e in feed.matching(Severity.CRITICAL)] == [3, 4, 5]


def test_only_watches_at_warning_off_screen_notify_once_per_console_per_interval() -> None:
    notices = EventNotices(every=5.0)
    elsewhere = lambda: OTHER.text  # noqa: E731
    assert notices.notice(event(1, EventKind.ATTACH, Severity.INFO), elsewhere, 0.0) is None
    assert notices.notice(event(2, severity=Severity.INFO), elsewhere, 0.0) is None
    assert notices.notice(event(3), lambda: KEY.text, 0.0) is None, "the console on screen needs none"
    first = notices.notice(event(4), elsewhere, 10.0)
    assert first is not None and first.severity == "error" and first.title == "panic (critical)"
    assert notices.notice(event(5), elsewhere, 12.0) is None
    assert notices.notice(event(6, session=OTHER), lambda: None, 12.0) is not None, "another console is told"
    assert notices.notice(event(7), elsewhere, 15.5) is not None


def test_guest_text_in_a_notice_cannot_act_on_the_terminal() -> None:
    notice = notice_text(event(1, text="\x1b[2J\x1b]0;owned\x07[bold]panic[/bold]\r"))
    assert "\x1b" not in notice.text and "\x07" not in notice.text and "\r" not in notice.text
    assert "^[[2J" in notice.text and "[bold]" in notice.text  # shown as text (notify is called with markup off)


def test_badges_critical_shouts_the_worst_wins_and_names_are_printable() -> None:
    panic = ConsoleAlert(Severity.CRITICAL, "panic", 1, 9)
    oom = ConsoleAlert(Severity.ERROR, "oom", 3, 2)
    assert badge_text(panic) == "PANIC" and badge_text(oom) == "oom×3"  # noqa: RUF001
    assert worst([None, oom, panic, None]) is panic and worst([None]) is None
    assert worst([ConsoleAlert(Severity.ERROR, "a", 1, 5), oom]) is oom, "the earlier of two alike"
    assert badge_text(ConsoleAlert(Severity.WARNING, "x\x1b[31m", 1, 1)) == "x^[[31m"
    assert append_badge(Text("pv0"), None).plain == "pv0"
    assert append_badge(Text("pv0"), panic).plain == "pv0  PANIC "
