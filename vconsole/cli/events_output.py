"""What ``vconsole events`` writes: an event as a line for people or as JSON, and reading the stream in pages."""

from __future__ import annotations

import json
import sys
import time

from vconsole.cli.events_command import EventsRequest
from vconsole.client import Client
from vconsole.console_events import ConsoleEvent, EventKind
from vconsole.display_text import printable

# Shown text is cut here: a matched line is at most MAX_EVENT_TEXT, a command a little more once spelt out.
MAX_SHOWN_TEXT = 1024


def shown_time(when: float, utc: bool) -> str:
    """An event's time for people: local (or UTC) date and time to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when) if utc else time.localtime(when)) + ("Z" if utc else "")


def _who(event: ConsoleEvent) -> list[str]:
    """The client (attach, detach, demoted, the taker of a takeover) and the outside holder, in words."""
    parts: list[str] = []
    client = [f"{key} {value}" for key, value in (("uid", event.uid), ("pid", event.pid)) if value is not None]
    if event.mode is not None:
        client.append(event.mode.value)
    if client:
        parts.append(("by " if event.kind is EventKind.TAKEOVER else "") + " ".join(client))
    holder = [f"{key} {value}" for key, value in (("pid", event.holder_pid), ("uid", event.holder_uid)) if value is not None]
    if holder or event.command:
        command = f" ({printable(event.command, MAX_SHOWN_TEXT)})" if event.command else ""
        parts.append(("" if event.kind is EventKind.HOLDER else "holder ") + " ".join(holder) + command)
    return parts


def event_line(event: ConsoleEvent, utc: bool = False) -> str:
    """One event as a line for people: time, severity, guest:console, name, then its text and who."""
    place = printable(f"{event.guest}:{event.console}")
    text = event.text
    if event.kind is EventKind.STATE and text.startswith(event.name):  # "disconnected: reason" after its name
        text = text[len(event.name) :].removeprefix(":").strip()
    detail = [printable(text, MAX_SHOWN_TEXT)] if text else []
    detail += _who(event)
    head = f"{shown_time(event.time, utc)}  {event.severity.value.upper():<8}  {place}  {printable(event.name)}"
    return head + ("  " + "; ".join(detail) if detail else "")


def event_json(event: ConsoleEvent) -> str:
    """One event as a JSON line (its wire fields; text exactly as it came, JSON-escaped)."""
    return json.dumps(event.to_wire(), ensure_ascii=False)


def notice(text: str) -> None:
    """A line to stderr (lost broker, forgotten events)."""
    sys.stderr.write(f"vconsole: {printable(text, 1024)}\n")
    sys.stderr.flush()


class EventPrinter:
    """Writes events once each, in seq order, as the options ask; remembers the last seq written."""

    def __init__(self, request: EventsRequest) -> None:
        self.request = request
        self.last = 0  # the newest seq written (of the broker it came from)

    def write(self, events: list[ConsoleEvent]) -> None:
        """Those of ``events`` newer than the last written, oldest first; flushed."""
        fresh = sorted((e for e in events if e.seq > self.last), key=lambda e: e.seq)
        if not fresh:
            return
        self.last = fresh[-1].seq
        since = self.request.since_time
        if since is not None:  # pushes are not filtered by time: a --since in the future holds them back
            fresh = [e for e in fresh if e.time >= since]
        render = event_json if self.request.json else lambda e: event_line(e, self.request.utc)
        if fresh:
            sys.stdout.write("".join(render(e) + "\n" for e in fresh))
            sys.stdout.flush()


async def read_pages(client: Client, request: EventsRequest, printer: EventPrinter, *, since: int, follow: bool) -> int:
    """Ask for the events after ``since`` page by page and print them; the broker's ``last``.

    A ``last`` below ``since`` is a broker that numbers anew (restarted): returned at once.
    """
    while True:
        reply = await client.read_events(request.ask(since, follow=follow))
        if reply.last < since:
            return reply.last
        # Before a --since time, events the broker dropped are no loss worth a word.
        if reply.forgotten and (request.since_time is None or since > 0):
            notice(f"{reply.forgotten} earlier events are no longer kept by the broker")
        printer.write(reply.events)
        if not reply.more or not reply.events:
            return int(reply.last)
        since = reply.events[-1].seq
