"""The per-line way of showing a log, as ``vconsole log`` did it before lines came in runs.

Kept only as the reference the run-at-a-time code is checked against, byte for
byte: one LogLine per line, its reading text made on its own, lines merged one
by one, one write per line. Not used by vconsole itself.
"""

from __future__ import annotations

import bisect
import heapq
import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from vconsole.cli.log_command import OutputMode, label
from vconsole.consolelog.layout import LogMeta
from vconsole.consolelog.lines import LogLine, _json_source
from vconsole.consolelog.reader import Boot, ConsoleLog, LogChunk
from vconsole.consolelog.reading import _C1_INTRODUCERS, MAX_LINE, _render, shown_text
from vconsole.consolelog.selection import BATCH, BootNotHeld, LineQuery, _starts_line, pick_boot

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def reference_reading_text(raw: bytes) -> str:
    """A line's reading text, always rendered when it holds a control."""
    text = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
    if not _CONTROL.search(text):
        return text
    return _render(text.translate(_C1_INTRODUCERS))


def reference_json_line(line: LogLine, meta: LogMeta) -> str:
    return (
        f'{{"time": "{reference_iso_time(line.time, True)}", "ts": {round(line.time, 6)!r}, {_json_source(meta)}, '
        f'"boot": {line.boot}, "offset": {line.offset}, "text": {json.dumps(reference_reading_text(line.raw))}}}'
    )


def reference_iso_time(when: float, utc: bool) -> str:
    moment = datetime.fromtimestamp(when, UTC)
    return (moment if utc else moment.astimezone()).isoformat(timespec="milliseconds")


class ReferenceAssembler:
    """Chunks into lines, one LogLine at a time."""

    def __init__(self, boots: Sequence[Boot] = (), max_line: int = MAX_LINE) -> None:
        starts = sorted((b.start, b.number) for b in boots)
        self._boot_starts = [s for s, _ in starts]
        self._boot_numbers = [n for _, n in starts]
        self.max_line = max_line
        self._pending = bytearray()
        self._pending_offset = 0
        self._pending_time = 0.0
        self.next: int | None = None

    def boot_of(self, offset: int) -> int:
        i = bisect.bisect_right(self._boot_starts, offset)
        return self._boot_numbers[i - 1] if i else 0

    def feed(self, chunk: LogChunk) -> list[LogLine]:
        out: list[LogLine] = []
        offset, data = chunk.offset, chunk.data
        if self.next is not None and offset != self.next:
            out.extend(self.flush())
        end = offset + len(data)
        cut = bisect.bisect_left(self._boot_starts, offset)
        while cut < len(self._boot_starts) and self._boot_starts[cut] < end:
            at = self._boot_starts[cut] - offset
            self._piece(offset, data[:at], chunk.time, out)
            out.extend(self.flush())
            offset, data = offset + at, data[at:]
            cut += 1
        self._piece(offset, data, chunk.time, out)
        self.next = end
        return out

    def flush(self) -> list[LogLine]:
        if not self._pending:
            return []
        line = LogLine(self._pending_time, self._pending_offset, self.boot_of(self._pending_offset), bytes(self._pending))
        self._pending.clear()
        return [line]

    def _piece(self, offset: int, data: bytes, time: float, out: list[LogLine]) -> None:
        pos, size = 0, len(data)
        while pos < size:
            room = self.max_line - len(self._pending)
            nl = data.find(b"\n", pos, pos + room)
            stop = nl + 1 if nl >= 0 else min(size, pos + room)
            if not self._pending:
                self._pending_offset, self._pending_time = offset + pos, time
            if nl >= 0 or stop - pos == room:
                raw = bytes(self._pending) + data[pos:stop] if self._pending else data[pos:stop]
                self._pending.clear()
                out.append(LogLine(self._pending_time, self._pending_offset, self.boot_of(self._pending_offset), raw))
            else:
                self._pending += data[pos:stop]
            pos = stop


def reference_lines(chunks: Iterable[LogChunk], boots: Sequence[Boot] = (), max_line: int = MAX_LINE) -> list[LogLine]:
    assembler = ReferenceAssembler(boots, max_line)
    out: list[LogLine] = []
    for chunk in chunks:
        out += assembler.feed(chunk)
    return out + assembler.flush()


