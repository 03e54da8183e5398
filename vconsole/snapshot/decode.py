"""Decoding and validating a ``.vcsnap`` file (docs/snapshot-format.md).

A snapshot file is untrusted input. :func:`decode` bounds every size in the
msgpack unpacker before anything is allocated, verifies the checksum, refuses
unknown versions and checks every field's type and range; anything wrong
raises :class:`SnapshotError` naming the field. It never returns a partly
valid snapshot, so a refused file can change nothing.

A file laid out by vconsole is decoded without copying its large byte
strings: the body and each history are views into the file's buffer
(vconsole/snapshot/views.py). Any other layout takes the general path, where
msgpack copies every value; both paths check the same things.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgpack

from vconsole.domain import MAX_WINDOW, SessionKey
from vconsole.snapshot.fields import (
    U8,
    U32,
    U64,
    check_map,
    get_buffer,
    get_bytes,
    get_choice,
    get_int,
    get_list,
    get_opt_bytes,
    get_opt_int,
    get_opt_time,
    get_str,
    get_time,
)
from vconsole.snapshot.model import (
    CONSOLE_TYPES,
    FORMAT_VERSION,
    HOW,
    MAGIC,
    MAX_CC,
    MAX_FILE,
    MAX_HISTORY,
    MAX_HV_LOG,
    MAX_MARKS,
    MAX_PENDING,
    MAX_RECORDS,
    RING_IN,
    RING_OUT,
    ConsoleRecord,
    History,
    HypervisorLog,
    Pending,
    RingState,
    SnapshotError,
    SnapshotFile,
    Termios,
)
from vconsole.snapshot.views import unpack_views
from vconsole.term.terminal import Terminal

__all__ = ["decode"]


def _unpack(data: bytes | memoryview, what: str, max_bin: int, max_str: int, max_array: int, max_map: int) -> Any:
    """The one value in ``data`` with the unpacker's limits; copies every bin (the general path)."""
    unpacker = msgpack.Unpacker(
        raw=False, strict_map_key=True, use_list=True, max_buffer_size=max(len(data), 1),
        max_bin_len=max_bin, max_str_len=max_str, max_array_len=max_array,
        max_map_len=max_map, max_ext_len=0,
    )
    try:
        unpacker.feed(data)
        value = unpacker.unpack()
    except msgpack.OutOfData:
        raise SnapshotError(f"{what}: truncated") from None
    except RecursionError:
        raise SnapshotError(f"{what}: nested too deeply") from None
    except Exception as exc:  # msgpack raises many unrelated types for bad input
        raise SnapshotError(f"{what}: not valid msgpack ({type(exc).__name__}: {exc})"[:300]) from None
    try:
        unpacker.unpack()
    except msgpack.OutOfData:
        return value
    except Exception:
        pass
    raise SnapshotError(f"{what}: trailing bytes after the value")


