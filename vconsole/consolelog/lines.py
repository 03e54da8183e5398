"""Lines of a console log: bytes from LogChunks cut at newlines, each with its time and boot.

A read turn can end in the middle of a line: the assembler joins the pieces,
and a line's time is that of the read that brought its first byte. A hole in
the log (evicted or never logged bytes) and the start of a boot end the line
before them. Lines longer than :data:`MAX_LINE` bytes are cut, so a console
that never prints a newline cannot grow one without bound.

Lines come in runs (:class:`LineRun`): the lines whose first bytes came in
one read share its time and boot, so a reader of many lines (``vconsole log``)
handles a read's worth at a time, not one line at a time. For reading, see
:mod:`vconsole.consolelog.reading`.
"""

from __future__ import annotations

import bisect
import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.reader import Boot, LogBlock, LogChunk
from vconsole.consolelog.reading import MAX_LINE, reading_text, shown_text

# Where lines are, their text is too (the TUI's log view takes both from here).
__all__ = [
    "MAX_LINE", "LineAssembler", "LineRun", "LogLine", "iso_time", "json_line", "log_lines", "reading_text",
    "shown_text",
]

_EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True)
class LogLine:
    """One line of a console's log: ``raw`` (with its newline when complete) from ``offset``."""

    time: float  # arrival of its first byte
    offset: int
    boot: int  # the boot holding its first byte (0: before the first boot)
    raw: bytes

    @property
    def end(self) -> int:
        """Offset one past the line's last byte."""
        return self.offset + len(self.raw)

    @property
    def complete(self) -> bool:
        """Whether the line ends with its newline (a cut, a last or a flushed line does not)."""
        return self.raw.endswith(b"\n")

    @property
    def text(self) -> str:
        """The line as a reader sees it (see :func:`reading_text`); may still hold controls."""
        return reading_text(self.raw)

    @property
    def shown(self) -> str:
        """The line's text safe for a terminal."""
        return shown_text(self.text)


class LineRun(NamedTuple):
    """Consecutive lines of one log with the same time and boot: ``raw`` from ``offset``.

    Every line but the last ends with its newline; the last may not (see
    :attr:`LogLine.complete`). ``source`` tells logs apart where runs of
    several are merged: runs sort by time, then source, then offset. A tuple,
    as one is made per read.
    """

    time: float
    source: int
    offset: int
    boot: int
    raw: bytes

    @property
    def end(self) -> int:
        """Offset one past the last line's last byte."""
        return self.offset + len(self.raw)

    @property
    def complete(self) -> bool:
        """Whether the last line ends with its newline."""
        return self.raw.endswith(b"\n")

    @property
    def line_count(self) -> int:
        """How many lines it holds."""
        return self.raw.count(b"\n") + (not self.raw.endswith(b"\n"))

    def lines(self) -> list[LogLine]:
        """Its lines, one by one."""
        pieces = self.raw.split(b"\n")
        last = pieces.pop()
        out: list[LogLine] = []
        offset = self.offset
        for piece in pieces:
            out.append(LogLine(self.time, offset, self.boot, piece + b"\n"))
            offset += len(piece) + 1
        if last:
            out.append(LogLine(self.time, offset, self.boot, last))
        return out

    def after(self, skipped: int) -> LineRun | None:
        """The run without its first ``skipped`` lines (None if nothing is left)."""
        cut = 0
        for _ in range(skipped):
            cut = self.raw.find(b"\n", cut) + 1
            if cut == 0:
                return None
        if cut >= len(self.raw):
            return None
        return self._replace(offset=self.offset + cut, raw=self.raw[cut:])

    def split_last(self) -> tuple[LineRun | None, LogLine]:
        """The run without its last line (None if it held one), and that line."""
        cut = self.raw.rfind(b"\n", 0, len(self.raw) - 1) + 1
        head = self._replace(raw=self.raw[:cut]) if cut else None
        return head, LogLine(self.time, self.offset + cut, self.boot, self.raw[cut:])


