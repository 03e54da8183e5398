"""Which lines of a console log to show: a boot, a time range, the last N lines.

A line belongs to the range its first byte arrived in: reading from the
offset ``--since`` maps to can land in the middle of a line that began
earlier, and that piece is skipped; ``--until`` stops at the first line that
began at or after it, whole lines included. ``--lines N`` reads back from
the end in growing windows, so the last lines of a large log cost little.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from vconsole.consolelog.lines import LineAssembler, LineRun, LogLine
from vconsole.consolelog.reader import Boot, ConsoleLog, LogBlock

# Bytes asked of one log at a time: what a merge over many logs holds of each.
BATCH = 64 * 1024
TAIL_WINDOW = 64 * 1024  # the first window --lines reads back; it grows fourfold while too short
TAIL_LINE_GUESS = 160  # bytes per line assumed for that first window


class BootNotHeld(ValueError):
    """``--boot K`` names a boot the log does not hold; the message says which it holds."""


def pick_boot(boots: list[Boot], k: int) -> Boot:
    """journalctl's ``-b K``: 0 the latest, -1 the one before, ...; K > 0 the boot numbered K (1: the first)."""
    if not boots:
        raise BootNotHeld("the log holds no boot")
    if k <= 0:
        if -k >= len(boots):
            held = "1 boot (0)" if len(boots) == 1 else f"{len(boots)} boots (0 to {1 - len(boots)})"
            raise BootNotHeld(f"no boot {k}: the log holds {held}")
        return boots[k - 1]
    for boot in boots:
        if boot.number == k:
            return boot
    raise BootNotHeld(f"no boot {k}: the log holds boots {boots[0].number} to {boots[-1].number}")


@dataclass(frozen=True)
class LineQuery:
    """What to show of a log: times (epoch seconds), a boot (as ``--boot`` K), the last N lines."""

    since: float | None = None
    until: float | None = None
    boot: int | None = None
    last: int | None = None


def select_lines(log: ConsoleLog, query: LineQuery) -> Iterator[LogLine]:
    """The lines of ``log`` that ``query`` picks, oldest first (BootNotHeld for a missing boot)."""
    runs = select_runs(log, query)
    return (line for run in runs for line in run.lines())


def select_runs(log: ConsoleLog, query: LineQuery, source: int = 0) -> Iterator[LineRun]:
    """:func:`select_lines`, a run of lines at a time, from ``source`` (BootNotHeld for a missing boot)."""
    boots = log.boots()
    lo, hi = log.start, log.end
    if query.boot is not None:
        boot = pick_boot(boots, query.boot)
        lo, hi = max(lo, boot.start), min(hi, boot.end)
    if query.since is not None:
        lo = max(lo, log.offset_at(query.since))
    if lo >= hi:
        return iter(())
    if query.last is None:
        return _runs(log, boots, lo, hi, query.until, source)
    return iter(_tail(log, boots, lo, hi, query, source))


def _tail(log: ConsoleLog, boots: list[Boot], lo: int, hi: int, query: LineQuery, source: int) -> list[LineRun]:
    count = query.last or 0
    if count <= 0:
        return []
    top = hi if query.until is None else min(hi, log.offset_at(query.until))
    window = max(TAIL_WINDOW, count * TAIL_LINE_GUESS)
    while True:
        start = max(lo, top - window)
        kept, seen = last_lines(_runs(log, boots, start, hi, query.until, source), count)
        if seen >= count or start == lo:
            return kept
        window *= 4


def last_lines(runs: Iterable[LineRun], count: int) -> tuple[list[LineRun], int]:
    """The runs that hold the last ``count`` lines of ``runs`` (the first one cut to fit),
    and how many lines ``runs`` held."""
    if count <= 0:
        return [], sum(run.line_count for run in runs)
    kept: deque[LineRun] = deque()
    held = seen = 0
    for run in runs:
        lines = run.line_count
        kept.append(run)
        held += lines
        seen += lines
        while held - kept[0].line_count >= count:
            held -= kept.popleft().line_count
    if held > count:
        rest = kept[0].after(held - count)
        assert rest is not None  # the first run holds more lines than that
        kept[0] = rest
    return list(kept), seen


def _runs(
    log: ConsoleLog, boots: list[Boot], start: int, end: int, until: float | None, source: int,
) -> Iterator[LineRun]:
    """Runs from ``start`` (the piece of a line begun before it skipped) until ``until``."""
    runs = LineAssembler(boots, source=source).block_runs(batched_blocks(log, start, end))
    if not _starts_line(log, boots, start):
        first = next(runs, None)
        if first is not None:
            rest = first.after(1) if first.offset == start else first
            runs = itertools.chain([rest] if rest is not None else [], runs)
    if until is None:
        return runs
    return itertools.takewhile(lambda run: run.time < until, runs)


def _starts_line(log: ConsoleLog, boots: list[Boot], offset: int) -> bool:
    """Whether a line begins at ``offset``: after a newline, a hole, or at a boot's start."""
    if offset <= log.start or any(b.start == offset for b in boots):
        return True
    at, data = log.read(offset - 1, 1)
    return at != offset - 1 or data == b"\n"


def batched_blocks(log: ConsoleLog, start: int, end: int | None) -> Iterator[LogBlock]:
    """``log.blocks(start, end)`` asked for about BATCH bytes at a time.

    A merge over many logs then holds at most a batch of each in memory,
    however large their segments are.
    """
    stop = log.end if end is None else min(end, log.end)
    position = start
    while position < stop:
        upto = min(stop, position + BATCH)
        found = False
        for block in log.blocks(position, upto):
            found = True
            yield block
        # Past a hole in one step: the next held offset.
        position = upto if found else max(upto, log.read(upto, 1)[0])


def merged(streams: list[Iterator[LineRun]]) -> Iterator[LineRun]:
    """Runs of several logs in time order (ties: by source), each stream's runs from its own source.

    The lines of a run share its time, so this is the order of their lines too.
    What ``heapq.merge(*streams)`` gives, step for step; its heap holds
    [time, source, run, stream] and so compares two numbers, not two runs.
    """
    heap: list[list[Any]] = []
    for stream in streams:
        run = next(stream, None)
        if run is not None:
            heap.append([run.time, run.source, run, stream])
    heapq.heapify(heap)
    while len(heap) > 1:
        top = heap[0]
        yield top[2]
        run = next(top[3], None)
        if run is None:
            heapq.heappop(heap)
        else:
            top[0], top[2] = run.time, run
            heapq.heapreplace(heap, top)
    if heap:
        yield heap[0][2]
        yield from heap[0][3]