def decode(data: bytes | bytearray | memoryview) -> SnapshotFile:
    """Parse and fully validate a snapshot file; SnapshotError says what is wrong.

    The histories of the result are views into ``data`` (no copy): keep
    ``data`` unchanged while the result is in use.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SnapshotError("snapshot must be bytes")
    view = memoryview(data).cast("B")
    if view.nbytes > MAX_FILE:
        raise SnapshotError(f"file of {view.nbytes} bytes exceeds the limit of {MAX_FILE}")
    if not view.nbytes:
        raise SnapshotError("file is empty")
    outer = unpack_views(view, _FILE_LIMITS, ("body",))
    if outer is None:  # not laid out as vconsole writes it: the general path says what is wrong
        outer = _unpack(view, "file", **_FILE_LIMITS)
    top = check_map(outer, "", {"magic", "version", "sha256", "body"})
    if top["magic"] != MAGIC:
        raise SnapshotError(f"magic: not a vconsole snapshot (got {top['magic']!r:.40})")
    version = get_int(top, "version", "", 0, U32)
    if version != FORMAT_VERSION:
        raise SnapshotError(f"version: format version {version} is not supported (this vconsole reads {FORMAT_VERSION})")
    digest = get_bytes(top, "sha256", "", 32)
    body = get_buffer(top, "body", "", MAX_FILE)
    if len(digest) != 32 or hashlib.sha256(body).digest() != digest:
        raise SnapshotError("sha256: checksum mismatch (the file is corrupt or was modified)")
    inner = unpack_views(memoryview(body), _BODY_LIMITS, ("records", "*", "history", "data"))
    if inner is None:
        inner = _unpack(body, "body", **_BODY_LIMITS)
    return _snapshot(inner)


_FILE_LIMITS = {"max_bin": MAX_FILE, "max_str": 64, "max_array": 0, "max_map": 8}
_BODY_LIMITS = {"max_bin": MAX_HISTORY, "max_str": 1 << 16, "max_array": 1 << 20, "max_map": 256}


def _snapshot(value: object) -> SnapshotFile:
    # "origin_host" came with many hosts: files without it were taken by this machine's broker.
    m = check_map(value, "", {"created", "host", "records"}, {"origin_host"})
    created = get_time(m, "created", "")
    host = get_str(m, "host", "")
    origin_host = get_str(m, "origin_host", "", empty=False) if "origin_host" in m else None
    raw_records = get_list(m, "records", "", MAX_RECORDS)
    records = [_parse_record(r, f"records[{i}]") for i, r in enumerate(raw_records)]
    seen: set[SessionKey] = set()
    for i, rec in enumerate(records):
        if rec.key in seen:
            raise SnapshotError(f"records[{i}]: a second record for {rec.key}")
        seen.add(rec.key)
    return SnapshotFile(created=created, host=host, records=records, origin_host=origin_host)


_RECORD_KEYS = {"provider", "guest_id", "guest_name", "guest_kind", "console_type", "console_index",
                "created", "last_output", "history", "marks", "pending_output", "pending_input",
                "termios", "winsize", "ring", "hypervisor_log", "screen"}


def _parse_record(value: object, path: str) -> ConsoleRecord:
    # "log" came later: files written before it are read as not logged.
    m = check_map(value, path, _RECORD_KEYS, {"log"})
    ctype = get_choice(m, "console_type", path, CONSOLE_TYPES)
    history = _parse_history(m["history"], f"{path}.history")
    rec = ConsoleRecord(
        provider=get_str(m, "provider", path, 64, empty=False),
        guest_id=get_str(m, "guest_id", path, 256, empty=False),
        guest_name=get_str(m, "guest_name", path, 256, empty=False),
        guest_kind=get_str(m, "guest_kind", path, 32, empty=False),
        console_type=ctype,
        console_index=get_int(m, "console_index", path, 0, 63),
        history=history,
        created=get_time(m, "created", path),
        last_output=get_opt_time(m, "last_output", path),
        marks=_parse_marks(m, path, history.end),
        pending_output=_parse_pending(m["pending_output"], f"{path}.pending_output"),
        pending_input=_parse_pending(m["pending_input"], f"{path}.pending_input"),
        termios=_parse_termios(m["termios"], f"{path}.termios"),
        winsize=_parse_winsize(m["winsize"], f"{path}.winsize"),
        ring=_parse_ring(m["ring"], f"{path}.ring"),
        hypervisor_log=_parse_hvlog(m["hypervisor_log"], f"{path}.hypervisor_log"),
        screen=_parse_screen(m["screen"], f"{path}.screen"),
        log_range=_parse_log_range(m.get("log"), f"{path}.log"),
    )
    if rec.ring is not None and ctype == "vtty":
        raise SnapshotError(f"{path}.ring: a vtty console has no Xen ring")
    return rec


def _parse_history(value: object, path: str) -> History:
    m = check_map(value, path, {"data", "start", "end", "dropped", "lost"})
    data = get_buffer(m, "data", path, MAX_HISTORY)
    start = get_int(m, "start", path, 0, U64)
    end = get_int(m, "end", path, 0, U64)
    dropped = get_int(m, "dropped", path, 0, U64)
    if end < start or end - start != len(data):
        raise SnapshotError(f"{path}.end: {end} - start {start} does not match {len(data)} bytes of data")
    if dropped != start:
        raise SnapshotError(f"{path}.dropped: {dropped} must equal start {start}")
    return History(data, start, end, dropped, get_int(m, "lost", path, 0, U64))


def _parse_marks(m: dict[str, Any], path: str, end: int) -> list[dict[str, Any]]:
    marks = []
    for i, raw in enumerate(get_list(m, "marks", path, MAX_MARKS)):
        p = f"{path}.marks[{i}]"
        mark = check_map(raw, p, {"start", "end", "source"}, {"first", "last", "snapshot"})
        lo = get_int(mark, "start", p, 0, end)
        hi = get_int(mark, "end", p, lo, end)
        clean: dict[str, Any] = {"start": lo, "end": hi, "source": get_str(mark, "source", p, 32, empty=False)}
        for key in ("first", "last", "snapshot"):
            if key in mark:
                clean[key] = get_opt_time(mark, key, p)
        marks.append(clean)
    return marks


def _parse_pending(value: object, path: str) -> Pending:
    m = check_map(value, path, {"how", "count", "data"})
    how = get_choice(m, "how", path, HOW)
    count = get_opt_int(m, "count", path, 0, MAX_PENDING)
    data = get_opt_bytes(m, "data", path, MAX_PENDING)
    if how in ("exact", "input-log"):
        if count is None or data is None or len(data) != count:
            raise SnapshotError(f"{path}.data: {how} needs a count and exactly that many bytes")
    elif how == "count-only":
        if count is None or data is not None:
            raise SnapshotError(f"{path}.count: count-only needs a count and no data")
    elif count is not None or data is not None:
        raise SnapshotError(f"{path}.how: unavailable must have no count and no data")
    return Pending(how, count, data)


def _parse_termios(value: object, path: str) -> Termios | None:
    if value is None:
        return None
    m = check_map(value, path, {"iflag", "oflag", "cflag", "lflag", "line", "ispeed", "ospeed", "cc"})
    return Termios(
        iflag=get_int(m, "iflag", path, 0, U32), oflag=get_int(m, "oflag", path, 0, U32),
        cflag=get_int(m, "cflag", path, 0, U32), lflag=get_int(m, "lflag", path, 0, U32),
        line=get_int(m, "line", path, 0, U8), ispeed=get_int(m, "ispeed", path, 0, U32),
        ospeed=get_int(m, "ospeed", path, 0, U32), cc=get_bytes(m, "cc", path, MAX_CC),
    )


def _parse_winsize(value: object, path: str) -> tuple[int, int] | None:
    if value is None:
        return None
    m = check_map(value, path, {"cols", "rows"})
    return get_int(m, "cols", path, 0, 0xFFFF), get_int(m, "rows", path, 0, 0xFFFF)


def _parse_ring(value: object, path: str) -> RingState | None:
    if value is None:
        return None
    m = check_map(value, path, {"in_cons", "in_prod", "out_cons", "out_prod", "connection", "in", "out"})
    ring = RingState(
        in_cons=get_int(m, "in_cons", path, 0, U32), in_prod=get_int(m, "in_prod", path, 0, U32),
        out_cons=get_int(m, "out_cons", path, 0, U32), out_prod=get_int(m, "out_prod", path, 0, U32),
        connection=get_int(m, "connection", path, 0, U8),
        in_data=get_bytes(m, "in", path, RING_IN), out_data=get_bytes(m, "out", path, RING_OUT),
    )
    for name, cons, prod, data in (("in", ring.in_cons, ring.in_prod, ring.in_data),
                                   ("out", ring.out_cons, ring.out_prod, ring.out_data)):
        if (prod - cons) & U32 != len(data):
            raise SnapshotError(f"{path}.{name}: {len(data)} bytes but the indices say {(prod - cons) & U32}")
    return ring


def _parse_hvlog(value: object, path: str) -> HypervisorLog | None:
    if value is None:
        return None
    m = check_map(value, path, {"data", "dropped"})
    return HypervisorLog(get_bytes(m, "data", path, MAX_HV_LOG), get_int(m, "dropped", path, 0, U64))


def _parse_log_range(value: object, path: str) -> tuple[int, int] | None:
    if value is None:
        return None
    m = check_map(value, path, {"start", "end"})
    start = get_int(m, "start", path, 0, U64)
    end = get_int(m, "end", path, start, U64)
    return start, end


def _parse_screen(value: object, path: str) -> dict[str, Any] | None:
    if value is None or _oversized_screen(value):
        return None
    # The engine validates its own state (ValueError naming the field).
    try:
        Terminal.from_state(value)
    except RecursionError:
        raise SnapshotError(f"{path}: nested too deeply") from None
    except Exception as exc:  # the engine's checks raise ValueError; be safe with the rest
        raise SnapshotError(f"{path}: {exc}"[:300]) from None
    assert isinstance(value, dict)
    return value


def _oversized_screen(value: object) -> bool:
    """A screen wider or taller than a console may be: not kept (the record's history says it all).

    vconsole once rendered screens at up to 4096x4096; checking one took
    seconds and a gigabyte, for a picture of a few lines of history.
    """
    if not isinstance(value, dict):
        return False
    size = value.get("cols"), value.get("rows")
    return any(type(n) is int and n > MAX_WINDOW for n in size)
