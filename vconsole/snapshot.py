"""The ``.vcsnap`` snapshot format: a console session's buffered data, validated.

A file is one msgpack map ``{"magic", "version", "sha256", "body"}``: ``body``
is the msgpack encoding of ``{"created", "host", "records"}`` kept as bytes,
and ``sha256`` its SHA-256 digest, so the checksum covers exactly the bytes
that are decoded. docs/snapshot-format.md describes every field.

A snapshot file is untrusted input. :func:`decode` bounds every size in the
msgpack unpacker before anything is allocated, verifies the checksum, refuses
unknown versions and checks every field's type and range; anything wrong
raises :class:`SnapshotError` naming the field. It never returns a partly
valid snapshot, so a refused file can change nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import msgpack

from vconsole.snapshot_fields import (
    U8,
    U32,
    U64,
    SnapshotError,
    check_map,
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

__all__ = [
    "FORMAT_VERSION", "MAGIC", "ConsoleRecord", "History", "HypervisorLog", "Pending",
    "RingState", "SnapshotError", "SnapshotFile", "Termios", "decode", "encode",
]

MAGIC = "vconsole-snapshot"
FORMAT_VERSION = 1
MAX_FILE = 1 << 30  # the whole file
MAX_HISTORY = 256 << 20  # one record's history bytes
MAX_PENDING = 1 << 20  # pending output or input of one console
MAX_RECORDS = 4096
MAX_MARKS = 256
MAX_HV_LOG = 1 << 20
MAX_CC = 64
RING_IN, RING_OUT = 1024, 2048  # Xen 4.21 public/io/console.h
CONSOLE_TYPES = ("vtty", "pv", "serial")
HOW = ("exact", "input-log", "count-only", "unavailable")


@dataclass
class Pending:
    """Unread data on the source in one direction, and how it was obtained.

    ``exact``: count and bytes read without consuming them; ``input-log``:
    the count is exact and the bytes are the tail of what the broker wrote;
    ``count-only``: the count is exact but the bytes cannot be read without
    consuming them; ``unavailable``: the source gives no way to know.
    """

    how: str = "unavailable"
    count: int | None = None
    data: bytes | None = None


@dataclass
class Termios:
    """The console's termios as the kernel holds it (``struct termios``)."""

    iflag: int
    oflag: int
    cflag: int
    lflag: int
    line: int
    ispeed: int
    ospeed: int
    cc: bytes


@dataclass
class RingState:
    """A Xen console ring: indices, flag and the unconsumed bytes of both rings."""

    in_cons: int
    in_prod: int
    out_cons: int
    out_prod: int
    connection: int
    in_data: bytes
    out_data: bytes


@dataclass
class HypervisorLog:
    """The domU's hypervisor console log (``xl dmesg``) and how much it dropped."""

    data: bytes
    dropped: int


@dataclass
class History:
    """The broker's history of a console: bytes ``[start, end)``; ``dropped == start``."""

    data: bytes
    start: int
    end: int
    dropped: int
    lost: int = 0


@dataclass
class ConsoleRecord:
    """Everything saved about one console session."""

    provider: str
    guest_id: str
    guest_name: str
    guest_kind: str
    console_type: str
    console_index: int
    history: History
    created: float
    last_output: float | None = None
    marks: list[dict[str, Any]] = field(default_factory=list)
    pending_output: Pending = field(default_factory=Pending)
    pending_input: Pending = field(default_factory=Pending)
    termios: Termios | None = None
    winsize: tuple[int, int] | None = None  # (cols, rows)
    ring: RingState | None = None
    hypervisor_log: HypervisorLog | None = None
    screen: dict[str, Any] | None = None

    @property
    def console_name(self) -> str:
        """``vtty0``, ``pv0``..."""
        return f"{self.console_type}{self.console_index}"

    @property
    def key(self) -> str:
        """The broker's session key for this console."""
        return f"{self.provider}:{self.guest_id}:{self.console_name}"


@dataclass
class SnapshotFile:
    """A snapshot: when and where it was taken, and one record per console."""

    created: float
    host: str
    records: list[ConsoleRecord] = field(default_factory=list)


# --- encoding -------------------------------------------------------------


def _pending(p: Pending) -> dict[str, Any]:
    return {"how": p.how, "count": p.count, "data": p.data}