class LineAssembler:
    """Turns chunks (in offset order, maybe with holes) into lines, a run at a time."""

    def __init__(self, boots: Sequence[Boot] = (), max_line: int = MAX_LINE, source: int = 0) -> None:
        self.set_boots(boots)
        self.max_line = max_line
        self.source = source  # the source of its runs
        # The run being gathered: its lines began in one read; the last one is unfinished.
        self._run = bytearray()
        self._run_offset = 0
        self._run_time = 0.0
        self._last_line = 0  # where that unfinished line starts in the run
        self.next: int | None = None  # the offset the next chunk continues at

    def set_boots(self, boots: Sequence[Boot]) -> None:
        """The boots lines are numbered by (a follower learns of new ones as the guest restarts)."""
        starts = sorted((b.start, b.number) for b in boots)
        self._boot_starts = [s for s, _ in starts]
        self._boot_numbers = [n for _, n in starts]

    def boot_of(self, offset: int) -> int:
        """The number of the boot holding ``offset`` (0 before the first)."""
        i = bisect.bisect_right(self._boot_starts, offset)
        return self._boot_numbers[i - 1] if i else 0

    @property
    def pending(self) -> bool:
        """Whether a line without its newline is waiting for more bytes."""
        return bool(self._run)

    def feed(self, chunk: LogChunk) -> list[LogLine]:
        """The lines ``chunk`` completes (every one, at once: for following a console live)."""
        runs = self.feed_runs(chunk)
        run = self._run
        if self._last_line:  # complete lines gathered with the unfinished one: out now
            runs.append(self._made(bytes(run[: self._last_line])))
            del run[: self._last_line]
            self._run_offset += self._last_line
            self._last_line = 0
        return [line for done in runs for line in done.lines()]

    def flush(self) -> list[LogLine]:
        """The pending line, without its newline (at the end, a hole, or in follow mode when idle)."""
        out: list[LineRun] = []
        self._end_run(out)
        return [line for run in out for line in run.lines()]

    def runs(self, chunks: Iterable[LogChunk]) -> Iterator[LineRun]:
        """Every run of ``chunks``, the last line even without its newline."""
        return self.block_runs(LogBlock(c.offset, c.data, [c.offset + len(c.data)], [c.time]) for c in chunks)

    def block_runs(self, blocks: Iterable[LogBlock]) -> Iterator[LineRun]:
        """Every run of the read turns of ``blocks``, the last line even without its newline.

        What :meth:`feed_runs` gives, read turn after read turn, then the
        pending line; done here in one loop for the usual read turn (it
        follows the last one, no boot starts in its block, no line in it can
        grow too long), the rest by :meth:`feed_runs`.
        """
        starts, numbers, source, most = self._boot_starts, self._boot_numbers, self.source, self.max_line
        run = self._run
        for block in blocks:
            base, data, times = block.offset, block.data, block.times
            cut = bisect.bisect_left(starts, base)
            booted = cut < len(starts) and starts[cut] < base + len(data)
            boot = numbers[cut - 1] if cut else 0  # of the block, and of a run it continues
            pos = 0  # where the read turn starts in data
            for n, end in enumerate(block.ends):
                stop = end - base
                if (
                    base + pos != self.next or booted or stop <= pos
                    or len(run) - self._last_line + stop - pos >= most
                ):
                    yield from self.feed_runs(LogChunk(base + pos, data[pos:stop], times[n]))
                    pos = stop
                    continue
                self.next = end
                if run:  # the run's last line goes on here
                    nl = data.find(b"\n", pos, stop)
                    if nl < 0:
                        run += data[pos:stop]
                        pos = stop
                        continue
                    yield LineRun(self._run_time, source, self._run_offset, boot, bytes(run) + data[pos : nl + 1])
                    run.clear()
                    self._last_line = 0
                    pos = nl + 1
                    if pos == stop:
                        continue
                last = data.rfind(b"\n", pos, stop) + 1
                if last == stop:
                    yield LineRun(times[n], source, base + pos, boot, data[pos:stop])
                else:  # its last line goes on in the next read turn
                    run += data[pos:stop]
                    self._run_offset, self._run_time = base + pos, times[n]
                    self._last_line = max(last - pos, 0)
                pos = stop
        out: list[LineRun] = []
        self._end_run(out)
        yield from out

    def feed_runs(self, chunk: LogChunk) -> list[LineRun]:
        """The runs ``chunk`` completes; a hole before it ends the pending line.

        The lines that began in this chunk wait until the last of them is
        complete, so one run holds them all.
        """
        out: list[LineRun] = []
        offset, data, time = chunk.offset, chunk.data, chunk.time
        if self.next is not None and offset != self.next:
            self._end_run(out)
        end = offset + len(data)
        self.next = end
        cut = bisect.bisect_left(self._boot_starts, offset)
        # A boot starting at (or inside) this chunk ends the line before it.
        while cut < len(self._boot_starts) and self._boot_starts[cut] < end:
            at = self._boot_starts[cut] - offset
            self._piece(offset, data[:at], time, out)
            self._end_run(out)
            offset, data = offset + at, data[at:]
            cut += 1
        self._piece(offset, data, time, out)
        return out

    def _made(self, raw: bytes) -> LineRun:
        return LineRun(self._run_time, self.source, self._run_offset, self.boot_of(self._run_offset), raw)

    def _end_run(self, out: list[LineRun]) -> None:
        if self._run:
            out.append(self._made(bytes(self._run)))
            self._run.clear()
            self._last_line = 0

    def _piece(self, offset: int, data: bytes, time: float, out: list[LineRun]) -> None:
        pos, size, most = 0, len(data), self.max_line
        run = self._run
        while pos < size:
            if run:  # the run's last line goes on here
                room = most - (len(run) - self._last_line)
                nl = data.find(b"\n", pos, pos + room)
                stop = nl + 1 if nl >= 0 else min(size, pos + room)
                run += data[pos:stop]
                pos = stop
                if nl >= 0 or len(run) - self._last_line == most:  # its newline, or as long as allowed
                    self._end_run(out)
                continue
            # A new run of the lines that begin here.
            self._run_offset, self._run_time = offset + pos, time
            nl = data.rfind(b"\n", pos)
            whole = nl + 1 if nl >= 0 else pos  # data[pos:whole]: complete lines
            if whole - pos > most:  # one of them may be too long: look line by line
                whole = pos
                while (nl := data.find(b"\n", whole, whole + most)) >= 0:
                    whole = nl + 1
            # data[whole:] begins a line with no newline in its first `most` bytes.
            if size - whole >= most:  # cut there: the run ends with that piece
                stop = whole + most
                out.append(self._made(data[pos:stop]))
            elif whole == size:
                out.append(self._made(data[pos:size]))
                stop = size
            else:  # its last line goes on in the next chunk
                run += data[pos:size]
                self._last_line = whole - pos
                stop = size
            pos = stop


