"""The optional ``origin_host`` of a snapshot file: the vconsole host whose broker took it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgpack
import pytest

from vconsole.snapshot.decode import decode
from vconsole.snapshot.encode import encode, encode_body
from vconsole.snapshot.model import ConsoleRecord, History, Pending, SnapshotError, SnapshotFile
from vconsole.snapshot.stream import write_snapshot


def _snapshot(origin_host: str | None) -> SnapshotFile:
    rec = ConsoleRecord("lab", "201", "web", "container", "vtty", 0, History(b"KNOWN\r\n", 0, 7, 0), 1.6e9,
                        None, [], Pending("exact", 0, b""), Pending("unavailable"))
    return SnapshotFile(1.7e9, "testlab", [rec], origin_host)


def _body(data: bytes) -> dict[str, Any]:
    body: dict[str, Any] = msgpack.unpackb(msgpack.unpackb(data)["body"])
    return body


def _file(body: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    out: bytes = msgpack.packb({"magic": "vconsole-snapshot", "version": 1,
                                "sha256": hashlib.sha256(packed).digest(), "body": packed}, use_bin_type=True)
    return out


def test_a_host_travels_through_the_file_and_a_file_without_one_is_this_machines(tmp_path: Path) -> None:
    assert decode(encode(_snapshot("h2"))).origin_host == "h2"
    assert list(_body(encode(_snapshot("h2")))) == ["created", "host", "origin_host", "records"]
    # Without a host the file is what it always was (and what older vconsoles read).
    plain = encode(_snapshot(None))
    assert list(_body(plain)) == ["created", "host", "records"]
    assert decode(plain).origin_host is None
    # Streamed to disk, it is the same bytes as the reference encoding.
    write_snapshot(str(tmp_path / "h2.vcsnap"), encode_body(_snapshot("h2")))
    assert (tmp_path / "h2.vcsnap").read_bytes() == encode(_snapshot("h2"))


@pytest.mark.parametrize(("value", "error"), [
    ("", "origin_host: must not be empty"),
    ("h\x1b2", "origin_host: contains control characters"),
    (7, "origin_host: expected a string, got int"),
    ("h" * 257, "origin_host: longer than 256"),
])
def test_a_bad_host_is_refused_naming_the_field(value: object, error: str) -> None:
    body = _body(encode(_snapshot("h2")))
    body["origin_host"] = value
    with pytest.raises(SnapshotError) as err:
        decode(_file(body))
    assert str(err.value) == error
