"""LogScreen: a console's durable log, read through the broker, with a time column, search and jumps.

Opened by a prefix key over the visible tab (prefix_keys.py). It reads the
log in pieces with ``log_read`` (docs/protocol.md), in a worker, so the UI
never waits: the newest piece first, older ones as the view is scrolled up
or a search goes on, and a new window around a time or a boot it jumps to.
Each piece is cut into lines off the event loop. Keys: ``/`` searches older
lines, ``?`` newer ones, ``n`` / ``N`` the next hit the same / the other way;
``t`` jumps to a time, ``b`` / ``B`` to the previous / next boot, ``g`` /
``G`` to the log's start / end; Escape closes.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import Worker

from vconsole.client import Client, RequestFailed
from vconsole.consolelog.timespec import TimeSpecError, parse_time
from vconsole.display_text import printable
from vconsole.domain import Target
from vconsole.protocol import MAX_LOG_READ, LogRead
from vconsole.protocol_replies import LogReadReply
from vconsole.tui.log_lines import Chunk, LogBoot, Split, split_lines
from vconsole.tui.log_view import LogView
from vconsole.tui.log_window import LogWindow
from vconsole.tui.messages import LogEdge
from vconsole.units import human

READ = MAX_LOG_READ  # bytes per read
HINT = "/ ? search  n N next  t time  b B boot  g G start/end  Esc"
PROMPTS = {
    "older": "search older lines for: ",
    "newer": "search newer lines for: ",
    "time": "jump to a time (07:00, 2026-12-06T07:00) or a while ago (10m, 2h): ",
}


def chunk_end(chunks: Sequence[Chunk], default: int) -> int:
    """Offset one past the last chunk (``default`` for none)."""
    return chunks[-1][0] + len(chunks[-1][2]) if chunks else default


def starts_log(reply: LogReadReply, default: int) -> bool:
    """Whether a read began at the log's start (so its first bytes begin a line)."""
    return (reply.chunks[0][0] if reply.chunks else default) <= reply.log_start