def log_lines(chunks: Iterable[LogChunk], boots: Sequence[Boot] = ()) -> Iterator[LogLine]:
    """Every line of ``chunks``, the last one even without its newline."""
    for run in LineAssembler(boots).runs(chunks):
        yield from run.lines()


@functools.lru_cache(maxsize=1024)
def iso_time(when: float, utc: bool) -> str:
    """``when`` as ISO-8601 with milliseconds, in local time (or UTC) with its offset.

    Exactly ``datetime.fromtimestamp(when, UTC)`` (made local) ``.isoformat(timespec="milliseconds")``,
    at a fraction of its cost: the date, time and offset are made once per second.
    """
    second = int(when)
    # To the microsecond, half to even, as datetime.fromtimestamp rounds.
    micro = round((when - second) * 1e6)
    if micro >= 1_000_000:
        micro -= 1_000_000
        second += 1
    elif micro < 0:
        micro += 1_000_000
        second -= 1
    head, zone = _second_text(second, utc)
    return f"{head}.{micro // 1000:03d}{zone}"


@functools.lru_cache(maxsize=4096)
def _second_text(second: int, utc: bool) -> tuple[str, str]:
    """A whole second as ISO-8601 date and time, and its zone offset (the costly part, cached)."""
    moment = _EPOCH + timedelta(seconds=second)
    text = (moment if utc else moment.astimezone()).isoformat()
    return text[:19], text[19:]


@functools.lru_cache(maxsize=4096)
def _json_source(meta: LogMeta) -> str:
    """The fields of a JSON line that name the console, made once per console."""
    fields = {"host": meta.host, "provider": meta.provider, "guest_id": meta.guest_id,
              "guest": meta.guest_name, "console": meta.console}
    return json.dumps(fields)[1:-1]


def json_line(line: LogLine, meta: LogMeta) -> str:
    """One JSON line for log pipelines: time (ISO, UTC) and ts, where it came from, the text.

    Keys: time, ts, host, provider, guest_id, guest, console, boot, offset, text.
    ASCII only, so no character of a guest's acts on a terminal showing it.
    """
    return (
        f'{{"time": "{iso_time(line.time, True)}", "ts": {round(line.time, 6)!r}, {_json_source(meta)}, '
        f'"boot": {line.boot}, "offset": {line.offset}, "text": {json.dumps(line.text)}}}'
    )
