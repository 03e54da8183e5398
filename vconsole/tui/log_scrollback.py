"""OlderOutput: a tab's scrollback reaching back into the console's log.

A tab's terminal holds what it was fed since it attached (the replay of the
newest lines, then live output). Scrolled back past its oldest line
(Shift+PgUp), the tab reads the log bytes just before the oldest offset it
was fed (``log_read`` with ``to``), renders them through the terminal engine
(a Terminal of their own, whose answers to queries are never read: this is a
replay, nothing goes to the guest) and puts the lines above the scrollback;
the next Shift+PgUp at the top reads the piece before those. Reads run as
workers and the rendering in a thread, so the UI never waits. A line says
where the log begins, or why nothing older can be shown.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from textual.widget import Widget

from vconsole.client import RequestFailed
from vconsole.display_text import printable
from vconsole.protocol import LogRead
from vconsole.term import Terminal
from vconsole.term.screen import Line

if TYPE_CHECKING:
    from vconsole.tui.session_link import SessionLink
    from vconsole.tui.terminal_view import TerminalView

OLDER_READ = 256 * 1024  # bytes of log per Shift+PgUp past the top
MAX_OLDER_LINES = 10_000  # twice the scrollback; then the log view (prefix v) is the way further back
NOTE = "\x1b[2;7m"  # how the view's own lines look among the guest's: dim, reversed


def render_lines(data: bytes, cols: int, rows: int) -> list[Line]:
    """``data`` (from the start of a line) as terminal lines, oldest first, as a screen of this size shows them."""
    term = Terminal(cols, rows, scrollback=max(data.count(b"\n") + rows, 1))
    term.feed(data)  # term.read_replies() is never called: a replay answers nothing
    screen = term.lines
    x, y = term.cursor
    last = y if x else y - 1
    for i in range(len(screen) - 1, last, -1):  # a program that drew below the cursor
        if screen[i].text():
            last = i
            break
    return [*term.scrollback, *screen[: last + 1]]


def note_line(text: str, cols: int) -> Line:
    """A line of the view's own (``text`` is ours, or passed through printable), set apart from the guest's."""
    return render_lines(f"{NOTE} {text} \x1b[m".encode(), max(cols, len(text) + 2), 1)[0]


class OlderOutput:
    """The reading of older lines for one tab: where the next read ends, and whether there is more."""

    def __init__(self, view: TerminalView, link: SessionLink, owner: Widget) -> None:
        self.view = view
        self.link = link
        self.owner = owner  # the pane, which runs the reads as its workers
        self.before: int | None = None  # the oldest offset the tab was fed (None: not attached yet)
        self.done = False  # nothing older to show: the log's start, the bound, or no log
        self.reading = False

    def fed_from(self, offset: int) -> None:
        """The tab attached; its terminal's oldest line starts at ``offset``."""
        if self.before is None:
            self.before = offset

    def wanted(self) -> None:
        """Scrolling back reached the top: read the piece before it, unless one is on its way."""
        if self.reading or self.done or self.before is None:
            return
        self.reading = True
        self.owner.run_worker(self._read(self.before), group="older")

    def _finish(self, text: str) -> None:
        self.done = True
        self.view.add_older([note_line(text, self.view.term.cols)])

    async def _read(self, before: int) -> None:
        try:
            await self._read_before(before)
        finally:
            self.reading = False

    async def _read_before(self, before: int) -> None:
        try:
            reply = await self.link.broker.live().log_read(LogRead(self.link.target, end=before, limit=OLDER_READ))
        except RequestFailed as exc:
            self._finish(f"nothing older: {printable(exc.message)}")
            return
        except ConnectionError:
            return  # not connected now; the next Shift+PgUp tries again
        chunks = reply.chunks
        start = chunks[0][0] if chunks else before
        data = b"".join(data for _offset, _time, data in chunks)
        at_log_start = start <= reply.log_start
        if not at_log_start:
            newline = data.find(b"\n")
            if 0 <= newline < len(data) - 1:  # a piece of a line: the next read brings it whole
                data = data[newline + 1 :]
                start += newline + 1
        cols, rows = self.view.term.cols, self.view.term.rows
        lines = await asyncio.to_thread(render_lines, data, cols, rows) if data else []
        if not self.view.older and len(self.view.term.scrollback) == self.view.term.scrollback.maxlen:
            # The terminal let its oldest lines go: between them and the log's lines is a gap.
            lines.append(note_line("lines between here and the scrollback: prefix v shows the whole log", cols))
        self.before = start
        self.view.add_older(lines)
        if at_log_start:
            began = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(chunks[0][1])) if chunks else ""
            self._finish(f"the console log begins here {began}".rstrip())
        elif len(self.view.older) >= MAX_OLDER_LINES:
            self._finish("older lines: prefix v shows the whole log")