def reference_chunks(log: ConsoleLog, start: int = 0, end: int | None = None) -> Iterator[LogChunk]:
    """ConsoleLog.chunks as it was: one LogChunk per index record, straight from the segments."""
    stop = log.end if end is None else min(end, log.end)
    segs = log._segs
    first = bisect.bisect_right([s.end for s in segs], start)
    for seg in segs[first:]:
        if seg.start >= stop:
            return
        lo, hi = max(start, seg.start), min(stop, seg.end)
        if lo >= hi:
            continue
        try:
            with open(seg.path, "rb", buffering=0) as f:
                data = os.pread(f.fileno(), hi - lo, lo - seg.start)
        except OSError:
            continue
        hi = lo + len(data)
        index = seg.load()
        k = bisect.bisect_right(index.ends, lo)
        pos = lo
        while pos < hi and k < len(index.ends):
            cut = min(hi, index.ends[k])
            if cut > pos:
                yield LogChunk(pos, data[pos - lo : cut - lo], index.times[k] / 1e9)
            pos = cut
            k += 1


def reference_batched_chunks(log: ConsoleLog, start: int, end: int | None) -> Iterator[LogChunk]:
    """batched_chunks as it was, over reference_chunks."""
    stop = log.end if end is None else min(end, log.end)
    position = start
    while position < stop:
        upto = min(stop, position + BATCH)
        found = False
        for chunk in reference_chunks(log, position, upto):
            found = True
            yield chunk
        position = upto if found else max(upto, log.read(upto, 1)[0])


def reference_select(log: ConsoleLog, query: LineQuery) -> list[LogLine]:
    """select_lines, line by line."""
    boots = log.boots()
    lo, hi = log.start, log.end
    if query.boot is not None:
        boot = pick_boot(boots, query.boot)
        lo, hi = max(lo, boot.start), min(hi, boot.end)
    if query.since is not None:
        lo = max(lo, log.offset_at(query.since))
    if lo >= hi:
        return []
    if query.last is None:
        return list(_lines(log, boots, lo, hi, query.until))
    count = query.last
    if count <= 0:
        return []
    top = hi if query.until is None else min(hi, log.offset_at(query.until))
    window = max(64 * 1024, count * 160)
    while True:
        start = max(lo, top - window)
        kept: deque[LogLine] = deque(maxlen=count)
        seen = 0
        for line in _lines(log, boots, start, hi, query.until):
            kept.append(line)
            seen += 1
        if seen >= count or start == lo:
            return list(kept)
        window *= 4


def _lines(log: ConsoleLog, boots: list[Boot], start: int, end: int, until: float | None) -> Iterator[LogLine]:
    skip = not _starts_line(log, boots, start)
    for line in reference_lines(reference_batched_chunks(log, start, end), boots):
        if skip:
            skip = False
            if line.offset == start:
                continue
        if until is not None and line.time >= until:
            return
        yield line


def reference_merged(streams: list[list[LogLine]]) -> list[tuple[int, LogLine]]:
    tagged = [[(i, line) for line in stream] for i, stream in enumerate(streams)]
    return list(heapq.merge(*tagged, key=lambda item: (item[1].time, item[0], item[1].offset)))


def reference_output(
    logs: list[ConsoleLog], query: LineQuery, mode: OutputMode, timestamps: bool = False, utc: bool = False,
) -> bytes:
    """What ``vconsole log`` wrote, a line at a time (``--all`` when more than one log)."""
    streams: list[list[LogLine]] = []
    metas: list[LogMeta | None] = []
    for log in logs:
        try:
            streams.append(reference_select(log, query))
        except BootNotHeld:
            if len(logs) == 1:
                raise
            continue
        metas.append(log.meta)
    lines = reference_merged(streams)
    if query.last is not None and len(streams) > 1:
        lines = lines[-query.last :] if query.last else []
    labelled = len(logs) > 1
    last_boot: dict[LogMeta, int] = {}
    out: list[bytes] = []
    for index, line in lines:
        meta = metas[index]
        assert meta is not None
        out.append(reference_line(line, meta, mode, timestamps, utc, labelled, last_boot))
    return b"".join(out)


def reference_line(
    line: LogLine, meta: LogMeta, mode: OutputMode, timestamps: bool, utc: bool, labelled: bool,
    last_boot: dict[LogMeta, int],
) -> bytes:
    """One line as LinePrinter.write wrote it."""
    if mode == OutputMode.RAW:
        return line.raw
    if mode == OutputMode.JSON:
        return reference_json_line(line, meta).encode() + b"\n"
    parts = []
    if not labelled:
        previous = last_boot.get(meta)
        if previous != line.boot:
            if previous is not None:
                parts.append(f"-- boot {line.boot} --\n")
            last_boot[meta] = line.boot
    if timestamps:
        parts.append(reference_iso_time(line.time, utc) + " ")
    if labelled:
        parts.append(label(meta) + " ")
    parts.append(shown_text(reference_reading_text(line.raw)) + "\n")
    return "".join(parts).encode()
