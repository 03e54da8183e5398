"""The ``.vcsnap`` snapshot format: a console session's buffered data, validated.

A file is one msgpack map ``{"magic", "version", "sha256", "body"}``: ``body``
is the msgpack encoding of ``{"created", "host", "records"}`` kept as bytes,
and ``sha256`` its SHA-256 digest, so the checksum covers exactly the bytes
that are decoded. docs/snapshot-format.md describes every field.

This module gathers the format's parts under one name:

* vconsole/snapshot_model.py — the records and the limits;
* vconsole/snapshot_encode.py — the encoder (pieces that reference histories);
* vconsole/snapshot_stream.py — streaming a file to disk and reading it back;
* vconsole/snapshot_decode.py, snapshot_views.py — validation, without copies.
"""

from __future__ import annotations

from vconsole.snapshot_decode import decode
from vconsole.snapshot_encode import EncodedBody, encode, encode_body
from vconsole.snapshot_model import (
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
from vconsole.snapshot_stream import read_snapshot_file, write_snapshot

__all__ = [
    "CONSOLE_TYPES", "FORMAT_VERSION", "HOW", "MAGIC", "MAX_CC", "MAX_FILE", "MAX_HISTORY",
    "MAX_HV_LOG", "MAX_MARKS", "MAX_PENDING", "MAX_RECORDS", "RING_IN", "RING_OUT", "ConsoleRecord",
    "EncodedBody", "History", "HypervisorLog", "Pending", "RingState", "SnapshotError", "SnapshotFile",
    "Termios", "decode", "encode", "encode_body", "read_snapshot_file", "write_snapshot",
]