class LogScreen(Screen[None]):
    """The log of one console: what it printed, when, boot by boot."""

    DEFAULT_CSS = """
    LogScreen > .bar { height: 1; background: $panel; color: $text-muted; }
    LogScreen > #log-title { color: $text; text-style: bold; }
    LogScreen > Input { height: 1; border: none; padding: 0 1; display: none; }
    LogScreen > Input.-open { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close", show=False),
        Binding("q", "close", show=False),
        Binding("slash", "prompt('older')", show=False),
        Binding("question_mark", "prompt('newer')", show=False),
        Binding("n", "again(True)", show=False),
        Binding("N,shift+n", "again(False)", show=False),
        Binding("t", "prompt('time')", show=False),
        Binding("b", "boot(-1)", show=False),
        Binding("B,shift+b", "boot(1)", show=False),
        Binding("g", "start", show=False),
        Binding("G,shift+g", "end", show=False),
    ]

    def __init__(self, title: str, target: Target, live: Callable[[], Client], at: int | None = None) -> None:
        """``title``: the console as the tab names it (already printable); ``live``: the broker connection now;
        ``at``: an offset whose line to open at (an event's), else the newest lines."""
        super().__init__()
        self.at = at
        self.console_title = title
        self.target = target
        self.live = live
        self.window = LogWindow()
        self.view = LogView(self.window, id="log-lines")
        self.prompt: str | None = None  # which prompt the input is open for
        self.needle = ""
        self.older_search = True  # the direction of the last search
        self._reading: Worker[None] | None = None  # the read under way (one at a time)
        self.status_text = ""

    def compose(self) -> ComposeResult:
        yield Static(Content(f" log of {self.console_title} · {HINT}"), id="log-title", classes="bar")
        yield self.view
        yield Input(id="log-input")
        yield Static(Content(" reading…"), id="log-status", classes="bar")

    def on_mount(self) -> None:
        """Read the newest lines; the status follows the scrolling."""
        self.view.focus()
        self.watch(self.view, "scroll_y", lambda _y: self.show_status(), init=False)
        self._start(self._newest() if self.at is None else self._jump(offset=self.at))

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (reads of the log) as a worker, in place of any read under way."""
        if self._reading is not None:
            self._reading.cancel()
        self._reading = self.run_worker(work, group="log")

    # --- the status line ----------------------------------------------------

    def say(self, text: str) -> None:
        """A message in the status line (ours: a guest's text never comes here unescaped)."""
        self.status_text = text
        self.query_one("#log-status", Static).update(Content(f" {text}"))

    def show_status(self) -> None:
        """Where the view is: the date and time and boot of its current line, how much is read, the keys."""
        window = self.window
        if not window.lines:
            self.say("the log is empty" if window.loaded else "reading…")
            return
        line = window.lines[self.view.current]
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.time))
        boots = f" · boot {line.boot} of {window.boots[-1].number}" if window.boots and line.boot else ""
        top = "" if window.at_top else " (more above)"
        size = human(window.log_end - window.log_start)
        self.say(f"{stamp}{boots} · line {self.view.current + 1} of {len(window.lines)}{top} · log {size}")

    # --- reading ------------------------------------------------------------

    async def _read(self, *, start: int | None = None, end: int | None = None, since: float | None = None,
                    limit: int = READ) -> LogReadReply | None:
        """One log_read; None (and the status line says why) when it failed."""
        try:
            reply = await self.live().log_read(LogRead(self.target, start, end, since, limit))
        except RequestFailed as exc:
            self.say(f"cannot read the log: {printable(exc.message)}")
            return None
        except ConnectionError as exc:
            self.say(f"cannot read the log: {printable(str(exc))}")
            return None
        self.window.bounds(reply.log_start, reply.log_end, [LogBoot(n, s, t) for n, s, t in reply.boots])
        return reply

    async def _split(self, chunks: Sequence[Chunk], *, head_is_line: bool, tail_is_end: bool, upto: int) -> Split:
        """Cut a read into lines in a thread: a piece is up to half a megabyte."""
        return await asyncio.to_thread(split_lines, chunks, self.window.boots, head_is_line=head_is_line,
                                       tail_is_end=tail_is_end, upto=upto)

    async def _newest(self) -> None:
        reply = await self._read(limit=READ)
        if reply is None:
            return
        split = await self._split(reply.chunks, head_is_line=starts_log(reply, reply.log_end), tail_is_end=True,
                                  upto=reply.log_end)
        self.window.replace(split)
        self.view.marked = None
        self.view.lines_changed()
        self.view.call_after_refresh(self.view.scroll_end, animate=False, immediate=True)
        self.show_status()

    async def _older(self) -> int:
        """Read the piece before the window; returns how many lines it added at the top."""
        window = self.window
        before = window.start
        reply = await self._read(end=before, limit=READ)
        if reply is None or window.start != before:
            return 0
        split = await self._split(reply.chunks, head_is_line=starts_log(reply, before), tail_is_end=False,
                                  upto=before)
        added = window.prepend(split)
        if window.start >= before and not window.at_top:
            window.start = max(window.log_start, before - READ)  # a hole as long as a read: step over it
        self.view.shift(added)
        return added

    async def _newer(self) -> int:
        """Read the piece after the window; returns how many lines went from its top (the window is bounded)."""
        window = self.window
        before = window.next
        reply = await self._read(start=before, limit=READ)
        if reply is None or window.next != before:
            return 0
        end = chunk_end(reply.chunks, before)
        split = await self._split(reply.chunks, head_is_line=True, tail_is_end=end >= reply.log_end, upto=end)
        dropped = window.append(split)
        if window.next <= before and not window.at_bottom:
            window.next = min(window.log_end, before + READ)  # a hole as long as a read
        self.view.shift(-dropped)
        return dropped

    async def _jump(self, offset: int | None = None, when: float | None = None) -> None:
        """Mark the line at ``offset`` (or the first line at or after ``when``), reading a new window if need be."""
        window, view = self.window, self.view
        if when is not None and window.holds_time(when):
            view.mark(window.index_at_time(when), center=False)
            self.show_status()
            return
        if offset is not None and window.holds_offset(offset):
            view.mark(window.index_at_offset(offset), center=False)
            self.show_status()
            return
        forward = await (self._read(since=when, limit=READ // 2) if when is not None
                         else self._read(start=offset, limit=READ // 2))
        if forward is None:
            return
        at = forward.chunks[0][0] if forward.chunks else forward.log_end
        back = await self._read(end=at, limit=READ // 2)
        if back is None:
            return
        end = chunk_end(forward.chunks, at)
        split = await self._split(back.chunks + forward.chunks, head_is_line=starts_log(back, at),
                                  tail_is_end=end >= forward.log_end, upto=end)
        window.replace(split)
        view.lines_changed()
        view.mark(window.index_at_offset(at), center=False)
        self.show_status()

    async def _search(self, needle: str, older: bool, start: int) -> None:
        """Mark the next line from ``start`` holding ``needle``, reading on through the log until one does."""
        window = self.window
        while (found := window.find(needle, start, older)) is None:
            if window.at_top if older else window.at_bottom:
                self.say(f"not found: {printable(needle, 60)}")
                return
            edge = window.lines[0 if older else -1].time if window.lines else time.time()
            self.say(f"searching {'older' if older else 'newer'} lines… now at {time.strftime('%H:%M:%S', time.localtime(edge))}")
            if older:
                start = await self._older()
            else:
                start = len(window.lines) - 1 - await self._newer()
        self.view.needle = needle
        self.view.mark(found)
        self.show_status()

    @on(LogEdge)
    def read_more(self, message: LogEdge) -> None:
        """Scrolled to the top or bottom of the window: read the next piece (unless a read is under way)."""
        if self._reading is None or self._reading.is_finished:
            self._reading = self.run_worker(self._more(message.older), group="log")

    async def _more(self, older: bool) -> None:
        await (self._older() if older else self._newer())
        self.show_status()

    # --- keys ---------------------------------------------------------------

    def action_close(self) -> None:
        """Close the prompt, or else the log view."""
        if self.prompt is not None:
            self._close_prompt()
        else:
            self.dismiss(None)

    def action_prompt(self, kind: str) -> None:
        """Ask for a search text or a time on the line above the status."""
        box = self.query_one(Input)
        self.prompt = kind
        box.value = ""
        box.placeholder = PROMPTS[kind]
        box.add_class("-open")
        box.focus()

    def _close_prompt(self) -> None:
        self.prompt = None
        self.query_one(Input).remove_class("-open")
        self.view.focus()

    @on(Input.Submitted)
    def prompt_answered(self, event: Input.Submitted) -> None:
        """Enter in the prompt: search, or jump to the time."""
        event.stop()
        kind, text = self.prompt, event.value
        self._close_prompt()
        if not text.strip() or kind is None:
            return
        if kind == "time":
            try:
                when = parse_time(text)
            except TimeSpecError as exc:
                self.say(printable(str(exc), 512))
                return
            self._start(self._jump(when=when))
            return
        self.needle = text
        self.older_search = kind == "older"
        height = max(self.view.size.height, 1)
        # A new search looks at the lines in view first.
        start = self.view.top_index + height if self.older_search else self.view.top_index - 1
        self._start(self._search(text, self.older_search, start))

    def action_again(self, same: bool) -> None:
        """The next hit of the last search: the same way (n) or the other way (N)."""
        if not self.needle:
            self.say("no search yet: / searches older lines, ? newer ones")
            return
        older = self.older_search == same
        self._start(self._search(self.needle, older, self.view.current))

    def action_boot(self, step: int) -> None:
        """The start of the current line's boot or the one before (-1), or of the next boot (1), round."""
        boots = self.window.boots
        if not boots:
            self.say("the log has no boots")
            return
        lines = self.window.lines
        offset = lines[self.view.current].offset if lines else self.window.log_end
        i = bisect.bisect_right([b.start for b in boots], offset) - 1
        if step < 0:
            target = i if i >= 0 and offset > max(boots[i].start, self.window.log_start) else i - 1
        else:
            target = i + 1
        boot = boots[target % len(boots)]
        self._start(self._jump(offset=max(boot.start, self.window.log_start)))

    def action_start(self) -> None:
        """The log's first line."""
        self._start(self._jump(offset=self.window.log_start))

    def action_end(self) -> None:
        """The log's newest lines (read again: the guest may have written more)."""
        self._start(self._newest())
