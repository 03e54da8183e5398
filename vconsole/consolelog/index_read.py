"""Reading a segment's index a whole file at a time: a few calls over all its records.

The reader needs, of each segment, where each read turn ended and when it
arrived; decoding every record into an object (``decode_records``) costs
a few microseconds a record, seconds for a log of a thousand consoles.
:func:`read_index` gives the same answer with each check done for every
record at once: checksums, known kinds, the torn tail.
"""

from __future__ import annotations

import array
import sys
import zlib
from itertools import compress

from vconsole.consolelog.records import RECORD_SIZE, IndexRecord, RecordKind
from vconsole.consolelog.segments import BootInfo

# Record kinds (the first byte) as 1 for DATA, 0 for any other: selectors for compress().
_IS_DATA = bytes(int(k == RecordKind.DATA) for k in range(256))
_KNOWN_KINDS = bytes(RecordKind)


def read_index(raw: bytes, seg_end: int) -> tuple[bytes, list[int], list[int], BootInfo | None]:
    """A segment index's readable records (up to the first bad one, unknown kind or DATA or MARK
    record past ``seg_end``), its DATA ends and times, and its BOOT: what decoding each record and
    checking it gives, with a few calls over the whole index instead of a few per record."""
    whole = len(raw) - len(raw) % RECORD_SIZE
    count = whole // RECORD_SIZE
    held = bytearray(raw[:whole])
    words = array.array("I", held)  # 4-byte words: the second of each record is its CRC
    for at in range(4, 8):
        held[at::RECORD_SIZE] = bytes(count)  # the CRC covers the record with its field zeroed
    view = memoryview(held)
    sums = array.array("I", [zlib.crc32(view[p : p + RECORD_SIZE]) for p in range(0, whole, RECORD_SIZE)])
    if sys.byteorder == "big":
        words.byteswap()  # the file's words are little-endian
    stored = words[1::8]
    if sums != stored:
        count = next(n for n in range(count) if sums[n] != stored[n])
    kinds = raw[0 : count * RECORD_SIZE : RECORD_SIZE]
    if kinds.translate(None, _KNOWN_KINDS):
        count = next(n for n, kind in enumerate(kinds) if kind not in _KNOWN_KINDS)
        kinds = kinds[:count]
    unsigned, signed = array.array("Q", raw[: count * RECORD_SIZE]), array.array("q", raw[: count * RECORD_SIZE])
    if sys.byteorder == "big":
        unsigned.byteswap()
        signed.byteswap()
    offsets = unsigned[1::4]  # u64
    if offsets and max(offsets) > seg_end:  # a torn tail: records of bytes the segment does not hold
        data_or_mark = (RecordKind.DATA, RecordKind.MARK)
        count = next((n for n in range(count) if kinds[n] in data_or_mark and offsets[n] > seg_end), count)
        kinds = kinds[:count]
    is_data = kinds.translate(_IS_DATA)
    ends = list(compress(offsets, is_data))
    times = list(compress(signed[2::4], is_data))  # i64
    first_data = kinds.find(RecordKind.DATA)
    at = kinds.rfind(RecordKind.BOOT, 0, count if first_data < 0 else first_data)
    boot = BootInfo.of(IndexRecord.decode(raw[at * RECORD_SIZE : (at + 1) * RECORD_SIZE])) if at >= 0 else None
    return raw[: count * RECORD_SIZE], ends, times, boot