def _record(r: ConsoleRecord) -> dict[str, Any]:
    h = r.history
    out: dict[str, Any] = {
        "provider": r.provider, "guest_id": r.guest_id, "guest_name": r.guest_name,
        "guest_kind": r.guest_kind, "console_type": r.console_type,
        "console_index": r.console_index, "created": r.created, "last_output": r.last_output,
        "history": {"data": h.data, "start": h.start, "end": h.end, "dropped": h.dropped, "lost": h.lost},
        "marks": [dict(m) for m in r.marks],
        "pending_output": _pending(r.pending_output), "pending_input": _pending(r.pending_input),
        "termios": None, "winsize": None, "ring": None, "hypervisor_log": None, "screen": r.screen,
    }
    if r.termios is not None:
        t = r.termios
        out["termios"] = {"iflag": t.iflag, "oflag": t.oflag, "cflag": t.cflag, "lflag": t.lflag,
                          "line": t.line, "ispeed": t.ispeed, "ospeed": t.ospeed, "cc": t.cc}
    if r.winsize is not None:
        out["winsize"] = {"cols": r.winsize[0], "rows": r.winsize[1]}
    if r.ring is not None:
        g = r.ring
        out["ring"] = {"in_cons": g.in_cons, "in_prod": g.in_prod, "out_cons": g.out_cons,
                       "out_prod": g.out_prod, "connection": g.connection,
                       "in": g.in_data, "out": g.out_data}
    if r.hypervisor_log is not None:
        out["hypervisor_log"] = {"data": r.hypervisor_log.data, "dropped": r.hypervisor_log.dropped}
    return out


def encode(snapshot: SnapshotFile) -> bytes:
    """The file bytes of ``snapshot`` (validated on the way: it must decode again)."""
    body_map = {"created": snapshot.created, "host": snapshot.host,
                "records": [_record(r) for r in snapshot.records]}
    body: bytes = msgpack.packb(body_map, use_bin_type=True)
    data: bytes = msgpack.packb(
        {"magic": MAGIC, "version": FORMAT_VERSION, "sha256": hashlib.sha256(body).digest(), "body": body},
        use_bin_type=True,
    )
    if len(data) > MAX_FILE:
        raise SnapshotError(f"snapshot of {len(data)} bytes exceeds the limit of {MAX_FILE}")
    return data


# --- decoding -------------------------------------------------------------


def _unpack(data: bytes, what: str, max_bin: int, max_str: int, max_array: int, max_map: int) -> Any:
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


def decode(data: bytes) -> SnapshotFile:
    """Parse and fully validate a snapshot file; SnapshotError says what is wrong."""
    if type(data) is not bytes:
        raise SnapshotError("snapshot must be bytes")
    if len(data) > MAX_FILE:
        raise SnapshotError(f"file of {len(data)} bytes exceeds the limit of {MAX_FILE}")
    if not data:
        raise SnapshotError("file is empty")
    outer = _unpack(data, "file", MAX_FILE, 64, 0, 8)
    top = check_map(outer, "", {"magic", "version", "sha256", "body"})
    if top["magic"] != MAGIC:
        raise SnapshotError(f"magic: not a vconsole snapshot (got {top['magic']!r:.40})")
    version = get_int(top, "version", "", 0, U32)
    if version != FORMAT_VERSION:
        raise SnapshotError(f"version: format version {version} is not supported (this vconsole reads {FORMAT_VERSION})")
    digest = get_bytes(top, "sha256", "", 32)
    body = get_bytes(top, "body", "", MAX_FILE)
    if len(digest) != 32 or hashlib.sha256(body).digest() != digest:
        raise SnapshotError("sha256: checksum mismatch (the file is corrupt or was modified)")
    inner = _unpack(body, "body", MAX_HISTORY, 1 << 16, 1 << 20, 256)
    return _snapshot(inner)


def _snapshot(value: object) -> SnapshotFile:
    m = check_map(value, "", {"created", "host", "records"})
    created = get_time(m, "created", "")
    host = get_str(m, "host", "")
    raw_records = get_list(m, "records", "", MAX_RECORDS)
    records = [_parse_record(r, f"records[{i}]") for i, r in enumerate(raw_records)]
    seen: set[str] = set()
    for i, rec in enumerate(records):
        if rec.key in seen:
            raise SnapshotError(f"records[{i}]: a second record for {rec.key}")
        seen.add(rec.key)
    return SnapshotFile(created=created, host=host, records=records)


_RECORD_KEYS = {"provider", "guest_id", "guest_name", "guest_kind", "console_type", "console_index",
                "created", "last_output", "history", "marks", "pending_output", "pending_input",
                "termios", "winsize", "ring", "hypervisor_log", "screen"}


def _parse_record(value: object, path: str) -> ConsoleRecord:
    m = check_map(value, path, _RECORD_KEYS)
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
    )
    if rec.ring is not None and ctype == "vtty":
        raise SnapshotError(f"{path}.ring: a vtty console has no Xen ring")
    return rec


def _parse_history(value: object, path: str) -> History:
    m = check_map(value, path, {"data", "start", "end", "dropped", "lost"})
    data = get_bytes(m, "data", path, MAX_HISTORY)
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


def _parse_screen(value: object, path: str) -> dict[str, Any] | None:
    if value is None:
        return None
    # The engine validates its own state (ValueError naming the field); it is
    # a leaf package, imported here only to check.
    from vconsole.term.terminal import Terminal

    try:
        Terminal.from_state(value)
    except RecursionError:
        raise SnapshotError(f"{path}: nested too deeply") from None
    except Exception as exc:  # the engine's checks raise ValueError; be safe with the rest
        raise SnapshotError(f"{path}: {exc}"[:300]) from None
    assert isinstance(value, dict)
    return value
