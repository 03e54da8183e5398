"""Open one console's log directory for writing: scan its segments and repair a torn tail.

The rules (docs/log-format.md, "Recovery"): an index whose length is not a
multiple of 32 is cut to one; records from the first bad checksum on are cut;
DATA and MARK records past the segment's end are cut; bytes after the last
DATA record get one DATA record timed at the segment's mtime; an index
without its segment is removed; a missing or headless index is rebuilt.
Every segment's last records are checked; the newest segment (the one a
crash can tear) is checked record by record. Nothing here raises: a log that
cannot be used gets ``problem`` set.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vconsole.consolelog.layout import INDEX_SUFFIX
from vconsole.consolelog.records import (
    FORMAT_VERSION,
    MAGIC,
    MARK_CODES,
    RECORD_SIZE,
    IndexRecord,
    LogMarkKind,
    RecordError,
    RecordKind,
)
from vconsole.consolelog.segments import (
    BootInfo,
    ConsoleFiles,
    Segment,
    decode_records,
    idx_path,
    list_starts,
    seg_path,
)

_NOT_LOGGED = bytes([RecordKind.MARK, MARK_CODES[LogMarkKind.NOT_LOGGED]])


class _Unusable(Exception):
    """The log cannot be written (the message says why)."""


def open_console_files(directory: Path, label: str) -> tuple[ConsoleFiles, list[str]]:
    """The directory's segments, repaired, and what was repaired (one phrase per fix)."""
    files = ConsoleFiles(directory, label)
    notes: list[str] = []
    try:
        if directory.exists():
            _scan(files, notes)
    except _Unusable as e:
        files.problem = str(e)
    except OSError as e:
        files.problem = f"log unreadable: {e.strerror or e}"
    files.count()
    return files, notes


def _scan(files: ConsoleFiles, notes: list[str]) -> None:
    directory = files.directory
    starts = list_starts(directory)
    for orphan in sorted(set(list_starts(directory, INDEX_SUFFIX)) - set(starts)):
        idx_path(directory, orphan).unlink(missing_ok=True)
        notes.append(f"removed index {idx_path(directory, orphan).name} without its segment")
    boot: BootInfo | None = None
    for n, start in enumerate(starts):
        seg, boot, not_logged = _segment(directory, start, boot, n == len(starts) - 1, notes)
        files.segments.append(seg)
        files.not_logged += not_logged
    files.boot = boot


def _segment(
    directory: Path, start: int, boot: BootInfo | None, newest: bool, notes: list[str]
) -> tuple[Segment, BootInfo | None, int]:
    """Check (and repair) one segment: the Segment, its boot, its NOT_LOGGED bytes."""
    st = os.stat(seg_path(directory, start))
    if not stat.S_ISREG(st.st_mode):
        raise _Unusable(f"{seg_path(directory, start).name} is not a regular file")
    size, mtime_ns = st.st_size, st.st_mtime_ns
    ipath = idx_path(directory, start)
    name = ipath.name
    try:
        raw = ipath.read_bytes()
    except FileNotFoundError:
        raw = b""
    header = _header(raw, start)
    if header is None:
        raw = _rebuild(ipath, start, mtime_ns, boot)
        notes.append(f"rebuilt index {name}")
    elif header.sub != FORMAT_VERSION:
        raise _Unusable(f"{name}: log format version {header.sub} (this vconsole writes {FORMAT_VERSION})")
    whole = len(raw) - len(raw) % RECORD_SIZE
    if whole != len(raw):
        notes.append(f"{name}: cut {len(raw) - whole} bytes of a torn record")
    sound = not newest and _tail_ok(raw[:whole], start + size)
    good = whole if sound else _good_length(raw[:whole], start + size)
    if good != whole:
        notes.append(f"{name}: cut {(whole - good) // RECORD_SIZE} bad or torn records")
    if good != len(raw):
        with open(ipath, "r+b") as f:
            f.truncate(good)
        raw = raw[:good]
    last_data = _last_data(raw)
    timed = start if last_data is None else last_data.offset
    if timed < start + size:
        rec = IndexRecord.data(start + size, mtime_ns)
        with open(ipath, "ab") as f:
            f.write(rec.encode())
        raw += rec.encode()
        notes.append(f"{name}: timed {start + size - timed} bytes after the last record at the segment's mtime")
    for rec in _head(raw):
        if rec.kind == RecordKind.BOOT:
            boot = BootInfo.of(rec)
    last = last_data.time_ns if last_data is not None and timed == start + size else mtime_ns
    seg = Segment(start, size, len(raw), boot.number if boot else 0, last / 1e9)
    return seg, boot, _not_logged(raw)


