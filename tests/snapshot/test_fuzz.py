"""Acceptance 2: mutated, truncated and type-confused snapshots end in a clear SnapshotError.

Mutations of the raw bytes mostly hit the checksum; so type confusion is also
done on the decoded body, re-signed with a correct checksum, so that every
field's own check is reached. Anything but SnapshotError (or, for a mutation
that happens to be valid, a clean decode) fails the test.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import encode
from vconsole.snapshot.model import (
    FORMAT_VERSION,
    MAGIC,
    ConsoleRecord,
    History,
    HypervisorLog,
    Pending,
    RingState,
    SnapshotError,
    SnapshotFile,
    Termios,
)
from vconsole.term.terminal import Terminal

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sample() -> SnapshotFile:
    term = Terminal(20, 5, scrollback=2)
    term.feed(b"\x1b[1mhi\x1b[0m there\r\n")
    ct = ConsoleRecord(
        "lab", "101", "ct", "container", "vtty", 0, History(b"hello\r\n", 10, 17, 10, 3), 1.6e9, 1.65e9,
        [{"start": 11, "end": 13, "source": "hypervisor"}], Pending("exact", 0, b""),
        Pending("input-log", 2, b"ls"), Termios(1, 2, 3, 4, 0, 38400, 38400, bytes(32)), (80, 24),
        None, None, term.to_state(),
    )
    xd = ConsoleRecord(
        "lab", "7", "xd", "domu", "pv", 0, History(b"boot", 0, 4, 0), 1.6e9, None, [],
        Pending("exact", 3, b"abc"), Pending("count-only", 5), None, None,
        RingState(1, 1, 4294967295, 2, 0, b"", b"abc"), HypervisorLog(b"early", 2), None,
    )
    return SnapshotFile(1.7e9, "testlab", [ct, xd])


GOOD = encode(sample())
OUTER = msgpack.unpackb(GOOD, raw=False)
BODY = msgpack.unpackb(OUTER["body"], raw=False)


def sign(body: Any) -> bytes:
    raw = msgpack.packb(body, use_bin_type=True)
    return msgpack.packb({"magic": MAGIC, "version": FORMAT_VERSION,
                          "sha256": hashlib.sha256(raw).digest(), "body": raw}, use_bin_type=True)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into the body (map keys and list indices), screen excluded below its root."""
    out = [prefix]
    if isinstance(value, dict) and prefix[-1:] != ("screen",):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            out += paths(v, (*prefix, i))
    return out


ALL_PATHS = paths(BODY)[1:]
CONFUSERS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=True),
    st.text(max_size=8), st.binary(max_size=8), st.lists(st.integers(0, 2**32), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
)


def refused_or_valid(data: bytes) -> None:
    try:
        decode(data)
    except SnapshotError as exc:
        assert str(exc) and "\n" not in str(exc)


def test_sample_decodes() -> None:
    assert decode(GOOD) == sample()


@FAST
@given(st.data())
def test_flipped_bytes_are_refused(data: st.DataObject) -> None:
    buf = bytearray(GOOD)
    for pos in data.draw(st.lists(st.integers(0, len(buf) - 1), min_size=1, max_size=4, unique=True)):
        buf[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(SnapshotError):
        decode(bytes(buf))


@FAST
@given(st.integers(0, len(GOOD) - 1))
def test_truncations_are_refused(n: int) -> None:
    with pytest.raises(SnapshotError):
        decode(GOOD[:n])


@FAST
@given(st.binary(max_size=200))
def test_garbage_is_refused(blob: bytes) -> None:
    with pytest.raises(SnapshotError):
        decode(blob)


def _replace(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = msgpack.unpackb(msgpack.packb(body, use_bin_type=True), raw=False)
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


@FAST
@given(st.sampled_from(ALL_PATHS), CONFUSERS)
def test_type_confusion_of_each_field(path: tuple[Any, ...], value: Any) -> None:
    refused_or_valid(sign(_replace(BODY, path, value)))


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda p: ".".join(map(str, p)))
def test_each_field_checks_its_type(path: tuple[Any, ...]) -> None:
    for candidate in ("text", b"bin", -1, 1.5, [1], {"x": 1}, None, True):
        refused_or_valid(sign(_replace(BODY, path, candidate)))


# A record's "log" came later than format version 1: a file without it is read as not logged.
OPTIONAL = {"log"}


@FAST
@given(st.sampled_from([p for p in ALL_PATHS if isinstance(p[-1], str) and p[-1] not in OPTIONAL]))
def test_missing_fields_are_refused(path: tuple[Any, ...]) -> None:
    copy = _replace(BODY, path, None)
    node = copy
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    with pytest.raises(SnapshotError, match=str(path[-1])):
        decode(sign(copy))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o.update(magic="nope"), "magic"),
        (lambda o: o.update(version=2), "version 2 is not supported"),
        (lambda o: o.update(sha256=b"\0" * 32), "checksum"),
        (lambda o: o.update(extra=1), "unknown field"),
    ],
)
def test_header_is_checked(change: Any, message: str) -> None:
    outer = dict(OUTER)
    change(outer)
    with pytest.raises(SnapshotError, match=message):
        decode(msgpack.packb(outer, use_bin_type=True))


def test_sizes_are_bounded_before_allocation() -> None:
    # A header claiming a 4 GiB bin must be refused without allocating it.
    huge = b"\x84\xa5magic" + msgpack.packb(MAGIC) + b"\xa4body\xc6\xff\xff\xff\xff"
    with pytest.raises(SnapshotError):
        decode(huge)
    deep = sign({"created": 1.0, "host": "h", "records": [[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]})
    with pytest.raises(SnapshotError, match=r"records\[0\]"):
        decode(deep)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("records", 0, "history", "end"), 99, "does not match"),
        (("records", 0, "history", "dropped"), 0, "must equal start"),
        (("records", 1, "ring", "out_prod"), 9, "indices say"),
        (("records", 0, "console_index"), 64, "outside"),
        (("records", 0, "console_type"), "tty", "must be one of"),
        (("records", 0, "pending_input", "count"), 3, "exactly that many"),
        (("records", 0, "marks", 0, "end"), 10**6, "outside"),
        (("records", 0, "screen", "cols"), 0, "screen"),
        (("records", 1, "guest_id"), "101", None),
        (("records", 0, "guest_name"), "a\x1bb", "control characters"),
        (("created",), float("nan"), "plausible"),
    ],
)
def test_semantic_checks_name_the_field(path: tuple[Any, ...], value: Any, message: str | None) -> None:
    body = _replace(BODY, path, value)
    if message is None:  # the same console twice
        body["records"][1]["provider"] = "lab"
        body["records"][1]["console_type"] = "vtty"
        body["records"][1]["ring"] = None
        message = "a second record"
    with pytest.raises(SnapshotError, match=message):
        decode(sign(body))


def test_a_record_without_a_log_range_is_read_as_not_logged() -> None:
    copy = _replace(BODY, ("records", 0, "log"), None)
    del copy["records"][0]["log"]
    assert decode(sign(copy)).records[0].log_range is None
    copy["records"][0]["log"] = {"start": 5, "end": 9}
    assert decode(sign(copy)).records[0].log_range == (5, 9)
    copy["records"][0]["log"] = {"start": 9, "end": 5}
    with pytest.raises(SnapshotError, match="log"):
        decode(sign(copy))