def _header(raw: bytes, start: int) -> IndexRecord | None:
    """The index's HEADER record when it is one for this segment."""
    try:
        rec = IndexRecord.decode(raw[:RECORD_SIZE]) if len(raw) >= RECORD_SIZE else None
    except RecordError:
        return None
    if rec is None or rec.kind != RecordKind.HEADER or rec.value != MAGIC or rec.offset != start:
        return None
    return rec


def _rebuild(ipath: Path, start: int, mtime_ns: int, boot: BootInfo | None) -> bytes:
    """A new index (HEADER, the previous segment's boot) for a segment whose index is
    missing or has no header; the caller times the segment's bytes."""
    recs = [IndexRecord.header(start, mtime_ns)]
    if boot is not None:
        recs.append(boot.record())
    raw = b"".join(r.encode() for r in recs)
    tmp = ipath.with_name(ipath.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
    finally:
        os.close(fd)
    os.replace(tmp, ipath)
    return raw


def _beyond(rec: IndexRecord, end: int) -> bool:
    return rec.kind in (RecordKind.DATA, RecordKind.MARK) and rec.offset > end


def _tail_ok(raw: bytes, end: int) -> bool:
    """The last record and the last DATA record of a closed segment are sound (the rest
    was fsynced at rotation)."""
    try:
        last = IndexRecord.decode(raw[-RECORD_SIZE:])
        pos = _last_data_pos(raw)
        data = IndexRecord.decode(raw[pos : pos + RECORD_SIZE]) if pos is not None else None
    except RecordError:
        return False
    return not _beyond(last, end) and (data is None or not _beyond(data, end))


def _good_length(raw: bytes, end: int) -> int:
    """Bytes of the index before the first bad record or record past the segment's end."""
    recs, good = decode_records(raw)
    for n, rec in enumerate(recs):
        if _beyond(rec, end):
            return n * RECORD_SIZE
    return good


def _last_data_pos(raw: bytes) -> int | None:
    """Where the last DATA record is, found from the end without decoding the others."""
    for pos in range(len(raw) - RECORD_SIZE, RECORD_SIZE - 1, -RECORD_SIZE):
        if raw[pos] == RecordKind.DATA:
            return pos
    return None


def _last_data(raw: bytes) -> IndexRecord | None:
    """The last DATA record (None: none, or it is bad)."""
    pos = _last_data_pos(raw)
    try:
        return IndexRecord.decode(raw[pos : pos + RECORD_SIZE]) if pos is not None else None
    except RecordError:
        return None


def _head(raw: bytes) -> list[IndexRecord]:
    """The records before the first DATA record (HEADER, BOOT, early marks)."""
    out: list[IndexRecord] = []
    for pos in range(0, len(raw) - RECORD_SIZE + 1, RECORD_SIZE):
        if raw[pos] == RecordKind.DATA:
            break
        try:
            out.append(IndexRecord.decode(raw[pos : pos + RECORD_SIZE]))
        except RecordError:
            break
    return out


def _not_logged(raw: bytes) -> int:
    """Bytes of the NOT_LOGGED holes the index records (a C-speed search, then decode the hits)."""
    total = 0
    pos = raw.find(_NOT_LOGGED)
    while pos >= 0:
        if pos % RECORD_SIZE == 0:
            try:
                rec = IndexRecord.decode(raw[pos : pos + RECORD_SIZE])
                total += max(0, rec.value - rec.offset)
            except RecordError:
                pass
        pos = raw.find(_NOT_LOGGED, pos + 1)
    return total
